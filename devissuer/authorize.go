package devissuer

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sessionCookie names the issuer's own browser session, scoped to its path.
const sessionCookie = "devissuer_session"

// maxPendingLogins bounds the login forms waiting for a user, so a loop
// fetching /v1/authorize cannot grow memory without end.
const maxPendingLogins = 10000

// validChallenge reports whether c is an S256 code challenge: the
// base64url encoding, without padding, of a SHA-256 hash.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// loginRequest is a validated authorization request waiting for the user to
// sign in through the form.
type loginRequest struct {
	client      *Client
	redirectURI string
	state       string
	nonce       string
	challenge   string
	scopes      []string
	loginHint   string
	expires     time.Time
}

// browserSession is the issuer's single sign-on session.
type browserSession struct {
	user     *User
	authTime time.Time
	expires  time.Time
}

// pageHTML is the template of every page the issuer shows.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · apiguard development issuer</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5rem}.err{color:#a00}
label{display:block;margin:.75rem 0}input{width:100%;padding:.4rem}</style></head>
<body><p class="warn">Development issuer: not for production use.</p>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Request}}<form method="post" action="{{.Action}}">
<p>Sign in to <strong>{{.ClientName}}</strong>.</p>
<input type="hidden" name="request" value="{{.Request}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Username <input id="username" name="username" autocomplete="username" value="{{.Username}}" required autofocus></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
<button id="submit" type="submit" name="action" value="login">Sign in</button>
<button id="cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>{{end}}
</body></html>
`

// page is the data of pageTemplate.
type page struct {
	Title, Error, Message                       string
	Action, Request, CSRF, ClientName, Username string
}

func (iss *Issuer) renderPage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers apply it to the redirect that follows the
	// login post, and the client's redirect URI is on another origin.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = iss.page.Execute(w, p)
}

// errorPage shows an authorization error that must not be sent to a
// redirect URI, because the client or the redirect URI is not trusted.
func (iss *Issuer) errorPage(w http.ResponseWriter, r *http.Request, code, desc string) {
	iss.cfg.Logger.Info("development issuer refused a request", "path", r.URL.Path, "error", code, "description", desc)
	iss.renderPage(w, http.StatusBadRequest, page{Title: "Sign-in error", Error: code + ": " + desc})
}

// redirectTo sends the browser to target with params added to its query.
func redirectTo(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil { // registered URIs were parsed at start-up
		http.Error(w, "bad redirect URI", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), status)
}

// redirectError returns an authorization error to the client's redirect URI
// (RFC 6749 §4.1.2.1).
func (iss *Issuer) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	iss.cfg.Logger.Info("development issuer refused a request", "path", r.URL.Path, "error", code, "description", desc)
	p := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		p.Set("state", state)
	}
	redirectTo(w, r, redirectURI, p)
}

func (iss *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		iss.authorize(w, r)
	case http.MethodPost:
		iss.login(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// authorize validates an authorization request and either issues a code at
// once (a live session) or shows the login form.
func (iss *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			iss.errorPage(w, r, "invalid_request", "The '"+k+"' parameter must not be repeated.")
			return
		}
	}
	client, ok := iss.clients[q.Get("client_id")]
	if !ok {
		iss.errorPage(w, r, "invalid_client", "Invalid value for 'client_id' parameter.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		iss.errorPage(w, r, "invalid_request", "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { iss.redirectError(w, r, redirectURI, state, code, desc) }
	scopes := uniqueFields(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "The response type is not supported by the authorization server. Supported: code.")
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		fail("invalid_request", "The 'response_mode' parameter is not supported. Supported: query.")
	case q.Has("request") || q.Has("request_uri"):
		fail("request_not_supported", "Request objects are not supported.")
	case state == "":
		fail("invalid_request", "The 'state' parameter is required.")
	case !client.allows(GrantAuthorizationCode):
		fail("unauthorized_client", "The client is not authorized to use the authorization code grant.")
	case q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE is required: the 'code_challenge' parameter is missing.")
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "The 'code_challenge_method' parameter must be S256.")
	case !validChallenge(q.Get("code_challenge")):
		fail("invalid_request", "The 'code_challenge' parameter is not a base64url-encoded SHA-256 hash.")
	case len(scopes) == 0:
		fail("invalid_scope", "The 'scope' parameter is required.")
	default:
		if e := iss.checkCustomScopes(client, scopes); e != nil {
			fail(e.code, e.description)
			return
		}
		lr := &loginRequest{client: client, redirectURI: redirectURI, state: state, nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), scopes: scopes, loginHint: q.Get("login_hint")}
		iss.continueAuthorize(w, r, lr, q.Get("prompt"))
	}
}

func (iss *Issuer) continueAuthorize(w http.ResponseWriter, r *http.Request, lr *loginRequest, prompt string) {
	switch prompt {
	case "", "none", "login", "consent":
	default:
		iss.redirectError(w, r, lr.redirectURI, lr.state, "invalid_request", "The 'prompt' parameter is not supported.")
		return
	}
	if prompt != "login" {
		if s := iss.session(r); s != nil {
			iss.issueCode(w, r, lr, s.user, s.authTime)
			return
		}
	}
	if prompt == "none" {
		iss.redirectError(w, r, lr.redirectURI, lr.state, "login_required", "The user is not logged in.")
		return
	}
	id, err := randomString(iss.cfg.Rand, 24)
	if err != nil {
		http.Error(w, "failed to start sign-in", http.StatusInternalServerError)
		return
	}
	now := iss.cfg.Now()
	lr.expires = now.Add(loginTTL)
	iss.mu.Lock()
	iss.pruneLocked(now)
	full := len(iss.logins) >= maxPendingLogins
	if !full {
		iss.logins[id] = lr
	}
	iss.mu.Unlock()
	if full {
		iss.renderPage(w, http.StatusServiceUnavailable, page{Title: "Sign-in error", Error: "Too many sign-ins in progress; try again in a few minutes."})
		return
	}
	iss.loginForm(w, r, http.StatusOK, id, lr, lr.loginHint, "")
}

// loginForm shows the sign-in form of pending request id, with its CSRF
// token for this browser (setting the browser's binding cookie if needed)
// and an optional error.
func (iss *Issuer) loginForm(w http.ResponseWriter, r *http.Request, status int, id string, lr *loginRequest, username, errMsg string) {
	binding, err := iss.browserBinding(w, r)
	if err != nil {
		http.Error(w, "failed to start sign-in", http.StatusInternalServerError)
		return
	}
	iss.renderPage(w, status, page{Title: "Sign in", Error: errMsg, Action: iss.path + "/v1/authorize", Request: id,
		CSRF: iss.csrfToken(id, binding), ClientName: clientName(lr.client), Username: username})
}

// waitText says how long d is, rounded up, for a person.
func waitText(d time.Duration) string {
	if s := int((d + time.Second - 1) / time.Second); s < 120 {
		if s == 1 {
			return "1 second"
		}
		return strconv.Itoa(s) + " seconds"
	}
	return strconv.Itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
}

// retryAfter is the Retry-After value of d: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

func clientName(c *Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// login checks the posted form; on success it starts a session and sends
// the browser back to the client with a code. A post from another origin,
// or without the CSRF token of its request for this browser, is refused
// before anything else; password attempts are throttled (see throttle.go).
func (iss *Issuer) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		iss.errorPage(w, r, "invalid_request", "The form could not be read.")
		return
	}
	if why := iss.crossOrigin(r); why != "" {
		iss.cfg.Logger.Info("development issuer refused a cross-origin sign-in", "reason", why)
		iss.renderPage(w, http.StatusForbidden, page{Title: "Sign-in error",
			Error: "This sign-in was sent from another site and was refused. Sign in from the application instead."})
		return
	}
	id := r.PostForm.Get("request")
	now := iss.cfg.Now()
	iss.mu.Lock()
	lr, ok := iss.logins[id]
	if ok && !now.Before(lr.expires) {
		delete(iss.logins, id)
		ok = false
	}
	iss.mu.Unlock()
	if !ok {
		iss.errorPage(w, r, "invalid_request", "This sign-in request is unknown or has expired; start again from the application.")
		return
	}
	if !iss.validCSRF(r, id) {
		iss.cfg.Logger.Info("development issuer refused a sign-in without its CSRF token", "client_id", lr.client.ID)
		iss.renderPage(w, http.StatusForbidden, page{Title: "Sign-in error",
			Error: "This sign-in form was not shown to this browser, or its cookie is missing; start again from the application."})
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		iss.dropLogin(id)
		iss.redirectError(w, r, lr.redirectURI, lr.state, "access_denied", "The resource owner or authorization server denied the request.")
		return
	}
	username := r.PostForm.Get("username")
	addr := clientAddress(r)
	if wait := iss.beginSignIn(username, addr, now); wait > 0 {
		iss.cfg.Logger.Info("development issuer throttled a sign-in", "client_id", lr.client.ID, "address", addr, "retry_after", wait)
		w.Header().Set("Retry-After", retryAfter(wait))
		iss.loginForm(w, r, http.StatusTooManyRequests, id, lr, username,
			"Too many failed sign-ins for this username or from your address. Wait "+waitText(wait)+", then try again.")
		return
	}
	user, known := iss.users[username]
	// An unknown username costs the same comparison as a wrong password, so
	// the time of the answer does not tell which users exist.
	want := "\x00no such user"
	if known {
		want = user.Password
	}
	if !secretEqual(r.PostForm.Get("password"), want) || !known {
		wait := iss.endSignIn(username, addr, false, now)
		iss.cfg.Logger.Info("development issuer refused a sign-in", "client_id", lr.client.ID, "address", addr)
		msg := "Sign-in failed: unknown username or wrong password."
		if wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			msg += " Too many failed sign-ins: wait " + waitText(wait) + " before trying again."
		}
		iss.loginForm(w, r, http.StatusUnauthorized, id, lr, username, msg)
		return
	}
	iss.endSignIn(username, addr, true, now)
	if !iss.dropLogin(id) { // used by a concurrent post
		iss.errorPage(w, r, "invalid_request", "This sign-in request is unknown or has expired; start again from the application.")
		return
	}
	if err := iss.startSession(w, r, user, now); err != nil {
		http.Error(w, "failed to start session", http.StatusInternalServerError)
		return
	}
	iss.issueCode(w, r, lr, user, now)
}

// dropLogin removes a pending login, reporting whether it was still there.
func (iss *Issuer) dropLogin(id string) bool {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	_, ok := iss.logins[id]
	delete(iss.logins, id)
	return ok
}

func (iss *Issuer) issueCode(w http.ResponseWriter, r *http.Request, lr *loginRequest, user *User, authTime time.Time) {
	code, err := randomString(iss.cfg.Rand, 32)
	if err != nil {
		http.Error(w, "failed to issue code", http.StatusInternalServerError)
		return
	}
	now := iss.cfg.Now()
	iss.mu.Lock()
	iss.pruneLocked(now)
	iss.codes[hashKey(code)] = &codeGrant{clientID: lr.client.ID, redirectURI: lr.redirectURI, challenge: lr.challenge,
		nonce: lr.nonce, user: user, scopes: lr.scopes, authTime: authTime, expires: now.Add(CodeTTL)}
	iss.mu.Unlock()
	redirectTo(w, r, lr.redirectURI, url.Values{"code": {code}, "state": {lr.state}})
}

func (iss *Issuer) cookiePath() string {
	if iss.path == "" {
		return "/"
	}
	return iss.path
}

// startSession replaces any session of the browser with a new one.
func (iss *Issuer) startSession(w http.ResponseWriter, r *http.Request, user *User, now time.Time) error {
	id, err := randomString(iss.cfg.Rand, 32)
	if err != nil {
		return err
	}
	iss.endSession(w, r)
	iss.mu.Lock()
	iss.sessions[hashKey(id)] = &browserSession{user: user, authTime: now, expires: now.Add(sessionTTL)}
	iss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: iss.cookiePath(), HttpOnly: true,
		Secure: strings.HasPrefix(iss.cfg.Issuer, "https:"), SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL / time.Second)})
	return nil
}

// session returns the browser's live session, or nil.
func (iss *Issuer) session(r *http.Request) *browserSession {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := iss.cfg.Now()
	iss.mu.Lock()
	defer iss.mu.Unlock()
	s, ok := iss.sessions[hashKey(c.Value)]
	if !ok || !now.Before(s.expires) {
		return nil
	}
	return s
}

// endSession deletes the browser's session, server side and cookie.
func (iss *Issuer) endSession(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return
	}
	iss.mu.Lock()
	delete(iss.sessions, hashKey(c.Value))
	iss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: iss.cookiePath(), HttpOnly: true,
		Secure: strings.HasPrefix(iss.cfg.Issuer, "https:"), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// serveLogout ends the session (OpenID Connect RP-Initiated Logout):
// id_token_hint is required and names the client, whose registered
// post_logout_redirect_uri receives the browser with state.
func (iss *Issuer) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		iss.errorPage(w, r, "invalid_request", "The request could not be read.")
		return
	}
	hint := r.Form.Get("id_token_hint")
	if hint == "" {
		iss.errorPage(w, r, "invalid_request", "The 'id_token_hint' parameter is required.")
		return
	}
	claims, err := iss.parseOwn(hint, true)
	if err != nil {
		iss.errorPage(w, r, "invalid_request", "The 'id_token_hint' parameter is not an ID token issued by this server.")
		return
	}
	aud, _ := claims.GetAudience()
	jti, _ := claims["jti"].(string)
	var client *Client
	if len(aud) == 1 && strings.HasPrefix(jti, "ID.") {
		client = iss.clients[aud[0]]
	}
	if client == nil {
		iss.errorPage(w, r, "invalid_request", "The 'id_token_hint' parameter is not an ID token issued by this server.")
		return
	}
	target := r.Form.Get("post_logout_redirect_uri")
	if target != "" && !slices.Contains(client.PostLogoutRedirectURIs, target) {
		iss.errorPage(w, r, "invalid_request", "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings.")
		return
	}
	iss.endSession(w, r)
	if target == "" {
		iss.renderPage(w, http.StatusOK, page{Title: "Signed out", Message: "You are signed out of the development issuer."})
		return
	}
	p := url.Values{}
	if s := r.Form.Get("state"); s != "" {
		p.Set("state", s)
	}
	redirectTo(w, r, target, p)
}
