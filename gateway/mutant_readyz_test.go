package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
)

// TestNotReadyRetryAfter: /readyz's 503 carries the verifier's Retry-After
// hint rounded up to whole seconds, and 5 s when the error gives none.
func TestNotReadyRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errors.New("down"), "5"},
		{&apiguard.KeysError{Err: errors.New("down")}, "5"},
		{&apiguard.KeysError{Err: errors.New("down"), RetryAfter: 10 * time.Second}, "10"},
		{&apiguard.KeysError{Err: errors.New("down"), RetryAfter: time.Second}, "1"},
		{&apiguard.KeysError{Err: errors.New("down"), RetryAfter: 1500 * time.Millisecond}, "2"},
	} {
		rec := httptest.NewRecorder()
		writeNotReady(context.Background(), rec, tt.err, nil)
		if got := rec.Header().Get("Retry-After"); rec.Code != http.StatusServiceUnavailable || got != tt.want {
			t.Errorf("%#v: got %d Retry-After %q, want 503 and %q", tt.err, rec.Code, got, tt.want)
		}
	}
}

// TestStatusWriterFlush: the status the gateway records for a response
// (its metrics label) is the one written; a flush before any write counts
// as 200, like a write, and a flush after WriteHeader keeps its status.
func TestStatusWriterFlush(t *testing.T) {
	w := &statusWriter{ResponseWriter: httptest.NewRecorder()}
	w.WriteHeader(http.StatusNotFound)
	w.Flush()
	if w.status != http.StatusNotFound {
		t.Errorf("404 then a flush: recorded %d, want 404", w.status)
	}
	w = &statusWriter{ResponseWriter: httptest.NewRecorder()}
	w.Flush()
	if w.status != http.StatusOK {
		t.Errorf("a flush first: recorded %d, want 200", w.status)
	}
}
