// Command revproxy is a baseline of the gateway peers (issue 16): a bare
// net/http/httputil.ReverseProxy with the default Transport in front of
// one upstream, checking nothing. It is what `apiguard gateway` would cost
// if its checks were free and it proxied with the standard library as is.
//
//	revproxy -addr 127.0.0.1:5003 -upstream http://127.0.0.1:9000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apiguard/apiguard/internal/urlcheck"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5003", "listen address (loopback)")
	upstream := flag.String("upstream", "", "upstream URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *upstream, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "revproxy:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, upstream string, out *os.File) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("failed to parse -addr: %w", err)
	}
	if !urlcheck.IsLoopback(host) {
		return fmt.Errorf("-addr %q: only a loopback host (localhost, 127.0.0.0/8, ::1)", addr)
	}
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-upstream %q: want an http or https URL", upstream)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(u), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "url http://%s\nready\n", ln.Addr())
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
