package devissuer

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Issuer is a development OAuth 2.0 / OpenID Connect authorization server
// shaped like an Okta custom authorization server. It is an http.Handler
// answering under the path of its issuer URL; it keeps all state in memory.
type Issuer struct {
	cfg     Config
	path    string // issuer URL path, e.g. "/oauth2/default"
	keys    *keyRing
	clients map[string]*Client
	users   map[string]*User // by username
	byID    map[string]*User // by user id
	mux     *http.ServeMux
	page    *template.Template
	origin  string // scheme://host of the issuer URL, for the sign-in form's origin check
	csrfKey []byte // HMAC key of the sign-in form's CSRF tokens, drawn at start

	mu        sync.Mutex
	logins    map[string]*loginRequest   // pending authorize requests, by id
	codes     map[string]*codeGrant      // by SHA-256 of the code
	refresh   map[string]*refreshGrant   // by SHA-256 of the token
	revoked   map[string]time.Time       // access token jti → its expiry
	sessions  map[string]*browserSession // by SHA-256 of the cookie value
	proofs    map[string]time.Time       // DPoP proof jti (hashed) → when it may be forgotten
	lastPrune time.Time
	// Failed sign-ins, by hashed username and by client address.
	userThrottle, addrThrottle *throttle
}

// New validates cfg, generates the first signing key and the next one (or
// takes them from cfg.Keys), and returns the issuer.
func New(cfg Config) (*Issuer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	keys, err := newKeyRing(cfg.Rand, cfg.Now, cfg.KeyGrace, cfg.Keys)
	if err != nil {
		return nil, err
	}
	csrfKey := make([]byte, 32)
	if _, err := io.ReadFull(cfg.Rand, csrfKey); err != nil {
		return nil, fmt.Errorf("devissuer: failed to generate the sign-in form key: %w", err)
	}
	u, _ := url.Parse(cfg.Issuer) // validated by withDefaults
	iss := &Issuer{
		cfg:      cfg,
		path:     u.Path,
		origin:   strings.ToLower(u.Scheme + "://" + u.Host),
		csrfKey:  csrfKey,
		keys:     keys,
		clients:  map[string]*Client{},
		users:    map[string]*User{},
		byID:     map[string]*User{},
		logins:   map[string]*loginRequest{},
		codes:    map[string]*codeGrant{},
		refresh:  map[string]*refreshGrant{},
		revoked:  map[string]time.Time{},
		sessions: map[string]*browserSession{},
		proofs:   map[string]time.Time{},
		page:     template.Must(template.New("page").Parse(pageHTML)),

		userThrottle: newThrottle(userFreeFailures, maxThrottleEntries),
		addrThrottle: newThrottle(addrFreeFailures, maxThrottleEntries),
	}
	for i := range iss.cfg.Clients {
		c := &iss.cfg.Clients[i]
		iss.clients[c.ID] = c
	}
	for i := range iss.cfg.Users {
		u := &iss.cfg.Users[i]
		iss.users[u.Username] = u
		iss.byID[u.ID] = u
	}
	iss.mux = http.NewServeMux()
	p := iss.path
	iss.mux.HandleFunc("GET "+p+"/.well-known/openid-configuration", iss.serveOpenIDConfiguration)
	iss.mux.HandleFunc("GET "+p+"/.well-known/oauth-authorization-server", iss.serveAuthServerMetadata)
	iss.mux.HandleFunc("GET "+p+"/v1/keys", iss.serveKeys)
	iss.mux.HandleFunc(p+"/v1/token", iss.serveToken)
	iss.mux.HandleFunc(p+"/v1/authorize", iss.serveAuthorize)
	iss.mux.HandleFunc(p+"/v1/userinfo", iss.serveUserinfo)
	iss.mux.HandleFunc(p+"/v1/introspect", iss.serveIntrospect)
	iss.mux.HandleFunc(p+"/v1/revoke", iss.serveRevoke)
	iss.mux.HandleFunc(p+"/v1/logout", iss.serveLogout)
	return iss, nil
}

// URL returns the issuer URL.
func (iss *Issuer) URL() string { return iss.cfg.Issuer }

// Config returns a copy of the configuration in use, with every default
// applied. Secrets and passwords are included: do not log it.
func (iss *Issuer) Config() Config {
	c := iss.cfg
	c.Scopes = slices.Clone(c.Scopes)
	c.Clients = slices.Clone(c.Clients)
	c.Users = slices.Clone(c.Users)
	return c
}

