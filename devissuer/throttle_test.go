package devissuer_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// peerHeader tells the test front of TestSignInThrottle which client
// address the issuer should see, so one test can sign in "from" many
// addresses. The issuer itself never reads it.
const peerHeader = "X-Test-Peer"

// peers serves f's issuer on a second loopback server whose requests carry
// the RemoteAddr named by peerHeader, and returns the URL of its
// /v1/authorize.
func (f *fixture) peers(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get(peerHeader); p != "" {
			r.RemoteAddr = p
		}
		f.iss.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth2/default/v1/authorize"
}

// peerTransport sends every request with peerHeader set to addr.
type peerTransport struct{ addr string }

func (p peerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(peerHeader, p.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// attempt is the outcome of one sign-in post.
type attempt struct {
	status     int
	retryAfter string
	page       string
}

// signer is a browser at one client address.
type signer struct {
	t         *testing.T
	f         *fixture
	b         *http.Client
	authorize string // the peers front's /v1/authorize
}

func (f *fixture) signer(t *testing.T, authorize, addr string) *signer {
	t.Helper()
	b := newBrowser(t)
	b.Transport = peerTransport{addr}
	return &signer{t: t, f: f, b: b, authorize: authorize}
}

// try opens a sign-in form and posts username and password on it.
func (s *signer) try(username, password string) attempt {
	s.t.Helper()
	form := s.f.openLoginForm(s.t, s.b, strings.Replace(s.f.authURL(nil), s.f.endpoint("authorize"), s.authorize, 1))
	resp, err := s.b.PostForm(s.authorize, url.Values{"request": {form.request}, "csrf": {form.csrf},
		"username": {username}, "password": {password}, "action": {"login"}})
	if err != nil {
		s.t.Fatalf("POST login: %v", err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return attempt{resp.StatusCode, resp.Header.Get("Retry-After"), string(page)}
}

// TestSignInThrottle checks the throttling of failed sign-ins, with the
// issuer's clock standing still unless a step advances it.
func TestSignInThrottle(t *testing.T) {
	t.Run("50 wrong passwords then the right one (issue 13.4)", func(t *testing.T) {
		f := newFixture(t, nil)
		s := f.signer(t, f.peers(t), "192.0.2.1:1000")
		var refused, throttled int
		for i := range 50 {
			switch a := s.try(userName, fmt.Sprintf("guess-%d", i)); a.status {
			case http.StatusUnauthorized:
				refused++
			case http.StatusTooManyRequests:
				throttled++
			default:
				t.Fatalf("attempt %d: got %d, want 401 or 429", i+1, a.status)
			}
		}
		if refused != 5 || throttled != 45 {
			t.Errorf("got %d passwords checked and %d attempts throttled, want 5 and 45", refused, throttled)
		}
		a := s.try(userName, userPass)
		if a.status != http.StatusTooManyRequests || a.retryAfter != "1" {
			t.Fatalf("the right password while locked: got %d Retry-After %q, want 429 and 1", a.status, a.retryAfter)
		}
		for _, want := range []string{"Too many failed sign-ins", "Wait 1 second", `name="password"`} {
			if !strings.Contains(a.page, want) {
				t.Errorf("the 429 page lacks %q:\n%s", want, a.page)
			}
		}
		f.clock.Advance(time.Second)
		if a := s.try(userName, userPass); a.status != http.StatusSeeOther {
			t.Errorf("the right password after the lock: got %d, want 303", a.status)
		}
	})

	t.Run("the lock doubles up to 15 minutes", func(t *testing.T) {
		f := newFixture(t, nil)
		s := f.signer(t, f.peers(t), "192.0.2.1:1000")
		for i := range 4 {
			if a := s.try(userName, "wrong"); a.status != http.StatusUnauthorized || a.retryAfter != "" {
				t.Fatalf("failure %d: got %d Retry-After %q, want 401 and none", i+1, a.status, a.retryAfter)
			}
		}
		want := []string{"1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "900", "900"}
		for i, w := range want {
			a := s.try(userName, "wrong")
			if a.status != http.StatusUnauthorized || a.retryAfter != w {
				t.Fatalf("failure %d: got %d Retry-After %q, want 401 and %s", i+5, a.status, a.retryAfter, w)
			}
			d, _ := strconv.Atoi(w)
			f.clock.Advance(time.Duration(d)*time.Second - time.Millisecond)
			if a := s.try(userName, userPass); a.status != http.StatusTooManyRequests {
				t.Fatalf("1ms before the %ss lock ends: got %d, want 429", w, a.status)
			}
			f.clock.Advance(time.Millisecond)
		}
	})

	t.Run("a success resets the username's count", func(t *testing.T) {
		f := newFixture(t, nil)
		front := f.peers(t)
		s := f.signer(t, front, "192.0.2.1:1000")
		for range 4 {
			s.try(userName, "wrong")
		}
		if a := s.try(userName, userPass); a.status != http.StatusSeeOther {
			t.Fatalf("the right password after 4 failures: got %d, want 303", a.status)
		}
		s = f.signer(t, front, "192.0.2.1:1000")
		for i := range 5 {
			if a := s.try(userName, "wrong"); a.status != http.StatusUnauthorized {
				t.Fatalf("failure %d after the success: got %d, want 401", i+1, a.status)
			}
		}
		if a := s.try(userName, "wrong"); a.status != http.StatusTooManyRequests {
			t.Errorf("failure 6 after the success: got %d, want 429", a.status)
		}
	})

	t.Run("a username is locked whatever the address", func(t *testing.T) {
		f := newFixture(t, nil)
		front := f.peers(t)
		for i := range 5 {
			s := f.signer(t, front, fmt.Sprintf("192.0.2.%d:1000", i+1))
			if a := s.try(userName, "wrong"); a.status != http.StatusUnauthorized {
				t.Fatalf("failure from address %d: got %d, want 401", i+1, a.status)
			}
		}
		if a := f.signer(t, front, "192.0.2.99:1000").try(userName, userPass); a.status != http.StatusTooManyRequests {
			t.Errorf("from a sixth address: got %d, want 429", a.status)
		}
		// An unknown username is counted the same, so the lock tells nothing.
		for range 5 {
			f.signer(t, front, "198.51.100.1:1000").try("nobody@example.com", "wrong")
		}
		if a := f.signer(t, front, "198.51.100.2:1000").try("nobody@example.com", "x"); a.status != http.StatusTooManyRequests {
			t.Errorf("an unknown username after 5 failures: got %d, want 429", a.status)
		}
	})

	t.Run("an address is locked whatever the username", func(t *testing.T) {
		f := newFixture(t, nil)
		front := f.peers(t)
		s := f.signer(t, front, "192.0.2.1:1000")
		for i := range 20 {
			if a := s.try(fmt.Sprintf("user%d@example.com", i), "wrong"); a.status != http.StatusUnauthorized {
				t.Fatalf("username %d: got %d, want 401", i+1, a.status)
			}
		}
		if a := s.try(userName, userPass); a.status != http.StatusTooManyRequests || a.retryAfter != "1" {
			t.Errorf("a 21st username from the address: got %d Retry-After %q, want 429 and 1", a.status, a.retryAfter)
		}
		// Another port of the address is the same address.
		if a := f.signer(t, front, "192.0.2.1:2000").try(userName, userPass); a.status != http.StatusTooManyRequests {
			t.Errorf("another port of the address: got %d, want 429", a.status)
		}
		if a := f.signer(t, front, "192.0.2.2:1000").try(userName, userPass); a.status != http.StatusSeeOther {
			t.Errorf("another address: got %d, want 303", a.status)
		}
	})

	t.Run("a success does not clear the address's count", func(t *testing.T) {
		// Else an attacker could sign in to an account of their own between
		// guesses at others.
		f := newFixture(t, nil)
		s := f.signer(t, f.peers(t), "192.0.2.1:1000")
		for i := range 19 {
			s.try(fmt.Sprintf("user%d@example.com", i), "wrong")
		}
		if a := s.try(userName, userPass); a.status != http.StatusSeeOther {
			t.Fatalf("the right password after 19 failures: got %d, want 303", a.status)
		}
		s = f.signer(t, s.authorize, "192.0.2.1:1000") // a browser with no session, at the same address
		if a := s.try("user19@example.com", "wrong"); a.status != http.StatusUnauthorized || a.retryAfter != "1" {
			t.Errorf("failure 20 from the address, after the success: got %d Retry-After %q, want 401 and 1", a.status, a.retryAfter)
		}
		if a := s.try("user20@example.com", "wrong"); a.status != http.StatusTooManyRequests {
			t.Errorf("an attempt after failure 20: got %d, want 429", a.status)
		}
	})

	t.Run("an IPv6 /64 is one address", func(t *testing.T) {
		f := newFixture(t, nil)
		front := f.peers(t)
		for i := range 20 {
			s := f.signer(t, front, fmt.Sprintf("[2001:db8:0:1::%x]:1000", i+1))
			if a := s.try(fmt.Sprintf("user%d@example.com", i), "wrong"); a.status != http.StatusUnauthorized {
				t.Fatalf("host %d of the /64: got %d, want 401", i+1, a.status)
			}
		}
		if a := f.signer(t, front, "[2001:db8:0:1:ffff::1]:1000").try(userName, userPass); a.status != http.StatusTooManyRequests {
			t.Errorf("another host of the /64: got %d, want 429", a.status)
		}
		if a := f.signer(t, front, "[2001:db8:0:2::1]:1000").try(userName, userPass); a.status != http.StatusSeeOther {
			t.Errorf("another /64: got %d, want 303", a.status)
		}
	})

	t.Run("failures are forgotten an hour after the last attempt", func(t *testing.T) {
		f := newFixture(t, nil)
		s := f.signer(t, f.peers(t), "192.0.2.1:1000")
		for range 4 {
			s.try(userName, "wrong")
		}
		f.clock.Advance(59 * time.Minute)
		s.try(userName, "wrong") // the fifth failure: a 1s lock
		f.clock.Advance(time.Hour)
		s = f.signer(t, f.peers(t), "192.0.2.1:1000")
		for i := range 4 {
			if a := s.try(userName, "wrong"); a.status != http.StatusUnauthorized || a.retryAfter != "" {
				t.Fatalf("failure %d an hour later: got %d Retry-After %q, want 401 and none", i+1, a.status, a.retryAfter)
			}
		}
		if a := s.try(userName, "wrong"); a.status != http.StatusUnauthorized || a.retryAfter != "1" {
			t.Errorf("failure 5 an hour later: got %d Retry-After %q, want 401 and 1 (the count started again)", a.status, a.retryAfter)
		}
	})
}
