package hostile

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/internal/testwait"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Rules: IDs of the repository's SECURITY.md. Every case names the one it
// proves; TestHostileTokens fails on a case whose rule SECURITY.md does not
// state, and TestSecurityRules (rules_test.go) on a rule no test names.
//
// Besides its case's rule, every refused case holds R-BEARER-4 (401
// invalid_token with a reason, checked for every token refusal) and
// R-BEARER-7 (resource_metadata on every challenge).
const (
	ruleHeaderOnly   = "R-BEARER-1" // Authorization header, Bearer in any case
	ruleQueryForm    = "R-BEARER-2" // no query, form or second header
	ruleNoCreds      = "R-BEARER-3" // 401 without an error code
	ruleNoEcho       = "R-BEARER-8" // no token in a response or log
	ruleCompact      = "R-PARSE-1"  // compact, canonical base64url
	ruleCapLength    = "R-PARSE-2"  // 8 KiB before any work
	ruleCapHeader    = "R-PARSE-3"  // 431 for an oversized header
	ruleJWE          = "R-PARSE-4"  // no JWE, JSON forms, zip, crit
	ruleAllowlist    = "R-ALG-1"    // asymmetric allowlist: no none, no HS*
	ruleAlgFitsKey   = "R-ALG-2"    // algorithm fits the key
	ruleECDSA        = "R-ALG-3"    // raw r||s in range
	ruleRefused      = "R-ALG-4"    // a signature holds for its bytes and key only
	ruleKeySource    = "R-KEY-1"    // jku, x5u, jwk, x5c ignored
	ruleKIDMapKey    = "R-KEY-2"    // kid is a map key
	ruleNoKIDSeveral = "R-KEY-3"    // no kid, several keys: refused
	ruleIssuer       = "R-CLAIM-1"  // iss exact
	ruleAudience     = "R-CLAIM-2"  // aud contains ours
	ruleExp          = "R-CLAIM-3"  // exp required, numeric
	ruleNbfIat       = "R-CLAIM-4"  // nbf, iat with the leeway
	ruleIatFuture    = "R-CLAIM-5"  // iat far ahead refused
	ruleAnyOne       = "R-CLAIM-6"  // one failure is enough
	ruleIDToken      = "R-CLAIM-7"  // ID tokens refused
	ruleBadKey       = "R-JWKS-7"   // unusable keys skipped
)

// reasons returns, by rule, the error_description prefixes (the reason
// apiguard gives) a refusal under the rule may carry: a case refused for an
// unrelated reason proves nothing.
func reasons() map[string][]string {
	return map[string][]string{
		ruleCompact:      {"malformed token"},
		ruleCapLength:    {"malformed token"},
		ruleJWE:          {"malformed token"},
		ruleAllowlist:    {"algorithm not allowed", "malformed token"},
		ruleAlgFitsKey:   {"algorithm not allowed", "unknown signing key"},
		ruleBadKey:       {"unknown signing key"},
		ruleKeySource:    {"unknown signing key", "invalid signature", "wrong issuer"},
		ruleKIDMapKey:    {"unknown signing key", "malformed token"},
		ruleNoKIDSeveral: {"unknown signing key"},
		ruleECDSA:        {"invalid signature"},
		ruleRefused:      {"invalid signature"},
		ruleIssuer:       {"wrong issuer", "malformed token"},
		ruleAudience:     {"wrong audience", "malformed token"},
		ruleExp:          {"token expired", "malformed token"},
		ruleNbfIat:       {"token not yet valid", "token issued in the future", "malformed token"},
		ruleIatFuture:    {"token issued in the future"},
		ruleAnyOne:       {"wrong audience", "token expired"},
		ruleIDToken:      {"wrong token type"},
	}
}

// hostileCase is one request to GET /secure-data and the answer it must get.
type hostileCase struct {
	name   string
	rule   string
	token  string                         // sent as "Authorization: Bearer <token>" unless req is set
	req    func(url string) *http.Request // a request of its own
	status int                            // default 401
	code   string                         // error in WWW-Authenticate; default invalid_token for 401, "-" for none
}

var b64 = base64.RawURLEncoding

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// signRaw signs the exact signing input h64.p64 with the issuer's key kid.
func signRaw(t *testing.T, iss *testissuer.Issuer, kid, h64, p64 string) string {
	t.Helper()
	k := iss.Key(kid)
	sig, err := jwt.GetSigningMethod(k.Alg).Sign(h64+"."+p64, k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return h64 + "." + p64 + "." + b64.EncodeToString(sig)
}

func split3(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

func fixed(b []byte, n int) []byte { return append(make([]byte, n-len(b)), b...) }

// attackerServer serves the attacker's keys and certificate, counting the
// requests it gets: a verifier that follows jku or x5u would call it.
type attackerServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newAttackerServer(t *testing.T, jwk jose.JSONWebKey, certPEM []byte) *attackerServer {
	t.Helper()
	a := &attackerServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		if strings.HasSuffix(r.URL.Path, ".pem") {
			w.Write(certPEM)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	}))
	t.Cleanup(a.Close)
	return a
}

