package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scripted is an upstream written on a raw TCP listener, so a test says
// byte for byte what the gateway's transport reads. It reads each request
// with http.ReadRequest and lets answer write the response; answer returns
// false to close the connection after it.
type scripted struct {
	t      *testing.T
	ln     net.Listener
	answer func(conn, nth int, req *http.Request, w *bufio.Writer) bool

	mu       sync.Mutex
	conns    int           // connections accepted
	requests []string      // "conn/nth METHOD path" per request read
	eof      map[int]bool  // connections the transport closed (EOF read)
	closed   map[int]bool  // connections the upstream closed
	signal   chan struct{} // a request or an EOF was seen
	open     []net.Conn    // to close at the end
	hold     chan struct{} // closed at cleanup: unblocks answers that wait
}

func newScripted(t *testing.T, answer func(conn, nth int, req *http.Request, w *bufio.Writer) bool) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{t: t, ln: ln, answer: answer, eof: map[int]bool{}, closed: map[int]bool{}, signal: make(chan struct{}, 100), hold: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() {
		close(s.hold)
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.open {
			c.Close()
		}
	})
	return s
}

func (s *scripted) url() string { return "http://" + s.ln.Addr().String() }

func (s *scripted) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		id := s.conns
		s.conns++
		s.open = append(s.open, c)
		s.mu.Unlock()
		go s.serveConn(id, c)
	}
}

func (s *scripted) serveConn(id int, c net.Conn) {
	defer c.Close()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	for nth := 0; ; nth++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			s.mu.Lock()
			s.eof[id] = errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset")
			s.mu.Unlock()
			s.notify()
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		s.requests = append(s.requests, strings.Join([]string{strconv.Itoa(id) + "/" + strconv.Itoa(nth), req.Method, req.URL.Path}, " "))
		s.mu.Unlock()
		s.notify()
		keep := s.answer(id, nth, req, bw)
		_ = bw.Flush()
		if !keep {
			c.Close()
			s.mu.Lock()
			s.closed[id] = true
			s.mu.Unlock()
			s.notify()
			return
		}
	}
}

func (s *scripted) notify() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// waitFor polls cond until it holds, failing after a deadline.
func (s *scripted) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.signal:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s; requests %v, conns %d, eof %v", what, s.requests, s.conns, s.eof)
		}
	}
}

func (s *scripted) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func newTestTransport() *h1Transport {
	return newH1Transport(http.DefaultTransport.(*http.Transport).Clone())
}

// send makes one request through tr and returns the response with its body
// read (unless keepBody).
func send(t *testing.T, tr http.RoundTripper, ctx context.Context, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func TestTransportReusesConnection(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return true
	})
	tr := newTestTransport()
	for i := range 20 {
		resp, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x")
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
	}
	if n := up.connCount(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential requests, want 1", n)
	}
}

func TestTransportConnectionCloseNotReused(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		return true // the upstream would even keep it: the transport must not
	})
	tr := newTestTransport()
	for range 3 {
		if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" {
			t.Fatal(err, body)
		}
	}
	if n := up.connCount(); n != 3 {
		t.Errorf("upstream saw %d connections, want 3 (Connection: close)", n)
	}
	up.waitFor("the transport to close the first connection", func() bool { return up.eof[0] })
}

func TestTransportUnreadBodyClosesConnection(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
		return true
	})
	tr := newTestTransport()
	req, _ := http.NewRequest("GET", up.url()+"/x", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	up.waitFor("the transport to close the connection", func() bool { return up.eof[0] })
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/y"); err != nil || body != "0123456789" {
		t.Fatal(err, body)
	}
	if n := up.connCount(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2", n)
	}
}

func TestTransportNoLengthMeansClose(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\n\r\nuntil close")
		return false
	})
	tr := newTestTransport()
	for range 2 {
		if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "until close" {
			t.Fatal(err, body)
		}
	}
	if n := up.connCount(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2", n)
	}
}

