package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport is the gateway's default way to its upstreams: HTTP/1.1 over
// kept-alive connections, each request written and its response read in
// the calling goroutine.
//
// Why not http.Transport alone: profiled under load (issue 16), most of the
// gateway's CPU beyond the system calls went to the Transport's two
// goroutines per connection (readLoop, writeLoop) and the channel hand-offs
// between them and the caller on every request. This transport does the
// same exchange without them, and handles only the plain case: an http://
// upstream, no request body, no Upgrade, no Expect, no trailers, no proxy
// from the environment, no user info in the URL. Everything else goes to
// next, the standard http.Transport it was built from (and whose dial
// function, response-header timeout, idle timeout and idle-connection limit
// it takes).
//
// What keeps the exchange unambiguous: the request is written as
// Request.Write writes it (writeRequest, checked against Request.Write by
// TestWriteRequestLikeRequestWrite; the client's framing headers were
// removed, and a request without a body gets no Transfer-Encoding, and
// Content-Length: 0 for POST, PUT and PATCH only); header names and values are checked as http.Transport
// checks them; the response is parsed by http.ReadResponse, after a scan of
// its header block that refuses one with both Content-Length and
// Transfer-Encoding (which ReadResponse would read as chunked; a proxy
// reusing the connection must not guess) or with white space between
// either name and its colon; 1xx responses are passed to the
// ClientTrace as http.Transport does, at most maxInformational of them, and
// a 101 to a request that asked for no upgrade is an error; a connection is
// reused only after an HTTP/1.1 response that did not ask to close was read
// to its end, with the request's context not done; a response without a
// length is read to the connection's close (ReadResponse sets Close). A
// cancelled context closes the connection, also while the body is read.
// The server side stays net/http, which refuses ambiguous client framing
// before the gateway sees a request.
//
// Retries: a request that fails on a reused connection before any byte of
// the response arrived (the upstream closed the idle connection) is sent
// once more on a new connection if its method is GET, HEAD, OPTIONS or
// TRACE; other requests get the error (a 502), as with http.Transport.
//
// Tests holding it: transport_test.go (TestTransport*), and every proxying
// test of the package, which runs through it (differential, fail-closed,
// stream, nginx and Caddy tests).
type h1Transport struct {
	next              *http.Transport
	dial              func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle           int           // idle connections kept per host
	idleTimeout       time.Duration // an idle connection older than this is closed
	headerTimeout     time.Duration // ResponseHeaderTimeout; 0: none
	maxResponseHeader int64
	// checkAfter: a connection idle this long is checked (alive) before
	// use. Under load connections come back within microseconds, and the
	// check is a system call; an upstream closing a connection sooner than
	// this after its last response is not noticed before a request is sent
	// on it (a GET, HEAD, OPTIONS or TRACE is then retried).
	checkAfter time.Duration

	mu   sync.Mutex
	idle map[string][]*h1Conn // by host:port, most recently used last
}

// maxInformational is how many 1xx responses one request may get.
const maxInformational = 5

