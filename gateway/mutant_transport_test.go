package gateway

// Tests that kill the mutants gremlins left alive in direct.go and
// transport.go (issue 19; see MUTATION.md).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
)

// countingTransport counts the requests ReverseProxy sends: those
// serveDirect did not take.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// newDirectGateway builds a gateway with one public route to upstream (with
// opts), whose ReverseProxy path counts its requests.
func newDirectGateway(t *testing.T, upstream string, opts Options) (*Gateway, *countingTransport) {
	t.Helper()
	v, err := apiguard.New(apiguard.Config{Issuer: "https://issuer.example"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := New(&apiguard.Middleware{Verifier: v}, Rules{Upstream: upstream, Routes: []Route{{Path: "/**", Public: true}}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{next: g.proxy.Transport}
	g.proxy.Transport = ct
	if g.h1 != nil {
		t.Cleanup(g.h1.CloseIdleConnections)
	}
	return g, ct
}

// TestDirectTakesPlainRequests: a request without a body to an http://
// upstream is proxied by serveDirect, not ReverseProxy; one with a body, or
// a body of unknown length (a handler in front wrapped it), or with the
// gateway built around another Transport, goes to ReverseProxy. Both give
// the upstream's answer.
func TestDirectTakesPlainRequests(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return true
	})
	g, ct := newDirectGateway(t, up.url(), Options{})
	other, otherCT := newDirectGateway(t, up.url(), Options{Transport: http.DefaultTransport.(*http.Transport).Clone()})
	for _, c := range []struct {
		name   string
		g      *Gateway
		ct     *countingTransport
		req    func() *http.Request
		direct bool
	}{
		{"GET", g, ct, func() *http.Request { return httptest.NewRequest("GET", "/x", nil) }, true},
		{"DELETE", g, ct, func() *http.Request { return httptest.NewRequest("DELETE", "/x", nil) }, true},
		{"POST with a body", g, ct, func() *http.Request { return httptest.NewRequest("POST", "/x", strings.NewReader("abc")) }, false},
		{"chunked POST", g, ct, func() *http.Request {
			r := httptest.NewRequest("POST", "/x", io.NopCloser(strings.NewReader("abc")))
			r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
			return r
		}, false},
		{"chunked without a length", g, ct, func() *http.Request {
			r := httptest.NewRequest("POST", "/x", nil)
			r.TransferEncoding = []string{"chunked"}
			return r
		}, false},
		{"wrapped body", g, ct, func() *http.Request {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Body = http.MaxBytesReader(nil, r.Body, 10)
			return r
		}, false},
		{"GET, Options.Transport", other, otherCT, func() *http.Request { return httptest.NewRequest("GET", "/x", nil) }, false},
	} {
		before := c.ct.n.Load()
		rec := httptest.NewRecorder()
		c.g.ServeHTTP(rec, c.req())
		if rec.Code != 200 || rec.Body.String() != "ok" {
			t.Errorf("%s: %d %q, want 200 ok", c.name, rec.Code, rec.Body)
		}
		if direct := c.ct.n.Load() == before; direct != c.direct {
			t.Errorf("%s: proxied by serveDirect %v, want %v", c.name, direct, c.direct)
		}
	}
}

// TestDirectNoTrailerHeader: a response without trailers gets no Trailer
// header (not even an empty one); one with trailers announces them.
func TestDirectNoTrailerHeader(t *testing.T) {
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		if req.URL.Path == "/trailers" {
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 2\r\n\r\n")
		} else {
			_, _ = w.WriteString(okResponse)
		}
		return true
	})
	g, ct := newDirectGateway(t, up.url(), Options{})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if v, ok := rec.Header()["Trailer"]; ok || rec.Body.String() != "ok" {
		t.Errorf("no trailers: Trailer header %q (present %v), body %q", v, ok, rec.Body)
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/trailers", nil))
	if got := rec.Header().Get("Trailer"); got != "X-Sum" || rec.Body.String() != "ok" {
		t.Errorf("trailers: Trailer header %q, body %q, want X-Sum and ok", got, rec.Body)
	}
	if n := ct.n.Load(); n != 0 {
		t.Errorf("%d requests went through ReverseProxy, want 0", n)
	}
}

// TestDirectBuffering: like ReverseProxy, serveDirect flushes a response of
// unknown length (and so every response with trailers) as it goes, and
// leaves one of known length to the server's buffering, which large
// downloads want: no flush at all.
func TestDirectBuffering(t *testing.T) {
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/trailers":
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 2\r\n\r\n")
		case "/stream-like":
			// As long as "text/event-stream", and not it.
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain-stream\r\nContent-Length: 2\r\n\r\nok")
		default:
			_, _ = w.WriteString(okResponse)
		}
		return true
	})
	g, _ := newDirectGateway(t, up.url(), Options{})
	for path, flushed := range map[string]bool{"/plain": false, "/stream-like": false, "/trailers": true} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.String() != "ok" || rec.Flushed != flushed {
			t.Errorf("%s: %d %q flushed %v, want 200 ok flushed %v", path, rec.Code, rec.Body, rec.Flushed, flushed)
		}
	}
}

