package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apiguard/apiguard"
	"golang.org/x/net/http/httpguts"
)

// Values of Options.AuthProxy: the proxy that sends /auth its decision
// requests.
const (
	AuthProxyNginx   = "nginx"   // X-Original-Method and X-Original-URI (the default)
	AuthProxyTraefik = "traefik" // X-Forwarded-Method and X-Forwarded-Uri
	AuthProxyCaddy   = "caddy"   // X-Forwarded-Method and X-Forwarded-Uri
)

// ErrAuthProxy is wrapped by New's error for an Options.AuthProxy that is
// not nginx, traefik or caddy.
var ErrAuthProxy = errors.New("want nginx, traefik or caddy")

// Headers that carry a refusal of /auth to nginx when Options.AuthProxy is
// nginx.
// nginx's auth_request keeps only the status of a refused decision (and, on
// 401, the first WWW-Authenticate line): it reads these with
// auth_request_set and answers the client with them (see README.md).
const (
	// HeaderAuthError is the refusal's JSON body, on one line, non-ASCII
	// characters escaped.
	HeaderAuthError = "X-Apiguard-Error"
	// HeaderAuthBearerChallenge is the Bearer WWW-Authenticate challenge.
	HeaderAuthBearerChallenge = "X-Apiguard-Bearer-Challenge"
	// HeaderAuthDPoPChallenge is the DPoP WWW-Authenticate challenge.
	HeaderAuthDPoPChallenge = "X-Apiguard-Dpop-Challenge"
)

// identityHeaders are the headers setIdentity may set.
var identityHeaders = [...]string{HeaderIssuer, HeaderSubject, HeaderClientID, HeaderScopes, HeaderGroups}

// authPair is the pair of headers /auth trusts to describe the request being
// decided, and the pair it refuses to see.
type authPair struct {
	proxy                 string // the auth_proxy value, for messages
	method, uri           string // the trusted headers, as spelt in messages
	otherMethod, otherURI string
	lower                 [4]string // the four names in lower case
	canon                 [2]string // the trusted pair, canonical (map keys)
	// expose moves WWW-Authenticate into X-Apiguard-* headers and copies the
	// body into X-Apiguard-Error on refusals (nginx).
	expose bool
}

const (
	hOriginalMethod  = "X-Original-Method"
	hOriginalURI     = "X-Original-URI"
	hForwardedMethod = "X-Forwarded-Method"
	hForwardedURI    = "X-Forwarded-Uri"
)

// authPairFor returns the header pair of an auth_proxy value ("" is nginx).
func authPairFor(name string) (*authPair, error) {
	switch p := strings.ToLower(name); p {
	case "", AuthProxyNginx:
		return newPair(&authPair{proxy: AuthProxyNginx, method: hOriginalMethod, uri: hOriginalURI,
			otherMethod: hForwardedMethod, otherURI: hForwardedURI, expose: true}), nil
	case AuthProxyTraefik, AuthProxyCaddy:
		return newPair(&authPair{proxy: p, method: hForwardedMethod, uri: hForwardedURI,
			otherMethod: hOriginalMethod, otherURI: hOriginalURI}), nil
	}
	return nil, ErrAuthProxy
}

func newPair(ap *authPair) *authPair {
	for i, n := range [4]string{ap.method, ap.uri, ap.otherMethod, ap.otherURI} {
		ap.lower[i] = strings.ToLower(n)
	}
	ap.canon = [2]string{http.CanonicalHeaderKey(ap.method), http.CanonicalHeaderKey(ap.uri)}
	return ap
}

