package devissuer_test

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/internal/browsertest"
)

// attackPage auto-submits the issuer's sign-in form with fields chosen by
// the attacker, as a page on another site would.
var attackPage = template.Must(template.New("attack").Parse(`<!doctype html>
<html><body><form id="f" method="post" action="{{.Action}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}</form><script>document.getElementById("f").submit()</script></body></html>
`))

// TestBrowserLoginCSRF drives a real headless Chromium. A page on another
// site (http://localhost:…, cross-site to the issuer at http://127.0.0.1:…)
// posts the issuer's sign-in form with the attacker's request, token and
// credentials: the issuer refuses it and the browser is not signed in. Then
// the same browser, sent by that site to the issuer (a cross-site redirect,
// as from a real application), signs in through the form: the form's
// SameSite=Strict cookie was set and comes back with the form.
func TestBrowserLoginCSRF(t *testing.T) {
	browsertest.Path(t) // fail (or skip) before starting anything

	site := httptest.NewUnstartedServer(nil)
	siteURL := "http://localhost:" + strings.TrimPrefix(site.Listener.Addr().String(), "127.0.0.1:")
	callback := siteURL + "/cb"
	f := newFixture(t, func(c *devissuer.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, callback)
	})
	authURL := func(change url.Values) string {
		change.Set("redirect_uri", callback)
		return f.authURL(change)
	}

	// The attacker opens a form of their own, outside the victim's browser.
	attacker := f.openLoginForm(t, newBrowser(t), authURL(url.Values{}))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /attack", func(w http.ResponseWriter, _ *http.Request) {
		_ = attackPage.Execute(w, map[string]any{"Action": f.endpoint("authorize"), "Fields": map[string]string{
			"request": attacker.request, "csrf": attacker.csrf, "username": userName, "password": userPass, "action": "login",
		}})
	})
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, authURL(url.Values{"prompt": {r.URL.Query().Get("prompt")}, "state": {"st"}}), http.StatusFound)
	})
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = template.Must(template.New("cb").Parse(`<p id="done">{{.}}</p>`)).Execute(w, r.URL.RawQuery)
	})
	site.Config.Handler = mux
	site.Start()
	t.Cleanup(site.Close)

	b := browsertest.Start(t, 60*time.Second)
	location, text, step := b.Location, b.Text, b.Step

	step("open the attacker's page", chromedp.Navigate(siteURL+"/attack"), chromedp.WaitVisible(chromedp.ID("error")))
	if loc, msg := location(), text("error"); loc != f.endpoint("authorize") || !strings.Contains(msg, "another site") {
		t.Errorf("after the cross-site post: browser at %s showing %q, want the issuer's refusal", loc, msg)
	}
	step("ask for a code without signing in", chromedp.Navigate(siteURL+"/start?prompt=none"), chromedp.WaitVisible(chromedp.ID("done")))
	if q, _ := url.ParseQuery(text("done")); q.Get("error") != "login_required" {
		t.Fatalf("after the attack, prompt=none: got %v, want login_required (the attack signed the browser in)", q)
	}

	step("open the sign-in form from the other site", chromedp.Navigate(siteURL+"/start"), chromedp.WaitVisible(chromedp.ID("username")))
	step("sign in",
		chromedp.SendKeys(chromedp.ID("username"), userName),
		chromedp.SendKeys(chromedp.ID("password"), userPass),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	if q, _ := url.ParseQuery(text("done")); q.Get("code") == "" || q.Get("state") != "st" {
		t.Errorf("after signing in: got %v at %s, want a code and state st", q, location())
	}
}
