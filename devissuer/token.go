package devissuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxFormBytes caps the body of every form post.
const maxFormBytes = 64 << 10

// codeGrant is an authorization code waiting to be redeemed.
type codeGrant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	user        *User
	scopes      []string
	authTime    time.Time
	expires     time.Time
	used        bool
	// What the code was exchanged for, revoked if the code is replayed
	// (RFC 6749 §4.1.2).
	issuedJTI     string
	issuedExpiry  time.Time
	issuedRefresh string
}

// refreshGrant is a refresh token. Tokens of one family descend from one
// authorization; replaying a rotated token revokes the whole family.
type refreshGrant struct {
	clientID string
	user     *User
	scopes   []string
	authTime time.Time
	issued   time.Time
	expires  time.Time
	family   string
	used     bool
}

// tokenResponse is the body of a successful token request (RFC 6749 §5.1).
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// hashKey is the map key under which a secret value (code, refresh token,
// session id) is stored, so a dump of the maps reveals no usable value.
func hashKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return string(sum[:])
}

// secretEqual compares two secrets in constant time, lengths included.
func secretEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// postForm parses a form post, refusing other methods, oversized bodies and
// repeated parameters (RFC 6749 §3.1). Query parameters are ignored.
func postForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "The endpoint accepts only POST."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("The request body could not be parsed as a form.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, errInvalidRequest("The '%s' parameter must not be repeated.", k)
		}
	}
	return r.PostForm, nil
}

// authenticateClient authenticates the client of a token, introspection or
// revocation request by client_secret_basic, client_secret_post, or (for a
// public client) its client_id alone.
func (iss *Issuer) authenticateClient(r *http.Request, form url.Values) (*Client, *oauthError) {
	id, secret, basic := r.BasicAuth()
	// RFC 6749 §2.3.1 form-encodes Basic credentials (x/oauth2 does); curl -u
	// and many clients send them raw. Either spelling of the secret is accepted.
	rawSecret := secret
	if basic {
		if uid, err := url.QueryUnescape(id); err == nil && iss.clients[id] == nil {
			id = uid
		}
		if s, err := url.QueryUnescape(secret); err == nil {
			secret = s
		}
		if form.Has("client_secret") {
			return nil, errInvalidRequest("Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header or credentials in the post body.")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return nil, errInvalidRequest("The 'client_id' parameter does not match the client authenticated in the Authorization header.")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid."}
	}
	c, ok := iss.clients[id]
	if !ok {
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "Invalid value for 'client_id' parameter."}
	}
	switch {
	case c.public() && secret != "":
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "The client is public and must not send a client secret."}
	case !c.public() && secret == "":
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid."}
	case !c.public() && !secretEqual(secret, c.Secret) && !(basic && secretEqual(rawSecret, c.Secret)):
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "The client secret supplied for a confidential client is invalid."}
	}
	return c, nil
}

func (iss *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, e := iss.token(w, r)
	if e != nil {
		iss.writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (iss *Issuer) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, *oauthError) {
	form, e := postForm(w, r)
	if e != nil {
		return nil, e
	}
	client, e := iss.authenticateClient(r, form)
	if e != nil {
		return nil, e
	}
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return nil, errInvalidRequest("The 'grant_type' parameter is required.")
	case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken:
	default:
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type",
			fmt.Sprintf("The authorization grant type is not supported by the authorization server: %q.", grant)}
	}
	if !client.allows(grant) {
		return nil, &oauthError{http.StatusBadRequest, "unauthorized_client",
			fmt.Sprintf("The client is not authorized to use the provided grant type. Configured grant types: [%s].", strings.Join(client.GrantTypes, ", "))}
	}
	// A DPoP proof binds the access token to the client's key (RFC 9449 §5).
	jkt, e := iss.dpopProof(r)
	if e != nil {
		return nil, e
	}
	switch grant {
	case GrantClientCredentials:
		return iss.clientCredentials(client, form, jkt)
	case GrantAuthorizationCode:
		return iss.redeemCode(client, form, jkt)
	default:
		return iss.redeemRefresh(client, form, jkt)
	}
}

