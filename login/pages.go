package login

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"

	"github.com/apiguard/apiguard/session"
)

const layoutHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} · apiguard</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
.err{color:#a00}dt{font-weight:bold;margin-top:.5rem}code{background:#eee;padding:0 .2rem}</style></head>
<body>
<h1 id="title">{{.Title}}</h1>
{{if .Message}}<p id="message"{{if .Error}} class="err"{{end}}>{{.Message}}</p>{{end}}
{{with .Profile}}
<dl id="profile">
<dt>Name</dt><dd id="name">{{.Name}}</dd>
<dt>Email</dt><dd id="email">{{.Email}}</dd>
<dt>Groups</dt><dd id="groups">{{range $i, $g := .Groups}}{{if $i}}, {{end}}<code>{{$g}}</code>{{else}}none{{end}}</dd>
<dt>Access token scopes</dt><dd id="scopes">{{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{else}}none{{end}}</dd>
</dl>
{{end}}
{{with .Logout}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button id="logout" type="submit">Log out</button>
</form>
{{end}}
{{if .LinkHref}}<p><a id="link" href="{{.LinkHref}}">{{.LinkText}}</a></p>{{end}}
</body></html>
`

// page is the data of every page.
type page struct {
	Status             int
	Title, Message     string
	Error              bool
	LinkHref, LinkText string
	Profile            *profile
	Logout             *logoutForm
	RetryAfter         int // seconds, for 503
}

type profile struct {
	Name, Email    string
	Groups, Scopes []string
}

// logoutForm is the logout button: a POST to Action with the session's
// CSRF token, which is what POST /logout checks.
type logoutForm struct {
	Action, CSRF string
}

var layout = template.Must(template.New("page").Parse(layoutHTML))

// render writes p as an HTML page with headers that keep it out of caches
// and frames.
func (s *Service) render(w http.ResponseWriter, p page) {
	var buf bytes.Buffer
	if err := layout.Execute(&buf, p); err != nil {
		s.log.Error("failed to render page", "title", p.Title, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", s.csp)
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// The error pages.

func (s *Service) loginLink() (string, string) { return s.path("/login"), "Log in" }

func (s *Service) pageUnavailable(w http.ResponseWriter) {
	s.render(w, page{Status: http.StatusServiceUnavailable, Title: "Sign-in is unavailable", Error: true, RetryAfter: 10,
		Message:  "The session store cannot be reached right now, so we cannot sign you in or keep you signed in. Please try again in a moment.",
		LinkHref: s.path("/login"), LinkText: "Try again"})
}

func (s *Service) pageIssuerDown(w http.ResponseWriter) {
	s.render(w, page{Status: http.StatusBadGateway, Title: "Sign-in failed", Error: true,
		Message:  "The identity provider could not be reached or gave an answer we cannot use. Please try again later.",
		LinkHref: s.path("/login"), LinkText: "Try again"})
}

func (s *Service) pageExpired(w http.ResponseWriter) {
	href, text := s.loginLink()
	s.render(w, page{Status: http.StatusUnauthorized, Title: "Your session has expired", Error: true,
		Message: "You were signed out because the session timed out or ended. Please log in again.", LinkHref: href, LinkText: text})
}

func (s *Service) pageBadState(w http.ResponseWriter) {
	href, _ := s.loginLink()
	s.render(w, page{Status: http.StatusBadRequest, Title: "Sign-in link not valid", Error: true,
		Message:  "This sign-in response does not match a sign-in started in this browser: it was already used, it expired, or it was not ours. Please start again.",
		LinkHref: href, LinkText: "Log in again"})
}

func (s *Service) pageDenied(w http.ResponseWriter) {
	href, _ := s.loginLink()
	s.render(w, page{Status: http.StatusForbidden, Title: "Access denied", Error: true,
		Message:  "The sign-in was cancelled or the identity provider denied access. You are not signed in.",
		LinkHref: href, LinkText: "Log in again"})
}

func (s *Service) pageIssuerError(w http.ResponseWriter, code string) {
	href, _ := s.loginLink()
	s.render(w, page{Status: http.StatusBadRequest, Title: "Sign-in failed", Error: true,
		Message:  "The identity provider refused the sign-in (" + code + ").",
		LinkHref: href, LinkText: "Log in again"})
}

func (s *Service) pageBadReturnTo(w http.ResponseWriter) {
	s.render(w, page{Status: http.StatusBadRequest, Title: "Bad return address", Error: true,
		Message:  "return_to must be a path on this site, such as /profile.",
		LinkHref: s.path("/login"), LinkText: "Log in"})
}

func (s *Service) pageForbidden(w http.ResponseWriter, msg string) {
	s.render(w, page{Status: http.StatusForbidden, Title: "Request refused", Error: true, Message: msg,
		LinkHref: s.path("/profile"), LinkText: "Back to your profile"})
}

func (s *Service) pageLoggedOut(w http.ResponseWriter) {
	href, text := s.loginLink()
	s.render(w, page{Title: "You are logged out", Message: "You have been signed out.", LinkHref: href, LinkText: text})
}

// logoutButton returns the logout form for sess.
func (s *Service) logoutButton(sess *session.Session) *logoutForm {
	return &logoutForm{Action: s.path("/logout"), CSRF: sess.CSRFToken}
}

func (s *Service) pageLogout(w http.ResponseWriter, sess *session.Session) {
	s.render(w, page{Title: "Log out", Message: "Sign out of this site and of your identity provider.",
		Logout: s.logoutButton(sess)})
}

func (s *Service) pageNotLoggedIn(w http.ResponseWriter) {
	href, text := s.loginLink()
	s.render(w, page{Title: "You are not logged in", Message: "There is no sign-in to end in this browser.",
		LinkHref: href, LinkText: text})
}

func (s *Service) pageInternal(w http.ResponseWriter) {
	s.render(w, page{Status: http.StatusInternalServerError, Title: "Something went wrong", Error: true,
		Message: "An internal error stopped the sign-in. Please try again.", LinkHref: s.path("/login"), LinkText: "Try again"})
}