// An upstream that closes a connection it kept alive, before the next
// request arrives, is noticed before the request is sent (alive): a POST,
// which is never retried, gets a new connection.
func TestTransportIdleClosedByUpstream(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return false // closes without saying so
	})
	tr := newTestTransport()
	tr.checkAfter = 0 // check every time, not only after 5ms idle
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" {
		t.Fatal(err, body)
	}
	up.waitFor("the upstream to close", func() bool { return up.closed[0] })
	if _, body, err := send(t, tr, context.Background(), "POST", up.url()+"/y"); err != nil || body != "ok" {
		t.Fatal(err, body)
	}
	if n := up.connCount(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2", n)
	}
}

// A request that fails on a reused connection before any response byte
// arrives is sent again on a new connection if it is GET, HEAD, OPTIONS or
// TRACE, and not otherwise: the upstream may have acted on it.
func TestTransportRetryIdempotentOnly(t *testing.T) {
	for _, tc := range []struct {
		method string
		retry  bool
	}{{"GET", true}, {"HEAD", true}, {"POST", false}, {"DELETE", false}} {
		t.Run(tc.method, func(t *testing.T) {
			up := newScripted(t, func(_, nth int, _ *http.Request, w *bufio.Writer) bool {
				if nth == 1 {
					return false // reads the second request, answers nothing
				}
				_, _ = w.WriteString(okResponse)
				return true
			})
			tr := newTestTransport()
			if _, _, err := send(t, tr, context.Background(), "GET", up.url()+"/first"); err != nil {
				t.Fatal(err)
			}
			resp, _, err := send(t, tr, context.Background(), tc.method, up.url()+"/second")
			if tc.retry {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s not retried: %v", tc.method, err)
				}
				up.waitFor("the retry", func() bool { return len(up.requests) == 3 && up.conns == 2 })
				return
			}
			if err == nil {
				t.Fatalf("%s got %d, want an error (no retry)", tc.method, resp.StatusCode)
			}
			if !errors.Is(err, errNothingReceived) {
				t.Errorf("error %v, want errNothingReceived", err)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if len(up.requests) != 2 || up.conns != 1 {
				t.Errorf("upstream saw %v on %d connections, want the %s once", up.requests, up.conns, tc.method)
			}
		})
	}
}

// HEAD, 204 and 304 have no body whatever their headers say, and leave the
// connection reusable.
func TestTransportNoBodyResponses(t *testing.T) {
	up := newScripted(t, func(_, nth int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/head":
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
		case "/204":
			_, _ = w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		case "/304":
			_, _ = w.WriteString("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n")
		default:
			_, _ = w.WriteString(okResponse)
		}
		return true
	})
	tr := newTestTransport()
	for _, c := range []struct {
		method, path string
		status       int
	}{{"HEAD", "/head", 200}, {"GET", "/204", 204}, {"GET", "/304", 304}, {"GET", "/after", 200}} {
		resp, body, err := send(t, tr, context.Background(), c.method, up.url()+c.path)
		if err != nil || resp.StatusCode != c.status {
			t.Fatalf("%s %s: %v %v", c.method, c.path, err, resp)
		}
		if c.path != "/after" && body != "" {
			t.Errorf("%s %s: body %q", c.method, c.path, body)
		}
	}
	if n := up.connCount(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1", n)
	}
}

func TestTransportChunkedTrailers(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n")
		return true
	})
	tr := newTestTransport()
	for range 2 {
		resp, body, err := send(t, tr, context.Background(), "GET", up.url()+"/c")
		if err != nil || body != "abcde" {
			t.Fatal(err, body)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "5" {
			t.Errorf("trailer X-Sum %q, want 5", got)
		}
	}
	if n := up.connCount(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1", n)
	}
}

