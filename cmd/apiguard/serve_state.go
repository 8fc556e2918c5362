package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/session"
)

// stateConfig is serve's configuration of introspection and DPoP, and of
// the Redis store they share across instances.
type stateConfig struct {
	introspection string        // off, opaque or always
	cacheTTL      time.Duration // negative: no introspection cache
	dpop          string        // on, off or required
	dpopNonce     bool
}

// The built-in values of the state settings.
const (
	defaultIntrospection = "off"
	defaultCacheTTL      = "1m"
	defaultDPoP          = "on"
	defaultDPoPNonce     = "off"
)

// stateSettings are the settings behind a stateConfig.
type stateSettings struct {
	introspection, cacheTTL, dpop, dpopNonce *string
}

// addStateSettings declares serve's state settings, introspecting with
// OKTA_CLIENT_ID/OKTA_CLIENT_SECRET.
func addStateSettings(s *settings) *stateSettings {
	return newStateSettings(s, "", "OKTA_CLIENT_ID/OKTA_CLIENT_SECRET")
}

// newStateSettings declares the state settings; credentials names the
// settings introspection authenticates with. When file is not empty the
// settings have no default of their own: a value neither flag nor
// environment sets comes from the file (see fill), else from the built-in
// default.
func newStateSettings(s *settings, file, credentials string) *stateSettings {
	def := func(field, builtin string) (string, string) {
		if file == "" {
			return builtin, ""
		}
		return "", " (default: " + file + "'s " + field + ", else " + builtin + ")"
	}
	introDef, introFrom := def("introspection", defaultIntrospection)
	ttlDef, ttlFrom := def("introspection_cache_ttl", defaultCacheTTL)
	dpopDef, dpopFrom := def("dpop", defaultDPoP)
	nonceDef, nonceFrom := def("dpop_nonce", defaultDPoPNonce)
	return &stateSettings{
		introspection: s.add("introspection", "APIGUARD_INTROSPECTION", introDef,
			"introspect tokens at the issuer (RFC 7662) with "+credentials+": off, opaque (tokens that are not JWTs) or always (every token: revocation is seen)"+introFrom),
		cacheTTL: s.add("introspection-cache-ttl", "APIGUARD_INTROSPECTION_CACHE_TTL", ttlDef,
			"longest an introspection result is reused (shared through APIGUARD_REDIS_URL when set); 0: ask the issuer on every request"+ttlFrom),
		dpop: s.add("dpop", "APIGUARD_DPOP", dpopDef,
			"DPoP sender-constrained tokens (RFC 9449): on (DPoP-bound and bearer tokens), required (DPoP-bound only) or off (DPoP-bound tokens refused)"+dpopFrom),
		dpopNonce: s.add("dpop-nonce", "APIGUARD_DPOP_NONCE", nonceDef,
			"require server-issued DPoP nonces: on or off (instances share nonces when they share APIGUARD_SESSION_SECRET)"+nonceFrom),
	}
}

// fill gives the settings that neither flag nor environment set the values
// given (a file's), then the built-in defaults.
func (st *stateSettings) fill(introspection, cacheTTL, dpop, dpopNonce string) {
	for _, f := range []struct {
		value          *string
		given, builtin string
	}{
		{st.introspection, introspection, defaultIntrospection},
		{st.cacheTTL, cacheTTL, defaultCacheTTL},
		{st.dpop, dpop, defaultDPoP},
		{st.dpopNonce, dpopNonce, defaultDPoPNonce},
	} {
		if *f.value == "" {
			*f.value = f.given
		}
		if *f.value == "" {
			*f.value = f.builtin
		}
	}
}

// check validates the settings; cfg's other fields are parsed already.
func (st *stateSettings) check(s *settings, cfg *serveConfig) (stateConfig, error) {
	c, err := st.parse(s)
	if err != nil {
		return c, err
	}
	if c.introspection != "off" && cfg.issuer != "" && (cfg.clientID == "" || cfg.clientSecret == "") {
		return c, s.bad(st.introspection, "needs OKTA_CLIENT_ID and OKTA_CLIENT_SECRET: a client of the authorization server allowed to introspect")
	}
	return c, nil
}

// parse validates the settings (see fill for the ones left empty); the
// caller checks the introspection credentials.
func (st *stateSettings) parse(s *settings) (stateConfig, error) {
	st.fill("", "", "", "")
	c := stateConfig{introspection: strings.ToLower(*st.introspection), dpop: strings.ToLower(*st.dpop)}
	switch c.introspection {
	case "off", "opaque", "always":
	default:
		return c, s.bad(st.introspection, "%q is not off, opaque or always", *st.introspection)
	}
	ttl, err := time.ParseDuration(*st.cacheTTL)
	if err != nil || ttl < 0 {
		return c, s.bad(st.cacheTTL, "%q is not a duration like 30s or 5m", *st.cacheTTL)
	}
	c.cacheTTL = ttl
	if ttl == 0 {
		c.cacheTTL = -1
	}
	switch c.dpop {
	case "on", "off", "required":
	default:
		return c, s.bad(st.dpop, "%q is not on, off or required", *st.dpop)
	}
	switch strings.ToLower(*st.dpopNonce) {
	case "on", "true", "1":
		c.dpopNonce = true
	case "off", "false", "0":
	default:
		return c, s.bad(st.dpopNonce, "%q is not on or off", *st.dpopNonce)
	}
	if c.dpopNonce && c.dpop == "off" {
		return c, s.bad(st.dpopNonce, "needs APIGUARD_DPOP on or required")
	}
	return c, nil
}

