package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// Cardinality: /metrics must not grow with what clients send. An attacker
// chooses methods, paths, token headers and claims (kid, iss, cid), and,
// behind the gateway, an upstream may answer any status code; every label
// value still comes from a fixed set, so the number of series is bounded.
//
// The bound, per instance, beyond a fresh one (the Go and process
// collectors' series are fixed and counted in the fresh instance):
//
//   - serve: at most maxNewSeries (300) more sample lines after 10,000
//     hostile requests. Each route pattern touched adds one latency
//     histogram (18 lines) and a few request counters; the refusal
//     counter adds one line per apiguard.Reason label.
//   - gateway: the same 300. Each route touched adds an upstream latency
//     histogram (19 lines); the request counter is handler × route ×
//     status × reason, where status is one of the ~60 codes net/http knows
//     or a class ("5xx") or "other".
const (
	hostileRequests = 10000
	maxNewSeries    = 300
)

// reasonLabels are every refusal label apiguard.Reason returns.
var reasonLabels = []string{
	"malformed", "algorithm", "unknown_key", "signature", "expired", "not_yet_valid", "issued_in_future",
	"issuer", "audience", "client", "type", "dpop_proof", "dpop_nonce", "binding", "inactive",
	"keys_unavailable", "unavailable", "forbidden", "no_token", "invalid_request", "invalid", "error",
}

// sample is one sample line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	line   string
}

// scrape returns the sample lines of a /metrics page.
func scrape(t *testing.T, url string) []sample {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, res.StatusCode, err)
	}
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			t.Fatalf("got an unparsable sample line %.200q: %v", line, err)
		}
		out = append(out, s)
	}
	return out
}

// parseSample parses name{k="v",…} value.
func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}, line: line}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = line[:i]
	if line[i] == ' ' {
		return s, nil
	}
	rest := line[i+1:]
	for {
		if strings.HasPrefix(rest, "}") {
			return s, nil
		}
		eq := strings.Index(rest, `="`)
		if eq < 0 {
			return s, fmt.Errorf("bad label")
		}
		key := rest[:eq]
		rest = rest[eq+2:]
		var val strings.Builder
		j := 0
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
			}
			val.WriteByte(rest[j])
		}
		if j == len(rest) {
			return s, fmt.Errorf("unterminated label value")
		}
		s.labels[key] = val.String()
		rest = strings.TrimPrefix(rest[j+1:], ",")
	}
}

// checkLabels fails for a label of an apiguard_ metric whose value is not
// in allowed[label]; "le" (histogram buckets) must be a number.
func checkLabels(t *testing.T, samples []sample, allowed map[string][]string) {
	t.Helper()
	bad := 0
	for _, s := range samples {
		if !strings.HasPrefix(s.name, "apiguard_") {
			continue
		}
		for k, v := range s.labels {
			if k == "le" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Errorf("got le=%.40q in %s, want a bucket bound", v, s.name)
				}
				continue
			}
			set, ok := allowed[k]
			if !ok {
				t.Errorf("got an unexpected label %q in %.200s", k, s.line)
				bad++
			} else if !slices.Contains(set, v) {
				t.Errorf("got %s=%.60q in %s, want one of %q", k, v, s.name, set)
				bad++
			}
			if bad > 20 {
				t.Fatal("too many bad labels")
			}
		}
	}
}

// hostile builds attacker-chosen requests from a seeded source.
type hostile struct {
	r      *rand.Rand
	tokens []string // signed by the test issuer, with attacker-chosen iss and cid
	issuer string   // the real issuer: claims that pass reach the key lookup
}

func newHostile(t *testing.T, iss *testissuer.Issuer, seed uint64) *hostile {
	h := &hostile{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), issuer: iss.URL}
	now := time.Now()
	for i := range 40 {
		c := iss.Claims(now)
		switch i % 4 {
		case 0:
			c = testissuer.With(c, "iss", "https://evil.example/"+h.word(12))
		case 1:
			c = testissuer.With(c, "cid", "0oa"+h.word(20))
		case 2:
			c = testissuer.With(c, "aud", "api://"+h.word(10), "cid", h.word(30))
		case 3:
			c = testissuer.With(c, "scp", []string{h.word(8)}, "cid", h.word(16))
		}
		h.tokens = append(h.tokens, iss.Sign(t, "es256", c, nil))
	}
	return h
}

const wordChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'*+"

func (h *hostile) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = wordChars[h.r.IntN(len(wordChars))]
	}
	return string(b)
}

// tokenChars are the characters of an HTTP method (RFC 9110 token).
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"