// TestDirectUnannouncedTrailers: trailers the upstream sends without
// announcing them in its Trailer header still reach the client, with those
// it announced.
func TestDirectUnannouncedTrailers(t *testing.T) {
	_, resp, b, err := getThroughDirect(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 2\r\nX-Late: 1\r\n\r\n")
		return true
	})
	if err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	if resp.Trailer.Get("X-Sum") != "2" || resp.Trailer.Get("X-Late") != "1" {
		t.Errorf("trailers %v, want X-Sum: 2 and X-Late: 1", resp.Trailer)
	}
}

// TestDirectTruncatedBodyAborts: an upstream body that ends before its
// framing says (here a chunked body cut off) aborts the client's
// connection, so the client sees a truncated response and not a complete
// one; outside an http.Server (a recorder) serveDirect just returns.
func TestDirectTruncatedBodyAborts(t *testing.T) {
	g, resp, b, err := getThroughDirect(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
		return false // closes before the last chunk
	})
	if err == nil {
		t.Errorf("a truncated upstream body reached the client whole: %d %q", resp.StatusCode, b)
	}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Body.String() != "ok" {
		t.Errorf("recorder: body %q, want the part that arrived", rec.Body)
	}
}

// TestIsEventStream: the media type, read as mime.ParseMediaType reads it.
func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                  true,
		"TEXT/EVENT-STREAM":                  true,
		" Text/Event-Stream ; charset=utf-8": true,
		"text/plain-stream":                  false, // same length
		"text/event-streams":                 false,
		"text/event":                         false,
		"":                                   false,
	} {
		if got := isEventStream([]string{ct}); got != want {
			t.Errorf("isEventStream(%q) = %v, want %v", ct, got, want)
		}
	}
	if isEventStream(nil) {
		t.Error("isEventStream(nil) = true")
	}
}

// TestDirectUserAgent: as with ReverseProxy, a request without a
// User-Agent reaches the upstream without one (not Go's default), and the
// client's is passed on.
func TestDirectUserAgent(t *testing.T) {
	var got atomic.Pointer[http.Header]
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		h := req.Header.Clone()
		got.Store(&h)
		_, _ = w.WriteString(okResponse)
		return true
	})
	g, ct := newDirectGateway(t, up.url(), Options{})
	for _, ua := range []string{"", "curl/8"} {
		req := httptest.NewRequest("GET", "/x", nil)
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		h := got.Load()
		if rec.Code != 200 || h == nil {
			t.Fatalf("User-Agent %q: %d", ua, rec.Code)
		}
		if v, ok := (*h)["User-Agent"]; ua == "" && ok || ua != "" && (len(v) != 1 || v[0] != ua) {
			t.Errorf("client User-Agent %q: upstream got %q (present %v)", ua, v, ok)
		}
	}
	if n := ct.n.Load(); n != 0 {
		t.Errorf("%d requests went through ReverseProxy, want 0", n)
	}
}

