package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// serveDirect proxies what h1Transport handles (no body, an http://
// upstream, no Upgrade or Expect) without httputil.ReverseProxy, and
// reports false, having done nothing, for any other request.
//
// Why: after h1Transport, ReverseProxy's own work was the next largest
// share of the gateway's CPU per request in the issue 16 profiles (a deep
// copy of the request and its header, a ClientTrace and a context per
// request, the response header copy through Header.Add). This does the
// same steps in the same order with fewer allocations: hop-by-hop headers
// out (also those the Connection header names), "Te: trailers" kept,
// X-Forwarded-*, Forwarded and the rest of the spoofable headers out and
// ours in (rewrite, through httputil.ProxyRequest's own SetURL and
// SetXForwarded), the query cleaned as ReverseProxy cleans it, a 1xx passed
// to the client, hop-by-hop response headers out, trailers announced and
// sent, SSE and unknown-length bodies flushed on every write, and a body
// that fails half-way aborting the client's connection
// (http.ErrAbortHandler). Anything else still goes through ReverseProxy.
// Tests holding it: every proxying test of the package (TestHeaders,
// TestDifferentialUpstreams, stream_test.go, failclosed_test.go,
// transport_test.go), which run through it for requests without a body.
func (g *Gateway) serveDirect(w http.ResponseWriter, r *http.Request, d *decision) bool {
	t := g.h1
	if t == nil || r.ContentLength != 0 || len(r.TransferEncoding) > 0 || (r.Body != nil && r.Body != http.NoBody) ||
		d.rule.upstream.Scheme != "http" || d.rule.upstream.User != nil {
		return false
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return false
	}
	if _, ok := r.Header["Expect"]; ok {
		return false
	}

	// The outgoing request, its URL, the ProxyRequest and two header
	// values in one allocation (issue 16).
	st := &directState{out: *r, u: *r.URL}
	out := &st.out
	out.URL = &st.u
	out.RequestURI = ""
	out.Body = nil
	out.GetBody = nil
	out.Close = false
	out.Trailer = nil
	h := make(http.Header, len(r.Header)+8)
	for k, vs := range r.Header {
		h[k] = vs // shared: the outgoing request only replaces slices
	}
	out.Header = h
	removeHopByHop(h)
	if httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers") {
		st.vals[0] = "trailers"
		h["Te"] = st.vals[0:1:1]
	}
	out.URL.RawQuery = cleanQuery(out.URL.RawQuery)
	st.pr = httputil.ProxyRequest{In: r, Out: out}
	pr := &st.pr
	g.rewriteFor(pr, d)
	out = pr.Out
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = st.vals[1:2:2] // ""
	}
	if !t.handles(out) {
		return false
	}

	start := time.Now()
	res, err := t.roundTrip(out, func(code int, header textproto.MIMEHeader) error {
		rh := w.Header()
		for k, vs := range header {
			rh[k] = append(rh[k], vs...)
		}
		w.WriteHeader(code)
		clear(rh)
		return nil
	})
	if err != nil {
		g.directError(w, r, d, err)
		return true
	}
	g.metrics.observeUpstream(d.rule.name, time.Since(start))

	removeHopByHop(res.Header)
	wh := w.Header()
	for k, vs := range res.Header {
		if prior, ok := wh[k]; ok {
			wh[k] = append(prior, vs...)
		} else {
			wh[k] = vs
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		wh.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	flush := res.ContentLength == -1 || isEventStream(res.Header["Content-Type"])
	if err := g.copyBody(w, res.Body, flush); err != nil {
		res.Body.Close()
		if r.Context().Value(http.ServerContextKey) == nil {
			return true // not under an http.Server (a test's recorder): nothing to abort
		}
		panic(http.ErrAbortHandler)
	}
	res.Body.Close()
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		for k, vs := range res.Trailer {
			wh[k] = append(wh[k], vs...)
		}
		return true
	}
	for k, vs := range res.Trailer {
		k = http.TrailerPrefix + k
		wh[k] = append(wh[k], vs...)
	}
	return true
}

// directState is what serveDirect allocates per request.
type directState struct {
	out  http.Request
	u    url.URL
	pr   httputil.ProxyRequest
	vals [2]string // "trailers" for Te, "" for User-Agent
}

// isEventStream reports whether the first Content-Type value has the media
// type text/event-stream, as mime.ParseMediaType's type would read it
// (before any ";", space trimmed, case ignored), without parsing the
// parameters. Non-ASCII bytes never match, as after ParseMediaType's
// ToLower.
func isEventStream(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	base = strings.TrimSpace(base)
	const want = "text/event-stream"
	if len(base) != len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		c := base[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// directError answers a failed exchange as proxyError does.
func (g *Gateway) directError(w http.ResponseWriter, r *http.Request, d *decision, err error) {
	if r.Context().Err() != nil {
		g.log.Debug("client went away", "route", d.rule.name, "err", err)
	} else {
		g.log.Warn("upstream failed", "route", d.rule.name, "err", err)
	}
	writeJSON(w, http.StatusBadGateway, "bad_gateway", "upstream unavailable")
}

// copyBody copies an upstream body to the client, flushing after every
// write when flush is set (and once before the first, so the client has
// the headers of a stream at once), as ReverseProxy does.
func (g *Gateway) copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
		_ = rc.Flush()
	}
	bp := g.buffers.get()
	defer g.buffers.put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if rerr != nil && rerr != io.EOF && !errors.Is(rerr, context.Canceled) {
			g.log.Warn("upstream body failed", "err", rerr)
		}
		if n > 0 {
			nw, werr := w.Write(buf[:n])
			if werr != nil {
				return werr
			}
			if nw != n {
				return io.ErrShortWrite
			}
			if flush {
				_ = rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// hopHeaders are removed in both directions, with those the Connection
// header names (RFC 9110 section 7.6.1), as ReverseProxy removes them.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// cleanQuery re-encodes a query that holds a ";" or a malformed escape, as
// ReverseProxy does (Go 1.17 stopped reading ";" as a separator; an upstream
// that still does would see other parameters than Go code does).
func cleanQuery(s string) string {
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			v, _ := url.ParseQuery(s)
			return v.Encode()
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				v, _ := url.ParseQuery(s)
				return v.Encode()
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
