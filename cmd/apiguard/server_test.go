package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/internal/smuggletest"
)

// TestServerClosesAfterTransferEncoding: a request with both Content-Length
// and Transfer-Encoding gets its answer and then the connection is closed,
// so what a proxy in front took for the rest of its body is never read as
// a request of its own.
func TestServerClosesAfterTransferEncoding(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}), slog.New(slog.DiscardHandler))
	srv.Start()
	defer srv.Close()

	r := smuggletest.CLTE(t, srv.Listener.Addr().String())
	if r.KeptOpen {
		t.Error("the connection is kept after a request with both Content-Length and Transfer-Encoding")
	}
	if r.Second != 0 {
		t.Errorf("a second response (%d) to the bytes after the chunked body", r.Second)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}
