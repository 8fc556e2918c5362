// Package testissuer is a loopback OpenID provider for tests: it serves a
// discovery document and a JWK set over real HTTP (httptest), mints tokens
// in every algorithm, and can be made to rotate or drop keys, go down, go
// slow, or serve garbage, while counting the fetches it answers.
package testissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/testkey"
)

// Key is a signing key the issuer may publish.
type Key struct {
	ID      string
	Alg     string // the token alg used when signing with this key
	JWKAlg  string // the alg published in the JWK ("" to omit)
	Use     string // the use published ("" to omit)
	Private crypto.Signer
}

// Public returns the key's public JWK.
func (k *Key) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: k.JWKAlg, Use: k.Use}
}

// Issuer is a running test issuer.
type Issuer struct {
	URL    string // the issuer identifier (the server's URL)
	Server *httptest.Server

	mu             sync.Mutex
	keys           map[string]*Key // by kid: every key it can sign with
	published      []string        // kids in the JWKS, in order
	down           bool
	delay          time.Duration
	jwksBody       []byte // served instead of the JWKS when set
	issuerOverride string // discovery "issuer" when set
	cacheControl   string

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	noCacheFetches   atomic.Int64
}

// Algorithms lists the algorithms New creates keys for; each key's kid is
// the algorithm's name in lower case.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// New starts an issuer publishing one key per algorithm in [Algorithms],
// each with kid = lower-case alg and the alg in the JWK. It stops at the
// end of the test.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{keys: map[string]*Key{}, cacheControl: "max-age=300"}
	// One RSA key serves the six RS* and PS* algorithms: generating six
	// would slow every test that starts an issuer.
	rsaKey := NewKey(t, "RS256")
	for _, alg := range Algorithms {
		signer := rsaKey
		switch alg {
		case "ES256", "ES384", "ES512", "EdDSA":
			signer = NewKey(t, alg)
		}
		iss.AddKey(&Key{ID: kidFor(alg), Alg: alg, JWKAlg: alg, Use: "sig", Private: signer}, true)
	}
	iss.Server = httptest.NewServer(http.HandlerFunc(iss.serve))
	t.Cleanup(iss.Server.Close)
	iss.URL = iss.Server.URL
	return iss
}

func kidFor(alg string) string {
	b := []byte(alg)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// NewRSAKey generates an RSA key of bits.
func NewRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewKey generates a key for alg (see [testkey.New]), failing the test
// when it cannot.
func NewKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k, err := testkey.New(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// AddKey adds a key the issuer can sign with, publishing it when publish.
func (i *Issuer) AddKey(k *Key, publish bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys[k.ID] = k
	if publish {
		i.published = append(i.published, k.ID)
	}
}

// Key returns the key with kid.
func (i *Issuer) Key(kid string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[kid]
}

// Publish sets the kids published in the JWKS.
func (i *Issuer) Publish(kids ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = kids
}

// SetDown makes every request fail with a closed connection (down) or
// serve normally again.
func (i *Issuer) SetDown(down bool) { i.mu.Lock(); i.down = down; i.mu.Unlock() }

// SetDelay delays every response by d.
func (i *Issuer) SetDelay(d time.Duration) { i.mu.Lock(); i.delay = d; i.mu.Unlock() }

// SetJWKSBody serves body instead of the JWKS (nil: back to normal).
func (i *Issuer) SetJWKSBody(body []byte) { i.mu.Lock(); i.jwksBody = body; i.mu.Unlock() }

// SetDiscoveryIssuer makes the discovery document name another issuer.
func (i *Issuer) SetDiscoveryIssuer(iss string) { i.mu.Lock(); i.issuerOverride = iss; i.mu.Unlock() }

// SetCacheControl sets the JWKS response's Cache-Control.
func (i *Issuer) SetCacheControl(v string) { i.mu.Lock(); i.cacheControl = v; i.mu.Unlock() }

// JWKSFetches counts JWKS responses served.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// NoCacheFetches counts JWKS requests that carried Cache-Control: no-cache.
func (i *Issuer) NoCacheFetches() int { return int(i.noCacheFetches.Load()) }

// DiscoveryFetches counts discovery documents served.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	down, delay := i.down, i.delay
	i.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		i.discoveryFetches.Add(1)
		i.mu.Lock()
		iss := i.URL
		if i.issuerOverride != "" {
			iss = i.issuerOverride
		}
		i.mu.Unlock()
		writeJSON(w, map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              i.URL + "/keys",
			"authorization_endpoint":                i.URL + "/authorize",
			"token_endpoint":                        i.URL + "/token",
			"id_token_signing_alg_values_supported": Algorithms,
		})
	case "/keys":
		i.jwksFetches.Add(1)
		if r.Header.Get("Cache-Control") == "no-cache" {
			i.noCacheFetches.Add(1)
		}
		i.mu.Lock()
		body := i.jwksBody
		cc := i.cacheControl
		var set jose.JSONWebKeySet
		for _, kid := range i.published {
			set.Keys = append(set.Keys, i.keys[kid].Public())
		}
		i.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if body != nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
			return
		}
		writeJSON(w, set)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Claims returns valid Okta-shaped access token claims issued now.
func (i *Issuer) Claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"ver": 1,
		"jti": "AT.test-" + fmt.Sprint(now.UnixNano()),
		"iss": i.URL,
		"aud": "api://default",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"cid": "0oa-test-client",
		"uid": "00u-test-user",
		"scp": []string{"read", "write"},
		"sub": "user@example.com",
	}
}

// Sign signs claims with the key kid using the key's algorithm; the header
// carries kid. extraHeader entries are added to (or, with nil values,
// removed from) the header.
func (i *Issuer) Sign(t testing.TB, kid string, claims jwt.Claims, extraHeader map[string]any) string {
	t.Helper()
	k := i.Key(kid)
	if k == nil {
		t.Fatalf("testissuer: no key %q", kid)
	}
	return SignWith(t, k.Alg, k.Private, kid, claims, extraHeader)
}

// SignRaw signs header.payload, each given as the exact bytes to encode
// (so they may be malformed, repeat names or use odd encodings), with the
// key kid using the key's algorithm, and returns the compact token.
func (i *Issuer) SignRaw(t testing.TB, kid string, header, payload []byte) string {
	t.Helper()
	k := i.Key(kid)
	if k == nil {
		t.Fatalf("testissuer: no key %q", kid)
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.GetSigningMethod(k.Alg).Sign(signing, k.Private)
	if err != nil {
		t.Fatalf("testissuer: sign: %v", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// DERSignature re-encodes a JWS ECDSA signature (r || s, each half of raw)
// as ASN.1 DER, the form JWS forbids.
func DERSignature(raw []byte) []byte {
	type sig struct{ R, S *big.Int }
	r := new(big.Int).SetBytes(raw[:len(raw)/2])
	s := new(big.Int).SetBytes(raw[len(raw)/2:])
	der, err := asn1.Marshal(sig{r, s})
	if err != nil {
		panic(err) // two integers always marshal
	}
	return der
}

// SignWith signs claims with any key and algorithm.
func SignWith(t testing.TB, alg string, key any, kid string, claims jwt.Claims, extraHeader map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range extraHeader {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("testissuer: sign: %v", err)
	}
	return s
}

// With returns a copy of c with the claims in kv (name, value, name,
// value, …) set; a nil value deletes the claim.
func With(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := make(jwt.MapClaims, len(c)+len(kv)/2)
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}
