package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reserved paths. Without an admin listener they are answered by the
// gateway itself on the main listener and never proxied (exact matches only:
// "/healthz/x" is proxied as usual).
const (
	PathHealth  = "/healthz" // liveness: always 200
	PathReady   = "/readyz"  // 200 once the issuer's signing keys are loaded
	PathMetrics = "/metrics" // Prometheus text format
	PathAuth    = "/auth"    // decision endpoint for nginx auth_request and Traefik ForwardAuth
)

// Options are the parts of a Gateway that its Rules are not. They are fixed
// for the Gateway's life; only the Rules can be reloaded.
type Options struct {
	// Transport reaches the upstreams. Default: HTTP/1.1 keep-alive
	// connections used from the request's goroutine for requests without
	// a body to http:// upstreams, and a clone of http.DefaultTransport
	// (up to 64 idle connections per host) for everything else.
	Transport http.RoundTripper
	// Registry receives the gateway's metrics and is served on /metrics.
	// Default: a new registry with Go and process collectors.
	Registry *prometheus.Registry
	// Logger receives upstream failures and refusals (never a token).
	// Default: slog.Default().
	Logger *slog.Logger
	// AuthProxy names the proxy that asks /auth for decisions, and so the
	// one pair of headers that describes the request being decided:
	// AuthProxyNginx (the default) X-Original-Method and X-Original-URI,
	// AuthProxyTraefik or AuthProxyCaddy X-Forwarded-Method and
	// X-Forwarded-Uri, in any letter case. A decision request without both
	// headers of that pair, with two values of one, or with any header of
	// the other pair is refused with 400. With nginx, /auth refusals carry
	// their challenges and JSON body in X-Apiguard-* headers instead of
	// WWW-Authenticate (HeaderAuthError), for nginx to answer the client
	// with. Another value is an error wrapping ErrAuthProxy.
	AuthProxy string
	// SeparateAdmin moves /healthz, /readyz, /metrics and /auth off the
	// main handler, to AdminHandler, which the caller serves on an address
	// of its own; the main handler then proxies every path. When false
	// those four exact paths are answered by ServeHTTP and never proxied.
	SeparateAdmin bool
}

// Gateway is an http.Handler that checks requests against route rules and
// proxies the allowed ones. Its rules can be replaced at run time with
// Reload; requests in flight keep the rules they started with.
type Gateway struct {
	mw       *apiguard.Middleware
	log      *slog.Logger
	proxy    *httputil.ReverseProxy
	registry *prometheus.Registry
	metrics  *metrics
	scrape   http.Handler
	h1       *h1Transport // the default transport; nil with Options.Transport
	buffers  *bufferPool
	split    bool      // admin endpoints on their own handler
	auth     *authPair // the headers /auth trusts (auth.go)
	rules    atomic.Pointer[ruleset]
}

// New validates rules and builds a Gateway that decides every protected
// request with mw, which writes its RFC 6750 refusals. mw is required, with
// its Verifier set. With a dpop.Checker as its Binding, give its
// dpop.Config a PublicURL: /auth decisions build htu from it and the
// forwarded path, never from the /auth request's own host.
func New(mw *apiguard.Middleware, rules Rules, opts Options) (*Gateway, error) {
	if mw == nil || mw.Verifier == nil {
		return nil, errors.New("gateway: a Middleware with a Verifier is required")
	}
	rs, err := compile(rules)
	if err == nil {
		err = bind(rs, mw)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: invalid rules: %w", err)
	}
	auth, err := authPairFor(opts.AuthProxy)
	if err != nil {
		return nil, fmt.Errorf("gateway: Options.AuthProxy %q: %w", opts.AuthProxy, err)
	}
	g := &Gateway{
		auth:     auth,
		mw:       mw,
		log:      opts.Logger,
		registry: opts.Registry,
		split:    opts.SeparateAdmin,
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
		g.registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	g.metrics, err = newMetrics(g.registry)
	if err != nil {
		return nil, err
	}
	g.scrape = promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{})
	transport := opts.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // the default 2 churns connections to a busy upstream
		// Plain requests to http:// upstreams skip t's per-connection
		// goroutines (transport.go); the rest go to t.
		g.h1 = newH1Transport(t)
		transport = g.h1
	}
	g.buffers = &bufferPool{}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:      g.rewrite,
		Transport:    &timedTransport{next: transport, metrics: g.metrics},
		ErrorHandler: g.proxyError,
		ErrorLog:     slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BufferPool:   g.buffers,
		// Responses of unknown length (chunked) and text/event-stream are
		// flushed on every write by ReverseProxy itself; everything else
		// is buffered, which is what large downloads want.
	}
	g.rules.Store(rs)
	return g, nil
}

