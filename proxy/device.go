package proxy

import (
	"strings"
	"sync"

	"github.com/mileusna/useragent"
)

// maxDeviceName bounds a device name, content id included, in bytes.
const maxDeviceName = 96

// DeviceName names a player as a person would recognise it, from the
// User-Agent its session started with and the CMCD content id (cid) when it
// sent one: "Chrome 156 on Linux", "Safari on iPhone", "ffmpeg (Lavf 59)",
// "VLC 3 · film-42". It is "" when there is nothing to go on. The
// User-Agent is parsed by github.com/mileusna/useragent, which knows the
// players streaming sees besides browsers (Lavf, AppleCoreMedia, VLC); the
// few names it leaves raw are put in words here.
func DeviceName(userAgent, contentID string) string {
	name := agentName(userAgent)
	if contentID != "" {
		if name == "" {
			name = "unknown device"
		}
		name += " · " + contentID
	}
	return clipName(name)
}

// mediaTools are non-browser players whose User-Agent names a library, put
// as the person knows the program.
var mediaTools = map[string]string{
	"Lavf":           "ffmpeg (Lavf %s)",
	"AppleCoreMedia": "AVPlayer",
	"ExoPlayerLib":   "ExoPlayer %s",
	"stagefright":    "Android media player",
}

// agentNames remembers the names of the User-Agents seen: a service sees
// few distinct ones, and a 429 names up to 16 devices at about 9 µs a parse.
// Emptied when full, so it stays bounded.
var agentNames = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

const maxAgentNames = 1024

func agentName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	agentNames.Lock()
	name, ok := agentNames.m[s]
	agentNames.Unlock()
	if ok {
		return name
	}
	name = parseAgent(s)
	agentNames.Lock()
	if len(agentNames.m) >= maxAgentNames {
		clear(agentNames.m)
	}
	agentNames.m[s] = name
	agentNames.Unlock()
	return name
}

func parseAgent(s string) string {
	ua := useragent.Parse(s)
	if ua.Name == "" {
		return firstProduct(s)
	}
	major := ""
	if ua.VersionNo.Major > 0 || ua.Version != "" {
		major = strings.SplitN(ua.Version, ".", 2)[0]
	}
	name := ua.Name
	if tmpl, ok := mediaTools[ua.Name]; ok {
		name = strings.Replace(tmpl, "%s", major, 1)
	} else if major != "" && (ua.Device == "" || ua.Bot) {
		// On a named phone or tablet the model says more than a version
		// that updates itself.
		name += " " + major
	}
	switch {
	case ua.Device == ua.Name: // an app's web view names only the device
		return ua.Device
	case ua.Device != "":
		return name + " on " + ua.Device
	case ua.OS != "":
		return name + " on " + ua.OS
	}
	return name
}

// firstProduct is the first product token of a User-Agent the parser did
// not recognise, without its comment: "MyPlayer/2.1 (build 7)" is
// "MyPlayer/2.1".
func firstProduct(s string) string {
	if i := strings.IndexAny(s, " ("); i > 0 {
		s = s[:i]
	}
	return s
}

// clipName cuts a name to maxDeviceName bytes on a rune boundary.
func clipName(s string) string {
	if len(s) <= maxDeviceName {
		return s
	}
	cut := maxDeviceName - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