// TestDirectAddsToHeadersSetBefore: response headers a handler in front of
// the gateway set are kept, the upstream's values added after them (as
// ReverseProxy's Header.Add does).
func TestDirectAddsToHeadersSetBefore(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nVary: Accept\r\nX-Up: 1\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	g, _ := newDirectGateway(t, up.url(), Options{})
	rec := httptest.NewRecorder()
	rec.Header().Set("Vary", "Origin")
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if v := rec.Header()["Vary"]; len(v) != 2 || v[0] != "Origin" || v[1] != "Accept" || rec.Header().Get("X-Up") != "1" {
		t.Errorf("headers %v, want Vary: Origin, Accept and X-Up: 1", rec.Header())
	}
}

// TestCleanQuery: as ReverseProxy, a query with a ";" or a malformed
// escape is re-encoded (dropping what url.ParseQuery refuses), and any
// other is kept byte for byte.
func TestCleanQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"b=2&a=1":          "b=2&a=1",
		"x=%09%af%AF%Ff&y": "x=%09%af%AF%Ff&y", // hex digits at the ends of their ranges
		"c=3&x=%41":        "c=3&x=%41",        // an escape that ends the query
		"c=3&a=1;b=2":      "c=3",
		"c=3&x=%4":         "c=3",
		"c=3&x=%":          "c=3",
		"c=3&x=%g0":        "c=3",
		"c=3&x=%0g":        "c=3",
		"c=3&x=%/0":        "c=3", // '0'-1
		"c=3&x=%:0":        "c=3", // '9'+1
		"c=3&x=%`0":        "c=3", // 'a'-1
		"c=3&x=%G0":        "c=3", // 'F'+1
		"c=3&x=%@0":        "c=3", // 'A'-1
		"d=%20&c=3&x=%zz":  "c=3&d=+",
		"x=%41%4":          "",
	} {
		if got := cleanQuery(in); got != want {
			t.Errorf("cleanQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDirectLogs: what serveDirect logs, as ReverseProxy's error handler
// would: an upstream that fails is a warning, a client that went away only
// a debug line, an upstream body cut short a warning, a clean exchange
// nothing.
func TestDirectLogs(t *testing.T) {
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/cut":
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
			return false
		case "/silent":
			return true // answers nothing
		case "/big":
			// Larger than the copy buffer: read in several parts.
			_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 100000))
			return true
		}
		_, _ = w.WriteString(okResponse)
		return true
	})
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, _ := newDirectGateway(t, up.url(), Options{Logger: logger})
	refused, _ := newDirectGateway(t, "http://"+closedAddr(t), Options{Logger: logger})

	check := func(name string, want ...string) {
		t.Helper()
		got := logs.String()
		logs.Reset()
		if len(want) == 0 && got != "" {
			t.Errorf("%s: logged %q, want nothing", name, got)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: logged %q, want %q in it", name, got, w)
			}
		}
	}
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	check("clean")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/big", nil))
	check("clean, large")
	if rec.Body.Len() != 100000 {
		t.Errorf("large: %d bytes, want 100000", rec.Body.Len())
	}
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/cut", nil))
	check("cut body", `level=WARN msg="upstream body failed"`)
	rec = httptest.NewRecorder()
	refused.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	check("refused", `level=WARN msg="upstream failed"`)
	if rec.Code != http.StatusBadGateway {
		t.Errorf("refused: %d, want 502", rec.Code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/silent", nil).WithContext(ctx))
	}()
	up.waitFor("the request", func() bool {
		return slices.ContainsFunc(up.requests, func(r string) bool { return strings.HasSuffix(r, "/silent") })
	})
	cancel()
	<-done
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("client gone: a warning")
	}
	check("client gone", `level=DEBUG msg="client went away"`)
}

