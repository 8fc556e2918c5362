// Package browsertest drives a real headless Chromium in tests (through
// chromedp), for the checks that only a browser makes: cookies, redirects,
// forms, and what a cross-site page can and cannot do. It finds the binary,
// starts the browser with a fresh profile, bounds its life, and reports a
// failed step with where the browser was and what it showed.
//
//	b := browsertest.Start(t, 60*time.Second)
//	b.Step("open the profile", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("name")))
//	if got := b.Text("name"); got != want { … }
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path returns the Chromium binary: $CHROMIUM, /usr/bin/chromium, or
// chromium on the PATH. When there is none it fails the test saying how to
// install it, or skips the test when APIGUARD_SKIP_BROWSER=1.
func Path(t testing.TB) string {
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

// Browser is a running headless Chromium with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context
}

// Start starts a headless Chromium ([Path]) with a profile of its own in a
// temporary directory. The browser lives at most timeout, so that a stuck
// test ends, and stops when the test ends.
func Start(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	exe := Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
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
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	// The first action's context is the browser's lifetime: start it on
	// the test-long one, not on a step's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: failed to start %s: %v", exe, err)
	}
	return &Browser{t: t, ctx: ctx}
}

// Context returns the browser's context, for chromedp calls of a test's
// own.
func (b *Browser) Context() context.Context { return b.ctx }

// Step runs actions, failing the test with name, where the browser is and
// the page it shows when they fail. Each step may take 15 seconds of the
// browser's life, so that a stuck one still leaves time to say where it
// stuck.
func (b *Browser) Step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\nbrowser at %s showing:\n%s", name, err, b.Location(), b.Page())
	}
}

// Location returns the URL the browser shows, or "" when it cannot tell
// within 5 seconds.
func (b *Browser) Location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// Page returns the HTML of the page the browser shows, or "" when it
// cannot tell within 5 seconds.
func (b *Browser) Page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	return html
}

// Text returns the text of the element with id, failing the test when
// there is none.
func (b *Browser) Text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("reading #%s: %v (browser at %s)", id, err, b.Location())
	}
	return s
}
