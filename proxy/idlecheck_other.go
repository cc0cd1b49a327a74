//go:build !linux

package proxy

import "net"

// stillIdle is true where the socket is not asked: a connection the origin
// closed fails before any byte comes back, and is dialed again
// (getTransport.RoundTrip).
func stillIdle(net.Conn) bool { return true }