// clientCredentials grants custom scopes only, as Okta does: OpenID Connect
// scopes are refused, and a request naming no scope gets the default scopes.
func (iss *Issuer) clientCredentials(client *Client, form url.Values, jkt string) (*tokenResponse, *oauthError) {
	requested := uniqueFields(form.Get("scope"))
	for _, s := range requested {
		if IsOIDCScope(s) {
			return nil, errInvalidScope("Cannot request '%s' scopes using client credentials. The client credentials grant allows custom scopes only.", s)
		}
	}
	if len(requested) == 0 {
		for _, s := range iss.cfg.Scopes {
			if s.Default && slices.Contains(client.Scopes, s.Name) {
				requested = append(requested, s.Name)
			}
		}
		if len(requested) == 0 {
			return nil, errInvalidScope("The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
		}
	}
	if e := iss.checkCustomScopes(client, requested); e != nil {
		return nil, e
	}
	at, _, _, err := iss.accessToken(client, nil, requested, time.Time{}, jkt)
	if err != nil {
		return nil, &oauthError{http.StatusInternalServerError, "server_error", "The token could not be signed."}
	}
	return &tokenResponse{TokenType: tokenType(jkt), ExpiresIn: int64(iss.cfg.AccessTokenTTL / time.Second),
		AccessToken: at, Scope: strings.Join(requested, " ")}, nil
}

// checkCustomScopes refuses scopes the server does not define and custom
// scopes the client may not ask for.
func (iss *Issuer) checkCustomScopes(client *Client, scopes []string) *oauthError {
	for _, s := range scopes {
		if IsOIDCScope(s) {
			continue
		}
		if !slices.ContainsFunc(iss.cfg.Scopes, func(c Scope) bool { return c.Name == s }) {
			return errInvalidScope("One or more scopes are not configured for the authorization server resource.")
		}
		if !slices.Contains(client.Scopes, s) {
			return errInvalidScope("The client is not allowed the scope '%s'.", s)
		}
	}
	return nil
}

func (iss *Issuer) redeemCode(client *Client, form url.Values, jkt string) (*tokenResponse, *oauthError) {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" {
		return nil, errInvalidRequest("The 'code' parameter is required.")
	}
	now := iss.cfg.Now()
	iss.mu.Lock()
	defer iss.mu.Unlock()
	g, ok := iss.codes[hashKey(code)]
	switch {
	case !ok || !now.Before(g.expires):
		return nil, errInvalidGrant("The authorization code is invalid or has expired.")
	case g.used:
		// A replayed code: revoke what it was exchanged for.
		iss.revoked[g.issuedJTI] = g.issuedExpiry
		iss.revokeFamilyLocked(g.issuedRefresh)
		return nil, errInvalidGrant("The authorization code is invalid or has expired.")
	case g.clientID != client.ID:
		return nil, errInvalidGrant("The authorization code is invalid or has expired.")
	case form.Get("redirect_uri") != g.redirectURI:
		return nil, errInvalidGrant("The 'redirect_uri' does not match the redirection URI used in the authorization request.")
	case verifier == "":
		return nil, errInvalidRequest("The 'code_verifier' parameter is required: PKCE was used in the authorization request.")
	case !validVerifier(verifier) || !secretEqual(s256(verifier), g.challenge):
		return nil, errInvalidGrant("PKCE verification failed.")
	}
	g.used = true
	resp, jti, exp, refresh, err := iss.userTokensLocked(client, g.user, g.scopes, g.authTime, g.nonce, "", jkt)
	if err != nil {
		return nil, &oauthError{http.StatusInternalServerError, "server_error", "The token could not be signed."}
	}
	g.issuedJTI, g.issuedExpiry, g.issuedRefresh = jti, exp, refresh
	return resp, nil
}

func (iss *Issuer) redeemRefresh(client *Client, form url.Values, jkt string) (*tokenResponse, *oauthError) {
	token := form.Get("refresh_token")
	if token == "" {
		return nil, errInvalidRequest("The 'refresh_token' parameter is required.")
	}
	now := iss.cfg.Now()
	iss.mu.Lock()
	defer iss.mu.Unlock()
	g, ok := iss.refresh[hashKey(token)]
	switch {
	case !ok || !now.Before(g.expires) || g.clientID != client.ID:
		return nil, errInvalidGrant("The refresh token is invalid or expired.")
	case g.used:
		// A rotated token was replayed: it may have been stolen.
		iss.revokeFamilyLocked(g.family)
		return nil, errInvalidGrant("The refresh token is invalid or expired.")
	}
	scopes := g.scopes
	if form.Has("scope") {
		scopes = uniqueFields(form.Get("scope"))
		for _, s := range scopes {
			if !slices.Contains(g.scopes, s) {
				return nil, errInvalidScope("The requested scope '%s' was not granted to the refresh token.", s)
			}
		}
	}
	g.used = true
	resp, _, _, _, err := iss.userTokensLocked(client, g.user, scopes, g.authTime, "", g.family, jkt)
	if err != nil {
		return nil, &oauthError{http.StatusInternalServerError, "server_error", "The token could not be signed."}
	}
	return resp, nil
}

