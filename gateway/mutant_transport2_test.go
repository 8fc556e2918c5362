package gateway

// Tests that kill the mutants gremlins left alive in metrics.go,
// transport.go past its response header loop, and transport_unix.go
// (issue 19, the run after mutant_transport_test.go's; see MUTATION.md).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered sums the samples of a metric family in reg: a counter's values,
// or a histogram's observation counts.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsCountKeepsKnownCodes: count remembers the counter of each
// series whose status net/http knows, so the next request finds it without
// the label lookup (issue 16); a code net/http does not know shares its
// class's series and gets no key of its own, so an upstream's odd codes do
// not grow the map. Every request is counted either way.
func TestMetricsCountKeepsKnownCodes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	keys := func() map[counterKey]prometheus.Counter {
		if p := m.counters.Load(); p != nil {
			return *p
		}
		return nil
	}
	for range 2 {
		m.count("proxy", "r", http.StatusOK, "")
		m.count("proxy", "r", 299, "")
		m.count("proxy", "r", 599, "")
	}
	m.count("auth", "", http.StatusUnauthorized, "no_token")
	got := keys()
	for _, k := range []counterKey{{"proxy", "r", "", http.StatusOK}, {"auth", "", "no_token", http.StatusUnauthorized}} {
		if _, ok := got[k]; !ok {
			t.Errorf("no remembered counter for %+v (remembered %v)", k, got)
		}
	}
	if len(got) != 2 {
		t.Errorf("%d remembered counters, want 2 (200 and 401; 299 and 599 have none)", len(got))
	}
	if n := gathered(t, reg, "apiguard_gateway_requests_total"); n != 7 {
		t.Errorf("%v requests counted, want 7", n)
	}
}

// TestTimedTransportObservesAnswers: requests that ReverseProxy sends (here
// with a body, which serveDirect leaves to it) are timed when the upstream
// answers, and not when it could not be reached.
func TestTimedTransportObservesAnswers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name, upstream string
		status         int
		observed       float64
	}{{"answer", up.URL, http.StatusOK, 1}, {"unreachable", "http://" + closedAddr(t), http.StatusBadGateway, 0}} {
		g, ct := newDirectGateway(t, tc.upstream, Options{})
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("POST", "/x", strings.NewReader("body")))
		if rec.Code != tc.status || ct.n.Load() != 1 {
			t.Fatalf("%s: status %d through ReverseProxy %d times, want %d once", tc.name, rec.Code, ct.n.Load(), tc.status)
		}
		if n := gathered(t, g.Registry(), "apiguard_gateway_upstream_duration_seconds"); n != tc.observed {
			t.Errorf("%s: %v upstream times observed, want %v", tc.name, n, tc.observed)
		}
	}
}

// TestTransportFramingScanStopsAtHeader: checkFraming scans the header
// block only, up to its first blank line whether lines end in CRLF or in a
// bare LF, so a body holding lines that look like framing fields (a
// response to a request for such a file, say) is passed on, and the
// connection reused.
func TestTransportFramingScanStopsAtHeader(t *testing.T) {
	const trap = "\n\nTransfer-Encoding: chunked\r\nContent-Length : 1\r\n\r\n"
	bodies := map[string]string{
		"/crlf":    "a\r\n" + trap,
		"/lf":      "b\r\n\r\nTransfer-Encoding: chunked\r\nContent-Length : 1\r\n\r\n",
		"/lf-trap": "c" + trap,
		"/lf-only": "d\n", // no CRLF blank line anywhere
	}
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		body := bodies[req.URL.Path]
		eol := "\r\n"
		if strings.HasPrefix(req.URL.Path, "/lf") {
			eol = "\n"
		}
		_, _ = w.WriteString("HTTP/1.1 200 OK" + eol + "Content-Length: " + strconv.Itoa(len(body)) + eol + eol + body)
		return true
	})
	tr := newTestTransport()
	t.Cleanup(tr.CloseIdleConnections)
	for _, path := range []string{"/crlf", "/lf", "/lf-trap", "/lf-only", "/crlf"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, body, err := send(t, tr, ctx, "GET", up.url()+path)
		cancel()
		if err != nil || resp.StatusCode != 200 || body != bodies[path] {
			t.Fatalf("%s: %v %v %q, want 200 and the body", path, err, resp, body)
		}
	}
	if n := up.connCount(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1", n)
	}
}

