package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/internal/urlcheck"
	"github.com/apiguard/apiguard/login"
	"github.com/apiguard/apiguard/session"
	"github.com/redis/go-redis/v9"
	"github.com/rs/cors"
)

// serveConfig is the validated configuration of `apiguard serve`.
type serveConfig struct {
	addr           string
	publicURL      string // "" until the listener is known, when not set
	issuer         string // "" = embedded development issuer
	dev            bool   // --dev: the development issuer was asked for
	devExposed     bool   // the development issuer listens beyond loopback (only with dev)
	audience       string
	clientID       string
	clientSecret   string
	origins        []string
	redisURL       string
	requiredScopes []string
	issuerConfig   string
	sessionSecret  string
	loginScopes    []string
	configOrigin   string // names APIGUARD_ISSUER_CONFIG and its source, for errors
	devUser        string // the development issuer's user, when not generated
	devPassword    string
	devState       devState // where the development issuer keeps its state; zero: in memory
	logFormat      string
	logLevel       slog.Level
	state          stateConfig  // introspection and DPoP
	issuers        []fileIssuer // OKTA_ISSUERS: the issuers besides issuer, in order
}

// serveSettings are the settings serve reads (settingTable).
var serveSettings = []string{"addr", "public-url", "issuer", "issuers", "audience", "client-id", "client-secret",
	"allowed-origins", "redis-url", "session-secret", "require-scope", "issuer-config", "login-scopes",
	"introspection", "introspection-cache-ttl", "dpop", "dpop-nonce", "dev", "dev-state", "dev-state-reset", "dev-user", "dev-password",
	"log-format", "log-level"}

func parseServeConfig(args []string, stderr io.Writer) (*serveConfig, error) {
	s := newSettings("serve", stderr, serveSettings...)
	if err := s.parse(args); err != nil {
		return nil, err
	}
	var err error
	cfg := &serveConfig{
		addr: s.str("addr"), publicURL: s.str("public-url"), issuer: s.str("issuer"), audience: s.str("audience"),
		clientID: s.str("client-id"), clientSecret: s.str("client-secret"), origins: s.list("allowed-origins"),
		redisURL: s.str("redis-url"), requiredScopes: s.list("require-scope"), issuerConfig: s.str("issuer-config"),
		sessionSecret: s.str("session-secret"), loginScopes: s.list("login-scopes"),
		configOrigin: s.origin("issuer-config"), devUser: s.str("dev-user"), devPassword: s.str("dev-password"),
		logFormat: s.str("log-format"), logLevel: logLevel(s.str("log-level")), dev: s.bool("dev"),
	}
	if cfg.issuer != "" {
		// The verifier's own checks (https, or http on loopback), before
		// anything listens; New does not contact the issuer.
		if _, err := apiguard.New(apiguard.Config{Issuer: cfg.issuer, Audience: cfg.audience}); err != nil {
			return nil, s.bad("issuer", "%v", strings.TrimPrefix(err.Error(), "apiguard: "))
		}
	}
	if raw := s.str("issuers"); raw != "" {
		if cfg.issuers, err = parseIssuersSetting(raw, cfg.issuer, cfg.audience); err != nil {
			return nil, s.bad("issuers", "%v", err)
		}
	}
	if err := checkSessionSecret(s); err != nil {
		return nil, err
	}
	if cfg.issuerConfig != "" && cfg.issuer != "" {
		return nil, s.bad("issuer-config", "configures the embedded development issuer, which is not used when OKTA_ISSUER is set")
	}
	if cfg.dev && cfg.issuer != "" {
		return nil, s.bad("dev", "runs the embedded development issuer, which is not used when OKTA_ISSUER is set: unset one of them")
	}
	if cfg.issuer == "" {
		looksProduction := productionSignals(s, cfg)
		switch {
		case len(looksProduction) > 0 && !cfg.dev:
			return nil, s.bad("issuer", "not set, so serve would run its development issuer, but these settings look like production: %s; "+
				"set OKTA_ISSUER to your issuer's URL, or pass --dev (or APIGUARD_DEV=1) to run the development issuer anyway",
				strings.Join(looksProduction, ", "))
		case cfg.dev:
			cfg.devExposed = !isLoopback(cfg.addr)
		}
	}
	if cfg.issuer == "" {
		if cfg.devState, err = devStateFrom(s, true); err != nil {
			return nil, err
		}
	} else if s.bool("dev-state-reset") {
		return nil, s.bad("dev-state-reset", "resets the embedded development issuer, which is not used when OKTA_ISSUER is set")
	}
	cfg.state = stateFrom(s)
	if cfg.state.introspection != "off" && cfg.issuer != "" && (cfg.clientID == "" || cfg.clientSecret == "") {
		return nil, s.bad("introspection", "needs OKTA_CLIENT_ID and OKTA_CLIENT_SECRET: a client of the authorization server allowed to introspect")
	}
	if err := checkNonce(s); err != nil {
		return nil, err
	}
	return cfg, nil
}

