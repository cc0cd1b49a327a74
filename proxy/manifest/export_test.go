package manifest

// NewHLSDurationScanner returns a scanner for an HLS playlist.
func NewHLSDurationScanner() DurationScanner { return DurationScanner{} }

// NewMPDDurationScanner returns a scanner for a DASH MPD.
func NewMPDDurationScanner() DurationScanner { return DurationScanner{mpd: true, timescale: 1} }