// TestTransportBlankFirstLine: a response that starts with a blank line
// has an empty header block, which ReadResponse refuses at once; the
// transport does not wait for more bytes from an upstream that keeps the
// connection open.
func TestTransportBlankFirstLine(t *testing.T) {
	for _, head := range []string{"\n\n", "\n\r\n"} {
		up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
			_, _ = w.WriteString(head)
			return true // and waits for another request
		})
		tr := newTestTransport()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := send(t, tr, ctx, "GET", up.url()+"/x")
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("response %q: error %v, want ReadResponse's at once", head, err)
		}
	}
}

// TestFramingField: which header lines are Content-Length or
// Transfer-Encoding (ASCII case ignored), and which have white space
// before their colon.
func TestFramingField(t *testing.T) {
	for _, tc := range []struct {
		line, name string
		is, spaced bool
	}{
		{"Content-Length: 5\r\n", "content-length", true, false},
		{"content-length:5\n", "content-length", true, false},
		{"CONTENT-LENGTH: 5\r\n", "content-length", true, false},
		{"TRANSFER-ENCODING: chunked\r\n", "transfer-encoding", true, false},
		{"TrAnSfEr-EnCoDiNg:chunked\n", "transfer-encoding", true, false},
		{"Content-Length : 5\r\n", "content-length", true, true},
		{"Transfer-Encoding\t: chunked\r\n", "transfer-encoding", true, true},
		{"Content-Length \t :\r\n", "content-length", true, true},
		{"Content-Length:\r\n", "content-length", true, false},
		{"Content-Length", "content-length", false, false},
		{"Content-Length  ", "content-length", false, false},
		{"Content-Length\r\n", "content-length", false, false},
		{"Content-Lengthy: 5\r\n", "content-length", false, false},
		{"Content-Lengt: 5\r\n", "content-length", false, false},
		{"Content_Length: 5\r\n", "content-length", false, false},
		{"X-Content-Size: 5\r\n", "content-length", false, false}, // as long as the name
		{"X-Transfer-Codin: chunked\r\n", "transfer-encoding", false, false},
		{"Content-Length: 5\r\n", "transfer-encoding", false, false},
		{"Content-Le", "content-length", false, false},
		{"", "content-length", false, false},
	} {
		is, spaced := framingField([]byte(tc.line), tc.name)
		if is != tc.is || spaced != tc.spaced {
			t.Errorf("framingField(%q, %q) = %v, %v; want %v, %v", tc.line, tc.name, is, spaced, tc.is, tc.spaced)
		}
	}
}

