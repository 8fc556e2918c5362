//go:build !unix

package gateway

import (
	"errors"
	"syscall"
)

// alive cannot peek here; a closed connection is found by the request
// (and replayable requests are retried).
func (pc *h1Conn) alive() bool { return true }

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
