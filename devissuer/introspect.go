package devissuer

import (
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// accessClaims checks an access token this issuer signed and not revoked.
func (iss *Issuer) accessClaims(token string) (jwt.MapClaims, bool) {
	claims, err := iss.parseOwn(token, false)
	if err != nil {
		return nil, false
	}
	jti, _ := claims["jti"].(string)
	if !strings.HasPrefix(jti, "AT.") {
		return nil, false
	}
	iss.mu.Lock()
	_, revoked := iss.revoked[jti]
	iss.mu.Unlock()
	return claims, !revoked
}

// scopesOf returns the "scp" claim of an access token.
func scopesOf(claims jwt.MapClaims) []string {
	raw, _ := claims["scp"].([]any)
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		if s, ok := s.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// serveUserinfo answers with the user's claims for an access token granted
// "openid", sent as a Bearer token in the Authorization header.
func (iss *Issuer) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	refuse := func(status int, code, desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+iss.cfg.Issuer+`", error="`+code+`", error_description="`+desc+`"`)
		iss.writeError(w, r, &oauthError{status, code, desc})
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+iss.cfg.Issuer+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "The access token is missing."})
		return
	}
	claims, ok := iss.accessClaims(token)
	if !ok {
		refuse(http.StatusUnauthorized, "invalid_token", "The access token is invalid.")
		return
	}
	uid, _ := claims["uid"].(string)
	user := iss.byID[uid]
	scopes := scopesOf(claims)
	if user == nil || !slices.Contains(scopes, "openid") {
		refuse(http.StatusForbidden, "insufficient_scope", "The access token must provide access to at least one of these scopes - openid")
		return
	}
	out := userInfoClaims(user, scopes)
	out["sub"] = user.ID
	writeJSON(w, http.StatusOK, out)
}

// serveIntrospect answers RFC 7662 introspection for an authenticated
// client. Access tokens and refresh tokens can be introspected; anything
// else, and anything expired or revoked, is {"active":false}.
func (iss *Issuer) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	form, e := postForm(w, r)
	if e == nil {
		_, e = iss.authenticateClient(r, form)
	}
	if e == nil && form.Get("token") == "" {
		e = errInvalidRequest("The 'token' parameter is required.")
	}
	if e != nil {
		iss.writeError(w, r, e)
		return
	}
	token := form.Get("token")
	if claims, ok := iss.accessClaims(token); ok {
		out := map[string]any{"active": true, "token_type": "Bearer", "scope": strings.Join(scopesOf(claims), " "),
			"client_id": claims["cid"]}
		if _, ok := claims["cnf"]; ok {
			out["token_type"] = "DPoP"
		}
		for _, k := range []string{"exp", "iat", "sub", "aud", "iss", "jti", "uid", "cnf"} {
			if v, ok := claims[k]; ok {
				out[k] = v
			}
		}
		if _, ok := claims["uid"]; ok {
			out["username"] = claims["sub"]
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	now := iss.cfg.Now()
	iss.mu.Lock()
	g, ok := iss.refresh[hashKey(token)]
	active := ok && !g.used && now.Before(g.expires)
	var out map[string]any
	if active {
		out = map[string]any{"active": true, "token_type": "refresh_token", "scope": strings.Join(g.scopes, " "),
			"client_id": g.clientID, "username": g.user.Username, "sub": g.user.Username, "uid": g.user.ID,
			"iat": g.issued.Unix(), "exp": g.expires.Unix(), "iss": iss.cfg.Issuer, "aud": iss.cfg.Audience}
	}
	iss.mu.Unlock()
	if !active {
		out = map[string]any{"active": false}
	}
	writeJSON(w, http.StatusOK, out)
}

// serveRevoke revokes an access or refresh token issued to the
// authenticated client (RFC 7009). Unknown tokens are answered 200, as the
// RFC asks; a token of another client is refused.
func (iss *Issuer) serveRevoke(w http.ResponseWriter, r *http.Request) {
	form, e := postForm(w, r)
	var client *Client
	if e == nil {
		client, e = iss.authenticateClient(r, form)
	}
	if e == nil && form.Get("token") == "" {
		e = errInvalidRequest("The 'token' parameter is required.")
	}
	if e == nil {
		e = iss.revoke(client, form.Get("token"))
	}
	if e != nil {
		iss.writeError(w, r, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (iss *Issuer) revoke(client *Client, token string) *oauthError {
	notYours := errInvalidRequest("The token was not issued to this client.")
	if claims, ok := iss.accessClaims(token); ok {
		if claims["cid"] != client.ID {
			return notYours
		}
		exp, _ := claims.GetExpirationTime()
		jti, _ := claims["jti"].(string)
		iss.mu.Lock()
		iss.revoked[jti] = exp.Time
		iss.mu.Unlock()
		return nil
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	g, ok := iss.refresh[hashKey(token)]
	if !ok {
		return nil
	}
	if g.clientID != client.ID {
		return notYours
	}
	iss.revokeFamilyLocked(g.family)
	return nil
}