// described reads the method and URI of the request a decision is asked for
// from the trusted pair only. It returns a description for a 400 when a
// header of the pair is missing, empty or sent more than once (also under
// another spelling, "_" for "-"), or when a header of the other pair is
// present: nginx passes the client's own headers to the decision, so those
// may come from the client.
func (ap *authPair) described(h http.Header) (method, uri, problem string) {
	counts := [4]int{}
	names := [4]string{ap.method, ap.uri, ap.otherMethod, ap.otherURI}
	for k, vs := range h {
		for i, n := range ap.lower {
			if len(k) == len(n) && hasPrefixNorm(k, n) {
				counts[i] += len(vs)
			}
		}
	}
	for i := 2; i < 4; i++ {
		if counts[i] > 0 {
			return "", "", names[i] + " must not be sent: " + ap.setting() + " (have the proxy remove it, or set auth_proxy to the proxy in use)"
		}
	}
	for i := 0; i < 2; i++ {
		switch {
		case counts[i] == 0:
			return "", "", names[i] + " is missing: " + ap.setting()
		case counts[i] > 1:
			return "", "", names[i] + " is sent more than once: " + ap.setting()
		}
	}
	// h[canonical] rather than h.Get: X-Original-URI is not canonical, and
	// Get would allocate its canonical form on every decision.
	method, uri = first(h[ap.canon[0]]), first(h[ap.canon[1]])
	switch {
	case method == "":
		return "", "", ap.method + " is missing: " + ap.setting()
	case uri == "":
		return "", "", ap.uri + " is missing: " + ap.setting()
	case !isToken(method):
		return "", "", ap.method + " is not a method (" + ap.setting() + ")"
	case uri[0] != '/':
		return "", "", ap.uri + " is not a path with an optional query (" + ap.setting() + ")"
	}
	return method, uri, ""
}

// first returns the first of vs, or "" for none, as Header.Get does.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// setting says, for refusals, which pair is trusted and why.
func (ap *authPair) setting() string {
	return "auth_proxy is " + ap.proxy + ", so /auth decides on " + ap.method + " and " + ap.uri + " only"
}

// isToken reports whether s is an RFC 9110 token, as a method must be
// (net/http checks methods with the same function).
func isToken(s string) bool { return httpguts.ValidHeaderFieldName(s) }

// serveAuth answers a forward-auth decision for the request described by the
// header pair of the configured auth_proxy: X-Original-Method and
// X-Original-URI (nginx) or X-Forwarded-Method and X-Forwarded-Uri (Traefik,
// Caddy). The decision request's own method is never used. The token and a
// DPoP proof are read from the decision request's Authorization and DPoP
// headers (the proxy copies the client's); the proof's htm must be the
// described method and its htu the DPoP checker's PublicURL plus the
// described path. X-Forwarded-Proto and X-Forwarded-Host are not used: /auth
// may be reachable by clients, who could set them to anything.
func (g *Gateway) serveAuth(w http.ResponseWriter, r *http.Request) {
	// The status writer and the recorder in one allocation (issue 16).
	aw := &authWriter{sw: statusWriter{ResponseWriter: w}}
	sw := &aw.sw
	name, reason := "", ""
	defer func() { g.metrics.count("auth", name, sw.status, reason) }()
	var out http.ResponseWriter = sw
	if g.auth.expose {
		rec := &aw.rec
		rec.w = sw
		defer rec.finish()
		out = rec
	}

	method, uri, problem := g.auth.described(r.Header)
	if problem != "" {
		reason = "bad_auth_headers"
		writeJSON(out, http.StatusBadRequest, "invalid_request", problem)
		return
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		reason = "bad_request"
		writeJSON(out, http.StatusBadRequest, "invalid_request", "unparsable "+g.auth.uri)
		return
	}
	ru, _, no := g.admit(method, u, r.Header, true)
	name = ru.label()
	if no != nil {
		reason = no.write(out)
		return
	}
	var claims *apiguard.Claims
	if !ru.public {
		// Checked as the request it describes: a DPoP proof is for that
		// method and URL, not for GET /auth.
		fr := r.WithContext(r.Context())
		fr.Method, fr.URL, fr.RequestURI = method, u, uri
		claims, err = ru.middleware(g.mw).Check(fr, ru.policies...)
		if err != nil {
			reason = g.refuse(out, r, err)
			return
		}
	}
	// Every identity header is answered, empty when unknown (and on public
	// routes), so a proxy copying them replaces whatever the client sent:
	// Caddy's copy_headers would otherwise set the literal placeholder
	// text, or keep the client's header. No body.
	setIdentityHeaders(out.Header(), claims, true)
	out.WriteHeader(http.StatusOK)
}