func (h *hostile) method() string {
	switch n := h.r.IntN(100); {
	case n < 40:
		return metriclabel.Methods[h.r.IntN(len(metriclabel.Methods))]
	case n < 50:
		return strings.ToLower(metriclabel.Methods[h.r.IntN(len(metriclabel.Methods))])
	case n < 52:
		n := 8192
		b := make([]byte, n)
		for i := range b {
			b[i] = tokenChars[h.r.IntN(len(tokenChars))]
		}
		return string(b)
	default:
		b := make([]byte, 1+h.r.IntN(24))
		for i := range b {
			b[i] = tokenChars[h.r.IntN(len(tokenChars))]
		}
		return string(b)
	}
}

// path picks a known prefix from prefixes or a made-up path.
func (h *hostile) path(prefixes []string) string {
	p := "/" + h.word(1+h.r.IntN(30))
	if h.r.IntN(3) > 0 {
		p = prefixes[h.r.IntN(len(prefixes))]
		if h.r.IntN(2) == 0 {
			p = strings.TrimSuffix(p, "/") + "/" + h.word(1+h.r.IntN(12))
		}
	}
	if h.r.IntN(10) == 0 {
		p += "/%2e%2e/" + h.word(4) + "%00"
	}
	return p
}

// fakeJWT is an unsigned-looking JWT with the attacker's kid, iss and cid.
func (h *hostile) fakeJWT() string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	algs := []string{"RS256", "RS256", "ES256", "ES256", "none", "HS256", h.word(5)}
	head := map[string]any{"alg": algs[h.r.IntN(len(algs))], "kid": h.word(1 + h.r.IntN(40))}
	if h.r.IntN(4) == 0 {
		head["typ"] = h.word(3)
	}
	body := map[string]any{"iss": "https://" + h.word(10) + ".example/oauth2/" + h.word(6), "cid": h.word(20), "sub": h.word(8),
		"aud": h.word(8), "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	if h.r.IntN(2) == 0 { // claims that pass: the attacker's kid reaches the key lookup
		body["iss"], body["aud"], body["cid"] = h.issuer, "api://default", "0oa-test-client"
	}
	return enc(head) + "." + enc(body) + "." + h.word(43)
}

func (h *hostile) authorization() string {
	switch h.r.IntN(6) {
	case 0:
		return ""
	case 1, 2:
		return "Bearer " + h.fakeJWT()
	case 3:
		return "Bearer " + h.tokens[h.r.IntN(len(h.tokens))]
	case 4:
		return "DPoP " + h.fakeJWT()
	default:
		return h.word(6) + " " + h.word(30)
	}
}