// checkRedis validates APIGUARD_REDIS_URL and APIGUARD_SESSION_SECRET: a
// redis:// or rediss:// URL, and with it a secret of 32 characters or more.
func checkRedis(s *settings, redisURL, sessionSecret *string) error {
	if *redisURL != "" {
		u, err := url.Parse(*redisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return s.bad(redisURL, "%q is not a redis:// or rediss:// URL", redactURL(*redisURL))
		}
		if len(*sessionSecret) < 32 {
			return s.bad(sessionSecret, "at least 32 characters are required with Redis (e.g. the output of 'openssl rand -base64 32')")
		}
	} else if *sessionSecret != "" && len(*sessionSecret) < 32 {
		return s.bad(sessionSecret, "at least 32 characters are required")
	}
	return nil
}

// sharedState is what newApp wires into the verifier and the middleware.
type sharedState struct {
	introspection *apiguard.IntrospectionConfig // nil: off
	dpop          *apiguard.DPoP                // nil: off
	close         func()
}

// sharedStateConfig is what openSharedState needs of a command's
// configuration.
type sharedStateConfig struct {
	state         stateConfig
	redisURL      string // "": caches in memory
	sessionSecret string // seals introspection results in Redis; keys nonces
	publicURL     string // DPoP htu prefix
	clientID      string // introspection client
	clientSecret  string
}

// newSharedState is openSharedState for serve.
func newSharedState(cfg *serveConfig, clientID, clientSecret string, log *slog.Logger) (*sharedState, error) {
	return openSharedState(sharedStateConfig{state: cfg.state, redisURL: cfg.redisURL, sessionSecret: cfg.sessionSecret,
		publicURL: cfg.publicURL, clientID: clientID, clientSecret: clientSecret}, log)
}

// openSharedState builds the introspection configuration and the DPoP
// checker, with their caches in Redis when APIGUARD_REDIS_URL is set so
// that every instance sees the same introspection results and proof ids.
// Redis being down does not stop start-up: DPoP requests answer 503 and
// introspection asks the issuer until it is back.
func openSharedState(cfg sharedStateConfig, log *slog.Logger) (*sharedState, error) {
	st := &sharedState{close: func() {}}
	var store *sharedstate.Store
	if cfg.redisURL != "" && (cfg.state.introspection != "off" || cfg.state.dpop != "off") {
		client, err := session.NewRedisClient(cfg.redisURL)
		if err != nil {
			return nil, &usageError{fmt.Errorf("APIGUARD_REDIS_URL (--redis-url): %w", err)}
		}
		st.close = func() { client.Close() }
		// APIGUARD_SESSION_SECRET (required with Redis) seals the
		// introspection results stored there.
		if store, err = sharedstate.New(sharedstate.Config{Client: client, Secret: []byte(cfg.sessionSecret)}); err != nil {
			client.Close()
			return nil, err
		}
	}
	if cfg.state.introspection != "off" {
		ic := &apiguard.IntrospectionConfig{ClientID: cfg.clientID, ClientSecret: cfg.clientSecret, MaxCacheTTL: cfg.state.cacheTTL}
		if cfg.state.introspection == "always" {
			ic.Mode = apiguard.IntrospectAlways
		}
		if store != nil {
			ic.Cache = store
		}
		st.introspection = ic
	}
	if cfg.state.dpop != "off" {
		dc := apiguard.DPoPConfig{PublicURL: cfg.publicURL, Required: cfg.state.dpop == "required"}
		if store != nil {
			dc.ReplayCache = store
		}
		if cfg.state.dpopNonce {
			dc.NonceKey = nonceKey(cfg.sessionSecret)
		}
		d, err := apiguard.NewDPoP(dc)
		if err != nil {
			st.close()
			return nil, &usageError{fmt.Errorf("APIGUARD_DPOP (--dpop): %w", err)}
		}
		st.dpop = d
	}
	log.Info("token checks", "introspection", cfg.state.introspection, "dpop", cfg.state.dpop,
		"dpop_nonce", cfg.state.dpopNonce, "shared_state", store != nil)
	return st, nil
}

// nonceKey derives the DPoP nonce key from the session secret, so that
// instances sharing the secret accept each other's nonces; with no secret,
// a random key of this process.
func nonceKey(secret string) []byte {
	if secret == "" {
		return []byte(rand.Text() + rand.Text()) // 52 random base32 characters
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("apiguard dpop nonce key"))
	return mac.Sum(nil)
}

// addDPoPMetadata adds the DPoP fields of RFC 9728 §2 to the protected
// resource metadata.
func addDPoPMetadata(meta map[string]any, d *apiguard.DPoP) {
	if d == nil {
		return
	}
	meta["dpop_signing_alg_values_supported"] = d.Algorithms()
	meta["dpop_bound_access_tokens_required"] = d.Required()
}
