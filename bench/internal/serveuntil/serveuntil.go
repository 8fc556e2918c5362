// Package serveuntil runs the bench servers (loadserver, jwtref, revproxy)
// the one way scripts/bench.sh expects: listen, print the banner and
// "ready", serve until the context ends, then shut down.
package serveuntil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Serve listens on addr and serves h until ctx is done or the server
// fails. Once it listens it writes banner (with %[1]s standing for the
// bound address) and a line "ready" to out: bench.sh waits for that line.
func Serve(ctx context.Context, addr string, h http.Handler, out io.Writer, banner string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, banner+"ready\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