// Registry returns the registry the gateway's metrics are in.
func (g *Gateway) Registry() *prometheus.Registry { return g.registry }

// ServeHTTP serves the main listener: the reserved paths (unless
// Options.SeparateAdmin is set) and the proxy.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	closeAfterChunked(w, r)
	if !g.split && g.serveReserved(w, r) {
		return
	}
	g.serveProxy(w, r)
}

// AdminHandler serves /healthz, /readyz, /metrics and /auth, and 404 for
// anything else. Serve it on an address of its own with
// Options.SeparateAdmin set.
func (g *Gateway) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		closeAfterChunked(w, r)
		if !g.serveReserved(w, r) {
			writeJSON(w, http.StatusNotFound, "not_found", "no such endpoint")
		}
	})
}

// closeAfterChunked closes the client's connection after answering a
// request with a Transfer-Encoding. net/http reads a request with both
// Content-Length and Transfer-Encoding: chunked by the chunked framing and
// drops Content-Length, so a handler cannot tell it was there; RFC 9112
// section 6.1 wants the connection closed after such a request, since a
// proxy in front may have framed it by Content-Length and sent what the
// chunked reading sees as a second request (TestProxyClientFramingClosed).
func closeAfterChunked(w http.ResponseWriter, r *http.Request) {
	if len(r.TransferEncoding) > 0 {
		w.Header().Set("Connection", "close")
	}
}

func (g *Gateway) serveReserved(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case PathHealth:
		writeStatus(w, http.StatusOK, "ok")
	case PathReady:
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := g.mw.Verifier.Ready(ctx); err != nil {
			g.log.Debug("not ready", "reason", apiguard.Reason(err), "err", err)
			writeNotReady(ctx, w, err, g.mw.Verifier)
			return true
		}
		writeStatus(w, http.StatusOK, "ready")
	case PathMetrics:
		g.scrape.ServeHTTP(w, r)
	case PathAuth:
		g.serveAuth(w, r)
	default:
		return false
	}
	return true
}

// ctxKey carries a request's decision from ServeHTTP to Rewrite.
type ctxKey struct{}

type decision struct {
	rule   *rule
	method string           // the canonical method the rule was chosen for
	claims *apiguard.Claims // nil on public routes
}

// errUpgrade refuses an Upgrade to anything but WebSocket: ReverseProxy
// would pass a 101 for any protocol, and an upstream switching to h2c
// would open an HTTP/2 connection no rule looks into.
var errUpgrade = errors.New("only Upgrade: websocket is allowed")

// errMethodParam refuses a _method query parameter, which method-override
// middlewares (Rails, Laravel, Symfony, Spring, express method-override)
// read to run another method than the one the rules checked.
var errMethodParam = errors.New("_method query parameter not allowed on this route")

// checkUpgrade refuses an Upgrade header naming anything but websocket.
func checkUpgrade(h http.Header) error {
	for _, v := range h.Values("Upgrade") {
		for _, proto := range strings.Split(v, ",") {
			if !strings.EqualFold(strings.TrimSpace(proto), "websocket") {
				return errUpgrade
			}
		}
	}
	return nil
}

// hasMethodParam reports whether the raw query has a _method parameter,
// its name compared after percent-decoding and ignoring case, also as an
// array ("_method[]"), with "&" or ";" separating parameters.
func hasMethodParam(rawQuery string) bool {
	if rawQuery == "" || (!containsFold(rawQuery, "method") && strings.IndexByte(rawQuery, '%') < 0) {
		return false
	}
	for part := range strings.FieldsFuncSeq(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if key == "_method" || strings.HasPrefix(key, "_method[") {
			return true
		}
	}
	return false
}

// refusal is an answer the gateway gives before any token check.
type refusal struct {
	status             int
	reason, code, desc string // metrics reason, JSON error and error_description
}