// attack sends n requests built by next from workers goroutines; responses
// and transport errors (a server may close on a bad request) are ignored.
func attack(t *testing.T, n int, next func(h *hostile) *http.Request, hs []*hostile) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(hs)}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	per := n / len(hs)
	for _, h := range hs {
		wg.Go(func() {
			for range per {
				req := next(h)
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	wg.Wait()
}

func hostiles(t *testing.T, iss *testissuer.Issuer) []*hostile {
	var hs []*hostile
	for i := range 4 {
		hs = append(hs, newHostile(t, iss, uint64(i+1)))
	}
	return hs
}

func newRequest(t *testing.T, method, url string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Method = method // any token, as a client could send
	return req
}

func TestServeMetricsCardinality(t *testing.T) {
	iss := testissuer.New(t)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL, "APIGUARD_LOG_LEVEL": "warn", "APIGUARD_REQUIRED_SCOPES": "read"})
	fresh := scrape(t, s.url+"/metrics")
	hs := hostiles(t, iss)
	prefixes := []string{"/", "/secure-data", "/healthz", "/readyz", "/metrics", "/login", "/profile",
		"/.well-known/oauth-protected-resource", "/oauth2/default/v1/token", "/secure-data/"}
	attack(t, hostileRequests, func(h *hostile) *http.Request {
		method, p := h.method(), h.path(prefixes)
		if h.r.IntN(2) == 0 { // the token check, with the attacker's kids, iss and client ids
			method, p = "GET", "/secure-data"
		}
		req := newRequest(t, method, s.url+p)
		if a := h.authorization(); a != "" {
			req.Header.Set("Authorization", a)
		}
		req.Header.Set("X-Request-Id", h.word(1+h.r.IntN(80)))
		return req
	}, hs)
	after := scrape(t, s.url+"/metrics")

	if grown := len(after) - len(fresh); grown > maxNewSeries {
		t.Errorf("got %d more series after %d hostile requests (%d in a fresh instance), want at most %d", grown, hostileRequests, len(fresh), maxNewSeries)
	} else {
		t.Logf("%d series in a fresh instance, %d after %d hostile requests", len(fresh), len(after), hostileRequests)
	}
	checkLabels(t, after, map[string][]string{
		"route": {"GET /{$}", "GET /secure-data", "/login", "/profile", "GET /healthz", "GET /readyz", "GET /metrics",
			"GET /.well-known/oauth-protected-resource", "unmatched"},
		"method":  append(slices.Clone(metriclabel.Methods), metriclabel.Other),
		"status":  metriclabel.Statuses(),
		"reason":  reasonLabels,
		"outcome": {"ok", "error"},
		"trigger": {"age", "unknown_kid"},
		"issuer":  {"default"}, // configured names only, never a token's iss
	})
	// The attack did reach the labels it could have grown.
	text := ""
	for _, s := range after {
		text += s.line + "\n"
	}
	for _, want := range []string{`method="other"`, `route="unmatched"`, `reason="unknown_key"`, `reason="issuer"`, `reason="malformed"`} {
		if !strings.Contains(text, want) {
			t.Errorf("got metrics without %s: the attack missed it\n%s", want, text)
		}
	}
}

func TestGatewayMetricsCardinality(t *testing.T) {
	gwClearEnv(t)
	iss := testissuer.New(t)
	// The upstream answers the status the path asks for: /public/799.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if code, err := strconv.Atoi(seg); err == nil && code >= 200 && code <= 999 {
			w.WriteHeader(code)
		}
	}))
	t.Cleanup(up.Close)
	path := writeGatewayConfig(t, `
upstream: `+up.URL+`
issuer: `+iss.URL+`
client_ids: [0oa-test-client]
routes:
  - name: public
    path: /public/**
    public: true
  - name: orders
    path: /orders/**
    methods: [GET, POST]
    scopes: [read]
  - path: /api/**
`)
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0", "--log-level", "warn")
	base := "http://" + g.addr
	gwEventually(t, "readiness", func() bool {
		resp, _ := gwGet(t, base+"/readyz", "")
		return resp.StatusCode == 200
	})
	fresh := scrape(t, base+"/metrics")
	hs := hostiles(t, iss)
	prefixes := []string{"/public/", "/orders/", "/api/", "/auth", "/auth", "/healthz", "/"}
	attack(t, hostileRequests, func(h *hostile) *http.Request {
		method, p := h.method(), h.path(prefixes)
		switch h.r.IntN(3) {
		case 0:
			p = "/public/" + strconv.Itoa(200+h.r.IntN(800)) // any status from the upstream
		case 1: // the token check, with the attacker's kids, iss and client ids
			method, p = "GET", "/orders/"+h.word(4)
		}
		req := newRequest(t, method, base+p)
		if a := h.authorization(); a != "" {
			req.Header.Set("Authorization", a)
		}
		if strings.HasPrefix(p, "/auth") {
			// Either proxy's pair, or both, as a client reaching /auth may send.
			described := []string{"/public/", "/orders/", "/api/"}
			if h.r.IntN(3) > 0 {
				req.Header.Set("X-Original-Method", h.method())
				req.Header.Set("X-Original-Uri", h.path(described))
			}
			if h.r.IntN(3) == 0 {
				req.Header.Set("X-Forwarded-Method", h.method())
				req.Header.Set("X-Forwarded-Uri", h.path(described))
			}
		}
		return req
	}, hs)
	after := scrape(t, base+"/metrics")

	if grown := len(after) - len(fresh); grown > maxNewSeries {
		t.Errorf("got %d more series after %d hostile requests (%d in a fresh instance), want at most %d", grown, hostileRequests, len(fresh), maxNewSeries)
	} else {
		t.Logf("%d series in a fresh instance, %d after %d hostile requests", len(fresh), len(after), hostileRequests)
	}
	checkLabels(t, after, map[string][]string{
		"handler": {"proxy", "auth"},
		"route":   {"", "public", "orders", "/api/**"},
		"status":  metriclabel.Statuses(),
		// The gateway's own reasons (gateway.go, auth.go), then apiguard's.
		"reason":  append([]string{"", "bad_path", "bad_request", "bad_auth_headers", "no_route", "no_upstream"}, reasonLabels...),
		"result":  {"success", "failure"},
		"outcome": {"ok", "error"},
		"trigger": {"age", "unknown_kid"},
		"issuer":  {"default"}, // configured names only, never a token's iss
	})
	text := ""
	for _, s := range after {
		text += s.line + "\n"
	}
	for _, want := range []string{`status="other"`, `status="5xx"`, `reason="no_route"`, `reason="unknown_key"`, `reason="client"`, `handler="auth"`} {
		if !strings.Contains(text, want) {
			t.Errorf("got metrics without %s: the attack missed it\n%s", want, text)
		}
	}
}