// newH1Transport builds the transport around next, taking its settings.
func newH1Transport(next *http.Transport) *h1Transport {
	t := &h1Transport{
		next:              next,
		dial:              next.DialContext,
		maxIdle:           next.MaxIdleConnsPerHost,
		idleTimeout:       next.IdleConnTimeout,
		headerTimeout:     next.ResponseHeaderTimeout,
		maxResponseHeader: next.MaxResponseHeaderBytes,
		checkAfter:        5 * time.Millisecond,
		idle:              map[string][]*h1Conn{},
	}
	if t.dial == nil {
		t.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if t.maxIdle <= 0 {
		t.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if t.maxResponseHeader <= 0 {
		t.maxResponseHeader = 10 << 20 // http.Transport's default
	}
	return t
}

// handles reports whether this transport sends req itself; see h1Transport.
func (t *h1Transport) handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.URL.User != nil || req.URL.Host == "" ||
		(req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.Close {
		return false
	}
	h := req.Header
	if _, ok := h["Upgrade"]; ok {
		return false
	}
	if _, ok := h["Expect"]; ok {
		return false
	}
	if t.next.Proxy != nil {
		if u, err := t.next.Proxy(req); err != nil || u != nil {
			return false
		}
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.next.RoundTrip(req)
	}
	return t.roundTrip(req, nil)
}

// roundTrip sends a request handles accepted. got1xx, when set, receives
// the 1xx responses instead of the request's ClientTrace.
func (t *h1Transport) roundTrip(req *http.Request, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	if err := validHeader(req.Header); err != nil {
		return nil, err
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for retried := false; ; retried = true {
		pc, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(req, got1xx)
		if err == nil {
			return resp, nil
		}
		if reused && !retried && errors.Is(err, errNothingReceived) && replayable(req) && req.Context().Err() == nil {
			continue
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
}

// replayable: methods that may be sent twice. Requests here have no body.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// CloseIdleConnections closes the idle connections of both transports.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			pc.conn.Close()
		}
	}
	t.next.CloseIdleConnections()
}

// get returns an idle connection to addr that still looks open, or a new
// one; reused says which.
func (t *h1Transport) get(ctx context.Context, addr string) (*h1Conn, bool, error) {
	for {
		t.mu.Lock()
		conns := t.idle[addr]
		var pc *h1Conn
		if n := len(conns); n > 0 {
			pc = conns[n-1]
			conns[n-1] = nil
			t.idle[addr] = conns[:n-1]
		}
		t.mu.Unlock()
		if pc == nil {
			break
		}
		idle := time.Since(pc.idleAt)
		if t.idleTimeout > 0 && idle > t.idleTimeout || idle >= t.checkAfter && !pc.alive() {
			pc.conn.Close()
			continue
		}
		return pc, true, nil
	}
	conn, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	pc := &h1Conn{t: t, addr: addr, conn: conn}
	pc.abort = func() { pc.conn.Close() }
	pc.in.conn = conn
	pc.br = bufio.NewReaderSize(&pc.in, 8<<10)
	pc.bw = bufio.NewWriterSize(conn, 4<<10)
	return pc, false, nil
}

// put keeps pc for the next request to its host, closing the oldest idle
// connection beyond maxIdle and those idle too long.
func (t *h1Transport) put(pc *h1Conn) {
	pc.idleAt = time.Now()
	var drop []*h1Conn
	t.mu.Lock()
	conns := t.idle[pc.addr]
	for len(conns) > 0 && (len(conns) >= t.maxIdle ||
		t.idleTimeout > 0 && pc.idleAt.Sub(conns[0].idleAt) > t.idleTimeout) {
		drop = append(drop, conns[0])
		conns = conns[1:]
	}
	t.idle[pc.addr] = append(conns, pc)
	t.mu.Unlock()
	for _, c := range drop {
		c.conn.Close()
	}
}

// h1Conn is one connection to an upstream.
type h1Conn struct {
	t      *h1Transport
	addr   string
	conn   net.Conn
	in     countingReader // conn, counted and limited, under br
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	abort  func() // closes conn; made once, for context.AfterFunc
}

// countingReader reads from conn, counting bytes and refusing to read past
// limit (the response header size limit, while a header is read).
type countingReader struct {
	conn  net.Conn
	n     int64 // bytes read so far
	limit int64 // stop when n reaches it
}

var errHeaderTooLarge = errors.New("gateway: upstream response headers too large")

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		return 0, errHeaderTooLarge
	}
	if rest := r.limit - r.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.conn.Read(p)
	r.n += int64(n)
	return n, err
}

// errNothingReceived marks a failure before any byte of the response
// arrived: the request may be retried on another connection if replayable.
var errNothingReceived = errors.New("gateway: upstream connection closed before a response")

// errFraming refuses a response whose length the gateway would have to
// guess.
var errFraming = errors.New("gateway: upstream response has both Content-Length and Transfer-Encoding")

// roundTrip sends req on pc and reads its response headers. On error pc is
// closed.
func (pc *h1Conn) roundTrip(req *http.Request, got1xx func(int, textproto.MIMEHeader) error) (_ *http.Response, err error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, pc.abort)
	defer func() {
		if err != nil {
			stop()
			pc.conn.Close()
		}
	}()
	start := pc.in.n
	if err := writeRequest(pc.bw, req); err != nil {
		pc.bw.Reset(pc.conn)
		return nil, fmt.Errorf("%w: %w", errNothingReceived, err)
	}
	if err := pc.bw.Flush(); err != nil {
		pc.bw.Reset(pc.conn)
		return nil, fmt.Errorf("%w: %w", errNothingReceived, err)
	}
	if pc.t.headerTimeout > 0 {
		_ = pc.conn.SetReadDeadline(time.Now().Add(pc.t.headerTimeout))
	}
	var resp *http.Response
	for informational := 0; ; informational++ {
		// The next header starts after what is consumed: the bytes still
		// buffered (only after a 1xx) were counted in n already.
		pc.in.limit = pc.in.n - int64(pc.br.Buffered()) + pc.t.maxResponseHeader
		reusable, err := pc.checkFraming()
		if err == nil {
			resp, err = http.ReadResponse(pc.br, req)
		}
		if err != nil {
			if pc.in.n == start && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) {
				return nil, fmt.Errorf("%w: %w", errNothingReceived, err)
			}
			return nil, err
		}
		if !reusable {
			resp.Close = true
		}
		status := resp.StatusCode
		if status == http.StatusSwitchingProtocols {
			return nil, errors.New("gateway: upstream switched protocols without an Upgrade request")
		}
		if status >= 200 {
			break
		}
		if informational >= maxInformational {
			return nil, errors.New("gateway: too many 1xx responses from the upstream")
		}
		if got1xx == nil {
			if trace := httptrace.ContextClientTrace(ctx); trace != nil {
				got1xx = trace.Got1xxResponse
			}
		}
		if got1xx != nil {
			if err := got1xx(status, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
	pc.in.limit = math.MaxInt64
	if pc.t.headerTimeout > 0 {
		_ = pc.conn.SetReadDeadline(time.Time{})
	}
	if resp.Body == http.NoBody {
		pc.release(resp, stop, true)
		return resp, nil
	}
	resp.Body = &h1Body{pc: pc, body: resp.Body, resp: resp, stop: stop}
	return resp, nil
}

// release ends an exchange: pc goes back to the pool when the response was
// read to its end (done), may be followed by another on this connection,
// and the context was not cancelled meanwhile (stop reports that its
// function did not run); otherwise it is closed.
func (pc *h1Conn) release(resp *http.Response, stop func() bool, done bool) {
	notCancelled := stop()
	if done && notCancelled && !resp.Close && resp.ProtoAtLeast(1, 1) && pc.br.Buffered() == 0 {
		pc.t.put(pc)
		return
	}
	pc.conn.Close()
}

// checkFraming waits until the next response's header block is buffered and
// refuses it when it has both Content-Length and Transfer-Encoding.
// reusable is false when the block is larger than the buffer and so was not
// scanned: the connection is then closed after this response.
func (pc *h1Conn) checkFraming() (reusable bool, err error) {
	for {
		b, _ := pc.br.Peek(pc.br.Buffered())
		end := bytes.Index(b, []byte("\n\r\n"))
		if lf := bytes.Index(b, []byte("\n\n")); lf >= 0 && (end < 0 || lf < end) {
			end = lf
		}
		if end >= 0 {
			var length, encoding, spaced bool
			for line := range bytes.Lines(b[:end+1]) {
				l, ls := framingField(line, "content-length")
				e, es := framingField(line, "transfer-encoding")
				length, encoding, spaced = length || l, encoding || e, spaced || ls || es
			}
			if length && encoding || spaced {
				return false, errFraming
			}
			return true, nil
		}
		// Not all of it yet: wait for at least one more byte.
		if _, err := pc.br.Peek(len(b) + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return false, nil
			}
			if pc.br.Buffered() > 0 {
				return false, nil // let ReadResponse say what is wrong
			}
			return false, err
		}
	}
}

