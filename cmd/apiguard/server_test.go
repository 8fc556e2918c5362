package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
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

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Error("the connection is kept after a request with both Content-Length and Transfer-Encoding")
	}
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("a second response (%d) to the bytes after the chunked body", resp.StatusCode)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}