// ServeHTTP answers the issuer's endpoints; any other path gets 404.
func (iss *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	iss.mux.ServeHTTP(w, r)
}

// Rotate makes the key published ahead of use the signing key, keeps the old
// signing key published for the grace period, and publishes a new next key.
func (iss *Issuer) Rotate() error {
	if err := iss.keys.rotate(); err != nil {
		return err
	}
	iss.cfg.Logger.Info("development issuer rotated its signing key", "kid", iss.keys.signer().id)
	if iss.cfg.OnRotate != nil {
		iss.cfg.OnRotate(iss.keys.snapshot())
	}
	return nil
}

// Keys returns the signing keys in use: the active key, the next one and
// the retired keys still published. They are private keys: store them as
// secrets (WriteStateFile) and never log them.
func (iss *Issuer) Keys() KeySet { return iss.keys.snapshot() }

// KeyIDs returns the key ids of the active signing key and of the key that
// will sign after the next rotation.
func (iss *Issuer) KeyIDs() (active, next string) {
	iss.keys.mu.RLock()
	defer iss.keys.mu.RUnlock()
	return iss.keys.active.id, iss.keys.next.id
}

// Run rotates the signing key every Config.RotateEvery until ctx is done,
// and then returns ctx's error. With no RotateEvery it only waits.
func (iss *Issuer) Run(ctx context.Context) error {
	if iss.cfg.RotateEvery <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTicker(iss.cfg.RotateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := iss.Rotate(); err != nil {
				iss.cfg.Logger.Error("development issuer failed to rotate its key", "error", err)
			}
		}
	}
}

func (iss *Issuer) endpoint(name string) string { return iss.cfg.Issuer + "/v1/" + name }

// metadata is the authorization server metadata (RFC 8414) shared by both
// discovery documents.
func (iss *Issuer) metadata() map[string]any {
	scopes := oidcScopes()
	for _, s := range iss.cfg.Scopes {
		scopes = append(scopes, s.Name)
	}
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	return map[string]any{
		"issuer":                                        iss.cfg.Issuer,
		"authorization_endpoint":                        iss.endpoint("authorize"),
		"token_endpoint":                                iss.endpoint("token"),
		"jwks_uri":                                      iss.endpoint("keys"),
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken},
		"scopes_supported":                              scopes,
		"token_endpoint_auth_methods_supported":         auth,
		"code_challenge_methods_supported":              []string{"S256"},
		"introspection_endpoint":                        iss.endpoint("introspect"),
		"introspection_endpoint_auth_methods_supported": auth,
		"revocation_endpoint":                           iss.endpoint("revoke"),
		"revocation_endpoint_auth_methods_supported":    auth,
		"end_session_endpoint":                          iss.endpoint("logout"),
		"request_parameter_supported":                   false,
		"request_object_signing_alg_values_supported":   []string{},
		"dpop_signing_alg_values_supported":             dpopAlgorithms(),
	}
}

func (iss *Issuer) serveAuthServerMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, iss.metadata())
}

func (iss *Issuer) serveOpenIDConfiguration(w http.ResponseWriter, _ *http.Request) {
	m := iss.metadata()
	m["userinfo_endpoint"] = iss.endpoint("userinfo")
	m["subject_types_supported"] = []string{"public"}
	m["id_token_signing_alg_values_supported"] = []string{"RS256"}
	m["claims_supported"] = []string{
		"iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce",
		"name", "preferred_username", "email", "email_verified", "groups", "at_hash",
	}
	writeJSON(w, http.StatusOK, m)
}

func (iss *Issuer) serveKeys(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(iss.cfg.KeysMaxAge/time.Second))+", must-revalidate")
	writeJSON(w, http.StatusOK, iss.keys.jwks())
}

// writeJSON writes v as the JSON body with status code. Token responses and
// errors are never cached.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "failed to encode response", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// oauthError is an error response in Okta's OAuth shape.
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(format string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, a...)}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}

func errInvalidScope(format string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_scope", fmt.Sprintf(format, a...)}
}

// writeError writes e as {"error":…,"error_description":…}. A 401 carries a
// Basic challenge when the client tried Basic authentication (RFC 6749 §5.2).
func (iss *Issuer) writeError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	iss.cfg.Logger.Info("development issuer refused a request",
		"path", r.URL.Path, "error", e.code, "description", e.description)
	if e.status == http.StatusUnauthorized && strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "basic ") {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+iss.cfg.Issuer+`"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}
