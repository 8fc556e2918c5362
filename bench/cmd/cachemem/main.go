// Command cachemem measures what apiguard's verified-token cache costs in
// memory: it fills a Verifier's cache with N distinct Okta-shaped tokens
// (verifying each twice in a row, as a cache may admit a token on its
// second sighting only) and prints the heap bytes per cached token and the
// process's resident set size (VmRSS) before and after.
//
//	go run ./cmd/cachemem -n 100000
//
// The tokens themselves are dropped before the second measurement, so the
// numbers are the cache's own: the digest, the entry and the decoded claims
// (with the payload they keep).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/bench/internal/fixture"
)

func main() {
	n := flag.Int("n", 100_000, "number of distinct tokens to cache")
	alg := flag.String("alg", "EdDSA", "signing algorithm of the tokens (the cache stores the same whatever the algorithm; EdDSA mints fastest)")
	flag.Parse()
	if err := run(os.Stdout, *n, *alg); err != nil {
		fmt.Fprintln(os.Stderr, "cachemem:", err)
		os.Exit(1)
	}
}

// result is what one measurement found.
type result struct {
	N             int
	TokenBytes    float64       // mean token length
	BytesPerEntry float64       // heap growth per cached token
	RSSBefore     int64         // VmRSS in bytes with the verifier ready and nothing cached
	RSSAfter      int64         // VmRSS in bytes with N tokens cached
	Fill          time.Duration // verifying every token twice in a row
	Hit           time.Duration // mean time of a further Verify of the same token
	HitAllocs     float64       // heap allocations per token in that pass: 0 for cache hits
}

func run(w io.Writer, n int, alg string) error {
	r, err := measure(n, alg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "tokens cached:          %d (%s, %.0f bytes each)\n", r.N, alg, r.TokenBytes)
	fmt.Fprintf(w, "heap bytes per entry:   %.0f\n", r.BytesPerEntry)
	fmt.Fprintf(w, "VmRSS before:           %.1f MiB\n", float64(r.RSSBefore)/(1<<20))
	fmt.Fprintf(w, "VmRSS with %d cached: %.1f MiB\n", r.N, float64(r.RSSAfter)/(1<<20))
	fmt.Fprintf(w, "fill (2 sightings each): %s, %.1f µs/token\n", r.Fill.Round(time.Millisecond), float64(r.Fill.Microseconds())/float64(r.N))
	fmt.Fprintf(w, "another pass (hits):    %.0f ns/token\n", float64(r.Hit.Nanoseconds()))
	return nil
}

func measure(n int, alg string) (*result, error) {
	if n <= 0 {
		return nil, errors.New("n must be positive")
	}
	iss, err := fixture.New()
	if err != nil {
		return nil, err
	}
	defer iss.Close()
	ctx := context.Background()
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, CacheSize: n})
	if err != nil {
		return nil, err
	}
	if err := v.Ready(ctx); err != nil {
		return nil, err
	}
	heap0, rss0, err := settle()
	if err != nil {
		return nil, err
	}

	tokens, err := iss.Tokens(alg, time.Now(), 0, n)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, t := range tokens {
		total += len(t)
	}
	// Each token twice in a row: a cache may store a token on its second
	// sighting only (its doorkeeper keeps out tokens seen once).
	start := time.Now()
	for _, t := range tokens {
		for range 2 {
			if _, err := v.Verify(ctx, t); err != nil {
				return nil, fmt.Errorf("failed to verify a minted token: %w", err)
			}
		}
	}
	fill := time.Since(start)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start = time.Now()
	for _, t := range tokens {
		if _, err := v.Verify(ctx, t); err != nil {
			return nil, fmt.Errorf("failed to verify a cached token: %w", err)
		}
	}
	hit := time.Since(start) / time.Duration(n)
	runtime.ReadMemStats(&m1)
	// tokens is not used past this point, so the collection in settle
	// frees the tokens and the second measurement is the cache's alone.

	heap1, rss1, err := settle()
	if err != nil {
		return nil, err
	}
	runtime.KeepAlive(v)
	return &result{
		N:             n,
		TokenBytes:    float64(total) / float64(n),
		BytesPerEntry: float64(int64(heap1)-int64(heap0)) / float64(n),
		RSSBefore:     rss0,
		RSSAfter:      rss1,
		Fill:          fill,
		Hit:           hit,
		HitAllocs:     float64(m1.Mallocs-m0.Mallocs) / float64(n),
	}, nil
}

// settle collects garbage, returns freed memory to the OS and reads the
// live heap and the resident set size.
func settle() (heap uint64, rss int64, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err = vmRSS()
	return ms.HeapAlloc, rss, err
}

// vmRSS reads VmRSS from /proc/self/status, in bytes.
func vmRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("failed to read the resident set size: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("failed to parse VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}
