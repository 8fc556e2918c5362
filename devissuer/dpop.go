package devissuer

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// dpopWindow is how far a token request's DPoP proof iat may be from now.
const dpopWindow = time.Minute

// dpopAlgorithms are the proof algorithms the token endpoint accepts.
func dpopAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// dpopProof checks the DPoP proof of a token request (RFC 9449 §4.3, §5) and
// returns the SHA-256 thumbprint of its key, which the issued access token
// is bound to (cnf.jkt); "" when the request carries no proof.
func (iss *Issuer) dpopProof(r *http.Request) (string, *oauthError) {
	proofs := r.Header.Values("DPoP")
	switch {
	case len(proofs) == 0:
		return "", nil
	case len(proofs) > 1:
		return "", errDPoP("More than one DPoP proof.")
	case len(proofs[0]) > 8<<10:
		return "", errDPoP("The DPoP proof is too large.")
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range dpopAlgorithms() {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	jws, err := jose.ParseSignedCompact(proofs[0], algs)
	if err != nil {
		return "", errDPoP("The DPoP proof is not a JWS signed with an asymmetric algorithm and a public jwk.")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return "", errDPoP("The DPoP proof's typ must be dpop+jwt.")
	}
	if h.JSONWebKey == nil {
		return "", errDPoP("The DPoP proof has no jwk header.")
	}
	if k, ok := h.JSONWebKey.Key.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return "", errDPoP("The DPoP proof's RSA key is shorter than 2048 bits.")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return "", errDPoP("The DPoP proof's signature does not verify.")
	}
	var c struct {
		Jti string   `json:"jti"`
		Htm string   `json:"htm"`
		Htu string   `json:"htu"`
		Iat *float64 `json:"iat"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errDPoP("The DPoP proof's claims are malformed.")
	}
	now := iss.cfg.Now()
	switch {
	case c.Jti == "" || len(c.Jti) > 256:
		return "", errDPoP("The DPoP proof needs a jti.")
	case c.Htm != r.Method:
		return "", errDPoP("The DPoP proof's htm does not match the request method.")
	case !sameURL(c.Htu, iss.endpoint("token")):
		return "", errDPoP("The DPoP proof's htu does not match the token endpoint.")
	case c.Iat == nil:
		return "", errDPoP("The DPoP proof needs an iat.")
	}
	iat := time.Unix(int64(*c.Iat), 0)
	if iat.Before(now.Add(-dpopWindow)) || iat.After(now.Add(dpopWindow)) {
		return "", errDPoP("The DPoP proof's iat is too far from now.")
	}
	thumb, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", errDPoP("The DPoP proof's key has no thumbprint.")
	}
	jkt := base64.RawURLEncoding.EncodeToString(thumb)
	key := hashKey(jkt + "\x00" + c.Jti)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	for k, exp := range iss.proofs {
		if !now.Before(exp) {
			delete(iss.proofs, k)
		}
	}
	if exp, ok := iss.proofs[key]; ok && now.Before(exp) {
		return "", errDPoP("The DPoP proof was used before.")
	}
	iss.proofs[key] = now.Add(2 * dpopWindow)
	return jkt, nil
}

// sameURL compares two URLs without query and fragment, with the scheme
// and host case-insensitive.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Host == "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) && ua.Path == ub.Path
}

func errDPoP(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_dpop_proof", desc}
}

// tokenType is the token_type of a token response: DPoP for a bound token.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}