// authWriter is what serveAuth wraps its ResponseWriter in.
type authWriter struct {
	sw  statusWriter
	rec refusalRecorder
}

// refusalRecorder holds back a /auth answer so that, for a refusal, its
// WWW-Authenticate challenges and body can be sent as X-Apiguard-* headers,
// which nginx can read (it reads neither a refused decision's body nor, in
// nginx before 1.23, more than one WWW-Authenticate line). WWW-Authenticate
// itself is left out of a refusal: nginx would copy its first line onto a
// 401 beside the ones its configuration adds.
type refusalRecorder struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

// Header is the real response's header map: nothing is sent until finish,
// so there is no need for a second map and a copy on every decision.
func (rr *refusalRecorder) Header() http.Header { return rr.w.Header() }

func (rr *refusalRecorder) WriteHeader(code int) {
	if rr.status == 0 {
		rr.status = code
	}
}

func (rr *refusalRecorder) Write(b []byte) (int, error) {
	if rr.status == 0 {
		rr.status = http.StatusOK
	}
	return rr.body.Write(b)
}

// finish sends the recorded answer.
func (rr *refusalRecorder) finish() {
	h := rr.w.Header()
	if rr.status == 0 {
		rr.status = http.StatusOK
	}
	if rr.status >= 300 {
		for _, c := range h.Values("WWW-Authenticate") {
			scheme, _, _ := strings.Cut(c, " ")
			switch {
			case strings.EqualFold(scheme, "Bearer"):
				h.Set(HeaderAuthBearerChallenge, c)
			case strings.EqualFold(scheme, "DPoP"):
				h.Set(HeaderAuthDPoPChallenge, c)
			}
		}
		h.Del("WWW-Authenticate")
		h.Set(HeaderAuthError, asciiLine(rr.body.Bytes()))
	}
	if rr.body.Len() > 0 {
		h.Set("Content-Length", strconv.Itoa(rr.body.Len()))
	}
	rr.w.WriteHeader(rr.status)
	if rr.body.Len() > 0 { // none on an allowed decision
		_, _ = rr.w.Write(rr.body.Bytes())
	}
}

// asciiLine returns a JSON text as one line of printable ASCII: surrounding
// space trimmed, other characters escaped as \uXXXX (JSON strings are the
// only place they can be), so it can travel as a header value.
func asciiLine(b []byte) string {
	b = bytes.TrimSpace(b)
	var s strings.Builder
	for len(b) > 0 {
		c := b[0]
		if c >= 0x20 && c < 0x7f {
			s.WriteByte(c)
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r >= 0x10000 {
			r -= 0x10000
			fmt.Fprintf(&s, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			continue
		}
		fmt.Fprintf(&s, `\u%04x`, r)
	}
	return s.String()
}

// routingOverride returns a description for a 400 when a request carries
// something that some frameworks route on instead of the method and path
// decided here: a _method query parameter (unless the route sets
// method_override) or an Upgrade to anything but WebSocket; and for a
// decision (decide), a method-override header (unless the route sets
// method_override) or a URL-override header (X-Original-URL, X-Rewrite-URL,
// X-Override-URL). The proxy strips those headers itself; as a decision
// endpoint it cannot strip what the proxy in front forwards, so it refuses.
// The proxies send the client's headers to /auth (nginx and Caddy all of
// them, Traefik those in authRequestHeaders: see README.md).
func routingOverride(h http.Header, rawQuery string, ru *rule, decide bool) string {
	for k := range h {
		switch {
		case !decide:
			// The proxy removes them (rewrite).
		case methodOverrideHeader(k) && !ru.methodOverride:
			return k + " must not be sent: the route does not allow method overrides"
		case equalNorm(k, "x-original-url") || equalNorm(k, "x-rewrite-url") || equalNorm(k, "x-override-url"):
			return k + " must not be sent: it overrides the URL for some frameworks"
		}
	}
	if !ru.methodOverride && hasMethodParam(rawQuery) {
		return errMethodParam.Error()
	}
	if err := checkUpgrade(h); err != nil {
		return err.Error()
	}
	return ""
}