// logLevel converts a checked APIGUARD_LOG_LEVEL.
func logLevel(v string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(v)) // one of logLevels
	return l
}

// redactURL hides the password of a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// newLogger returns the logger of serve and gateway, which also becomes the
// Redis client's: go-redis otherwise prints its own lines (failed dials,
// failovers) straight to the process's stderr, unstructured and whatever
// APIGUARD_LOG_FORMAT and APIGUARD_LOG_LEVEL say.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	if lw, ok := w.(*logWriter); ok {
		h = flushingHandler{h, lw}
	}
	log := slog.New(h)
	redis.SetLogger(redisLogger{log})
	return log
}

// redisLogger logs go-redis's messages at info level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l.log.Enabled(ctx, slog.LevelInfo) {
		l.log.LogAttrs(ctx, slog.LevelInfo, "redis client", slog.String("detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")))
	}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return serve(ctx, args, stdout, stderr, nil)
}

// serve runs `apiguard serve` until ctx is done. onListen, when set, is told
// the bound address (tests listen on port 0).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr string)) error {
	cfg, err := parseServeConfig(args, stderr)
	if err != nil {
		return err
	}
	// Lines are buffered and written in batches (see logWriter); Close
	// writes the rest when the command returns.
	lw := newLogWriter(stderr)
	defer lw.Close()
	log := newLogger(cfg.logFormat, cfg.logLevel, lw)

	ln, publicURL, err := listen(settingName("addr"), cfg.addr, cfg.publicURL)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.publicURL = publicURL

	app, err := newApp(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer app.close()

	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.publicURL, "issuer", app.issuerURL)
	_ = lw.Flush() // the start-up lines at once, not with the first batch
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	return runServer(ctx, newServer(app.handler, log), ln, log)
}

// defaultPublicURL is http:// and the bound address, with a wildcard host
// (0.0.0.0, ::) replaced by 127.0.0.1: set APIGUARD_PUBLIC_URL to be reached
// from elsewhere.
func defaultPublicURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// app is the wired service.
type app struct {
	handler   http.Handler
	issuerURL string
	verifier  *apiguard.Verifier
	close     func()
}

