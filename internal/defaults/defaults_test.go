package defaults_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/defaults"
)

func TestHTTPClient(t *testing.T) {
	own := &http.Client{}
	if got := defaults.HTTPClient(own); got != own {
		t.Errorf("HTTPClient(own): got %p, want the caller's %p", got, own)
	}
	got := defaults.HTTPClient(nil)
	if got == nil || got == http.DefaultClient || got.Timeout != defaults.HTTPTimeout {
		t.Errorf("HTTPClient(nil): got %+v, want a new client with a %s timeout", got, defaults.HTTPTimeout)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	own := slog.New(slog.NewTextHandler(&buf, nil))
	if got := defaults.Logger(own); got != own {
		t.Errorf("Logger(own): got %p, want the caller's %p", got, own)
	}
	l := defaults.Logger(nil)
	if l == nil || l.Enabled(t.Context(), slog.LevelError) {
		t.Errorf("Logger(nil): got %v, want a logger that drops even errors", l)
	}
}

func TestOr(t *testing.T) {
	for _, tt := range []struct{ v, want int }{{0, 7}, {-1, 7}, {3, 3}} {
		if got := defaults.Or(tt.v, 7); got != tt.want {
			t.Errorf("Or(%d, 7): got %d, want %d", tt.v, got, tt.want)
		}
	}
	if got := defaults.Or(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("Or(0s, 1s): got %s", got)
	}
	if got := defaults.Or(2*time.Second, time.Second); got != 2*time.Second {
		t.Errorf("Or(2s, 1s): got %s", got)
	}
}

func TestBounded(t *testing.T) {
	const def, max = time.Minute, 5 * time.Minute
	for _, tt := range []struct {
		d, want time.Duration
		ok      bool
	}{
		{0, def, true},
		{time.Second, time.Second, true},
		{max, max, true},
		{max + 1, 0, false},
		{-1, 0, false},
	} {
		got, err := defaults.Bounded("pkg: Config.Window", tt.d, def, max)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("Bounded(%s): got %s, %v; want %s, ok %v", tt.d, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "pkg: Config.Window "+tt.d.String()+" is out of range") {
			t.Errorf("Bounded(%s): error %q does not name the setting and its value", tt.d, err)
		}
	}
}
