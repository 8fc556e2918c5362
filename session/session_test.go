package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
)

func newManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore(MemoryConfig{Now: cfg.Now})
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// save saves s and returns the cookie it set.
func save(t *testing.T, m *Manager, s *Session) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.Save(context.Background(), rec, s); err != nil {
		t.Fatalf("Save: %v", err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("Save set %d cookies, want 1", len(cs))
	}
	return cs[0]
}

func requestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantName   string
		wantSecure bool
	}{
		{name: "http", cfg: Config{}, wantName: "apiguard_session"},
		{name: "https", cfg: Config{Secure: true}, wantName: "__Host-apiguard_session", wantSecure: true},
		{name: "custom name over https", cfg: Config{Secure: true, CookieName: "sid"}, wantName: "__Host-sid", wantSecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, tt.cfg)
			c := save(t, m, m.New())
			if c.Name != tt.wantName || m.CookieName() != tt.wantName {
				t.Errorf("cookie name = %q (CookieName %q), want %q", c.Name, m.CookieName(), tt.wantName)
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("Secure = %v, want %v", c.Secure, tt.wantSecure)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, no Domain", c)
			}
			if len(c.Value) != 43 {
				t.Errorf("cookie value has %d characters, want 43 (256 bits base64url)", len(c.Value))
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no store", cfg: Config{}},
		{name: "bad cookie name", cfg: Config{Store: NewMemoryStore(MemoryConfig{}), CookieName: "a b"}},
		{name: "negative idle", cfg: Config{Store: NewMemoryStore(MemoryConfig{}), IdleTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

func TestLoadRoundTrip(t *testing.T) {
	m := newManager(t, Config{})
	s := m.New()
	s.Data = []byte("payload")
	c := save(t, m, s)
	got, err := m.Load(requestWith(c))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if string(got.Data) != "payload" || got.CSRFToken != s.CSRFToken || !got.Created.Equal(s.Created) {
		t.Errorf("Load = %+v, want %+v", got, s)
	}
	if got.CSRFToken == "" || got.CSRFToken == c.Value {
		t.Errorf("CSRF token %q must be set and differ from the session id", got.CSRFToken)
	}
}

func TestLoadErrors(t *testing.T) {
	m := newManager(t, Config{})
	tests := []struct {
		name   string
		cookie *http.Cookie
		want   error
	}{
		{name: "no cookie", want: ErrNoSession},
		{name: "empty cookie", cookie: &http.Cookie{Name: m.CookieName(), Value: ""}, want: ErrNoSession},
		{name: "unknown id", cookie: &http.Cookie{Name: m.CookieName(), Value: randomToken()}, want: ErrExpired},
		{name: "malformed id", cookie: &http.Cookie{Name: m.CookieName(), Value: "short"}, want: ErrExpired},
		{name: "other cookie only", cookie: &http.Cookie{Name: "other", Value: randomToken()}, want: ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Load(requestWith(tt.cookie)); !errors.Is(err, tt.want) {
				t.Errorf("Load error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, Config{Now: clock.Now, IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})

	t.Run("idle", func(t *testing.T) {
		c := save(t, m, m.New())
		clock.Advance(9 * time.Minute)
		s, err := m.Load(requestWith(c))
		if err != nil {
			t.Fatalf("Load before idle timeout: %v", err)
		}
		save(t, m, s) // activity restarts the idle timer
		clock.Advance(9 * time.Minute)
		if _, err := m.Load(requestWith(c)); err != nil {
			t.Fatalf("Load 9m after activity: %v, want nil", err)
		}
		clock.Advance(time.Minute)
		if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrExpired) {
			t.Errorf("Load 10m idle: error = %v, want ErrExpired", err)
		}
	})

	t.Run("absolute", func(t *testing.T) {
		c := save(t, m, m.New())
		for range 6 { // active every 9 minutes, never idle
			clock.Advance(9 * time.Minute)
			s, err := m.Load(requestWith(c))
			if err != nil {
				t.Fatalf("Load while active: %v", err)
			}
			save(t, m, s)
		}
		clock.Advance(6 * time.Minute) // 60 minutes since creation
		if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrExpired) {
			t.Errorf("Load after absolute timeout: error = %v, want ErrExpired", err)
		}
	})

	t.Run("save after absolute timeout", func(t *testing.T) {
		s := m.New()
		clock.Advance(time.Hour)
		if err := m.Save(context.Background(), httptest.NewRecorder(), s); !errors.Is(err, ErrExpired) {
			t.Errorf("Save error = %v, want ErrExpired", err)
		}
	})
}

func TestUntil(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, Config{Now: clock.Now})
	s := m.New()
	s.Until = clock.Now().Add(10 * time.Minute)
	c := save(t, m, s)
	if !c.Expires.Equal(s.Until) {
		t.Errorf("cookie Expires = %v, want Until %v", c.Expires, s.Until)
	}
	clock.Advance(9 * time.Minute)
	if _, err := m.Load(requestWith(c)); err != nil {
		t.Fatalf("Load before Until: %v, want nil", err)
	}
	clock.Advance(time.Minute)
	if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrExpired) {
		t.Errorf("Load at Until (idle timeout not reached): error = %v, want ErrExpired", err)
	}

	s = m.New()
	s.Until = clock.Now().Add(time.Minute)
	if err := m.Rotate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !s.Until.IsZero() {
		t.Errorf("Until after Rotate = %v, want zero", s.Until)
	}
}

func TestRotate(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, Config{Now: clock.Now, IdleTimeout: 45 * time.Minute, AbsoluteTimeout: time.Hour})
	s := m.New()
	oldCSRF := s.CSRFToken
	oldCookie := save(t, m, s)
	clock.Advance(50 * time.Minute)
	if err := m.Rotate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	newCookie := save(t, m, s)
	if newCookie.Value == oldCookie.Value {
		t.Error("Rotate kept the session id")
	}
	if s.CSRFToken == oldCSRF {
		t.Error("Rotate kept the CSRF token")
	}
	if _, err := m.Load(requestWith(oldCookie)); !errors.Is(err, ErrExpired) {
		t.Errorf("Load of the old id: error = %v, want ErrExpired", err)
	}
	clock.Advance(30 * time.Minute) // 80m after creation, 30m after rotation
	if _, err := m.Load(requestWith(newCookie)); err != nil {
		t.Errorf("Load of the new id: %v, want nil (absolute timeout restarts at rotation)", err)
	}
}

func TestDestroy(t *testing.T) {
	m := newManager(t, Config{})
	s := m.New()
	c := save(t, m, s)
	rec := httptest.NewRecorder()
	if err := m.Destroy(context.Background(), rec, s); err != nil {
		t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != m.CookieName() || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("Destroy cookies = %+v, want one expired %s cookie", cs, m.CookieName())
	}
	if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrExpired) {
		t.Errorf("Load after Destroy: error = %v, want ErrExpired", err)
	}
}

func TestCheckCSRF(t *testing.T) {
	m := newManager(t, Config{})
	s := m.New()
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{name: "match", token: s.CSRFToken, want: true},
		{name: "empty", token: "", want: false},
		{name: "other", token: randomToken(), want: false},
		{name: "prefix", token: s.CSRFToken[:10], want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.CheckCSRF(tt.token); got != tt.want {
				t.Errorf("CheckCSRF = %v, want %v", got, tt.want)
			}
		})
	}
	if (&Session{}).CheckCSRF("") {
		t.Error("a session without a token accepted an empty token")
	}
}

func TestManagerStoreUnavailable(t *testing.T) {
	srv := redistest.New(t)
	st, _ := newRedisStore(t, srv.Addr(), testSecret)
	m := newManager(t, Config{Store: st})
	c := save(t, m, m.New())
	srv.Stop()
	if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrExpired) {
		t.Errorf("Load with Redis down: error = %v, want ErrUnavailable (not ErrExpired)", err)
	}
	if err := m.Save(context.Background(), httptest.NewRecorder(), m.New()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Save with Redis down: error = %v, want ErrUnavailable", err)
	}
}

func TestIDsAreUnique(t *testing.T) {
	m := newManager(t, Config{})
	seen := make(map[string]bool)
	for range 1000 {
		c := save(t, m, m.New())
		if seen[c.Value] {
			t.Fatalf("duplicate session id %q", c.Value)
		}
		seen[c.Value] = true
	}
}