func TestTransportInformational(t *testing.T) {
	hints := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 1)
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/one":
			_, _ = w.WriteString(hints + okResponse)
		case "/many":
			_, _ = w.WriteString(strings.Repeat(hints, maxInformational+1) + okResponse)
		case "/switch":
			_, _ = w.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
		}
		return true
	})
	tr := newTestTransport()
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, strconv.Itoa(code)+" "+h.Get("Link"))
		return nil
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	resp, body, err := send(t, tr, ctx, "GET", up.url()+"/one")
	if err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatal(err, body)
	}
	if len(got) != 1 || got[0] != "103 </a.css>; rel=preload" {
		t.Errorf("1xx seen %q, want the 103 once", got)
	}
	if _, _, err := send(t, tr, ctx, "GET", up.url()+"/many"); err == nil {
		t.Error("more than maxInformational 1xx responses accepted")
	}
	if _, _, err := send(t, tr, ctx, "GET", up.url()+"/switch"); err == nil {
		t.Error("a 101 to a request without Upgrade accepted")
	}
}

func TestTransportTimeouts(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, _ *bufio.Writer) bool {
		return true // answers nothing, and reads on to see the close
	})
	next := http.DefaultTransport.(*http.Transport).Clone()
	next.ResponseHeaderTimeout = 100 * time.Millisecond
	tr := newH1Transport(next)
	start := time.Now()
	if _, _, err := send(t, tr, context.Background(), "GET", up.url()+"/slow"); err == nil {
		t.Fatal("no error from an upstream that never answers")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ResponseHeaderTimeout 100ms took %v", d)
	}
	up.waitFor("the timed-out connection closed", func() bool { return up.eof[0] })

	// Cancelling the request's context closes its connection.
	tr = newTestTransport()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, _, err := send(t, tr, ctx, "GET", up.url()+"/cancelled"); errc <- err }()
	up.waitFor("the request", func() bool { return len(up.requests) == 2 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled request did not return")
	}
	up.waitFor("the cancelled connection closed", func() bool { return up.eof[1] })
}

// A context cancelled while the body is read closes the connection: it is
// not put back with a half-read response on it.
func TestTransportCancelDuringBody(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
		return true
	})
	tr := newTestTransport()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", up.url()+"/x", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("reading after cancel: no error")
	}
	resp.Body.Close()
	up.waitFor("the connection closed", func() bool { return up.eof[0] })
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.idle[up.ln.Addr().String()]); n != 0 {
		t.Errorf("%d idle connections after a cancelled body, want 0", n)
	}
}

// Responses whose framing the transport would have to guess are errors
// (a 502 from the gateway), never a desynchronised connection.
func TestTransportConflictingFraming(t *testing.T) {
	for name, head := range map[string]string{
		"length and chunked": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"chunked and length": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
		"two lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"unknown coding":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"bad length":         "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
		"space before colon": "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
				_, _ = w.WriteString(head + "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
				return true
			})
			tr := newTestTransport()
			if resp, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err == nil {
				t.Fatalf("accepted: %d %q", resp.StatusCode, body)
			}
			up.waitFor("the connection closed", func() bool { return up.eof[0] })
		})
	}
}

// Requests the transport does not handle go to the standard one.
func TestTransportFallback(t *testing.T) {
	tr := newTestTransport()
	body := func() io.ReadCloser { return io.NopCloser(strings.NewReader("x")) }
	for name, req := range map[string]*http.Request{
		"https":   {Method: "GET", URL: mustURL(t, "https://a.example/"), Header: http.Header{}},
		"body":    {Method: "POST", URL: mustURL(t, "http://a.example/"), Header: http.Header{}, Body: body(), ContentLength: 1},
		"chunked": {Method: "POST", URL: mustURL(t, "http://a.example/"), Header: http.Header{}, Body: body(), ContentLength: -1},
		"upgrade": {Method: "GET", URL: mustURL(t, "http://a.example/"), Header: http.Header{"Upgrade": {"websocket"}}},
		"expect":  {Method: "GET", URL: mustURL(t, "http://a.example/"), Header: http.Header{"Expect": {"100-continue"}}},
		"user":    {Method: "GET", URL: mustURL(t, "http://u:p@a.example/"), Header: http.Header{}},
	} {
		if tr.handles(req) {
			t.Errorf("%s: handled by h1Transport, want the standard transport", name)
		}
	}
	if req := (&http.Request{Method: "GET", URL: mustURL(t, "http://a.example/"), Header: http.Header{}}); !tr.handles(req) {
		t.Error("a plain GET is not handled by h1Transport")
	}
}

