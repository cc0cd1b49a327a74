package proxy

import (
	"net"
	"syscall"
)

// stillIdle reports whether an idle origin connection may carry a request:
// the origin has neither closed it nor sent anything on it since its last
// answer ended. http.Transport has a goroutine per connection reading it
// for this; getTransport asks the socket once, when it takes the
// connection, without blocking (a peek: nothing is consumed). Bytes waiting
// there would be read as the next request's answer.
func stillIdle(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	idle := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = err == syscall.EAGAIN
		return true
	})
	return err == nil && idle
}