// getThroughDirect puts a gateway on the direct transport in front of a
// scripted upstream that answers with answer, GETs /x through a real
// server and returns the gateway, the response, and its body with the
// error that ended reading it.
func getThroughDirect(t *testing.T, answer func(conn, nth int, req *http.Request, w *bufio.Writer) bool) (*Gateway, *http.Response, []byte, error) {
	t.Helper()
	up := newScripted(t, answer)
	g, _ := newDirectGateway(t, up.url(), Options{})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return g, resp, b, err
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestH1TransportSettings: newH1Transport takes next's dial function and
// limits, with http.Transport's defaults where next leaves them unset (a
// net.Dialer when DialContext is nil), and checks an idle connection
// before reuse only after checkAfter, 5 ms (see h1Transport.checkAfter).
func TestH1TransportSettings(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return false
	})
	var dials atomic.Int32
	d := &net.Dialer{}
	next := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 7, MaxResponseHeaderBytes: 1000, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: time.Second,
	}
	tr := newH1Transport(next)
	if tr.maxIdle != 7 || tr.maxResponseHeader != 1000 || tr.idleTimeout != time.Minute || tr.headerTimeout != time.Second || tr.checkAfter != 5*time.Millisecond {
		t.Errorf("settings %d %d %v %v %v", tr.maxIdle, tr.maxResponseHeader, tr.idleTimeout, tr.headerTimeout, tr.checkAfter)
	}
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" || dials.Load() != 1 {
		t.Errorf("with next's DialContext: %v %q, %d dials, want ok and 1", err, body, dials.Load())
	}

	tr = newH1Transport(&http.Transport{})
	if tr.maxIdle != http.DefaultMaxIdleConnsPerHost || tr.maxResponseHeader != 10<<20 || tr.idleTimeout != 0 || tr.headerTimeout != 0 {
		t.Errorf("defaults %d %d %v %v", tr.maxIdle, tr.maxResponseHeader, tr.idleTimeout, tr.headerTimeout)
	}
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" || dials.Load() != 1 {
		t.Errorf("without DialContext: %v %q, %d dials of next's, want ok and 1", err, body, dials.Load())
	}

	// A proxy (from the environment, say) is http.Transport's business.
	plain := &http.Request{Method: "GET", URL: mustURL(t, "http://a.example/"), Header: http.Header{}}
	for name, proxy := range map[string]func(*http.Request) (*url.URL, error){
		"none":  func(*http.Request) (*url.URL, error) { return nil, nil },
		"proxy": http.ProxyURL(mustURL(t, "http://proxy.example:3128")),
		"error": func(*http.Request) (*url.URL, error) { return nil, errors.New("bad proxy setting") },
	} {
		tr.next.Proxy = proxy
		if got := tr.handles(plain); got != (name == "none") {
			t.Errorf("Proxy %s: handled by h1Transport %v", name, got)
		}
	}
}

// openResponses starts n requests at once through tr, leaving each
// response's body unread so that each has a connection of its own.
func openResponses(t *testing.T, tr *h1Transport, url string, n int) []*http.Response {
	t.Helper()
	var resps []*http.Response
	for range n {
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resps = append(resps, resp)
	}
	return resps
}

// finish reads a response to its end, which returns its connection.
func finish(t *testing.T, resp *http.Response) {
	t.Helper()
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	resp.Body.Close()
}

func (tr *h1Transport) idleCount(addr string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.idle[addr])
}

// age makes the idle connections to addr look idle since d ago.
func (tr *h1Transport) age(addr string, d time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, pc := range tr.idle[addr] {
		pc.idleAt = pc.idleAt.Add(-d)
	}
}