// userTokensLocked issues the access token, the ID token when "openid" was
// granted and a refresh token when "offline_access" was granted and the
// client may refresh. family continues a refresh token family; empty starts
// one. jkt, when set, binds the access token to a DPoP key. It returns the
// access token's jti and expiry and the refresh family. The caller holds
// iss.mu.
func (iss *Issuer) userTokensLocked(client *Client, user *User, scopes []string, authTime time.Time, nonce, family, jkt string) (*tokenResponse, string, time.Time, string, error) {
	at, jti, exp, err := iss.accessToken(client, user, scopes, authTime, jkt)
	if err != nil {
		return nil, "", time.Time{}, "", err
	}
	resp := &tokenResponse{TokenType: tokenType(jkt), ExpiresIn: int64(iss.cfg.AccessTokenTTL / time.Second),
		AccessToken: at, Scope: strings.Join(scopes, " ")}
	if slices.Contains(scopes, "openid") {
		if resp.IDToken, err = iss.idToken(client, user, scopes, authTime, nonce, at); err != nil {
			return nil, "", time.Time{}, "", err
		}
	}
	if slices.Contains(scopes, "offline_access") && client.allows(GrantRefreshToken) {
		token, err := randomString(iss.cfg.Rand, 32)
		if err != nil {
			return nil, "", time.Time{}, "", err
		}
		if family == "" {
			family = hashKey(token)
		}
		now := iss.cfg.Now()
		iss.pruneLocked(now)
		iss.refresh[hashKey(token)] = &refreshGrant{clientID: client.ID, user: user, scopes: scopes,
			authTime: authTime, issued: now, expires: now.Add(iss.cfg.RefreshTokenTTL), family: family}
		resp.RefreshToken = token
	}
	return resp, jti, exp, family, nil
}

// revokeFamilyLocked ends every refresh token of a family. The caller holds iss.mu.
func (iss *Issuer) revokeFamilyLocked(family string) {
	if family == "" {
		return
	}
	for _, g := range iss.refresh {
		if g.family == family {
			g.used = true
		}
	}
}

// pruneLocked forgets expired codes, refresh tokens, revocations, logins,
// sessions and forgotten sign-in failures, at most once a minute so that
// inserts stay cheap; lookups check expiry themselves. The caller holds
// iss.mu.
func (iss *Issuer) pruneLocked(now time.Time) {
	if now.Sub(iss.lastPrune) < time.Minute {
		return
	}
	iss.lastPrune = now
	for k, g := range iss.codes {
		// Keep used codes until their tokens expire, to answer a replay.
		if !now.Before(g.expires) && !now.Before(g.issuedExpiry) {
			delete(iss.codes, k)
		}
	}
	for k, g := range iss.refresh {
		if !now.Before(g.expires) {
			delete(iss.refresh, k)
		}
	}
	for k, exp := range iss.revoked {
		if !now.Before(exp) {
			delete(iss.revoked, k)
		}
	}
	for k, l := range iss.logins {
		if !now.Before(l.expires) {
			delete(iss.logins, k)
		}
	}
	for k, s := range iss.sessions {
		if !now.Before(s.expires) {
			delete(iss.sessions, k)
		}
	}
	iss.userThrottle.prune(now)
	iss.addrThrottle.prune(now)
}

