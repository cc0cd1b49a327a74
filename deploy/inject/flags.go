package inject

// ReservedFlag says whether streamgate flag name is one the injection sets
// itself or that makes no sense in a sidecar, and if so what to do instead.
func ReservedFlag(name string) (why string, ok bool) {
	why, ok = reservedFlags[name]
	return why, ok
}

// Image is the sidecar image the injector adds.
func (in *Injector) Image() string { return in.image }