// newApp wires the service. What it starts (the development issuer, Redis
// clients) belongs to the returned app's close; when newApp fails it
// closes all of it before returning.
func newApp(ctx context.Context, cfg *serveConfig, log *slog.Logger, stdout io.Writer) (_ *app, err error) {
	a := &app{}
	var owned cleanup
	defer func() {
		if err != nil {
			owned.close()
		}
	}()
	mux := http.NewServeMux()
	m := newMetrics()

	a.issuerURL = cfg.issuer
	insecureHTTP := false
	clientID, clientSecret := cfg.clientID, cfg.clientSecret
	var apiScopes []string // custom scopes asked for at browser login
	if cfg.issuer == "" {
		dev, err := newDevIssuer(cfg, log, stdout)
		if err != nil {
			return nil, err
		}
		a.issuerURL = dev.URL()
		dc := dev.Config()
		clientID, clientSecret = dc.Clients[0].ID, dc.Clients[0].Secret
		for _, sc := range dc.Scopes {
			if sc.Default {
				apiScopes = append(apiScopes, sc.Name)
			}
		}
		mux.Handle(strings.TrimPrefix(dev.URL(), cfg.publicURL)+"/", dev)
		owned.goRun(ctx, dev.Run)
		insecureHTTP = true // the development issuer lives at the public URL, whatever it is
	}

	state, err := newSharedState(cfg, clientID, clientSecret, m.verifierMetrics, log)
	if err != nil {
		return nil, err
	}
	owned.add(state.close)
	vs, err := newVerifiers(apiguard.Config{
		Issuer:            a.issuerURL,
		Audience:          cfg.audience,
		InsecureAllowHTTP: insecureHTTP,
	}, cfg.issuers, state, m.verifierMetrics, log, func(err error) error {
		return fmt.Errorf("%s (with %s as %q): %w", settingName("issuers"), settingName("issuer"), defaultIssuerName, err)
	})
	if err != nil {
		return nil, err
	}
	v, tv := vs.main, vs.tv
	a.verifier = v

	resourceMetadata := cfg.publicURL + "/.well-known/oauth-protected-resource"
	guard := &apiguard.Middleware{
		Verifier:         tv,
		ResourceMetadata: resourceMetadata,
		Binding:          state.binding(),
		OnRefuse: func(r *http.Request, err error) {
			reason := apiguard.Reason(err)
			m.refusals.WithLabelValues(reason).Inc()
			if info := requestInfoFrom(r.Context()); info != nil {
				info.reason = reason
			}
		},
	}
	var policies []apiguard.Policy
	if len(cfg.requiredScopes) > 0 {
		policies = append(policies, apiguard.RequireScopes(cfg.requiredScopes...))
	}

	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "Public API endpoint"})
	})
	secure := guard.Handler(http.HandlerFunc(secureData), policies...)
	if clientID == "" {
		mux.Handle("GET /secure-data", secure)
		mux.HandleFunc("/login", loginOff)
		mux.HandleFunc("/profile", loginOff)
	} else {
		svc, closeStore, err := newLogin(cfg, a.issuerURL, clientID, clientSecret, apiScopes, v, m.verifierMetrics, log, insecureHTTP)
		if err != nil {
			return nil, err
		}
		owned.add(closeStore)
		svc.Register(mux)
		mux.Handle("GET /secure-data", sessionOrBearer(svc, guard, secure, policies))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		ready := apiguard.TokenVerifier(v) // one issuer: its keys, as before several
		if len(vs.names) > 1 {
			ready = tv // every issuer's
		}
		if err := ready.Ready(rctx); err != nil {
			retry := 5 * time.Second
			var ke *apiguard.KeysError
			if errors.As(err, &ke) && ke.RetryAfter > 0 {
				retry = ke.RetryAfter
			}
			w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
			body := map[string]any{"status": "unavailable", "reason": notReadyReason(err)}
			if multi, ok := tv.(*apiguard.Issuers); ok {
				// Names only: with several issuers the errors would show
				// every URL and cause, which a probe does not need.
				names := multi.NotReady(rctx)
				body["reason"] = "signing keys not loaded: " + strings.Join(names, ", ")
				if len(names) == 0 { // ready meanwhile, or the deadline passed first
					body["reason"] = "signing keys not loaded"
					names = []string{}
				}
				body["not_ready"] = names
			}
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		keys := 0
		for _, iv := range vs.all {
			keys += iv.KeyCount()
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "keys": keys})
	})
	mux.Handle("GET /metrics", m.handler())
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", func(w http.ResponseWriter, r *http.Request) {
		scopes := cfg.requiredScopes
		if scopes == nil {
			scopes = []string{}
		}
		meta := map[string]any{
			"resource":                 cfg.publicURL,
			"resource_name":            "apiguard",
			"authorization_servers":    vs.urls,
			"bearer_methods_supported": []string{"header"},
			"scopes_supported":         scopes,
		}
		addDPoPMetadata(meta, state.dpop)
		writeJSON(w, http.StatusOK, meta)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such route"})
	})

	var h http.Handler = mux
	if len(cfg.origins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.origins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodHead},
			AllowedHeaders: []string{"Authorization", "Content-Type", "DPoP"},
			ExposedHeaders: []string{"WWW-Authenticate", "Retry-After", "X-Request-Id", "DPoP-Nonce"},
			MaxAge:         600,
		}).Handler(h)
	}
	a.handler = accessLog(log, m, h)
	a.close = owned.close
	return a, nil
}