func TestTransportInvalidHeader(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return true
	})
	tr := newTestTransport()
	for _, h := range []http.Header{{"X-A": {"a\r\nX-Injected: 1"}}, {"X A": {"1"}}, {"X-A": {"a\x00"}}} {
		req, _ := http.NewRequest("GET", up.url()+"/x", nil)
		req.Header = h
		if _, err := tr.RoundTrip(req); err == nil {
			t.Errorf("header %q sent", h)
		}
	}
	if n := up.connCount(); n != 0 {
		t.Errorf("upstream saw %d connections, want none", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestWriteRequestLikeRequestWrite: writeRequest writes what Request.Write
// writes, header lines in any order.
func TestWriteRequestLikeRequestWrite(t *testing.T) {
	lines := func(b []byte) []string {
		parts := strings.Split(string(b), "\r\n")
		head := parts[0]
		rest := slices.Clone(parts[1:])
		slices.Sort(rest)
		return append([]string{head}, rest...)
	}
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"} {
		for _, target := range []string{"http://up.example:8080/a/b?x=1&y=%20", "http://up.example/", "http://[::1]:9000/p%2Fq", "http://up.example/caf%C3%A9?q"} {
			for i, h := range []http.Header{
				{},
				{"User-Agent": {""}},
				{"User-Agent": {"  curl/8  "}, "Accept": {"a", "b"}, "X-Empty": {""}, "X-Spaced": {" v\t"}},
				{"Host": {"spoof.example"}, "Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"}, "X-Auth-Subject": {"alice"}},
			} {
				req, err := http.NewRequest(method, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header = h
				var want, got strings.Builder
				ww, gw := bufio.NewWriter(&want), bufio.NewWriter(&got)
				if err := req.Write(ww); err != nil {
					t.Fatal(err)
				}
				if err := writeRequest(gw, req); err != nil {
					t.Fatal(err)
				}
				_ = ww.Flush()
				_ = gw.Flush()
				if w, g := lines([]byte(want.String())), lines([]byte(got.String())); !slices.Equal(w, g) {
					t.Errorf("%s %s header %d:\nRequest.Write %q\nwriteRequest  %q", method, target, i, w, g)
				}
			}
		}
	}
}

// TestPlainHost: only hosts Request.Write would send unchanged take
// writeRequest's own path; for the others it is Request.Write's output.
func TestPlainHost(t *testing.T) {
	for h, want := range map[string]bool{
		"example.com": true, "api.example.com:8443": true, "127.0.0.1:9000": true, "[::1]:80": true,
		"": false, "a<b": false, "a b": false, "a/b": false, "[fe80::1%25eth0]": false, "a@b": false,
		"a#b": false, "a?b": false, "a{b}": false, "a`b": false, "é.example": false,
	} {
		if got := plainHost(h); got != want {
			t.Errorf("plainHost(%q) = %v, want %v", h, got, want)
		}
	}
	for _, host := range []string{"a<b", "a{b}", "é.example"} {
		req, _ := http.NewRequest("GET", "http://up.example/x", nil)
		req.Host = host
		var ours, std bytes.Buffer
		bw := bufio.NewWriter(&ours)
		errOurs := writeRequest(bw, req)
		_ = bw.Flush()
		errStd := req.Write(&std)
		if (errOurs == nil) != (errStd == nil) || ours.String() != std.String() {
			t.Errorf("Host %q: writeRequest wrote %q (%v), Request.Write %q (%v)", host, ours.String(), errOurs, std.String(), errStd)
		}
	}
}