// TestWriteRequestOwnPath: the requests writeRequest exists for (no body,
// a token method, a host of letters, digits and -._~:[]) are written by
// its own code, which allocates nothing, and come out as Request.Write
// writes them; Request.Write's path allocates. The hosts hold the first
// and last byte of each range plainHost allows.
func TestWriteRequestOwnPath(t *testing.T) {
	var discard = bufio.NewWriter(io.Discard)
	for _, tc := range []struct{ method, target, host string }{
		{"GET", "http://up.example/x?q=1", ""},
		{"POST", "http://up.example/", ""},
		{"DELETE", "http://up.example:8080/a/b", ""},
		{"GET", "http://up.example/x", "az.AZ-09_~"},
		{"GET", "http://up.example/x", "zz.example:80"},
		{"GET", "http://up.example/x", "ZZ.EXAMPLE"},
		{"GET", "http://up.example/x", "[::9]:8080"},
	} {
		req, err := http.NewRequest(tc.method, tc.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		req.Header = http.Header{"User-Agent": {"test"}, "Accept": {"*/*"}}
		var ours, std bytes.Buffer
		bw := bufio.NewWriter(&ours)
		if err := writeRequest(bw, req); err != nil {
			t.Fatal(err)
		}
		_ = bw.Flush()
		if err := req.Write(&std); err != nil {
			t.Fatal(err)
		}
		if o, s := lineSet(ours.String()), lineSet(std.String()); o != s {
			t.Errorf("%s %s Host %q: writeRequest wrote %q, Request.Write %q", tc.method, tc.target, tc.host, ours.String(), std.String())
		}
		if n := testing.AllocsPerRun(20, func() {
			discard.Reset(io.Discard)
			_ = writeRequest(discard, req)
		}); n != 0 {
			t.Errorf("%s %s Host %q: writeRequest allocated %v times, want 0 (its own path, not Request.Write's)", tc.method, tc.target, tc.host, n)
		}
	}
	// The same measure sees Request.Write's allocations.
	req, _ := http.NewRequest("GET", "http://up.example/x", nil)
	req.Host = "a<b"
	if n := testing.AllocsPerRun(20, func() {
		discard.Reset(io.Discard)
		_ = writeRequest(discard, req)
	}); n == 0 {
		t.Error("a request for Request.Write allocated nothing")
	}
}

// lineSet is an HTTP message head with its header lines sorted.
func lineSet(head string) string {
	lines := strings.Split(head, "\r\n")
	slices.Sort(lines[1:])
	return strings.Join(lines, "\r\n")
}

// TestWriteRequestTargetAndUserAgent: writeRequest refuses control bytes
// in the query as Request.Write does, and no others (a space, DEL's
// neighbour ~, bytes above ASCII pass); a User-Agent header present but
// without a value means no User-Agent line.
func TestWriteRequestTargetAndUserAgent(t *testing.T) {
	for _, tc := range []struct {
		query  string
		header http.Header
	}{
		{"a b", nil}, {"~", nil}, {"\x80", nil}, {"!", nil},
		{"\x1f", nil}, {"\x00", nil}, {"\x7f", nil}, {"a\r\nX: y", nil},
		{"", http.Header{"User-Agent": {}}},
		{"", http.Header{"User-Agent": nil, "Accept": {"*/*"}}},
		{"", http.Header{"User-Agent": {"", "second"}}},
	} {
		req, err := http.NewRequest("GET", "http://up.example/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = tc.query
		if tc.header != nil {
			req.Header = tc.header
		}
		var ours, std bytes.Buffer
		bw := bufio.NewWriter(&ours)
		errOurs := writeRequest(bw, req)
		_ = bw.Flush()
		errStd := req.Write(&std)
		if (errOurs == nil) != (errStd == nil) || errOurs == nil && lineSet(ours.String()) != lineSet(std.String()) {
			t.Errorf("query %q header %q: writeRequest %q (%v), Request.Write %q (%v)", tc.query, tc.header, ours.String(), errOurs, std.String(), errStd)
		}
	}
}

// TestTransportHeaderLimitAfterInformational: after a 1xx, the final
// response's header is held to MaxResponseHeaderBytes counted from its own
// first byte, also when part of it came in the read that brought the 1xx
// (the upstream writes both at once here, so the first read fills the
// limit).
func TestTransportHeaderLimitAfterInformational(t *testing.T) {
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	up := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool {
		size := 800
		if req.URL.Path == "/big" {
			size = 1200
		}
		_, _ = w.WriteString(hints + "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("x", size) + "\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	next := http.DefaultTransport.(*http.Transport).Clone()
	next.MaxResponseHeaderBytes = 1000
	tr := newH1Transport(next)
	t.Cleanup(tr.CloseIdleConnections)
	if resp, body, err := send(t, tr, context.Background(), "GET", up.url()+"/small"); err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Errorf("a 103, then an 850-byte header with a limit of 1000: %v %q", err, body)
	}
	if _, _, err := send(t, tr, context.Background(), "GET", up.url()+"/big"); !errors.Is(err, errHeaderTooLarge) {
		t.Errorf("a 103, then a 1250-byte header with a limit of 1000: error %v, want errHeaderTooLarge", err)
	}
}

// TestTransportFramingRefusedPromptly: a response with both framing
// fields, or with white space before a framing field's colon, is refused
// with errFraming from the header alone, while the upstream keeps the
// connection open. (TestTransportConflictingFraming checks for an error
// but reads the body without a deadline, so a regression there waits
// for the body instead of failing.)
func TestTransportFramingRefusedPromptly(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding\t: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
	} {
		up := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool {
			_, _ = w.WriteString(head + "0\r\n\r\n")
			return true
		})
		tr := newTestTransport()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := send(t, tr, ctx, "GET", up.url()+"/x")
		cancel()
		if !errors.Is(err, errFraming) {
			t.Errorf("%q: error %v, want errFraming", head, err)
		}
	}
}