// newLogin sets up the browser login with sessions in memory, or in Redis
// when APIGUARD_REDIS_URL is set. Redis being down does not stop start-up:
// login pages answer 503 until it is back, bearer tokens keep working.
// Failed Redis commands are counted in vm (use sessions).
func newLogin(cfg *serveConfig, issuer, clientID, clientSecret string, apiScopes []string, v *apiguard.Verifier, vm *verifierMetrics, log *slog.Logger, insecureHTTP bool) (*login.Service, func(), error) {
	var store session.Store = session.NewMemoryStore(session.MemoryConfig{})
	closeStore := func() {}
	if cfg.redisURL != "" {
		client, err := session.NewRedisClient(cfg.redisURL)
		if err != nil {
			return nil, nil, &usageError{fmt.Errorf("%s: %w", settingName("redis-url"), err)}
		}
		client.AddHook(vm.redisHook(redisUseSessions))
		rs, err := session.NewRedisStore(session.RedisConfig{Client: client, Secret: []byte(cfg.sessionSecret)})
		if err != nil {
			client.Close()
			return nil, nil, &usageError{fmt.Errorf("%s: %w", settingName("session-secret"), err)}
		}
		store = rs
		closeStore = func() { client.Close() }
	}
	scopes := cfg.loginScopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "offline_access"}
		if cfg.issuer == "" {
			scopes = append(scopes, "groups") // the development issuer has it; an Okta server may not
		}
		for _, sc := range append(apiScopes, cfg.requiredScopes...) {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	svc, err := login.New(login.Config{
		Issuer:            issuer,
		ClientID:          clientID,
		ClientSecret:      clientSecret,
		PublicURL:         cfg.publicURL,
		Scopes:            scopes,
		Store:             store,
		AccessVerifier:    v,
		Logger:            log,
		InsecureAllowHTTP: insecureHTTP,
	})
	if err != nil {
		closeStore()
		return nil, nil, &usageError{fmt.Errorf("%s or %s: failed to set up browser login: %w", settingName("public-url"), settingName("client-id"), err)}
	}
	return svc, closeStore, nil
}

// sessionOrBearer lets /secure-data be called with a bearer token or, when
// the request has none, with the browser's login session.
func sessionOrBearer(svc *login.Service, guard *apiguard.Middleware, bearer http.Handler, policies []apiguard.Policy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Authorization")) > 0 || len(r.Cookies()) == 0 {
			bearer.ServeHTTP(w, r)
			return
		}
		c, err := svc.Claims(r)
		switch {
		case errors.Is(err, session.ErrUnavailable), errors.Is(err, login.ErrProvider), errors.Is(err, apiguard.ErrKeysUnavailable):
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"error": "temporarily_unavailable", "error_description": "the session store or the issuer is unavailable; try again later",
			})
			return
		case err != nil:
			bearer.ServeHTTP(w, r) // not logged in: the bearer challenge
			return
		}
		for _, p := range policies {
			if err := p(c); err != nil {
				guard.WriteError(w, err)
				return
			}
		}
		secureData(w, r.WithContext(apiguard.ContextWithClaims(r.Context(), c)))
	})
}

// notReadyReason says why /readyz answers 503, for whoever runs the
// service: "signing keys not loaded: " and the cause, the issuer URL's
// fetch error or a timeout. Nothing in it is secret: the issuer URL
// carries no credentials (the setting refuses them), and key-set errors
// name URLs and statuses, never a response body.
func notReadyReason(err error) string {
	var ke *apiguard.KeysError
	switch {
	case errors.As(err, &ke) && ke.Err != nil:
		return "signing keys not loaded: " + ke.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "signing keys not loaded: the issuer did not answer within 3s"
	}
	return "signing keys not loaded: " + strings.TrimPrefix(err.Error(), "apiguard: ")
}

