package introspect_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// response is what the middleware answered: status, challenge, Retry-After
// and, for a refusal, the JSON body.
type response struct {
	status    int
	challenge string
	retry     string
	body      map[string]string
}

// call serves one GET request, changed by mutate, with h.
func call(t *testing.T, h http.Handler, mutate func(*http.Request)) response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/orders?x=1", nil)
	if mutate != nil {
		mutate(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	out := response{status: res.StatusCode, challenge: res.Header.Get("WWW-Authenticate"), retry: res.Header.Get("Retry-After")}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("refusal content type %q", ct)
		}
		if err := json.Unmarshal(b, &out.body); err != nil {
			t.Errorf("refusal body %q is not JSON: %v", b, err)
		}
	}
	return out
}

// bearer sets tok as the request's bearer token.
func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
