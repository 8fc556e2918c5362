package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/session"
)

// errRevoked means the refresh token was refused: the user must log in again.
var errRevoked = errors.New("refresh token refused")

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.client)
}

func redirect(w http.ResponseWriter, target string, status int) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", target)
	w.WriteHeader(status)
}

// loadFailed answers a failed session load that is not "no session" or
// "expired": the store is down (503) or something else broke (500).
func (s *Service) loadFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, session.ErrUnavailable) {
		s.log.Warn("login: session store unavailable", "error", err)
		s.pageUnavailable(w)
		return
	}
	s.log.Error("login: session failure", "error", err)
	s.pageInternal(w)
}

// handleLogin starts a login: a fresh PKCE verifier, state and nonce kept in
// the browser's session, then a redirect to the issuer.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	returnTo := s.path(DefaultReturnTo)
	if q := r.URL.Query(); q.Has("return_to") {
		rt := q.Get("return_to")
		if len(q["return_to"]) != 1 || !safeReturnTo(rt) {
			s.log.Info("login: refused return_to")
			s.pageBadReturnTo(w)
			return
		}
		if !loops(strings.TrimPrefix(rt, s.base)) {
			returnTo = rt
		}
	}
	prov, err := s.disc.get(r.Context())
	if err != nil {
		s.log.Warn("login: discovery failed", "error", err)
		s.pageIssuerDown(w)
		return
	}
	sess, err := s.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession), errors.Is(err, session.ErrExpired):
		sess = s.sessions.New()
	case err != nil:
		s.loadFailed(w, err)
		return
	}
	d := decode(sess.Data)
	now := s.now()
	if d.User == nil {
		// A session that only holds logins in progress lives as long as
		// they do, so abandoned logins do not fill the store.
		sess.Until = now.Add(loginTTL)
	}
	p := pending{State: randomString(), Verifier: oauth2.GenerateVerifier(), Nonce: randomString(), ReturnTo: returnTo, Created: now}
	d.Pending = slices.DeleteFunc(d.Pending, func(p pending) bool { return !now.Before(p.Created.Add(loginTTL)) })
	if len(d.Pending) >= maxPending {
		d.Pending = d.Pending[len(d.Pending)-maxPending+1:]
	}
	d.Pending = append(d.Pending, p)
	sess.Data = d.encode()
	if err := s.sessions.Save(r.Context(), w, sess); err != nil {
		s.loadFailed(w, err)
		return
	}
	target := s.oauthConfig(prov).AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier), oauth2.SetAuthURLParam("nonce", p.Nonce))
	redirect(w, target, http.StatusFound)
}

// takePending removes and returns the live pending login whose state
// matches, comparing in constant time.
func takePending(d *data, state string, now time.Time) (pending, bool) {
	if state == "" {
		return pending{}, false
	}
	for i, p := range d.Pending {
		if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) == 1 {
			d.Pending = slices.Delete(d.Pending, i, i+1)
			return p, now.Before(p.Created.Add(loginTTL))
		}
	}
	return pending{}, false
}

