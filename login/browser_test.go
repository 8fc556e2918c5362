package login_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/apiguard/apiguard/internal/browsertest"
)

// TestBrowserLoginLogout drives a real headless Chromium through the whole
// flow: /profile → the issuer's form → profile → log out → login again →
// log out from the GET /logout page.
func TestBrowserLoginLogout(t *testing.T) {
	b := browsertest.Start(t, 60*time.Second)
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	step, location, text := b.Step, b.Location, b.Text
	// signIn fills in the issuer's sign-in form and waits for the profile.
	signIn := func(name string) {
		t.Helper()
		step(name,
			chromedp.SendKeys(chromedp.ID("username"), userName),
			chromedp.SendKeys(chromedp.ID("password"), userPass),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("name")),
		)
	}

	step("open /profile",
		chromedp.Navigate(a.url("/profile")),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if loc := location(); !strings.HasPrefix(loc, f.issuerURL+"/v1/authorize") {
		t.Fatalf("/profile led to %s, want the issuer's sign-in form", loc)
	}

	signIn("sign in")
	loc, name, email, groups := location(), text("name"), text("email"), text("groups")
	if loc != a.url("/profile") || name != userFullName || email != userName || !strings.Contains(groups, "Engineering") {
		t.Fatalf("profile at %s shows name %q email %q groups %q; want %s, %s, Engineering", loc, name, email, groups, userFullName, userName)
	}

	step("log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("link")),
	)
	if loc, heading := location(), text("title"); loc != a.url("/logout/callback") || heading != "You are logged out" {
		t.Fatalf("after log out: %s %q, want %s %q", loc, heading, a.url("/logout/callback"), "You are logged out")
	}

	step("open /profile again",
		chromedp.Navigate(a.url("/profile")),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if loc := location(); !strings.HasPrefix(loc, f.issuerURL+"/v1/authorize") {
		t.Fatalf("/profile after logout led to %s, want the issuer's sign-in form", loc)
	}

	signIn("sign in again")
	step("open /logout and press its button",
		chromedp.Navigate(a.url("/logout")),
		chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("link")),
	)
	if loc, heading := location(), text("title"); loc != a.url("/logout/callback") || heading != "You are logged out" {
		t.Fatalf("after log out from /logout: %s %q, want %s %q", loc, heading, a.url("/logout/callback"), "You are logged out")
	}
}
