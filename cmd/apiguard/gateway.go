package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
)

// gatewayConfig is the validated configuration of `apiguard gateway`.
type gatewayConfig struct {
	path      string          // the rules file, watched for changes
	file      *gateway.Config // its contents
	addr      string          // listen address: --addr, else the file's listen
	issuer    string
	audience  string
	clientIDs []string
	logFormat string
	logLevel  slog.Level
	// authProxy is the proxy whose headers /auth trusts: nginx, traefik or
	// caddy (--auth-proxy, else the file's auth_proxy, else nginx).
	authProxy string
	// publicURL is where clients reach the API (DPoP htu); "" until the
	// listener is known, when neither setting nor file names one.
	publicURL string
	// shared is the introspection and DPoP configuration; its publicURL is
	// set once the listener is known.
	shared sharedStateConfig
}

// parseGatewayConfig reads flags, then the environment, then the file named
// by --config, then defaults.
func parseGatewayConfig(args []string, stderr io.Writer) (*gatewayConfig, error) {
	s := newSettings("gateway", stderr)
	path := s.add("config", "APIGUARD_GATEWAY_CONFIG", "gateway.yaml", "route rules file (reloaded on change and on SIGHUP)")
	addr := s.add("addr", "", "", "listen address (default: the file's listen, else "+gateway.DefaultListen+")")
	issuer := s.add("issuer", "OKTA_ISSUER", "", "issuer URL, e.g. https://your-okta-domain/oauth2/default (default: the file's issuer)")
	audience := s.add("audience", "OKTA_AUDIENCE", "", "audience of access tokens (default: the file's audience, else "+apiguard.DefaultAudience+")")
	clientID := s.add("client-id", "OKTA_CLIENT_ID", "", "accept only this client's tokens (default: the file's client_ids, else any client)")
	publicURL := s.add("public-url", "APIGUARD_PUBLIC_URL", "", "URL clients reach the API at, the prefix of DPoP proofs' htu (default: the file's public_url, else http:// and the listen address)")
	introClientID := s.add("introspection-client-id", "APIGUARD_INTROSPECTION_CLIENT_ID", "", "client the gateway authenticates as at the introspection endpoint (default: OKTA_CLIENT_ID)")
	clientSecret := s.add("client-secret", "OKTA_CLIENT_SECRET", "", "secret of the introspection client")
	redisURL := s.add("redis-url", "APIGUARD_REDIS_URL", "", "redis:// or rediss:// URL to share the introspection cache and the DPoP replay cache between instances (default: in memory)")
	sessionSecret := s.add("session-secret", "APIGUARD_SESSION_SECRET", "", "secret (at least 32 characters, required with Redis) that seals introspection results in Redis and keys DPoP nonces")
	authProxy := s.add("auth-proxy", "APIGUARD_AUTH_PROXY", "", "proxy that asks /auth for decisions, naming the only headers trusted to describe the request: nginx (X-Original-Method, X-Original-URI), traefik or caddy (X-Forwarded-Method, X-Forwarded-Uri) (default: the file's auth_proxy, else nginx)")
	state := newStateSettings(s, "the file", "APIGUARD_INTROSPECTION_CLIENT_ID/OKTA_CLIENT_SECRET")
	logFormat := s.add("log-format", "APIGUARD_LOG_FORMAT", "text", "log format: text or json")
	logLevel := s.add("log-level", "APIGUARD_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	if err := s.parse(args); err != nil {
		return nil, err
	}
	file, err := gateway.LoadConfig(*path)
	if err != nil {
		return nil, s.bad(path, "%v", err)
	}
	cfg := &gatewayConfig{
		path: *path, file: file, addr: *addr, issuer: *issuer, audience: *audience,
		logFormat: *logFormat,
	}
	if cfg.addr == "" {
		cfg.addr = file.Listen
	}
	if cfg.addr == "" {
		cfg.addr = gateway.DefaultListen
	}
	if err := checkAddr(cfg.addr); err != nil {
		return nil, s.bad(addr, "%v", err)
	}
	if cfg.issuer == "" {
		cfg.issuer = file.Issuer
	}
	switch {
	case cfg.issuer == "":
		return nil, s.bad(issuer, "required: set OKTA_ISSUER, --issuer or issuer in %s (the gateway has no development issuer; run `apiguard issuer` for one)", *path)
	case strings.Contains(cfg.issuer, "your-okta-domain"):
		return nil, s.bad(issuer, "%q is the tutorial's placeholder: put your Okta domain there", cfg.issuer)
	}
	if err := checkHTTPURL(cfg.issuer); err != nil {
		return nil, s.bad(issuer, "%v", err)
	}
	if cfg.audience == "" {
		cfg.audience = file.Audience
	}
	if cfg.audience == "" {
		cfg.audience = apiguard.DefaultAudience
	}
	cfg.clientIDs = file.ClientIDs
	if *clientID != "" {
		cfg.clientIDs = []string{*clientID}
	}
	cfg.authProxy = strings.ToLower(*authProxy)
	if cfg.authProxy == "" {
		cfg.authProxy = strings.ToLower(file.AuthProxy)
	}
	switch cfg.authProxy {
	case "":
		cfg.authProxy = gateway.AuthProxyNginx
	case gateway.AuthProxyNginx, gateway.AuthProxyTraefik, gateway.AuthProxyCaddy:
	default:
		return nil, s.bad(authProxy, "%q is not nginx, traefik or caddy", *authProxy)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return nil, s.bad(logFormat, "%q is not text or json", cfg.logFormat)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, s.bad(logLevel, "%q is not debug, info, warn or error", *logLevel)
	}
	if err := parseGatewayState(s, cfg, state, publicURL, introClientID, clientID, clientSecret, redisURL, sessionSecret); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseGatewayState reads the introspection and DPoP settings, which are
// serve's (serve_state.go), with the rules file's values under the
// environment's.
func parseGatewayState(s *settings, cfg *gatewayConfig, state *stateSettings, publicURL, introClientID, clientID, clientSecret, redisURL, sessionSecret *string) error {
	cfg.publicURL = strings.TrimSuffix(*publicURL, "/")
	if cfg.publicURL == "" {
		cfg.publicURL = strings.TrimSuffix(cfg.file.PublicURL, "/")
	}
	if cfg.publicURL != "" {
		if err := checkHTTPURL(cfg.publicURL); err != nil {
			return s.bad(publicURL, "%v", err)
		}
	}
	if err := checkRedis(s, redisURL, sessionSecret); err != nil {
		return err
	}
	nonce := ""
	if on := cfg.file.DPoPNonce; on != nil {
		nonce = "off"
		if *on {
			nonce = "on"
		}
	}
	state.fill(cfg.file.Introspection, cfg.file.IntrospectionCacheTTL, cfg.file.DPoP, nonce)
	st, err := state.parse(s)
	if err != nil {
		return err
	}
	cfg.shared = sharedStateConfig{state: st, redisURL: *redisURL, sessionSecret: *sessionSecret,
		clientID: *introClientID, clientSecret: *clientSecret}
	if cfg.shared.clientID == "" {
		cfg.shared.clientID = *clientID
	}
	if st.introspection != "off" && (cfg.shared.clientID == "" || cfg.shared.clientSecret == "") {
		return s.bad(state.introspection, "needs APIGUARD_INTROSPECTION_CLIENT_ID (or OKTA_CLIENT_ID) and OKTA_CLIENT_SECRET: a client of the authorization server allowed to introspect")
	}
	return nil
}

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGatewayNotify(ctx, args, stdout, stderr, nil)
}

