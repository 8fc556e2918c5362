package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// maxHeaderBytes caps request headers: a token is at most 8 KiB.
const maxHeaderBytes = 16 << 10

// newServer returns an http.Server with the timeouts and header cap of
// `serve` and `issuer` (the gateway, which streams, has its own).
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listen opens addr for a command, naming setting in the error, and
// returns publicURL, or when it is empty the URL derived from the bound
// address (see defaultPublicURL).
func listen(setting, addr, publicURL string) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", &usageError{fmt.Errorf("%s: failed to listen on %s: %w", setting, addr, err)}
	}
	if publicURL == "" {
		publicURL = defaultPublicURL(ln.Addr())
	}
	return ln, publicURL, nil
}

// runServer serves on ln until ctx is done, then shuts down gracefully,
// letting requests in flight finish for up to 10 seconds.
func runServer(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("failed to shut down gracefully: %w", err)
	}
	log.Info("stopped")
	return nil
}