// write answers the refusal and returns its metrics reason.
func (no *refusal) write(w http.ResponseWriter) string {
	writeJSON(w, no.status, no.code, no.desc)
	return no.reason
}

// label is the route label of a request decided by r: its name, or "" for
// none.
func (r *rule) label() string {
	if r == nil {
		return ""
	}
	return r.name
}

func badRequest(desc string) *refusal {
	return &refusal{http.StatusBadRequest, "bad_request", "invalid_request", desc}
}

// admit returns the rule for a request to proxy or, with decide, one /auth
// is asked about, and the canonical method it was chosen for; or the
// refusal it gets before any token check: a path not in canonical form, a
// method or path upstreams could route elsewhere (resolve), no route, or
// what routingOverride refuses. A decision also needs the method in its
// canonical spelling: the proxy in front forwards the client's, which an
// upstream may route differently. The rule is set with a refusal when one
// matched, for the metrics.
func (g *Gateway) admit(method string, u *url.URL, h http.Header, decide bool) (*rule, string, *refusal) {
	p, err := routePath(u)
	if err != nil {
		return nil, method, &refusal{http.StatusBadRequest, "bad_path", "invalid_request", "path is not in canonical form"}
	}
	ru, canonical, err := g.rules.Load().resolve(method, p)
	if err == nil && decide && canonical != method {
		err = errMethodSpelling
	}
	switch {
	case err != nil:
		return nil, canonical, badRequest(err.Error())
	case ru == nil:
		return nil, canonical, &refusal{http.StatusNotFound, "no_route", "not_found", "no route matches"}
	}
	if problem := routingOverride(h, u.RawQuery, ru, decide); problem != "" {
		return ru, canonical, badRequest(problem)
	}
	return ru, canonical, nil
}

func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request) {
	// The status writer and the decision in one allocation (issue 16).
	ps := &proxyState{sw: statusWriter{ResponseWriter: w}}
	sw := &ps.sw
	name, reason := "", ""
	defer func() { g.metrics.count("proxy", name, sw.status, reason) }()

	ru, method, no := g.admit(r.Method, r.URL, r.Header, false)
	name = ru.label()
	if no != nil {
		reason = no.write(sw)
		return
	}
	d := &ps.d
	*d = decision{rule: ru, method: method}
	if !ru.public {
		claims, err := ru.middleware(g.mw).Check(r, ru.policies...)
		if err != nil {
			reason = g.refuse(sw, r, err)
			return
		}
		d.claims = claims
	}
	if ru.upstream == nil {
		reason = "no_upstream"
		writeJSON(sw, http.StatusNotFound, "not_found", "route has no upstream")
		return
	}
	if g.serveDirect(sw, r, d) {
		return
	}
	g.proxy.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
}

// proxyState is what serveProxy allocates per request.
type proxyState struct {
	sw statusWriter
	d  decision
}

// rewrite builds the upstream request: spoofable headers out, our own in.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	g.rewriteFor(pr, pr.In.Context().Value(ctxKey{}).(*decision))
}

// rewriteFor is rewrite for the request decided by d.
func (g *Gateway) rewriteFor(pr *httputil.ProxyRequest, d *decision) {
	h := pr.Out.Header
	for k := range h {
		if spoofable(k) || (!d.rule.methodOverride && methodOverrideHeader(k)) {
			delete(h, k)
		}
	}
	// "post" was matched as POST; the upstream gets what was checked.
	pr.Out.Method = d.method
	if !d.rule.forwardToken {
		// The token, and the DPoP proof that comes with a DPoP-bound one.
		delete(h, "Authorization")
		delete(h, "Dpop")
	}
	if !d.rule.forwardCookies {
		delete(h, "Cookie")
	}
	pr.SetURL(d.rule.upstream)
	setXForwarded(pr)
	setIdentity(h, d.claims)
}