// handleCallback finishes a login.
func (s *Service) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, err := s.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession), errors.Is(err, session.ErrExpired):
		s.log.Info("login: callback without a session")
		s.pageBadState(w)
		return
	case err != nil:
		s.loadFailed(w, err)
		return
	}
	d := decode(sess.Data)
	q := r.URL.Query()
	p, ok := takePending(d, q.Get("state"), s.now())
	if !ok {
		s.log.Info("login: callback with an unknown, used or expired state")
		s.pageBadState(w)
		return
	}
	// The login is used up whatever happens next.
	sess.Data = d.encode()
	if err := s.sessions.Save(ctx, nil, sess); err != nil {
		s.loadFailed(w, err)
		return
	}
	if code := q.Get("error"); code != "" {
		s.log.Info("login: the issuer returned an error", "error", safeCode(code))
		if code == "access_denied" {
			s.pageDenied(w)
		} else {
			s.pageIssuerError(w, safeCode(code))
		}
		return
	}
	code := q.Get("code")
	if code == "" {
		s.pageIssuerError(w, "no code")
		return
	}
	prov, err := s.disc.get(ctx)
	if err != nil {
		s.log.Warn("login: discovery failed", "error", err)
		s.pageIssuerDown(w)
		return
	}
	tok, err := s.oauthConfig(prov).Exchange(s.oauthContext(ctx), code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		s.log.Warn("login: code exchange failed", "error", describeOAuthError(err))
		s.pageIssuerDown(w)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		s.log.Warn("login: token response has no id_token")
		s.pageIssuerDown(w)
		return
	}
	idc, err := s.idv.Verify(ctx, rawID)
	if err != nil {
		s.log.Warn("login: ID token refused", "reason", apiguard.Reason(err), "error", err)
		s.pageIssuerDown(w)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idc.Nonce), []byte(p.Nonce)) != 1 {
		s.log.Warn("login: ID token nonce does not match the login")
		s.pageBadState(w)
		return
	}
	u := userFrom(idc)
	t := s.tokensFrom(tok, nil)
	t.ID = rawID
	if s.access != nil {
		if ac, err := s.access.Verify(ctx, tok.AccessToken); err == nil {
			t.Scopes = ac.Scopes
			if len(u.Groups) == 0 {
				u.Groups = ac.Groups
			}
		} else {
			s.log.Warn("login: access token refused by the access verifier", "reason", apiguard.Reason(err))
		}
	}
	if err := s.sessions.Rotate(ctx, sess); err != nil {
		s.loadFailed(w, err)
		return
	}
	// Logins still in flight in other tabs stay valid; they will rotate the
	// session again when they come back.
	sess.Data = (&data{Pending: d.Pending, User: u, Tokens: t}).encode()
	if err := s.sessions.Save(ctx, w, sess); err != nil {
		s.loadFailed(w, err)
		return
	}
	s.log.Info("login: user logged in", "sub", u.Subject)
	redirect(w, p.ReturnTo, http.StatusSeeOther)
}

// safeCode keeps an OAuth error code printable: letters, digits and _.
func safeCode(c string) string {
	if len(c) > 64 || strings.IndexFunc(c, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return "error"
	}
	return c
}

// describeOAuthError returns err's OAuth error code, or its HTTP status,
// for logs; never the response body.
func describeOAuthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return re.ErrorCode
		}
		if re.Response != nil {
			return "token endpoint answered " + re.Response.Status
		}
		return "token endpoint refused the request"
	}
	return err.Error()
}

func userFrom(c *apiguard.Claims) *user {
	u := &user{Subject: c.Subject, Groups: c.Groups}
	u.Name = stringClaim(c, "name")
	if u.Name == "" {
		u.Name = stringClaim(c, "preferred_username")
	}
	u.Email = stringClaim(c, "email")
	return u
}

func stringClaim(c *apiguard.Claims, name string) string {
	v, _ := c.Claim(name)
	s, _ := v.(string)
	return s
}

// tokensFrom builds the session's tokens from a token response, keeping
// old's refresh token and scopes when the response leaves them out.
func (s *Service) tokensFrom(tok *oauth2.Token, old *tokens) *tokens {
	t := &tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken}
	switch {
	case tok.ExpiresIn > 0:
		t.Expiry = s.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero():
		t.Expiry = tok.Expiry
	}
	if sc, ok := tok.Extra("scope").(string); ok {
		t.Scopes = strings.Fields(sc)
	}
	if old != nil {
		// A refresh may bring a new ID token (Okta's does with openid); it
		// serves as the id_token_hint at logout, so keep the newest one.
		t.ID = old.ID
		if id, ok := tok.Extra("id_token").(string); ok && id != "" {
			t.ID = id
		}
		if t.Refresh == "" {
			t.Refresh = old.Refresh
		}
		if t.Scopes == nil {
			t.Scopes = old.Scopes
		}
	}
	return t
}

// recentRefresh remembers the result of a refresh for a short while, so a
// request that loaded the session just before another one refreshed it
// does not present the old, rotated refresh token again.
type recentRefresh struct {
	tokens  *tokens
	expires time.Time
}

// recentTTL bounds how long a refresh result is reused.
const recentTTL = 30 * time.Second

