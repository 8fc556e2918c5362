// Package smuggletest sends a request framed two ways (Content-Length and
// Transfer-Encoding: chunked) to a server, for the tests of serve's and the
// gateway's answer to it: the connection closed after the first response,
// and the bytes a Content-Length-framing proxy would have sent as the body
// never read as a second request.
package smuggletest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Result is what the server did with the request.
type Result struct {
	// KeptOpen: the first response did not close the connection.
	KeptOpen bool
	// Second is the status of a second response, to the bytes after the
	// chunked body (GET /smuggled), 0 when none came.
	Second int
}

// CLTE sends, on one connection to addr, a POST with both Content-Length: 5
// and Transfer-Encoding: chunked, whose chunked body is empty and is
// followed by "GET /smuggled", and reads what comes back.
func CLTE(t testing.TB, addr string) Result {
	t.Helper()
	c, err := net.Dial("tcp", addr)
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
	r := Result{KeptOpen: !resp.Close}
	if second, err := http.ReadResponse(br, nil); err == nil {
		r.Second = second.StatusCode
		second.Body.Close()
	}
	return r
}
