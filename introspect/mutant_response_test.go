package introspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/middlewaretest"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// rawEndpoint answers every introspection request 200 with body and the
// Content-Type ct ("" sends none: net/http does not sniff one then).
func rawEndpoint(t *testing.T, ct string, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if ct == "" {
			w.Header()["Content-Type"] = nil
		} else {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// activeJSON is an active introspection result for iss, grown to exactly
// size bytes by a string member placed before the others, so that the
// closing brace is the last byte (size 0: not grown). Whitespace after it
// would survive a cut of the last byte; the brace does not.
func activeJSON(t *testing.T, iss string, now time.Time, size int) []byte {
	t.Helper()
	b, err := json.Marshal(activeBody(iss, now))
	if err != nil {
		t.Fatal(err)
	}
	if size == 0 {
		return b
	}
	const head = `{"padding":"",`
	n := size - len(b) - len(head) + 1
	if n < 0 {
		t.Fatalf("size %d below the body's own %d bytes", size, len(b))
	}
	out := []byte(`{"padding":"` + strings.Repeat("x", n) + `",` + string(b[1:]))
	if len(out) != size || out[len(out)-1] != '}' {
		t.Fatalf("padded body is %d bytes ending %q, want %d ending '}'", len(out), out[len(out)-1], size)
	}
	return out
}

// TestIntrospectionContentType: an answer labelled as anything but JSON is
// not a usable result (503, never a pass), even when its body is an active
// result; an answer with no Content-Type at all is read as JSON.
func TestIntrospectionContentType(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	body := activeJSON(t, iss.URL, clk.Now(), 0)
	for _, tc := range []struct {
		ct   string
		want error // nil: accepted
	}{
		{"", nil},
		{"application/json", nil},
		{"application/json; charset=utf-8", nil},
		{"text/html", apiguard.ErrUnavailable},
		{"text/plain; charset=utf-8", apiguard.ErrUnavailable},
		{"application/json-patch+json", apiguard.ErrUnavailable},
		{"application/json;;", apiguard.ErrUnavailable},
	} {
		v := introVerifier(t, iss, clk, rawEndpoint(t, tc.ct, body))
		_, err := v.Verify(context.Background(), opaque)
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Content-Type %q: got %v, want %v", tc.ct, err, tc.want)
		}
	}
}

// TestIntrospectionBodyLimit: a result of exactly 64 KiB is read whole and
// accepted; one byte more is refused as unavailable, even though it is
// valid JSON (the extra byte is trailing whitespace).
func TestIntrospectionBodyLimit(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	const limit = 64 << 10
	body := activeJSON(t, iss.URL, clk.Now(), limit)
	v := introVerifier(t, iss, clk, rawEndpoint(t, "application/json", body))
	if c, err := v.Verify(context.Background(), opaque); err != nil || c.Subject != "user@example.com" {
		t.Errorf("a result of exactly %d bytes: got %v, %v; want it accepted", limit, c, err)
	}
	over := append(activeJSON(t, iss.URL, clk.Now(), limit), ' ')
	v = introVerifier(t, iss, clk, rawEndpoint(t, "application/json", over))
	var ue *apiguard.UnavailableError
	if _, err := v.Verify(context.Background(), opaque); !errors.As(err, &ue) {
		t.Errorf("a result of %d bytes: got %v, want *apiguard.UnavailableError", len(over), err)
	}
}

// TestIntrospectionUnusableAnswerRetryAfter: when the issuer answers
// something that is not a JSON object, the middleware answers 503 with
// Retry-After: 5, as for an unreachable endpoint (not the 1 s floor), so
// clients do not retry every second against a broken issuer.
func TestIntrospectionUnusableAnswerRetryAfter(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	for name, body := range map[string]string{"not JSON": "<html>", "an array": "[]", "a member twice": `{"active":true,"active":true}`} {
		m := &apiguard.Middleware{Verifier: introVerifier(t, iss, clk, rawEndpoint(t, "application/json", []byte(body)))}
		res := middlewaretest.Call(t, m.Handler(http.NotFoundHandler()), middlewaretest.Bearer(opaque))
		if res.Status != http.StatusServiceUnavailable || res.RetryAfter != "5" {
			t.Errorf("%s: got %d with Retry-After %q, want 503 with Retry-After 5", name, res.Status, res.RetryAfter)
		}
	}
}
