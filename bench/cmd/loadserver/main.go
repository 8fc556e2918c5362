// Command loadserver serves what the load run drives with wrk: the same
// small JSON handler public, behind apiguard and behind a golang-jwt/v5
// middleware, plus a loopback Okta-shaped issuer whose tokens the routes
// (and apiguard serve or gateway pointed at it) accept.
//
//	loadserver -dir /tmp/load -fresh 48000
//
// It writes DIR/token.txt (one token, for runs that reuse it) and
// DIR/fresh.txt (distinct tokens, one per line, for runs with a fresh token
// per request) and, with -fresh-es256 N, DIR/fresh-es256.txt (N distinct
// ES256 tokens: they mint about 30 times faster than RS256 ones, so a run
// can send a server hundreds of thousands), then prints "issuer URL", "url
// URL" and "ready" on stdout and serves until interrupted or until
// -lifetime has passed.
//
// Routes: / (public), /secure-data (apiguard), /secure-data-nocache
// (apiguard with its cache off), /golang-jwt/secure-data (golang-jwt),
// /secure-data-small-cache (apiguard with a cache of 1,024 entries).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apiguard/apiguard/bench/internal/fixture"
	"github.com/apiguard/apiguard/bench/internal/handlers"
	"github.com/apiguard/apiguard/bench/internal/serveuntil"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	dir := flag.String("dir", ".", "directory for token.txt and fresh.txt")
	fresh := flag.Int("fresh", 10_000, "number of distinct tokens to write to fresh.txt")
	freshES := flag.Int("fresh-es256", 0, "number of distinct ES256 tokens to write to fresh-es256.txt (0: no file)")
	lifetime := flag.Duration("lifetime", 15*time.Minute, "stop after this long even if not interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	if err := run(ctx, *addr, *dir, *fresh, *freshES, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, dir string, fresh, freshES int, out *os.File) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("failed to parse -addr: %w", err)
	}
	if !urlcheck.IsLoopback(host) {
		return fmt.Errorf("-addr %q: only a loopback host (localhost, 127.0.0.0/8, ::1)", addr)
	}
	iss, err := fixture.New()
	if err != nil {
		return err
	}
	defer iss.Close()
	now := time.Now()
	token, err := iss.Token("RS256", now, 0)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("failed to write token.txt: %w", err)
	}
	start := time.Now()
	tokens, err := iss.Tokens("RS256", now, 1, fresh) // token 0 is the reused one
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "minted %d tokens in %s\n", fresh, time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(filepath.Join(dir, "fresh.txt"), []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("failed to write fresh.txt: %w", err)
	}
	if freshES > 0 {
		start := time.Now()
		// Numbered after the RS256 ones, so no jti repeats.
		es, err := iss.Tokens("ES256", now, 1+fresh, freshES)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "minted %d ES256 tokens in %s\n", freshES, time.Since(start).Round(time.Millisecond))
		if err := os.WriteFile(filepath.Join(dir, "fresh-es256.txt"), []byte(strings.Join(es, "\n")+"\n"), 0o600); err != nil {
			return fmt.Errorf("failed to write fresh-es256.txt: %w", err)
		}
	}

	routes, err := handlers.New(iss)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		pattern := "GET " + r.Path // exact: no trailing slash
		if r.Path == "/" {
			pattern = "GET /{$}"
		}
		mux.Handle(pattern, r.Handler)
	}
	return serveuntil.Serve(ctx, addr, mux, out, "issuer "+strings.ReplaceAll(iss.URL, "%", "%%")+"\nurl http://%[1]s\n")
}
