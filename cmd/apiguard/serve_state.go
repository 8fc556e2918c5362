package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/introspect"
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

// stateFrom reads the introspection and DPoP settings, checked already.
func stateFrom(s *settings) stateConfig {
	c := stateConfig{introspection: s.str("introspection"), cacheTTL: s.duration("introspection-cache-ttl"),
		dpop: s.str("dpop"), dpopNonce: s.bool("dpop-nonce")}
	if c.cacheTTL == 0 {
		c.cacheTTL = -1
	}
	return c
}

// checkNonce refuses DPoP nonces with DPoP off.
func checkNonce(s *settings) error {
	if s.bool("dpop-nonce") && s.str("dpop") == "off" {
		return s.bad("dpop-nonce", "needs APIGUARD_DPOP on or required")
	}
	return nil
}

// checkSessionSecret requires APIGUARD_SESSION_SECRET of 32 characters or
// more, with APIGUARD_REDIS_URL or whenever it is set.
func checkSessionSecret(s *settings) error {
	secret := s.str("session-secret")
	switch {
	case s.str("redis-url") != "" && len(secret) < 32:
		return s.bad("session-secret", "at least 32 characters are required with Redis (e.g. the output of 'openssl rand -base64 32')")
	case secret != "" && len(secret) < 32:
		return s.bad("session-secret", "at least 32 characters are required")
	}
	return nil
}

// sharedState is what newApp wires into the verifier and the middleware.
type sharedState struct {
	introspection *introspect.Config // nil: off
	dpop          *dpop.Checker      // nil: off
	close         func()
}

// binding is the middleware's token binding: the DPoP checker, or nil (not
// a nil *dpop.Checker) when DPoP is off.
func (st *sharedState) binding() apiguard.Binding {
	if st.dpop == nil {
		return nil
	}
	return st.dpop
}

// tokenVerifier is the middleware's verifier: v, or v with introspection
// when it is on.
func (st *sharedState) tokenVerifier(v *apiguard.Verifier) (apiguard.TokenVerifier, error) {
	if st.introspection == nil {
		return v, nil
	}
	return introspect.New(v, *st.introspection)
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
func newSharedState(cfg *serveConfig, clientID, clientSecret string, vm *verifierMetrics, log *slog.Logger) (*sharedState, error) {
	return openSharedState(sharedStateConfig{state: cfg.state, redisURL: cfg.redisURL, sessionSecret: cfg.sessionSecret,
		publicURL: cfg.publicURL, clientID: clientID, clientSecret: clientSecret}, vm, log)
}

// openSharedState builds the introspection configuration and the DPoP
// checker, with their caches in Redis when APIGUARD_REDIS_URL is set so
// that every instance sees the same introspection results and proof ids.
// Redis being down does not stop start-up: DPoP requests answer 503 and
// introspection asks the issuer until it is back. Calls to the
// introspection endpoint (of the issuer setting's issuer, "default") and
// failed Redis commands (use shared_state) are counted in vm.
func openSharedState(cfg sharedStateConfig, vm *verifierMetrics, log *slog.Logger) (*sharedState, error) {
	st := &sharedState{close: func() {}}
	var store *sharedstate.Store
	if cfg.redisURL != "" && (cfg.state.introspection != "off" || cfg.state.dpop != "off") {
		client, err := session.NewRedisClient(cfg.redisURL)
		if err != nil {
			return nil, &usageError{fmt.Errorf("%s: %w", settingName("redis-url"), err)}
		}
		client.AddHook(vm.redisHook(redisUseSharedState))
		st.close = func() { client.Close() }
		// APIGUARD_SESSION_SECRET (required with Redis) seals the
		// introspection results stored there.
		if store, err = sharedstate.New(sharedstate.Config{Client: client, Secret: []byte(cfg.sessionSecret)}); err != nil {
			client.Close()
			return nil, err
		}
	}
	if cfg.state.introspection != "off" {
		ic := &introspect.Config{ClientID: cfg.clientID, ClientSecret: cfg.clientSecret, MaxCacheTTL: cfg.state.cacheTTL,
			OnRequest: vm.onIntrospection(defaultIssuerName)}
		if cfg.state.introspection == "always" {
			ic.Mode = introspect.Always
		}
		if store != nil {
			ic.Cache = store
		}
		st.introspection = ic
	}
	if cfg.state.dpop != "off" {
		dc := dpop.Config{PublicURL: cfg.publicURL, Required: cfg.state.dpop == "required"}
		if store != nil {
			dc.ReplayCache = store
		}
		if cfg.state.dpopNonce {
			dc.NonceKey = nonceKey(cfg.sessionSecret)
		}
		d, err := dpop.New(dc)
		if err != nil {
			st.close()
			return nil, &usageError{fmt.Errorf("%s: %w", settingName("dpop"), err)}
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
func addDPoPMetadata(meta map[string]any, d *dpop.Checker) {
	if d == nil {
		return
	}
	meta["dpop_signing_alg_values_supported"] = d.Algorithms()
	meta["dpop_bound_access_tokens_required"] = d.Required()
}
