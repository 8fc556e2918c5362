package devissuer

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Login CSRF defence. Without it a page on any site could post the sign-in
// form with the attacker's own credentials and a request id the attacker
// fetched, signing the victim's browser into the attacker's session. Two
// checks stop it, and a post must pass both:
//
//   - The form carries a token, field "csrf": an HMAC, under a key the
//     issuer draws at start, of the pending request's id and of a random
//     value held by the browser in the cookie devissuer_login (HttpOnly,
//     SameSite=Strict, scoped to the issuer's path). The token is therefore
//     bound to one authorization request and to the browser the form was
//     shown to: a token fetched by an attacker matches the attacker's cookie,
//     not the victim's, and a cross-site post carries no Strict cookie.
//   - A browser's post must come from the issuer's own origin:
//     Sec-Fetch-Site same-origin (or none, a user's own navigation), else an
//     Origin equal to the issuer's. Same-site (another port or subdomain)
//     and cross-site posts are refused. A client sending neither header (not
//     a browser, or an old one) relies on the token alone.

// loginCookie names the browser's sign-in binding, scoped to the issuer's path.
const loginCookie = "devissuer_login"

// csrfField is the form field carrying the token.
const csrfField = "csrf"

// bindingBytes is the size of the random value in loginCookie.
const bindingBytes = 32

// validBinding reports whether v has the shape of a loginCookie value.
func validBinding(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == bindingBytes
}

// browserBinding returns the browser's loginCookie value, drawing a new one
// when the request carries none, and (re)sets the cookie for the life of a
// form. Forms open in several tabs share the value.
func (iss *Issuer) browserBinding(w http.ResponseWriter, r *http.Request) (string, error) {
	var v string
	if c, err := r.Cookie(loginCookie); err == nil && validBinding(c.Value) {
		v = c.Value
	} else if v, err = randomString(iss.cfg.Rand, bindingBytes); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: iss.cookiePath(), HttpOnly: true,
		Secure: strings.HasPrefix(iss.cfg.Issuer, "https:"), SameSite: http.SameSiteStrictMode, MaxAge: int(loginTTL / time.Second)})
	return v, nil
}

// csrfToken is the form token of pending request id for the browser holding
// binding.
func (iss *Issuer) csrfToken(id, binding string) string {
	m := hmac.New(sha256.New, iss.csrfKey)
	m.Write([]byte("devissuer sign-in form\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports whether the posted form carries the token of pending
// request id for the browser that sent it, compared in constant time.
func (iss *Issuer) validCSRF(r *http.Request, id string) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil || !validBinding(c.Value) {
		return false
	}
	want := iss.csrfToken(id, c.Value)
	return subtle.ConstantTimeCompare([]byte(r.PostForm.Get(csrfField)), []byte(want)) == 1
}

// crossOrigin returns why a form post must be refused as sent from another
// origin, or "" when the browser says it comes from the issuer's own page or
// when no browser header says anything.
func (iss *Issuer) crossOrigin(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return ""
	case "":
	default:
		return "Sec-Fetch-Site is " + site
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return "Origin is " + origin
	}
	// The issuer's configured origin, or the host the request was sent to
	// (the issuer may be reached through another name, as net/http's
	// CrossOriginProtection allows).
	if strings.EqualFold(u.Scheme+"://"+u.Host, iss.origin) || strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return "Origin is " + origin
}