func loginOff(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{
		"error":             "not_found",
		"error_description": "browser login is off: set OKTA_CLIENT_ID and OKTA_CLIENT_SECRET (a web application at the issuer)",
	})
}

func secureData(w http.ResponseWriter, r *http.Request) {
	claims, _ := apiguard.ClaimsFromContext(r.Context())
	user, err := claims.MarshalJSON() // the verified payload, valid JSON as signed
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// Written as is rather than re-encoded: encoding/json would only check
	// the payload again, at a cost per request.
	_, _ = io.WriteString(w, `{"message":"Secure data accessed!","user":`)
	_, _ = w.Write(user)
	_, _ = io.WriteString(w, "}\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newDevIssuer builds the embedded development issuer at
// {public URL}/oauth2/default and prints how to use it.
func newDevIssuer(cfg *serveConfig, log *slog.Logger, stdout io.Writer) (*devissuer.Issuer, error) {
	apps := []string{"http://localhost:5000", "http://127.0.0.1:5000", cfg.publicURL}
	if host, port, err := net.SplitHostPort(strings.TrimPrefix(cfg.publicURL, "http://")); err == nil && host == "127.0.0.1" {
		apps = append(apps, "http://localhost:"+port)
	}
	dev, gen, err := buildDevIssuer(devIssuerOptions{
		issuerURL:     cfg.publicURL + "/oauth2/default",
		configPath:    cfg.issuerConfig,
		configSetting: cfg.configOrigin,
		clientID:      cfg.clientID,
		clientSecret:  cfg.clientSecret,
		user:          cfg.devUser,
		password:      cfg.devPassword,
		appURLs:       apps,
		audience:      cfg.audience,
		state:         cfg.devState,
		log:           log,
	})
	if err != nil {
		return nil, err
	}
	src := devSources{clientSecret: "OKTA_CLIENT_SECRET", password: "APIGUARD_DEV_PASSWORD", state: dev.state}
	if cfg.issuerConfig != "" {
		src = devSources{clientSecret: "APIGUARD_ISSUER_CONFIG", password: "APIGUARD_ISSUER_CONFIG", state: dev.state}
	}
	if cfg.devExposed {
		src.exposedAddr = cfg.addr
		log.Warn("DEVELOPMENT ISSUER REACHABLE BEYOND LOOPBACK (--dev): anyone who can reach this address can sign in as its user and get tokens it mints; use a trusted network only, never production",
			"addr", cfg.addr)
	}
	printDevBanner(stdout, dev.Config(), gen, src, cfg.publicURL)
	return dev.Issuer, nil
}

// productionSignals lists the settings that, without OKTA_ISSUER, say the
// operator meant a real issuer: client credentials (an Okta app's), an
// https public URL, Redis, or a listen address beyond loopback. An .env
// whose OKTA_ISSUER line was lost must not start the development issuer
// with them.
func productionSignals(s *settings, cfg *serveConfig) []string {
	var out []string
	if cfg.clientID != "" {
		out = append(out, s.name("client-id"))
	}
	if cfg.clientSecret != "" {
		out = append(out, s.name("client-secret"))
	}
	if strings.HasPrefix(strings.ToLower(cfg.publicURL), "https://") {
		out = append(out, s.name("public-url")+" (https)")
	}
	if cfg.redisURL != "" {
		out = append(out, s.name("redis-url"))
	}
	if !isLoopback(cfg.addr) {
		out = append(out, s.name("addr")+" "+cfg.addr+" (not loopback)")
	}
	return out
}

// isLoopback reports whether the host of a host:port listen address
// certainly names this machine (urlcheck.IsLoopback); an empty host (every
// interface) and any other name are not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && urlcheck.IsLoopback(host)
}