// fresh refreshes d's access token when it expires within RefreshBefore.
// It reports whether d changed. errRevoked means the user must log in again;
// other errors wrap ErrProvider and are returned only when the current
// access token has expired.
func (s *Service) fresh(ctx context.Context, d *data) (bool, error) {
	t := d.Tokens
	now := s.now()
	if t == nil || t.Expiry.IsZero() || now.Before(t.Expiry.Add(-s.refreshBefore)) {
		return false, nil
	}
	if t.Refresh == "" {
		if now.Before(t.Expiry) {
			return false, nil
		}
		return false, errRevoked
	}
	sum := sha256.Sum256([]byte(t.Refresh))
	key := string(sum[:])
	s.recentMu.Lock()
	if r, ok := s.recent[key]; ok && now.Before(r.expires) {
		s.recentMu.Unlock()
		nt := *r.tokens
		d.Tokens = &nt
		return true, nil
	}
	s.recentMu.Unlock()

	v, err, _ := s.refreshes.Do(key, func() (any, error) {
		prov, err := s.disc.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProvider, err)
		}
		ts := s.oauthConfig(prov).TokenSource(s.oauthContext(ctx), &oauth2.Token{RefreshToken: t.Refresh})
		tok, err := ts.Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				return nil, errRevoked
			}
			return nil, fmt.Errorf("%w: failed to refresh the access token: %s", ErrProvider, describeOAuthError(err))
		}
		nt := s.tokensFrom(tok, t)
		s.recentMu.Lock()
		for k, r := range s.recent {
			if !now.Before(r.expires) {
				delete(s.recent, k)
			}
		}
		s.recent[key] = recentRefresh{tokens: nt, expires: now.Add(recentTTL)}
		s.recentMu.Unlock()
		return nt, nil
	})
	if err != nil {
		if !errors.Is(err, errRevoked) && now.Before(t.Expiry) {
			s.log.Warn("login: refresh failed; keeping the current access token until it expires", "error", err)
			return false, nil
		}
		return false, err
	}
	nt := *v.(*tokens)
	d.Tokens = &nt
	s.log.Info("login: access token refreshed")
	return true, nil
}

// loadUser loads the request's logged-in session with fresh tokens, saving
// it when the tokens changed or it was last saved a while ago. Errors:
// ErrNotLoggedIn, errors wrapping session.ErrUnavailable or ErrProvider.
func (s *Service) loadUser(w http.ResponseWriter, r *http.Request) (*session.Session, *data, error) {
	ctx := r.Context()
	sess, err := s.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return nil, nil, ErrNotLoggedIn
	case errors.Is(err, session.ErrExpired):
		return nil, nil, fmt.Errorf("%w: %w", ErrNotLoggedIn, session.ErrExpired)
	case err != nil:
		return nil, nil, err
	}
	d := decode(sess.Data)
	if d.User == nil || d.Tokens == nil {
		return nil, nil, ErrNotLoggedIn
	}
	changed, err := s.fresh(ctx, d)
	if errors.Is(err, errRevoked) {
		s.log.Info("login: session ended: the refresh token was refused or the token expired")
		if err := s.sessions.Destroy(ctx, discard{}, sess); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrNotLoggedIn, session.ErrExpired)
	}
	if err != nil {
		return nil, nil, err
	}
	if changed || !s.now().Before(sess.LastSeen.Add(touchEvery)) {
		sess.Data = d.encode()
		if err := s.sessions.Save(ctx, w, sess); err != nil {
			return nil, nil, err
		}
	}
	return sess, d, nil
}

// discard is a ResponseWriter whose headers go nowhere; Destroy outside a
// page uses it because a cookie cannot be cleared from Claims.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// Claims returns the verified claims of the access token held by r's
// session, refreshing the token first when it is about to expire, so that an
// API route can accept a browser session as well as a bearer token. It
// restarts the session's idle timeout.
//
// Errors: ErrNotLoggedIn (401: no or expired session), errors wrapping
// session.ErrUnavailable (503) or ErrProvider (503), and the access
// verifier's errors (apiguard.ErrInvalidToken → 401,
// apiguard.ErrKeysUnavailable → 503). Claims needs Config.AccessVerifier.
// Policies (scopes, groups) are the caller's to check.
func (s *Service) Claims(r *http.Request) (*apiguard.Claims, error) {
	if s.access == nil {
		return nil, errors.New("login: Claims needs Config.AccessVerifier")
	}
	_, d, err := s.loadUser(nil, r)
	if err != nil {
		return nil, err
	}
	return s.access.Verify(r.Context(), d.Tokens.Access)
}