// setXForwarded does what httputil.ProxyRequest.SetXForwarded does, with
// the three values in one allocation rather than a slice each (issue 16):
// X-Forwarded-For the client's address after any prior value (none: rewrite
// removed them), or removed if RemoteAddr has no port; X-Forwarded-Host
// the inbound Host; X-Forwarded-Proto http or https.
func setXForwarded(pr *httputil.ProxyRequest) {
	h, in := pr.Out.Header, pr.In
	vals := new([3]string)
	if clientIP, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	vals[1] = in.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if in.TLS != nil {
		vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = vals[2:3:3]
}

// spoofable reports whether an inbound header must not reach an upstream:
// X-Auth-*, X-Forwarded-*, X-Original-* (X-Original-URL among them),
// X-Real-Ip, Forwarded, and the URL-override headers some frameworks route
// by (X-Rewrite-URL, X-Override-URL, X-Envoy-Original-Path), compared
// case-insensitively with "_" read as "-" (CGI-style upstreams merge them).
func spoofable(key string) bool {
	return hasPrefixNorm(key, "x-auth-") || hasPrefixNorm(key, "x-forwarded-") ||
		hasPrefixNorm(key, "x-original-") || hasPrefixNorm(key, "x-envoy-original-") ||
		equalNorm(key, "x-real-ip") || equalNorm(key, "forwarded") ||
		equalNorm(key, "x-rewrite-url") || equalNorm(key, "x-override-url")
}

// methodOverrideHeader reports whether key is a header method-override
// middlewares read to replace the request's method: X-HTTP-Method-Override
// (Rails, Symfony, Laravel, ASP.NET Core, express method-override, Spring
// when configured), X-HTTP-Method (OData, Microsoft) and X-Method-Override,
// compared as spoofable compares.
func methodOverrideHeader(key string) bool {
	return equalNorm(key, "x-http-method-override") || equalNorm(key, "x-http-method") ||
		equalNorm(key, "x-method-override")
}

// equalNorm reports whether key equals the lower-case name, ignoring case
// and reading "_" as "-".
func equalNorm(key, name string) bool {
	return len(key) == len(name) && hasPrefixNorm(key, name)
}

func hasPrefixNorm(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	route := ""
	if d, ok := r.Context().Value(ctxKey{}).(*decision); ok {
		route = d.rule.name
	}
	if r.Context().Err() != nil {
		g.log.Debug("client went away", "route", route, "err", err)
	} else {
		g.log.Warn("upstream failed", "route", route, "err", err)
	}
	writeJSON(w, http.StatusBadGateway, "bad_gateway", "upstream unavailable")
}

// refuse answers a failed check as apiguard's middleware does (calling its
// OnRefuse hook) and returns the reason label.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, err error) string {
	if g.mw.OnRefuse != nil {
		g.mw.OnRefuse(r, err)
	}
	g.mw.WriteError(w, err)
	return apiguard.Reason(err)
}

func writeJSON(w http.ResponseWriter, status int, code, desc string) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	writeBody(w, status, body)
}

func writeStatus(w http.ResponseWriter, status int, s string) {
	body, _ := json.Marshal(struct {
		Status string `json:"status"`
	}{s})
	writeBody(w, status, body)
}

// writeNotReady answers /readyz with 503 and why: the keys are not loaded,
// and with several issuers which ones, by their configured names. Never the
// error's text: it may carry internal URLs, and /readyz may be on the
// public listener. Retry-After is the verifier's hint (5 s without one).
func writeNotReady(ctx context.Context, w http.ResponseWriter, err error, tv apiguard.TokenVerifier) {
	retry := 5 * time.Second
	var ke *apiguard.KeysError
	if errors.As(err, &ke) && ke.RetryAfter > 0 {
		retry = ke.RetryAfter
	}
	reason := "signing keys not loaded"
	var names []string
	if m, ok := tv.(*apiguard.Issuers); ok {
		names = m.NotReady(ctx)
	}
	switch {
	case len(names) > 0:
		reason += ": " + strings.Join(names, ", ")
	case errors.Is(err, context.DeadlineExceeded):
		reason += ": the issuer did not answer in time"
	}
	body, _ := json.Marshal(struct {
		Status   string   `json:"status"`
		Reason   string   `json:"reason"`
		NotReady []string `json:"not_ready,omitempty"`
	}{"unavailable", reason, names})
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	writeBody(w, http.StatusServiceUnavailable, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// statusWriter records the status sent to the client. It unwraps for
// http.ResponseController (flushes, deadlines) and records 101 on a hijack
// (WebSocket upgrades).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferPool reuses ReverseProxy's copy buffers across requests.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// get and put are Get and Put for copyBody, without the allocation of a
// new pointer on every Put.
func (p *bufferPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 32<<10)
	return &b
}

func (p *bufferPool) put(b *[]byte) { p.pool.Put(b) }
