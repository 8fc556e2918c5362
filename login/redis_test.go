package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/session"
)

var redisSecret = []byte("login-test-secret-0123456789abcdef")

// redisStores gives every instance its own client and store on one
// redis-server, as separate processes would have.
func redisStores(addr string) func(t *testing.T, i int) session.Store {
	return func(t *testing.T, i int) session.Store {
		// One dial attempt and no command retries, so that "Redis down"
		// answers quickly.
		client := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = client.Close() })
		st, err := session.NewRedisStore(session.RedisConfig{Client: client, Secret: redisSecret})
		if err != nil {
			t.Fatalf("NewRedisStore: %v", err)
		}
		return st
	}
}

// TestTwoInstancesShareSessions logs in through A, uses the session on B,
// logs out on B, and checks that A no longer knows the session.
func TestTwoInstancesShareSessions(t *testing.T) {
	srv := redistest.New(t)
	f := newFixture(t, fixtureOptions{instances: 2, store: redisStores(srv.Addr())})
	a, b := f.apps[0], f.apps[1]
	br := newBrowser(t)

	resp, _ := f.login(br, a, "")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Host != strings.TrimPrefix(a.srv.URL, "http://") {
		t.Fatalf("login through A ended at %d %s, want 200 on A", resp.StatusCode, resp.Request.URL)
	}
	cookie := sessionCookie(t, br, a)
	if cookie == nil {
		t.Fatal("no session cookie after login through A")
	}

	// B knows the session: its profile shows the user, its API accepts it.
	resp, body := br.getNoFollow(b.url("/profile"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, userFullName) {
		t.Fatalf("/profile on B: %d %q, want 200 with %s", resp.StatusCode, title(body), userFullName)
	}
	if resp, _ := br.getNoFollow(b.url("/secure-data")); resp.StatusCode != http.StatusOK {
		t.Errorf("/secure-data on B: %d, want 200", resp.StatusCode)
	}

	// Log out on B, with B's page's CSRF token.
	csrf := match(t, csrfField, body, "CSRF field")
	resp, _ = br.post(b.url("/logout"), url.Values{"csrf": {csrf}}, true, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != b.url("/logout/callback") {
		t.Fatalf("logout on B ended at %d %s, want 200 on B's /logout/callback", resp.StatusCode, resp.Request.URL)
	}

	// A no longer knows the session, even when the old cookie is replayed.
	req, _ := http.NewRequest(http.MethodGet, a.url("/profile"), nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	resp, body = newBrowser(t).do(req, false)
	if resp.StatusCode != http.StatusUnauthorized || title(body) != "Your session has expired" {
		t.Errorf("/profile on A with the logged-out cookie: %d %q, want 401 expired", resp.StatusCode, title(body))
	}
	req, _ = http.NewRequest(http.MethodGet, a.url("/secure-data"), nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if _, err := a.svc.Claims(req); !isNotLoggedIn(err) {
		t.Errorf("Claims on A with the logged-out cookie: error = %v, want ErrNotLoggedIn", err)
	}
}

// TestRedisDown checks that an unreachable store answers 503 with a clear
// page, never "logged out", and that service resumes when it is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.New(t)
	f := newFixture(t, fixtureOptions{store: redisStores(srv.Addr())})
	a := f.apps[0]
	br := newBrowser(t)
	f.login(br, a, "")
	srv.Stop()

	for _, p := range []string{"/login", "/profile", "/login/callback?state=x&code=y", "/logout"} {
		t.Run(p, func(t *testing.T) {
			resp, body := br.getNoFollow(a.url(p))
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET %s with Redis down: %d, want 503", p, resp.StatusCode)
			}
			if title(body) != "Sign-in is unavailable" || !strings.Contains(body, "session store cannot be reached") {
				t.Errorf("page = %q, want the clear unavailable page", body)
			}
			if resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("headers = %v, want Retry-After and HTML", resp.Header)
			}
		})
	}
	t.Run("/secure-data", func(t *testing.T) {
		resp, _ := br.getNoFollow(a.url("/secure-data"))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/secure-data with Redis down: %d, want 503", resp.StatusCode)
		}
	})
	t.Run("/logout", func(t *testing.T) {
		resp, _ := br.post(a.url("/logout"), url.Values{"csrf": {"x"}}, false, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("POST /logout with Redis down: %d, want 503", resp.StatusCode)
		}
	})

	// Back up (empty: no persistence): a new login works again once the
	// client has reconnected.
	srv.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := newBrowser(t).getNoFollow(a.url("/login"))
		if resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), f.issuerURL) {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("/login after Redis restart: %d %q, want 302 to the issuer", resp.StatusCode, resp.Header.Get("Location"))
		}
		time.Sleep(50 * time.Millisecond) // poll interval while the client reconnects
	}
}
