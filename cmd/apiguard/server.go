package main

import (
	"context"
	"errors"
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
		Handler:           closeAfterTransferEncoding(h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// closeAfterTransferEncoding closes the client's connection after answering
// a request that came with a Transfer-Encoding. net/http reads a request
// with both Content-Length and Transfer-Encoding: chunked by its chunked
// framing and drops Content-Length; RFC 9112 section 6.1 wants the
// connection closed after such a request, because a proxy in front may
// have framed it by Content-Length, and the bytes that it took for the rest
// of the body would read here as another request (the gateway does the
// same: gateway.closeAfterChunked).
func closeAfterTransferEncoding(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
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
	return runServers(ctx, []*http.Server{srv}, []net.Listener{ln}, log)
}

// runServers serves servers[i] on listeners[i] until ctx is done or one of
// them stops, then shuts all down gracefully (up to 10 seconds for requests
// in flight).
func runServers(ctx context.Context, servers []*http.Server, listeners []net.Listener, log *slog.Logger) error {
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("failed to shut down gracefully: %w", err)
	}
	log.Info("stopped")
	return nil
}
