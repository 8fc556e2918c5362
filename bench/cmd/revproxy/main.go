// Command revproxy is a baseline of the gateway peers (issue 16): a bare
// net/http/httputil.ReverseProxy with the default Transport in front of
// one upstream, checking nothing. It is what `apiguard gateway` would cost
// if its checks were free and it proxied with the standard library as is.
//
//	revproxy -addr 127.0.0.1:5003 -upstream http://127.0.0.1:9000
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/apiguard/apiguard/internal/urlcheck"

	"github.com/apiguard/apiguard/bench/internal/serveuntil"
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
	return serveuntil.Serve(ctx, addr, httputil.NewSingleHostReverseProxy(u), out, "url http://%[1]s\n")
}