// handleProfile shows who is logged in, or sends the browser to log in.
func (s *Service) handleProfile(w http.ResponseWriter, r *http.Request) {
	sess, d, err := s.loadUser(w, r)
	switch {
	case errors.Is(err, session.ErrExpired):
		s.sessions.ClearCookie(w)
		s.pageExpired(w)
		return
	case errors.Is(err, ErrNotLoggedIn):
		redirect(w, s.path("/login")+"?return_to="+url.QueryEscape(s.path("/profile")), http.StatusFound)
		return
	case errors.Is(err, ErrProvider):
		s.log.Warn("login: profile needs a fresh token", "error", err)
		s.pageIssuerDown(w)
		return
	case err != nil:
		s.loadFailed(w, err)
		return
	}
	scopes := d.Tokens.Scopes
	if s.access != nil {
		if ac, err := s.access.Verify(r.Context(), d.Tokens.Access); err == nil {
			scopes = ac.Scopes
		} else {
			s.log.Warn("login: access token refused by the access verifier", "reason", apiguard.Reason(err))
		}
	}
	s.render(w, page{Title: "Your profile", Profile: &profile{
		Name: d.User.Name, Email: d.User.Email, Groups: d.User.Groups, Scopes: scopes,
	}, Logout: s.logoutButton(sess)})
}

// handleLogoutPage answers GET /logout (a bookmark, a typed address) with
// the logout button. Logging out itself stays a POST with the session's
// CSRF token: a link or an image on another site must not end a user's
// session. The session is only read here, not refreshed.
func (s *Service) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrExpired):
		s.sessions.ClearCookie(w)
		s.pageNotLoggedIn(w)
		return
	case errors.Is(err, session.ErrNoSession):
		s.pageNotLoggedIn(w)
		return
	case err != nil:
		s.loadFailed(w, err)
		return
	}
	if decode(sess.Data).User == nil { // a sign-in started but not finished
		s.pageNotLoggedIn(w)
		return
	}
	s.pageLogout(w, sess)
}

// handleLogout ends the session here and then at the issuer.
func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.cop.Check(r); err != nil {
		s.log.Info("login: cross-origin logout refused")
		s.pageForbidden(w, "A logout request from another site was refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.pageForbidden(w, "The logout form could not be read.")
		return
	}
	ctx := r.Context()
	sess, err := s.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession), errors.Is(err, session.ErrExpired):
		s.sessions.ClearCookie(w)
		redirect(w, s.path("/logout/callback"), http.StatusSeeOther)
		return
	case err != nil:
		s.loadFailed(w, err)
		return
	}
	if !sess.CheckCSRF(r.PostForm.Get("csrf")) {
		s.log.Info("login: logout without a valid CSRF token refused")
		s.pageForbidden(w, "The logout request did not come from this site's logout button. Open your profile and log out from there.")
		return
	}
	d := decode(sess.Data)
	if err := s.sessions.Destroy(ctx, w, sess); err != nil {
		s.loadFailed(w, err)
		return
	}
	target := s.path("/logout/callback")
	prov, err := s.disc.get(ctx)
	if err != nil {
		s.log.Warn("login: discovery failed at logout; ending the local session only", "error", err)
	}
	if d.Tokens != nil && prov != nil {
		s.revoke(ctx, prov, d.Tokens.Refresh)
		if prov.EndSessionURL != "" && d.Tokens.ID != "" {
			if u, err := url.Parse(prov.EndSessionURL); err == nil {
				q := u.Query()
				q.Set("id_token_hint", d.Tokens.ID)
				q.Set("post_logout_redirect_uri", s.loggedOut)
				u.RawQuery = q.Encode()
				target = u.String()
			}
		}
	}
	if d.User != nil {
		s.log.Info("login: user logged out", "sub", d.User.Subject)
	}
	redirect(w, target, http.StatusSeeOther)
}

// revoke asks the issuer to revoke a refresh token (RFC 7009), best effort.
func (s *Service) revoke(ctx context.Context, prov *provider, token string) {
	if token == "" || prov.RevocationURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if s.clientSecret == "" {
		form.Set("client_id", s.clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prov.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(s.clientID), url.QueryEscape(s.clientSecret))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Warn("login: failed to revoke the refresh token", "error", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.log.Warn("login: failed to revoke the refresh token", "status", resp.StatusCode)
	}
}

// handleLoggedOut is where the issuer sends the browser after logout.
func (s *Service) handleLoggedOut(w http.ResponseWriter, r *http.Request) {
	s.pageLoggedOut(w)
}
