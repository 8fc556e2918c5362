package apiguard

import (
	"net/http"
	"testing"
	"time"
)

// TestKeySetLifetimeBounded holds R-JWKS-2's bounds: a key set lives as
// long as the issuer's Cache-Control max-age says, but never less than a
// minute (a max-age of 0 must not turn every request into a fetch) nor more
// than a day (keys the issuer has dropped must not stay trusted for as
// long as it likes), and an hour when it says nothing usable.
func TestKeySetLifetimeBounded(t *testing.T) {
	v, err := New(Config{Issuer: "https://issuer.example/oauth2/default"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cacheControl string
		want         time.Duration
	}{
		{"", time.Hour},
		{"no-store", time.Hour},
		{"max-age=300", 5 * time.Minute},
		{"public, max-age=120, must-revalidate", 2 * time.Minute},
		{`MAX-AGE="600"`, 10 * time.Minute},
		{"max-age=0", time.Minute},
		{"max-age=59", time.Minute},
		{"max-age=60", time.Minute},
		{"max-age=61", 61 * time.Second},
		{"max-age=86399", 86399 * time.Second},
		{"max-age=86400", 24 * time.Hour},
		{"max-age=86401", 24 * time.Hour},
		{"max-age=9223372036854775807", 24 * time.Hour},
		{"max-age=-1", time.Hour},
		{"max-age=ten", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.cacheControl, func(t *testing.T) {
			h := http.Header{}
			if tt.cacheControl != "" {
				h.Set("Cache-Control", tt.cacheControl)
			}
			if got := v.keys.ttl(h); got != tt.want {
				t.Errorf("Cache-Control %q: got a lifetime of %s, want %s", tt.cacheControl, got, tt.want)
			}
		})
	}
}
