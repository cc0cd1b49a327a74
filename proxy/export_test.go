package proxy

// NewTransport is the origin transport, for tests of its settings.
var NewTransport = newTransport