// accessToken signs an access token shaped like Okta's. user is nil for
// client credentials, where "sub" is the client id. jkt, when set, binds the
// token to a DPoP key (cnf.jkt, RFC 9449 §6).
func (iss *Issuer) accessToken(client *Client, user *User, scopes []string, authTime time.Time, jkt string) (token, jti string, exp time.Time, err error) {
	id, err := randomString(iss.cfg.Rand, 24)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("failed to generate token id: %w", err)
	}
	now := iss.cfg.Now()
	jti, exp = "AT."+id, now.Add(iss.cfg.AccessTokenTTL)
	claims := jwt.MapClaims{
		"ver": 1,
		"jti": jti,
		"iss": iss.cfg.Issuer,
		"aud": iss.cfg.Audience,
		"iat": now.Unix(),
		"exp": exp.Unix(),
		"cid": client.ID,
		"scp": scopes,
		"sub": client.ID,
	}
	if user != nil {
		claims["uid"] = user.ID
		claims["sub"] = user.Username
		claims["auth_time"] = authTime.Unix()
		claims["groups"] = userGroups(user)
	}
	if jkt != "" {
		claims["cnf"] = map[string]string{"jkt": jkt}
	}
	token, err = iss.sign(claims)
	return token, jti, exp, err
}

// idToken signs an ID token shaped like Okta's, with "at_hash" binding it to
// the access token issued beside it.
func (iss *Issuer) idToken(client *Client, user *User, scopes []string, authTime time.Time, nonce, accessToken string) (string, error) {
	id, err := randomString(iss.cfg.Rand, 24)
	if err != nil {
		return "", fmt.Errorf("failed to generate token id: %w", err)
	}
	now := iss.cfg.Now()
	sum := sha256.Sum256([]byte(accessToken))
	claims := jwt.MapClaims{
		"ver":       1,
		"jti":       "ID." + id,
		"iss":       iss.cfg.Issuer,
		"aud":       client.ID,
		"sub":       user.ID,
		"iat":       now.Unix(),
		"exp":       now.Add(iss.cfg.IDTokenTTL).Unix(),
		"auth_time": authTime.Unix(),
		"amr":       []string{"pwd"},
		"idp":       iss.orgID(),
		"at_hash":   base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	maps.Copy(claims, userInfoClaims(user, scopes))
	return iss.sign(claims)
}

// orgID is a stable Okta-style identity provider id for this issuer.
func (iss *Issuer) orgID() string {
	sum := sha256.Sum256([]byte(iss.cfg.Issuer))
	return "00o" + base64.RawURLEncoding.EncodeToString(sum[:])[:17]
}

// userInfoClaims are the profile claims released for scopes, as in ID tokens
// and at /v1/userinfo. "sub" is the caller's.
func userInfoClaims(user *User, scopes []string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "profile") {
		c["name"] = user.Name
		c["preferred_username"] = user.Username
	}
	if slices.Contains(scopes, "email") && user.Email != "" {
		c["email"] = user.Email
		c["email_verified"] = true
	}
	if slices.Contains(scopes, "groups") {
		c["groups"] = userGroups(user)
	}
	return c
}

// userGroups returns the user's groups, never nil, so the claim is an array.
func userGroups(user *User) []string {
	if user.Groups == nil {
		return []string{}
	}
	return user.Groups
}

// sign signs claims with the active key, with Okta's header: alg and kid.
func (iss *Issuer) sign(claims jwt.MapClaims) (string, error) {
	key := iss.keys.signer()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	delete(t.Header, "typ")
	t.Header["kid"] = key.id
	s, err := t.SignedString(key.priv)
	if err != nil {
		return "", fmt.Errorf("failed to sign token: %w", err)
	}
	return s, nil
}

// parseOwn checks a token this issuer signed: signature by a published key,
// RS256, "iss", and (unless allowExpired) "exp".
func (iss *Issuer) parseOwn(token string, allowExpired bool) (jwt.MapClaims, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(iss.cfg.Issuer),
		jwt.WithTimeFunc(iss.cfg.Now),
		jwt.WithExpirationRequired(),
	}
	if allowExpired {
		opts = append(opts, jwt.WithoutClaimsValidation())
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if key, ok := iss.keys.publicKey(kid); ok {
			return key, nil
		}
		return nil, errors.New("unknown key")
	})
	if err != nil {
		return nil, err
	}
	if allowExpired {
		if got, _ := claims.GetIssuer(); got != iss.cfg.Issuer {
			return nil, errors.New("wrong issuer")
		}
	}
	return claims, nil
}

// s256 is the PKCE S256 transform of a verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier reports whether v is a PKCE code verifier (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// uniqueFields splits a space-separated scope string, dropping repeats.
func uniqueFields(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