// framingField reports whether line is a field named name (lower case,
// compared ignoring ASCII case), and whether white space comes between the
// name and the colon: ReadResponse keeps such a field under another name,
// which a next hop may read as the framing field itself.
func framingField(line []byte, name string) (is, spaced bool) {
	if len(line) <= len(name) {
		return false, false
	}
	for i := 0; i < len(name); i++ {
		c := line[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false, false
		}
	}
	rest := bytes.TrimLeft(line[len(name):], " \t")
	if len(rest) == 0 || rest[0] != ':' {
		return false, false
	}
	return true, len(rest) != len(line)-len(name)
}

// h1Body is a response body that releases its connection when read to the
// end, and closes it when closed before.
type h1Body struct {
	pc   *h1Conn
	body io.ReadCloser
	resp *http.Response
	stop func() bool
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("gateway: read on a closed response body")
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

func (b *h1Body) finish(eof bool) {
	if b.done {
		return
	}
	b.done = true
	b.pc.release(b.resp, b.stop, eof)
}

// validHeader checks header names and values as http.Transport does before
// sending a request (with the same functions, from x/net's httpguts).
func validHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// writeRequest writes a request without a body as Request.Write does,
// without its formatting and sorting costs (the header order is the map's:
// nothing reads meaning into it). Requests it does not expect (a body, an
// empty or non-ASCII host, a method that is not a token) go to
// Request.Write. Header names and values were checked by validHeader.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if req.Body != nil || req.ContentLength != 0 || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 ||
		!isToken(req.Method) || req.Method == http.MethodConnect || !plainHost(host) || req.URL.Opaque != "" {
		return req.Write(w)
	}
	// URL.RequestURI's path and query (Opaque is empty here), written in
	// two parts rather than concatenated.
	path, query := req.URL.EscapedPath(), ""
	if path == "" {
		path = "/"
	}
	if req.URL.ForceQuery || req.URL.RawQuery != "" {
		query = req.URL.RawQuery
		if hasCTL(query) {
			return errRequestURIControl
		}
	}
	if hasCTL(path) {
		return errRequestURIControl
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(path)
	if req.URL.ForceQuery || query != "" {
		w.WriteByte('?')
		w.WriteString(query)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if vs, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vs) > 0 {
			ua = textproto.TrimString(vs[0])
		}
	}
	if ua != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(ua)
		w.WriteString("\r\n")
	}
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		w.WriteString("Content-Length: 0\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}

var errRequestURIControl = errors.New("net/http: can't write control character in Request.URL")

// hasCTL reports whether s holds a byte Request.Write refuses in a request
// target.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// plainHost reports whether a Host value needs none of Request.Write's
// treatment (its punycode conversion and its check of the value): letters,
// digits and "-._~:[]" only, so a name, an IPv4 or bracketed IPv6 address
// and a port. Anything else (an IPv6 zone's "%", bytes Request.Write would
// refuse) goes to Request.Write.
func plainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return h != ""
}
