// Package middlewaretest serves one request through an apiguard middleware
// in a test and reads what it answered: the status, the challenge, the
// Retry-After header and, for a refusal, the JSON body, which it checks is
// JSON as the middleware promises.
package middlewaretest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Response is what the middleware answered.
type Response struct {
	Status     int
	Challenge  string            // WWW-Authenticate
	RetryAfter string            // Retry-After
	Body       map[string]string // a refusal's JSON body; nil for 200
}

// Call serves h one GET request for /orders?x=1, changed by mutate (nil: no
// change), and returns the answer. A refusal (any status but 200) that is
// not JSON, or not labelled so, fails the test.
func Call(t testing.TB, h http.Handler, mutate func(*http.Request)) Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/orders?x=1", nil)
	if mutate != nil {
		mutate(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	out := Response{Status: res.StatusCode, Challenge: res.Header.Get("WWW-Authenticate"), RetryAfter: res.Header.Get("Retry-After")}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("middlewaretest: refusal content type %q, want application/json", ct)
		}
		if err := json.Unmarshal(b, &out.Body); err != nil {
			t.Errorf("middlewaretest: refusal body %q is not JSON: %v", b, err)
		}
	}
	return out
}

// Bearer returns a change for Call that sends tok as a bearer token.
func Bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
