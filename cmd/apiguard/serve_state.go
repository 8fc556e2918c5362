package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
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

// stateSettings are the settings behind a stateConfig.
type stateSettings struct {
	introspection, cacheTTL, dpop, dpopNonce *string
}

func addStateSettings(s *settings) *stateSettings {
	return &stateSettings{
		introspection: s.add("introspection", "APIGUARD_INTROSPECTION", "off",
			"introspect tokens at the issuer (RFC 7662) with OKTA_CLIENT_ID/OKTA_CLIENT_SECRET: off, opaque (tokens that are not JWTs) or always (every token: revocation is seen)"),
		cacheTTL: s.add("introspection-cache-ttl", "APIGUARD_INTROSPECTION_CACHE_TTL", "1m",
			"longest an introspection result is reused (shared through APIGUARD_REDIS_URL when set); 0: ask the issuer on every request"),
		dpop: s.add("dpop", "APIGUARD_DPOP", "on",
			"DPoP sender-constrained tokens (RFC 9449): on (DPoP-bound and bearer tokens), required (DPoP-bound only) or off (DPoP-bound tokens refused)"),
		dpopNonce: s.add("dpop-nonce", "APIGUARD_DPOP_NONCE", "off",
			"require server-issued DPoP nonces: on or off (instances share nonces when they share APIGUARD_SESSION_SECRET)"),
	}
}

// check validates the settings; cfg's other fields are parsed already.
func (st *stateSettings) check(s *settings, cfg *serveConfig) (stateConfig, error) {
	c := stateConfig{introspection: strings.ToLower(*st.introspection), dpop: strings.ToLower(*st.dpop)}
	switch c.introspection {
	case "off", "opaque", "always":
	default:
		return c, s.bad(st.introspection, "%q is not off, opaque or always", *st.introspection)
	}
	if c.introspection != "off" && cfg.issuer != "" && (cfg.clientID == "" || cfg.clientSecret == "") {
		return c, s.bad(st.introspection, "needs OKTA_CLIENT_ID and OKTA_CLIENT_SECRET: a client of the authorization server allowed to introspect")
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

// sharedState is what newApp wires into the verifier and the middleware.
type sharedState struct {
	introspection *apiguard.IntrospectionConfig // nil: off
	dpop          *apiguard.DPoP                // nil: off
	close         func()
}

// newSharedState builds the introspection configuration and the DPoP
// checker, with their caches in Redis when APIGUARD_REDIS_URL is set so
// that every instance sees the same introspection results and proof ids.
// Redis being down does not stop start-up: DPoP requests answer 503 and
// introspection asks the issuer until it is back.
func newSharedState(cfg *serveConfig, clientID, clientSecret string, log *slog.Logger) (*sharedState, error) {
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
		ic := &apiguard.IntrospectionConfig{ClientID: clientID, ClientSecret: clientSecret, MaxCacheTTL: cfg.state.cacheTTL}
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