// gatewayMaxHeaderBytes caps request headers: a token is at most 8 KiB, and
// forwarded cookies need room too.
const gatewayMaxHeaderBytes = 32 << 10

// runGatewayNotify runs `apiguard gateway` until ctx is done. onListen, when
// set, is told the bound addresses (admin is "" without admin_listen); tests
// listen on port 0.
func runGatewayNotify(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr, admin string)) error {
	cfg, err := parseGatewayConfig(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)

	ln, publicURL, err := listen("--addr", cfg.addr, cfg.publicURL)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.publicURL = publicURL
	cfg.shared.publicURL = cfg.publicURL
	state, err := openSharedState(cfg.shared, log)
	if err != nil {
		return err
	}
	defer state.close()

	verifier, err := apiguard.New(apiguard.Config{
		Issuer:        cfg.issuer,
		Audience:      cfg.audience,
		ClientIDs:     cfg.clientIDs,
		Logger:        log,
		Introspection: state.introspection,
	})
	if err != nil {
		return &usageError{fmt.Errorf("OKTA_ISSUER (--issuer): %w", err)}
	}
	gw, err := gateway.New(cfg.file, gateway.Options{
		Middleware: &apiguard.Middleware{Verifier: verifier, DPoP: state.dpop},
		Logger:     log,
		AuthProxy:  cfg.authProxy,
	})
	if err != nil {
		return err
	}

	servers := []*http.Server{newGatewayServer(gw, log)}
	listeners := []net.Listener{ln}
	adminAddr := ""
	if cfg.file.AdminListen != "" {
		aln, err := net.Listen("tcp", cfg.file.AdminListen)
		if err != nil {
			return &usageError{fmt.Errorf("admin_listen in %s: failed to listen on %s: %w", cfg.path, cfg.file.AdminListen, err)}
		}
		defer aln.Close()
		servers = append(servers, newGatewayServer(gw.AdminHandler(), log))
		listeners = append(listeners, aln)
		adminAddr = aln.Addr().String()
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	watched, err := gw.Watch(watchCtx, cfg.path, hup)
	if err != nil {
		return err
	}
	defer func() { stopWatch(); <-watched }()

	// Fetch the signing keys now rather than on the first request; /readyz
	// says when they are in. The gateway serves either way (503 until then).
	go func() {
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := verifier.Ready(readyCtx); err != nil && ctx.Err() == nil {
			log.Warn("signing keys not loaded yet; protected routes answer 503 until they are", "issuer", cfg.issuer, "reason", apiguard.Reason(err), "err", err)
		}
	}()

	log.Info("gateway listening", "addr", ln.Addr().String(), "admin_addr", adminAddr, "public_url", cfg.publicURL,
		"config", cfg.path, "routes", len(cfg.file.Routes), "issuer", cfg.issuer, "audience", cfg.audience,
		"auth_proxy", cfg.authProxy)
	if len(cfg.clientIDs) > 0 {
		log.Info("accepting tokens of listed clients only", "client_ids", strings.Join(cfg.clientIDs, ","))
	}
	if onListen != nil {
		onListen(ln.Addr().String(), adminAddr)
	}

	return runServers(ctx, servers, listeners, log)
}

// newGatewayServer has no read or write timeout: streams, long polls,
// WebSockets and large uploads pass through. Headers must arrive promptly.
func newGatewayServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    gatewayMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
