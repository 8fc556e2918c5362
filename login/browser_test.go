package login_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of the Chromium binary, failing the test with
// a clear message (or skipping it with APIGUARD_SKIP_BROWSER=1) when there
// is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("APIGUARD_SKIP_BROWSER") == "1" {
		t.Skip("chromium not found (skipped because APIGUARD_SKIP_BROWSER=1)")
	}
	t.Fatal("chromium not found at /usr/bin/chromium or on PATH; install it (Debian: apt-get install -y chromium) or set APIGUARD_SKIP_BROWSER=1 to skip")
	return ""
}

// TestBrowserLoginLogout drives a real headless Chromium through the whole
// flow: /profile → the issuer's form → profile → log out → login again.
func TestBrowserLoginLogout(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	// The whole browser session is bounded: the timeout stops the browser.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	// Start the browser on the test-long context (the first Run's context
	// is the browser's lifetime).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("failed to start %s: %v", exe, err)
	}

	location := func() string {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		return loc
	}
	page := func() string {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(lctx, chromedp.OuterHTML(chromedp.CSS("html")))
		return html
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("reading #%s: %v (browser at %s)", id, err, location())
		}
		return s
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// Each step gets part of the budget, so that a stuck step still
		// leaves time to say where the browser is.
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v\nbrowser at %s showing:\n%s", name, err, location(), page())
		}
	}

	step("open /profile",
		chromedp.Navigate(a.url("/profile")),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if loc := location(); !strings.HasPrefix(loc, f.issuerURL+"/v1/authorize") {
		t.Fatalf("/profile led to %s, want the issuer's sign-in form", loc)
	}

	step("sign in",
		chromedp.SendKeys(chromedp.ID("username"), userName),
		chromedp.SendKeys(chromedp.ID("password"), userPass),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("name")),
	)
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
}