// selfSigned returns a self-signed certificate for key.
func selfSigned(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	return must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key))
}

func request(url string, mutate func(r *http.Request)) *http.Request {
	r := must(http.NewRequest(http.MethodGet, url+"/secure-data", nil))
	mutate(r)
	return r
}

// hostileCases builds the table against iss, whose keys apiguard serve
// trusts. attacker is a server a verifier must never call.
func hostileCases(t *testing.T, iss *testissuer.Issuer, attacker *attackerServer, attackerKey *rsa.PrivateKey, certDER []byte) (refused, controls []hostileCase) {
	now := time.Now()
	base := iss.Claims(now)
	good := iss.Sign(t, "rs256", base, nil)
	h, p, s := split3(good)
	payload := must(json.Marshal(base))
	header := func(kv ...any) []byte {
		m := map[string]any{"alg": "RS256", "kid": "rs256"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return must(json.Marshal(m))
	}
	// withHeader signs the payload under hdr with the RS256 key: the
	// signature is good, only the header's content can refuse it.
	withHeader := func(hdr []byte) string { return iss.SignRaw(t, "rs256", hdr, payload) }
	signed := func(claims jwt.MapClaims) string { return iss.Sign(t, "rs256", claims, nil) }

	rsaPub := iss.Key("rs256").Private.Public().(*rsa.PublicKey)
	pkixPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(rsaPub))})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub)})
	jwkJSON := must(json.Marshal(jose.JSONWebKey{Key: rsaPub, KeyID: "rs256", Algorithm: "RS256", Use: "sig"}))
	ecPub := iss.Key("es256").Private.Public().(*ecdsa.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(ecPub))})
	edPub := iss.Key("eddsa").Private.Public().(ed25519.PublicKey)
	hs := func(alg, kid string, key []byte) string { return testissuer.SignWith(t, alg, key, kid, base, nil) }

	attackerJWK := jose.JSONWebKey{Key: attackerKey.Public(), KeyID: "attacker", Algorithm: "RS256", Use: "sig"}
	attackerSigned := func(kid string, extra map[string]any) string {
		return testissuer.SignWith(t, "RS256", attackerKey, kid, base, extra)
	}
	otherIssuer := testissuer.New(t)

	esGood := iss.Sign(t, "es256", base, nil)
	esH, esP, esS := split3(esGood)
	esSig := must(b64.DecodeString(esS))
	n256 := elliptic.P256().Params().N
	es512H, es512P, es512S := split3(iss.Sign(t, "es512", base, nil))
	es512Sig := must(b64.DecodeString(es512S))
	edH, edP, edS := split3(iss.Sign(t, "eddsa", base, nil))
	edSig := must(b64.DecodeString(edS))
	rsSig := must(b64.DecodeString(s))

	// A payload whose standard base64 has '+' or '/': signed over exactly
	// that text, so only the alphabet check can refuse it.
	var stdPayload string
	for pad := 0; ; pad++ {
		stdPayload = base64.StdEncoding.EncodeToString(must(json.Marshal(testissuer.With(base, "x", strings.Repeat(">?", pad+3)))))
		if strings.ContainsAny(stdPayload, "+/") {
			break
		}
	}
	stdSigned := signRaw(t, iss, "rs256", h, strings.TrimRight(stdPayload, "="))

	tok := func(name, rule, token string) hostileCase { return hostileCase{name: name, rule: rule, token: token} }
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }

	refused = []hostileCase{
		// Where the token comes from (RFC 6750).
		{name: "no Authorization header", rule: ruleNoCreds, req: func(u string) *http.Request { return request(u, func(*http.Request) {}) }, code: "-"},
		{name: "token in the query string", rule: ruleQueryForm, req: func(u string) *http.Request {
			return must(http.NewRequest(http.MethodGet, u+"/secure-data?access_token="+good, nil))
		}, status: http.StatusBadRequest, code: "invalid_request"},
		{name: "token in the query string and the header", rule: ruleQueryForm, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) {
				r.URL.RawQuery = "access_token=" + good
				r.Header.Set("Authorization", "Bearer "+good)
			})
		}, status: http.StatusBadRequest, code: "invalid_request"},
		{name: "token in a form body", rule: ruleQueryForm, req: func(u string) *http.Request {
			r := must(http.NewRequest(http.MethodGet, u+"/secure-data", strings.NewReader("access_token="+good)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, code: "-"},
		{name: "token in a POSTed form body", rule: ruleQueryForm, req: func(u string) *http.Request {
			r := must(http.NewRequest(http.MethodPost, u+"/secure-data", strings.NewReader("access_token="+good)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, status: http.StatusNotFound, code: "-"}, // the route is GET only; serve's catch-all answers 404
		{name: "two Authorization headers", rule: ruleQueryForm, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) {
				r.Header.Add("Authorization", "Bearer "+good)
				r.Header.Add("Authorization", "Bearer "+good)
			})
		}, status: http.StatusBadRequest, code: "invalid_request"},
		{name: "Basic scheme", rule: ruleHeaderOnly, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.SetBasicAuth("user", good) })
		}, code: "-"},
		{name: "DPoP scheme", rule: ruleHeaderOnly, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Authorization", "DPoP "+good) })
		}, code: "-"},
		{name: "scheme glued to the token", rule: ruleHeaderOnly, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Authorization", "Bearer"+good) })
		}, code: "-"},
		{name: "token in a cookie", rule: ruleHeaderOnly, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Cookie", "access_token="+good) })
		}, code: "-"},
		{name: "token and junk after a space", rule: ruleHeaderOnly, req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+good+" extra") })
		}, status: http.StatusBadRequest, code: "invalid_request"},
		{name: "oversized header (64 KiB)", rule: ruleCapHeader, token: good + strings.Repeat("A", 64<<10), status: http.StatusRequestHeaderFieldsTooLarge, code: "-"},

		// Parsing (RFC 7515).
		tok("one part", ruleCompact, h),
		tok("two parts", ruleCompact, h+"."+p),
		tok("empty signature", ruleCompact, h+"."+p+"."),
		tok("empty header", ruleCompact, "."+p+"."+s),
		tok("empty payload", ruleCompact, h+".."+s),
		tok("four parts", ruleCompact, good+"."+s),
		tok("many dots", ruleCompact, good+strings.Repeat(".", 1000)),
		tok("only dots", ruleCompact, strings.Repeat(".", 200)),
		tok("padding on the signature", ruleCompact, good+"=="),
		tok("padding on the payload", ruleCompact, h+"."+p+"=."+s),
		tok("standard base64 payload signed as is", ruleCompact, stdSigned),
		tok("standard base64 signature", ruleCompact, h+"."+p+"."+base64.StdEncoding.EncodeToString(rsSig)),
		tok("non-canonical last character", ruleCompact, h+"."+p+"."+s[:len(s)-1]+nonCanonical(s[len(s)-1:])),
		tok("tab inside", ruleCompact, h+"."+p[:8]+"\t"+p[8:]+"."+s),
		tok("percent-encoded dots", ruleCompact, h+"%2E"+p+"%2E"+s),
		tok("JWS JSON serialization", ruleCompact, `{"payload":"`+p+`","protected":"`+h+`","signature":"`+s+`"}`),
		tok("token over 8 KiB", ruleCapLength, iss.Sign(t, "rs256", testissuer.With(base, "pad", strings.Repeat("x", 8<<10)), nil)),
		tok("five parts (JWE compact)", ruleJWE, b64JSON(t, map[string]string{"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rs256"})+"."+s[:40]+"."+s[:16]+"."+p+"."+s[:22]),
		tok("multiple signatures appended", ruleJWE, good+"."+esS),
		tok("general JSON with two signatures", ruleJWE, `{"payload":"`+p+`","signatures":[{"protected":"`+h+`","signature":"`+s+`"},{"protected":"`+esH+`","signature":"`+esS+`"}]}`),
		tok("unprotected header (flattened JSON)", ruleJWE, `{"payload":"`+p+`","header":{"alg":"none"},"signature":""}`),
		tok("zip header", ruleJWE, iss.SignRaw(t, "rs256", header("zip", "DEF"), payload)),
		tok("crit header", ruleJWE, iss.SignRaw(t, "rs256", header("crit", []string{"exp"}, "exp", 1), payload)),
		tok("crit b64 (unencoded payload)", ruleJWE, iss.SignRaw(t, "rs256", header("crit", []string{"b64"}, "b64", false), payload)),
		tok("enc header", ruleJWE, iss.SignRaw(t, "rs256", header("enc", "A256GCM"), payload)),
		tok("nested token (cty JWT)", ruleJWE, iss.SignRaw(t, "rs256", header("cty", "JWT"), payload)),
		tok("header not JSON", ruleCompact, b64.EncodeToString([]byte("not json"))+"."+p+"."+s),
		tok("header a JSON array", ruleCompact, b64.EncodeToString([]byte(`["RS256"]`))+"."+p+"."+s),
		tok("header with a byte-order mark", ruleCompact, iss.SignRaw(t, "rs256", append([]byte("\xef\xbb\xbf"), header()...), payload)),
		tok("deep JSON in the header (decoded, ignored; no kid)", ruleNoKIDSeveral, withHeader([]byte(`{"alg":"RS256","x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}`))),
		tok("payload not JSON", ruleCompact, iss.SignRaw(t, "rs256", header(), []byte("hello"))),
		tok("payload a JSON array", ruleCompact, iss.SignRaw(t, "rs256", header(), []byte(`[1,2,3]`))),
		tok("deep JSON in aud", ruleAudience, iss.SignRaw(t, "rs256", header(), []byte(strings.Replace(string(payload), `"aud":"api://default"`, `"aud":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000), 1)))),

		// Algorithms (RFC 8725 §3.1).
		tok("alg none, no signature", ruleAllowlist, b64.EncodeToString(header("alg", "none"))+"."+p+"."),
		tok("alg none with a signature", ruleAllowlist, withHeader(header("alg", "none"))),
		tok("alg None", ruleAllowlist, withHeader(header("alg", "None"))),
		tok("alg NONE", ruleAllowlist, withHeader(header("alg", "NONE"))),
		tok("alg nOnE", ruleAllowlist, withHeader(header("alg", "nOnE"))),
		tok("alg none without kid", ruleAllowlist, withHeader(header("alg", "none", "kid", nil))),
		tok("alg empty", ruleAllowlist, withHeader(header("alg", ""))),
		tok("alg missing", ruleAllowlist, iss.SignRaw(t, "rs256", header("alg", nil), payload)),
		tok("alg null", ruleAllowlist, withHeader([]byte(`{"alg":null,"kid":"rs256"}`))),
		tok("alg a number", ruleAllowlist, withHeader([]byte(`{"alg":256,"kid":"rs256"}`))),
		tok("alg an array", ruleAllowlist, withHeader([]byte(`{"alg":["RS256"],"kid":"rs256"}`))),
		tok("alg lower case rs256", ruleAllowlist, withHeader(header("alg", "rs256"))),
		tok("alg Rs256", ruleAllowlist, withHeader(header("alg", "Rs256"))),
		tok("alg with a trailing space", ruleAllowlist, withHeader(header("alg", "RS256 "))),
		tok("alg RSA-OAEP (an encryption alg)", ruleAllowlist, withHeader(header("alg", "RSA-OAEP"))),
		tok("alg ES256K", ruleAllowlist, withHeader(header("alg", "ES256K"))),
		tok("HS256 keyed with the RSA key's PEM (PKIX)", ruleAllowlist, hs("HS256", "rs256", pkixPEM)),
		tok("HS256 keyed with the RSA key's PEM (PKCS#1)", ruleAllowlist, hs("HS256", "rs256", pkcs1PEM)),
		tok("HS256 keyed with the PEM without its last newline", ruleAllowlist, hs("HS256", "rs256", pkixPEM[:len(pkixPEM)-1])),
		tok("HS256 keyed with the DER public key", ruleAllowlist, hs("HS256", "rs256", must(x509.MarshalPKIXPublicKey(rsaPub)))),
		tok("HS256 keyed with the raw modulus", ruleAllowlist, hs("HS256", "rs256", rsaPub.N.Bytes())),
		tok("HS256 keyed with the modulus in base64url", ruleAllowlist, hs("HS256", "rs256", []byte(b64.EncodeToString(rsaPub.N.Bytes())))),
		tok("HS256 keyed with the JWK JSON", ruleAllowlist, hs("HS256", "rs256", jwkJSON)),
		tok("HS384 keyed with the PEM", ruleAllowlist, hs("HS384", "rs256", pkixPEM)),
		tok("HS512 keyed with the PEM", ruleAllowlist, hs("HS512", "rs256", pkixPEM)),
		tok("HS256 keyed with the EC key's PEM", ruleAllowlist, hs("HS256", "es256", ecPEM)),
		tok("HS256 keyed with the Ed25519 public key", ruleAllowlist, hs("HS256", "eddsa", edPub)),
		tok("HS256 without kid keyed with the PEM", ruleAllowlist, hs("HS256", "", pkixPEM)),

		// Algorithm and key must fit (RFC 8725 §3.1; CVE-2022-21449 for ECDSA).
		tok("RS256 on the EC P-256 key", ruleAlgFitsKey, iss.SignRaw(t, "rs256", header("kid", "es256"), payload)),
		tok("ES256 on the RSA key", ruleAlgFitsKey, testissuer.SignWith(t, "ES256", iss.Key("es256").Private, "rs256", base, nil)),
		tok("ES256 on the P-384 key", ruleAlgFitsKey, testissuer.SignWith(t, "ES256", iss.Key("es256").Private, "es384", base, nil)),
		tok("ES512 on the P-256 key", ruleAlgFitsKey, testissuer.SignWith(t, "ES512", iss.Key("es512").Private, "es256", base, nil)),
		tok("PS256 on a key whose JWK says RS256", ruleAlgFitsKey, testissuer.SignWith(t, "PS256", iss.Key("rs256").Private, "rs256", base, nil)),
		tok("RS384 on a key whose JWK says RS256", ruleAlgFitsKey, testissuer.SignWith(t, "RS384", iss.Key("rs256").Private, "rs256", base, nil)),
		tok("RS256 on a key whose JWK says PS256", ruleAlgFitsKey, testissuer.SignWith(t, "RS256", iss.Key("ps256").Private, "ps256", base, nil)),
		tok("EdDSA on the RSA key", ruleAlgFitsKey, testissuer.SignWith(t, "EdDSA", iss.Key("eddsa").Private, "rs256", base, nil)),
		tok("RS256 on the Ed25519 key", ruleAlgFitsKey, iss.SignRaw(t, "rs256", header("kid", "eddsa"), payload)),
		tok("signed by a use:enc key", ruleAlgFitsKey, iss.Sign(t, "enc-key", base, nil)),
		tok("signed by a key whose JWK alg does not fit its curve", ruleAlgFitsKey, iss.Sign(t, "misfit", base, nil)),
		tok("signed by a 1024-bit RSA key", ruleBadKey, iss.Sign(t, "weak", base, nil)),

		// Keys only from the issuer (RFC 8725 §3.10; CVE-2018-0114).
		tok("embedded jwk, its own kid", ruleKeySource, attackerSigned("attacker", map[string]any{"jwk": attackerJWK})),
		tok("embedded jwk with a known kid", ruleKeySource, attackerSigned("rs256", map[string]any{"jwk": attackerJWK})),
		tok("embedded jwk and no kid", ruleKeySource, attackerSigned("", map[string]any{"jwk": attackerJWK})),
		tok("jku to the attacker's JWKS", ruleKeySource, attackerSigned("attacker", map[string]any{"jku": attacker.URL + "/jwks.json"})),
		tok("jku with a known kid", ruleKeySource, attackerSigned("rs256", map[string]any{"jku": attacker.URL + "/jwks.json"})),
		tok("x5u to the attacker's certificate", ruleKeySource, attackerSigned("rs256", map[string]any{"x5u": attacker.URL + "/cert.pem"})),
		// (A whole certificate makes the header larger than apiguard's
		// 512-byte header cap; the attacker's key in DER stays under it.)
		tok("x5c with the attacker's key", ruleKeySource, attackerSigned("attacker", map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(must(x509.MarshalPKIXPublicKey(attackerKey.Public())))}})),
		tok("x5c with a whole certificate (ignored, the key is the issuer's)", ruleKeySource, attackerSigned("rs256", map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}})),
		tok("another issuer's token with its jku", ruleKeySource, otherIssuer.Sign(t, "rs256", testissuer.With(base), map[string]any{"jku": otherIssuer.URL + "/keys"})),
		tok("kid path traversal", ruleKIDMapKey, attackerSigned("../../../../etc/passwd", nil)),
		tok("kid SQL injection", ruleKIDMapKey, attackerSigned("' OR '1'='1", nil)),
		tok("kid a URL", ruleKIDMapKey, attackerSigned(attacker.URL+"/jwks.json", nil)),
		tok("kid in upper case", ruleKIDMapKey, testissuer.SignWith(t, "RS256", iss.Key("rs256").Private, "RS256", base, nil)),
		tok("kid with a NUL", ruleKIDMapKey, testissuer.SignWith(t, "RS256", iss.Key("rs256").Private, "rs256\x00", base, nil)),
		tok("kid a number", ruleKIDMapKey, iss.SignRaw(t, "rs256", []byte(`{"alg":"RS256","kid":256}`), payload)),
		tok("kid an object", ruleKIDMapKey, iss.SignRaw(t, "rs256", []byte(`{"alg":"RS256","kid":{"$ne":""}}`), payload)),
		tok("no kid, several keys", ruleNoKIDSeveral, iss.Sign(t, "rs256", base, map[string]any{"kid": nil})),
		tok("empty kid, several keys", ruleNoKIDSeveral, iss.Sign(t, "rs256", base, map[string]any{"kid": ""})),

		// Signatures.
		tok("ECDSA r=s=0 (psychic signature)", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(make([]byte, 64))),
		tok("ECDSA r=0", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(append(make([]byte, 32), esSig[32:]...))),
		tok("ECDSA s=n", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(append(append([]byte(nil), esSig[:32]...), fixed(n256.Bytes(), 32)...))),
		tok("ECDSA r=n, s=n", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(append(fixed(n256.Bytes(), 32), fixed(n256.Bytes(), 32)...))),
		tok("ECDSA r+n (same point, out of range)", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(append(fixed(new(big.Int).Add(new(big.Int).SetBytes(esSig[:32]), n256).Bytes(), 33), esSig[32:]...))),
		tok("ECDSA DER-encoded signature", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(testissuer.DERSignature(esSig))),
		tok("ECDSA 63-byte signature", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(esSig[:63])),
		tok("ECDSA 65-byte signature (leading zero)", ruleECDSA, esH+"."+esP+"."+b64.EncodeToString(append([]byte{0}, esSig...))),
		tok("ES512 signature of 2×65 bytes", ruleECDSA, es512H+"."+es512P+"."+b64.EncodeToString(append(append([]byte(nil), es512Sig[1:66]...), es512Sig[67:]...))),
		tok("RSA signature with a leading zero byte", ruleRefused, h+"."+p+"."+b64.EncodeToString(append([]byte{0}, rsSig...))),
		tok("RSA signature truncated", ruleRefused, h+"."+p+"."+b64.EncodeToString(rsSig[:255])),
		tok("RSA signature with a flipped bit", ruleRefused, h+"."+p+"."+b64.EncodeToString(flipBit(rsSig))),
		tok("signed by another key under a known kid", ruleRefused, attackerSigned("rs256", nil)),
		tok("another issuer's key under a known kid", ruleRefused, otherIssuer.Sign(t, "rs256", base, nil)),
		tok("payload changed after signing", ruleRefused, h+"."+b64JSON(t, testissuer.With(base, "sub", "admin@example.com"))+"."+s),
		tok("header changed after signing", ruleRefused, b64.EncodeToString(header("typ", "at+jwt"))+"."+p+"."+s),
		tok("Ed25519 all-zero signature", ruleRefused, edH+"."+edP+"."+b64.EncodeToString(make([]byte, 64))),
		tok("Ed25519 signature with s ≥ L", ruleRefused, edH+"."+edP+"."+b64.EncodeToString(append(append([]byte(nil), edSig[:32]...), fixed([]byte{0xff}, 32)...))),

		// Claims (RFC 7519, RFC 9068 §4).
		tok("iss of another issuer", ruleIssuer, signed(testissuer.With(base, "iss", "https://evil.example/oauth2/default"))),
		tok("iss with a trailing slash", ruleIssuer, signed(testissuer.With(base, "iss", iss.URL+"/"))),
		tok("iss in upper case", ruleIssuer, signed(testissuer.With(base, "iss", strings.ToUpper(iss.URL)))),
		tok("iss missing", ruleIssuer, signed(testissuer.With(base, "iss", nil))),
		tok("iss a number", ruleIssuer, signed(testissuer.With(base, "iss", 1))),
		tok("iss an array with ours", ruleIssuer, signed(testissuer.With(base, "iss", []string{iss.URL}))),
		tok("aud the client id (the tutorial's bug)", ruleAudience, signed(testissuer.With(base, "aud", "0oa-test-client"))),
		tok("aud missing", ruleAudience, signed(testissuer.With(base, "aud", nil))),
		tok("aud an empty array", ruleAudience, signed(testissuer.With(base, "aud", []string{}))),
		tok("aud an array without ours", ruleAudience, signed(testissuer.With(base, "aud", []string{"api://other", "api://default2"}))),
		tok("aud with a trailing space", ruleAudience, signed(testissuer.With(base, "aud", "api://default "))),
		tok("aud a number", ruleAudience, signed(testissuer.With(base, "aud", 7))),
		tok("aud an object", ruleAudience, signed(testissuer.With(base, "aud", map[string]any{"api://default": true}))),
		tok("exp missing", ruleExp, signed(testissuer.With(base, "exp", nil))),
		tok("exp a string", ruleExp, signed(testissuer.With(base, "exp", "9999999999"))),
		tok("exp a boolean", ruleExp, signed(testissuer.With(base, "exp", true))),
		tok("exp null", ruleExp, signed(testissuer.With(base, "exp", json.RawMessage("null")))),
		tok("exp 1e300", ruleExp, iss.SignRaw(t, "rs256", header(), []byte(strings.Replace(string(payload), `"exp":`, `"exp":1e300,"was":`, 1)))),
		tok("exp zero", ruleExp, signed(testissuer.With(base, "exp", 0))),
		tok("exp 75s ago (beyond the 60s leeway)", ruleExp, signed(testissuer.With(base, "exp", at(-75*time.Second)))),
		tok("exp an hour ago", ruleExp, signed(testissuer.With(base, "exp", at(-time.Hour)))),
		tok("nbf in 75s (beyond the leeway)", ruleNbfIat, signed(testissuer.With(base, "nbf", at(75*time.Second)))),
		tok("nbf a string", ruleNbfIat, signed(testissuer.With(base, "nbf", "0"))),
		tok("iat in 75s (beyond the leeway)", ruleNbfIat, signed(testissuer.With(base, "iat", at(75*time.Second)))),
		tok("iat a day ahead", ruleIatFuture, signed(testissuer.With(base, "iat", at(24*time.Hour)))),
		tok("iat a string", ruleNbfIat, signed(testissuer.With(base, "iat", "now"))),
		tok("good signature, only aud wrong", ruleAnyOne, signed(testissuer.With(base, "aud", "api://other"))),
		tok("good signature, only exp past", ruleAnyOne, signed(testissuer.With(base, "exp", at(-2*time.Hour), "iat", at(-3*time.Hour)))),
		tok("ID token: nonce", ruleIDToken, signed(testissuer.With(base, "nonce", "n-0S6_WzA2Mj"))),
		tok("ID token: at_hash", ruleIDToken, signed(testissuer.With(base, "at_hash", "77QmUPtjPfzWtF2AnpK9RQ"))),
		tok("ID token: c_hash", ruleIDToken, signed(testissuer.With(base, "c_hash", "LDktKdoQak3Pk0cnXxCltA"))),
	}

	controls = []hostileCase{}
	for _, alg := range testissuer.Algorithms {
		controls = append(controls, hostileCase{name: "valid " + alg, token: iss.Sign(t, strings.ToLower(alg), base, nil)})
	}
	control := func(name, token string) { controls = append(controls, hostileCase{name: name, token: token}) }
	control("valid with aud an array holding ours", signed(testissuer.With(base, "aud", []string{"api://other", "api://default"})))
	control("valid with exp 45s ago (within the leeway)", signed(testissuer.With(base, "exp", at(-45*time.Second))))
	control("valid with nbf in 45s (within the leeway)", signed(testissuer.With(base, "nbf", at(45*time.Second))))
	control("valid with iat in 45s (within the leeway)", signed(testissuer.With(base, "iat", at(45*time.Second))))
	control("valid with typ at+jwt", iss.Sign(t, "es256", base, map[string]any{"typ": "at+jwt"}))
	control("valid with a jku header (ignored, not followed)", iss.Sign(t, "rs256", base, map[string]any{"jku": attacker.URL + "/jwks.json"}))
	control("valid with an x5u header (ignored, not followed)", iss.Sign(t, "ps256", base, map[string]any{"x5u": attacker.URL + "/cert.pem"}))
	control("valid with scope as a string", signed(testissuer.With(base, "scp", nil, "scope", "read write")))
	controls = append(controls,
		hostileCase{name: "valid, scheme in lower case", req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Authorization", "bearer "+good) })
		}},
		hostileCase{name: "valid, scheme in upper case", req: func(u string) *http.Request {
			return request(u, func(r *http.Request) { r.Header.Set("Authorization", "BEARER "+esGood) })
		}},
	)
	return refused, controls
}

func flipBit(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)/2] ^= 1
	return out
}

// nonCanonical returns a base64url character that decodes to the same
// bytes as c at the end of an encoding, with non-zero trailing bits.
func nonCanonical(c string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.Index(alphabet, c)|1])
}

// TestHostileTokens sends every hostile case to apiguard serve over HTTP
// and checks each is refused as SECURITY.md says, beside valid controls in
// every algorithm that must pass; nothing it was sent may be echoed in a
// response or logged.
func TestHostileTokens(t *testing.T) {
	iss := testissuer.New(t)
	// Keys the issuer publishes that must never verify: one for
	// encryption, one whose JWK alg does not fit its curve, one too weak.
	iss.AddKey(&testissuer.Key{ID: "enc-key", Alg: "RS256", JWKAlg: "RS256", Use: "enc", Private: testissuer.NewRSAKey(t, 2048)}, true)
	p256 := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	iss.AddKey(&testissuer.Key{ID: "misfit", Alg: "ES256", JWKAlg: "ES384", Use: "sig", Private: p256}, true)
	iss.AddKey(&testissuer.Key{ID: "weak", Alg: "RS256", JWKAlg: "RS256", Use: "sig", Private: testissuer.NewRSAKey(t, 1024)}, true)

	attackerKey := testissuer.NewRSAKey(t, 2048)
	certDER := selfSigned(t, attackerKey)
	attacker := newAttackerServer(t, jose.JSONWebKey{Key: attackerKey.Public(), KeyID: "attacker", Algorithm: "RS256", Use: "sig"},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))

	s := startServe(t, iss.URL)
	refused, controls := hostileCases(t, iss, attacker, attackerKey, certDER)
	if len(refused) < 80 {
		t.Fatalf("got %d hostile cases, want at least 80", len(refused))
	}
	t.Logf("%d hostile cases, %d valid controls", len(refused), len(controls))
	rules := securityRules(t)
	reasons := reasons()

	send := func(t *testing.T, c hostileCase) response {
		t.Helper()
		if c.req != nil {
			return s.do(t, c.req(s.URL))
		}
		return s.secureData(t, c.token)
	}

	// Controls first: they also load the keys.
	for _, c := range controls {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, c)
			if r.status != http.StatusOK {
				t.Fatalf("got %d %s (%s), want 200", r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
			var body struct {
				Message string         `json:"message"`
				User    map[string]any `json:"user"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil || body.User["sub"] != "user@example.com" {
				t.Errorf("got body %s, want the verified claims of user@example.com", r.body)
			}
		})
	}

	// unknownKID reports whether tok names a kid apiguard has no usable key
	// for: one the issuer does not publish, or one of the keys above that
	// apiguard skips.
	unknownKID := func(tok string) bool {
		h64, _, ok := strings.Cut(tok, ".")
		var h struct {
			Kid any `json:"kid"`
		}
		if !ok || json.Unmarshal(must(b64.DecodeString(h64)), &h) != nil {
			return false
		}
		kid, ok := h.Kid.(string)
		return ok && kid != "" && (iss.Key(kid) == nil || kid == "enc-key" || kid == "misfit" || kid == "weak")
	}
	fresh := 0
	var sent []string
	// Cases with unknown kids go last: each starts a serve of its own
	// (below), which takes time, and the cases whose claims are a few
	// seconds beyond the leeway (nbf, iat in 75s) must be sent first.
	ordered := make([]hostileCase, 0, len(refused))
	for _, c := range refused {
		if !unknownKID(c.token) {
			ordered = append(ordered, c)
		}
	}
	for _, c := range refused {
		if unknownKID(c.token) {
			ordered = append(ordered, c)
		}
	}
	for _, c := range ordered {
		t.Run(c.name, func(t *testing.T) {
			if c.rule == "" {
				t.Fatal("the case names no rule")
			}
			if !rules[c.rule] {
				t.Fatalf("rule %s is not in SECURITY.md", c.rule)
			}
			want, code := c.status, c.code
			if want == 0 {
				want = http.StatusUnauthorized
			}
			if code == "" && want == http.StatusUnauthorized {
				code = "invalid_token"
			}
			target := s
			if unknownKID(c.token) {
				// R-JWKS-3: an unknown kid is refused on the word of a fetch
				// made after it, and unknown kids may cause only a few
				// fetches per cooldown (past that the answer is 503, which
				// TestKIDFloodFetchBound holds). Each such case gets a serve
				// of its own, so its answer is the one for a fresh budget:
				// exactly 401, whatever the cases before it spent.
				target = startServe(t, iss.URL)
				testwait.For(t, "a fresh apiguard serve ready", func() bool {
					return target.do(t, must(http.NewRequest(http.MethodGet, target.URL+"/readyz", nil))).status == http.StatusOK
				})
				fresh++
			}
			var r response
			if c.req != nil {
				r = target.do(t, c.req(target.URL))
			} else {
				r = target.secureData(t, c.token)
			}
			if r.status != want {
				t.Fatalf("[%s] got status %d (%s %s), want %d", c.rule, r.status, r.header.Get("WWW-Authenticate"), r.body, want)
			}
			challenge := r.header.Get("WWW-Authenticate")
			switch {
			case want == http.StatusUnauthorized && !strings.HasPrefix(challenge, `Bearer realm="`):
				t.Errorf("[%s] got WWW-Authenticate %q, want a Bearer challenge with a realm", c.rule, challenge)
			case code == "-" && strings.Contains(challenge, "error="):
				t.Errorf("[%s] got WWW-Authenticate %q, want no error code", c.rule, challenge)
			case code != "-" && !strings.Contains(challenge, `error="`+code+`"`):
				t.Errorf("[%s] got WWW-Authenticate %q, want error=%q", c.rule, challenge, code)
			}
			if code == "invalid_token" {
				var body struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				if err := json.Unmarshal(r.body, &body); err != nil || body.Error != code {
					t.Errorf("[%s] got body %s, want JSON with error %q", c.rule, r.body, code)
				}
				ok := false
				for _, reason := range reasons[c.rule] {
					ok = ok || strings.HasPrefix(body.Description, reason)
				}
				if !ok {
					t.Errorf("[%s] refused for %q, want one of %q", c.rule, body.Description, reasons[c.rule])
				}
			}
			if want == http.StatusUnauthorized && !strings.Contains(challenge, `resource_metadata="`) {
				t.Errorf("[%s] got WWW-Authenticate %q, want resource_metadata (RFC 9728)", c.rule, challenge)
			}
			if c.token != "" {
				sent = append(sent, c.token)
				// ruleNoEcho: the answer never carries the token, nor its
				// signature.
				sig := c.token[strings.LastIndex(c.token, ".")+1:]
				for _, piece := range []string{c.token, sig} {
					if len(piece) >= 24 && (strings.Contains(string(r.body), piece) || strings.Contains(challenge, piece)) {
						t.Errorf("[%s] the response echoes the token", ruleNoEcho)
					}
				}
			}
		})
	}

	t.Logf("%d cases with unknown kids, each against a fresh apiguard serve", fresh)
	if n := attacker.hits.Load(); n != 0 {
		t.Errorf("[%s] the attacker's server got %d requests, want 0", ruleKeySource, n)
	}
	// ruleNoEcho: nothing sent is in serve's log.
	logs := s.Logs()
	for _, c := range controls {
		sent = append(sent, c.token)
	}
	for _, tok := range sent {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if len(sig) >= 24 && strings.Contains(logs, sig) {
			t.Errorf("[%s] serve logged a token (signature %.12s…)", ruleNoEcho, sig)
		}
	}
	for _, id := range []string{ruleNoEcho, ruleKeySource} {
		if !rules[id] {
			t.Errorf("rule %s is not in SECURITY.md", id)
		}
	}
}
