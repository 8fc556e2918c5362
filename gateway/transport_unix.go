//go:build unix

package gateway

import (
	"errors"
	"syscall"
)

// alive reports whether an idle connection still looks usable: nothing to
// read on it, neither data (an upstream talking out of turn) nor the end of
// the stream (an upstream that closed it). One non-blocking peek, so that
// a request is not sent on a connection the upstream already closed, which
// http.Transport notices with its background read.
func (pc *h1Conn) alive() bool {
	sc, ok := pc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n <= 0 && rerr != nil && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK))
		return true
	})
	return err == nil && ok
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
