package session

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults for Config.
const (
	DefaultCookieName      = "apiguard_session"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// idBytes is the entropy of a session id and of a CSRF token.
const idBytes = 32

// Config configures a Manager. Only Store is required.
type Config struct {
	// Store keeps the sessions; required.
	Store Store
	// Secure marks the cookie Secure and prefixes its name with "__Host-".
	// Set it whenever users reach the service over https.
	Secure bool
	// CookieName is the cookie's name before any "__Host-" prefix; default
	// DefaultCookieName.
	CookieName string
	// IdleTimeout ends a session not used for this long; default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it was created or
	// rotated, used or not; default DefaultAbsoluteTimeout.
	AbsoluteTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager creates, loads, saves, rotates and destroys sessions. It is safe
// for concurrent use.
type Manager struct {
	store    Store
	secure   bool
	cookie   string
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

// New validates cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("failed to create session manager: no store")
	}
	m := &Manager{
		store:    cfg.Store,
		secure:   cfg.Secure,
		cookie:   cfg.CookieName,
		idle:     cfg.IdleTimeout,
		absolute: cfg.AbsoluteTimeout,
		now:      cfg.Now,
	}
	if m.cookie == "" {
		m.cookie = DefaultCookieName
	}
	if !validCookieName(m.cookie) {
		return nil, fmt.Errorf("failed to create session manager: invalid cookie name %q", m.cookie)
	}
	if m.secure {
		m.cookie = "__Host-" + m.cookie
	}
	if m.idle == 0 {
		m.idle = DefaultIdleTimeout
	}
	if m.absolute == 0 {
		m.absolute = DefaultAbsoluteTimeout
	}
	if m.idle < 0 || m.absolute < 0 {
		return nil, errors.New("failed to create session manager: negative timeout")
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// CookieName returns the name of the session cookie, prefix included.
func (m *Manager) CookieName() string { return m.cookie }

// Session is one browser session. Data is the caller's, opaque to this
// package; the rest is kept by the Manager.
type Session struct {
	id string
	// Created is when the session was created or last rotated; the
	// absolute timeout counts from it.
	Created time.Time
	// LastSeen is when the session was last saved; the idle timeout counts
	// from it.
	LastSeen time.Time
	// CSRFToken is a per-session random token for forms that change state;
	// compare it with CheckCSRF. It changes when the session is rotated.
	CSRFToken string
	// Until, when not zero, ends the session at that time even if the
	// timeouts would keep it longer: a short-lived session, such as one
	// that only holds a login in progress. Rotate clears it.
	Until time.Time
	// Data is the application's payload.
	Data []byte
}

// CheckCSRF reports whether token equals the session's CSRF token, in
// constant time.
func (s *Session) CheckCSRF(token string) bool {
	return s.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(s.CSRFToken), []byte(token)) == 1
}

// envelope is how a session is stored.
type envelope struct {
	Version  int       `json:"v"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	CSRF     string    `json:"csrf"`
	Until    time.Time `json:"until,omitzero"`
	Data     []byte    `json:"data,omitempty"`
}

// New returns a fresh session with a new id. It is not stored until Save.
func (m *Manager) New() *Session {
	now := m.now()
	return &Session{id: randomToken(), Created: now, LastSeen: now, CSRFToken: randomToken()}
}

// Load returns the request's session. Errors: ErrNoSession (no cookie),
// ErrExpired (the cookie names no live session; an expired one is deleted),
// or an error wrapping ErrUnavailable.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.cookie)
	if err != nil || c.Value == "" {
		return nil, ErrNoSession
	}
	id := c.Value
	if !validToken(id) {
		return nil, ErrExpired
	}
	blob, err := m.store.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExpired
	}
	if err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(blob, &env); err != nil || env.Version != 1 {
		return nil, ErrExpired
	}
	s := &Session{id: id, Created: env.Created, LastSeen: env.LastSeen, CSRFToken: env.CSRF, Until: env.Until, Data: env.Data}
	if m.ttl(s, m.now()) <= 0 {
		if err := m.store.Delete(r.Context(), id); err != nil {
			return nil, err
		}
		return nil, ErrExpired
	}
	return s, nil
}

// ttl is how long s lives from now if saved now.
func (m *Manager) ttl(s *Session, now time.Time) time.Duration {
	return m.end(s).Sub(now)
}

// end is when s ends if not used again.
func (m *Manager) end(s *Session) time.Time {
	end := s.LastSeen.Add(m.idle)
	if abs := s.Created.Add(m.absolute); abs.Before(end) {
		end = abs
	}
	if !s.Until.IsZero() && s.Until.Before(end) {
		end = s.Until
	}
	return end
}

// Save stores s, restarting its idle timeout, and sets the session cookie
// on w. w may be nil when the cookie need not change (s was loaded from the
// request and not rotated). It returns ErrExpired if the absolute timeout
// has passed.
func (m *Manager) Save(ctx context.Context, w http.ResponseWriter, s *Session) error {
	now := m.now()
	s.LastSeen = now
	ttl := m.ttl(s, now)
	if ttl <= 0 {
		return ErrExpired
	}
	blob, err := json.Marshal(envelope{Version: 1, Created: s.Created, LastSeen: s.LastSeen, CSRF: s.CSRFToken, Until: s.Until, Data: s.Data})
	if err != nil {
		return fmt.Errorf("failed to encode session: %w", err)
	}
	if err := m.store.Save(ctx, s.id, blob, ttl); err != nil {
		return err
	}
	if w == nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name:     m.cookie,
		Value:    s.id,
		Path:     "/",
		Expires:  m.cookieExpiry(s),
		Secure:   m.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// Rotate gives s a new id and CSRF token, restarts its absolute timeout and
// clears Until, deleting the old id from the store. Call it when privileges change (at
// login), then Save.
func (m *Manager) Rotate(ctx context.Context, s *Session) error {
	if s.id != "" {
		if err := m.store.Delete(ctx, s.id); err != nil {
			return err
		}
	}
	now := m.now()
	s.id, s.CSRFToken, s.Created, s.LastSeen, s.Until = randomToken(), randomToken(), now, now, time.Time{}
	return nil
}

// Destroy deletes s from the store and expires the cookie on w.
func (m *Manager) Destroy(ctx context.Context, w http.ResponseWriter, s *Session) error {
	if err := m.store.Delete(ctx, s.id); err != nil {
		return err
	}
	m.ClearCookie(w)
	return nil
}

// cookieExpiry is when the browser should drop the cookie: the absolute
// timeout, or Until when earlier.
func (m *Manager) cookieExpiry(s *Session) time.Time {
	exp := s.Created.Add(m.absolute)
	if !s.Until.IsZero() && s.Until.Before(exp) {
		exp = s.Until
	}
	return exp
}

// ClearCookie expires the session cookie on w.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.cookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   m.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// randomToken returns idBytes from crypto/rand, base64url encoded.
func randomToken() string {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func validToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func validCookieName(name string) bool {
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || r == ';' || r == ',' || r == '=' || r == '"' {
			return false
		}
	}
	return name != ""
}
