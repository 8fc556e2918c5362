package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard/bench/internal/fixture"
	"github.com/apiguard/apiguard/bench/internal/handlers"
)

// BenchmarkHTTP measures the middleware over real HTTP on the loopback
// interface: the same small JSON handler served public, behind apiguard
// (the reused token is a cache hit), behind apiguard with the cache off
// (what every fresh token costs), and behind a middleware built on
// golang-jwt/v5. Clients reuse their connections (b.RunParallel, one
// http.Client with keep-alive), so the relative overhead is visible.
func BenchmarkHTTP(b *testing.B) {
	iss, err := fixture.New()
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	token, err := iss.Token("RS256", time.Now(), 0)
	if err != nil {
		b.Fatal(err)
	}
	routes, err := handlers.New(iss)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range routes {
		if r.LoadOnly {
			continue
		}
		b.Run(r.Name, func(b *testing.B) {
			srv := httptest.NewServer(r.Handler)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			get := func() error {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
				if err != nil {
					return err
				}
				// Every route gets the token, the public one too (it ignores
				// it), so the difference is the middleware's work and not
				// the cost of carrying a 700-byte header.
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return &statusError{resp.StatusCode}
				}
				return nil
			}
			if err := get(); err != nil { // warm: connection, cache entry
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			cpu := startCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			cpu.report(b)
		})
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + http.StatusText(e.code) }
