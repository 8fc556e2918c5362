package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
)

// TestRotateRetiresOldID rotates a session with no time passing: the old
// id must stop working at once (session fixation), not when it would have
// timed out.
func TestRotateRetiresOldID(t *testing.T) {
	addr := redistest.Start(t)
	stores := []struct {
		name  string
		store func(t *testing.T) Store
	}{
		{name: "memory", store: func(*testing.T) Store { return NewMemoryStore(MemoryConfig{}) }},
		{name: "redis", store: func(t *testing.T) Store { st, _ := newRedisStore(t, addr, testSecret); return st }},
	}
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			m := newManager(t, Config{Store: tt.store(t), Now: clock.Now})
			s := m.New()
			s.Data = []byte("before login")
			oldCookie := save(t, m, s)
			oldCSRF := s.CSRFToken

			if err := m.Rotate(context.Background(), s); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			s.Data = []byte("logged in")
			newCookie := save(t, m, s)

			if _, err := m.Load(requestWith(oldCookie)); !errors.Is(err, ErrExpired) {
				t.Errorf("Load of the old id right after Rotate: got error %v, want ErrExpired", err)
			}
			got, err := m.Load(requestWith(newCookie))
			if err != nil {
				t.Fatalf("Load of the new id: %v", err)
			}
			if string(got.Data) != "logged in" || got.CSRFToken == oldCSRF || got.CSRFToken != s.CSRFToken {
				t.Errorf("new session: got data %q CSRF changed %v, want %q and a new CSRF token", got.Data, got.CSRFToken != oldCSRF, "logged in")
			}
		})
	}
}

// foreverStore keeps blobs regardless of their ttl, as a store whose clock
// runs behind the Manager's would.
type foreverStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *foreverStore) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		return nil, ErrNotFound
	}
	return b, nil
}

func (s *foreverStore) Save(_ context.Context, id string, data []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = bytes.Clone(data)
	return nil
}

func (s *foreverStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// TestTimeoutsWithoutStoreExpiry checks that the Manager itself ends
// sessions at the idle, absolute and Until limits, and deletes them, even
// when the store has not expired them.
func TestTimeoutsWithoutStoreExpiry(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *Session, now time.Time)
		// active is how often the session is used before the limit, zero
		// for never.
		active time.Duration
		limit  time.Duration
	}{
		{name: "idle", limit: 10 * time.Minute},
		{name: "absolute", active: 9 * time.Minute, limit: time.Hour},
		{name: "until", setup: func(s *Session, now time.Time) { s.Until = now.Add(5 * time.Minute) }, limit: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			st := &foreverStore{m: map[string][]byte{}}
			m := newManager(t, Config{Store: st, Now: clock.Now, IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
			s := m.New()
			if tt.setup != nil {
				tt.setup(s, clock.Now())
			}
			c := save(t, m, s)
			start := clock.Now()
			for tt.active > 0 && clock.Now().Add(tt.active).Before(start.Add(tt.limit)) {
				clock.Advance(tt.active)
				got, err := m.Load(requestWith(c))
				if err != nil {
					t.Fatalf("Load %v in, while active: %v", clock.Now().Sub(start), err)
				}
				save(t, m, got)
			}
			clock.Advance(start.Add(tt.limit).Sub(clock.Now()) - time.Second)
			if _, err := m.Load(requestWith(c)); err != nil {
				t.Fatalf("Load a second before the %s limit: got %v, want nil", tt.name, err)
			}
			clock.Advance(time.Second)
			if _, err := m.Load(requestWith(c)); !errors.Is(err, ErrExpired) {
				t.Errorf("Load at the %s limit: got error %v, want ErrExpired", tt.name, err)
			}
			if _, err := st.Get(context.Background(), c.Value); !errors.Is(err, ErrNotFound) {
				t.Errorf("store after the expired Load: got error %v, want ErrNotFound (deleted)", err)
			}
		})
	}
}

// TestClearCookieAttributes checks the cookie that ends a session: a
// browser drops a __Host- cookie only when the clearing Set-Cookie is
// Secure with Path=/ and no Domain, as the cookie itself was.
func TestClearCookieAttributes(t *testing.T) {
	tests := []struct {
		name       string
		secure     bool
		wantName   string
		wantSecure bool
	}{
		{name: "http", wantName: "apiguard_session"},
		{name: "https", secure: true, wantName: "__Host-apiguard_session", wantSecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, Config{Secure: tt.secure})
			s := m.New()
			set := save(t, m, s)
			clears := map[string]func(w http.ResponseWriter){
				"Destroy": func(w http.ResponseWriter) {
					if err := m.Destroy(context.Background(), w, s); err != nil {
						t.Fatalf("Destroy: %v", err)
					}
				},
				"ClearCookie": m.ClearCookie,
			}
			for how, clear := range clears {
				rec := httptest.NewRecorder()
				clear(rec)
				cs := rec.Result().Cookies()
				if len(cs) != 1 {
					t.Fatalf("%s: got %d cookies, want 1", how, len(cs))
				}
				c := cs[0]
				if c.Name != tt.wantName || c.Name != set.Name || c.Value != "" || c.MaxAge >= 0 {
					t.Errorf("%s: got cookie %q=%q Max-Age %d, want %q emptied and expired", how, c.Name, c.Value, c.MaxAge, tt.wantName)
				}
				if c.Secure != tt.wantSecure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: got Secure %v Path %q Domain %q HttpOnly %v SameSite %v; want Secure %v, Path /, no Domain, HttpOnly, Lax",
						how, c.Secure, c.Path, c.Domain, c.HttpOnly, c.SameSite, tt.wantSecure)
				}
			}
		})
	}
}

func TestSealRefusesOtherVersions(t *testing.T) {
	s, err := newSealer(testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := s.Seal("id", []byte("data"))
	if _, err := s.Open("id", blob); err != nil {
		t.Fatalf("Open of the blob as sealed: %v", err)
	}
	for _, v := range []byte{0, sealVersion + 1, 0xff} {
		b := bytes.Clone(blob)
		b[0] = v
		if _, err := s.Open("id", b); !errors.Is(err, errOpen) {
			t.Errorf("Open with version byte %d: got error %v, want errOpen", v, err)
		}
	}
}

// TestSealAfterSecretRotation checks that a sealer given a new secret and
// the old one as previous seals with the new one: once every instance has
// the new secret, the old one can be dropped without losing sessions
// written since.
func TestSealAfterSecretRotation(t *testing.T) {
	oldSecret := bytes.Repeat([]byte("o"), MinSecretLen)
	newSecret := bytes.Repeat([]byte("n"), MinSecretLen)
	rotated, err := newSealer(newSecret, [][]byte{oldSecret})
	if err != nil {
		t.Fatal(err)
	}
	blob := rotated.Seal("id", []byte("data"))
	tests := []struct {
		name     string
		secret   []byte
		previous [][]byte
		wantOpen bool
	}{
		{name: "the new secret alone", secret: newSecret, wantOpen: true},
		{name: "the old secret alone", secret: oldSecret},
		{name: "the rotated set", secret: newSecret, previous: [][]byte{oldSecret}, wantOpen: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newSealer(tt.secret, tt.previous)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Open("id", blob)
			if tt.wantOpen && (err != nil || string(got) != "data") {
				t.Errorf("Open: got %q, %v; want %q", got, err, "data")
			}
			if !tt.wantOpen && !errors.Is(err, errOpen) {
				t.Errorf("Open: got error %v, want errOpen", err)
			}
		})
	}
}