// TestTransportIdlePool: how many idle connections are kept, and for how
// long. Without IdleConnTimeout they are kept (and reused) however old;
// beyond MaxIdleConnsPerHost the oldest is closed; with IdleConnTimeout
// one idle longer is closed, when it would be reused or when another
// connection to its host comes back.
func TestTransportIdlePool(t *testing.T) {
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString(okResponse)
		return true
	})
	addr := up.ln.Addr().String()
	newTr := func(idleTimeout time.Duration) *h1Transport {
		next := http.DefaultTransport.(*http.Transport).Clone()
		next.IdleConnTimeout = idleTimeout
		next.MaxIdleConnsPerHost = 2
		tr := newH1Transport(next)
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}

	// No timeout: two connections back, both kept, and reused however old.
	tr := newTr(0)
	for _, resp := range openResponses(t, tr, up.url()+"/x", 2) {
		finish(t, resp)
	}
	if n := tr.idleCount(addr); n != 2 {
		t.Fatalf("no IdleConnTimeout: %d idle connections, want 2", n)
	}
	tr.age(addr, time.Hour)
	for range 3 {
		if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" {
			t.Fatal(err, body)
		}
	}
	if n := up.connCount(); n != 2 {
		t.Errorf("no IdleConnTimeout: upstream saw %d connections, want 2", n)
	}

	// Three back with room for two: the first one back is closed.
	tr = newTr(time.Minute)
	for _, resp := range openResponses(t, tr, up.url()+"/x", 3) {
		finish(t, resp)
	}
	if n := tr.idleCount(addr); n != 2 {
		t.Errorf("MaxIdleConnsPerHost 2: %d idle connections, want 2", n)
	}
	up.waitFor("the first of the three closed", func() bool { return up.eof[2] })

	// IdleConnTimeout: an old idle connection is closed when another comes
	// back, and when it would be reused.
	tr = newTr(time.Minute)
	resps := openResponses(t, tr, up.url()+"/x", 2) // connections 5 and 6
	finish(t, resps[0])
	tr.age(addr, 2*time.Minute)
	finish(t, resps[1])
	if n := tr.idleCount(addr); n != 1 {
		t.Errorf("IdleConnTimeout: %d idle connections after an old one, want 1", n)
	}
	up.waitFor("the old idle connection closed", func() bool { return up.eof[5] })
	tr.age(addr, 2*time.Minute)
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/x"); err != nil || body != "ok" {
		t.Fatal(err, body)
	}
	up.waitFor("the other old idle connection closed", func() bool { return up.eof[6] })
	if n := up.connCount(); n != 8 {
		t.Errorf("IdleConnTimeout: upstream saw %d connections, want 8 (the request after the timeout on a new one)", n)
	}
}

// TestTransportResponseHeaderLimit: a response header block larger than
// MaxResponseHeaderBytes is refused with errHeaderTooLarge; one within it
// is read.
func TestTransportResponseHeaderLimit(t *testing.T) {
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		size := 500
		if req.URL.Path == "/big" {
			size = 3000
		}
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("x", size) + "\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	next := http.DefaultTransport.(*http.Transport).Clone()
	next.MaxResponseHeaderBytes = 1000
	tr := newH1Transport(next)
	if _, body, err := send(t, tr, context.Background(), "GET", up.url()+"/small"); err != nil || body != "ok" {
		t.Errorf("a 550-byte header with a limit of 1000: %v %q", err, body)
	}
	if _, _, err := send(t, tr, context.Background(), "GET", up.url()+"/big"); !errors.Is(err, errHeaderTooLarge) {
		t.Errorf("a 3050-byte header with a limit of 1000: error %v, want errHeaderTooLarge", err)
	}
}

// TestTransportHeaderTimeoutEndsWithHeaders: ResponseHeaderTimeout bounds
// the wait for the response header only; a body that comes later than it
// is still read.
func TestTransportHeaderTimeoutEndsWithHeaders(t *testing.T) {
	more := make(chan struct{})
	up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
		_ = w.Flush()
		select {
		case <-more:
		case <-time.After(5 * time.Second):
		}
		_, _ = w.WriteString("ok")
		return true
	})
	next := http.DefaultTransport.(*http.Transport).Clone()
	next.ResponseHeaderTimeout = 50 * time.Millisecond
	tr := newH1Transport(next)
	req, _ := http.NewRequest("GET", up.url()+"/x", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(150 * time.Millisecond) // the header timeout passes while the body is awaited
	close(more)
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Errorf("body after the header timeout: %q, %v", b, err)
	}
}
