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
	path string       // the rules file, watched for changes
	file *gatewayFile // its rules and admin_listen
	addr string       // listen address: --addr, else the file's listen
	// adminListen is the file's admin_listen: "" serves the admin
	// endpoints on addr.
	adminListen string
	issuer      string
	audience    string
	clientIDs   []string
	logFormat   string
	logLevel    slog.Level
	// authProxy is the proxy whose headers /auth trusts: nginx, traefik or
	// caddy (--auth-proxy, else the file's auth_proxy, else nginx).
	authProxy string
	// publicURL is where clients reach the API (DPoP htu); "" until the
	// listener is known, when neither setting nor file names one.
	publicURL string
	// configuredPublicURL is publicURL as the settings gave it.
	configuredPublicURL string
	// shared is the introspection and DPoP configuration; its publicURL is
	// set once the listener is known.
	shared sharedStateConfig
}

// gatewaySettings are the settings gateway reads (settingTable).
var gatewaySettings = []string{"gateway-config", "gateway-addr", "issuer", "audience", "client-id", "public-url",
	"introspection-client-id", "client-secret", "redis-url", "session-secret", "auth-proxy",
	"introspection", "introspection-cache-ttl", "dpop", "dpop-nonce", "log-format", "log-level"}

// parseGatewayConfig reads flags, then the environment, then .env, then
// the file named by --config, then defaults.
func parseGatewayConfig(args []string, stderr io.Writer) (*gatewayConfig, error) {
	s := newSettings("gateway", stderr, gatewaySettings...)
	s.withFile("gateway-config")
	if err := s.parse(args); err != nil {
		return nil, err
	}
	if err := checkNonce(s); err != nil {
		return nil, err
	}
	if err := checkSessionSecret(s); err != nil {
		return nil, err
	}
	path := s.str("gateway-config")
	file, err := parseGatewayFile(s.fileData, gatewayFileKeys())
	if err != nil {
		return nil, s.bad("gateway-config", "invalid gateway config %s: %v", path, err)
	}
	cfg := &gatewayConfig{
		path: path, file: file, addr: s.str("gateway-addr"), adminListen: file.AdminListen, issuer: s.str("issuer"), audience: s.str("audience"),
		clientIDs: splitList(s.str("client-id")), authProxy: s.str("auth-proxy"), publicURL: s.str("public-url"),
		configuredPublicURL: s.str("public-url"), logFormat: s.str("log-format"), logLevel: logLevel(s.str("log-level")),
	}
	if err := checkAdminListen(file, path, cfg.addr); err != nil {
		return nil, err
	}
	if cfg.issuer == "" {
		return nil, s.bad("issuer", "required: set OKTA_ISSUER, --issuer or issuer in %s (the gateway has no development issuer; run `apiguard issuer` for one)", path)
	}
	cfg.shared = sharedStateConfig{state: stateFrom(s), redisURL: s.str("redis-url"), sessionSecret: s.str("session-secret"),
		clientID: s.str("introspection-client-id"), clientSecret: s.str("client-secret")}
	if cfg.shared.clientID == "" && s.get("client-id").src != fromFile {
		cfg.shared.clientID = s.str("client-id") // OKTA_CLIENT_ID, not the file's client_ids
	}
	if cfg.shared.state.introspection != "off" && (cfg.shared.clientID == "" || cfg.shared.clientSecret == "") {
		return nil, s.bad("introspection", "needs APIGUARD_INTROSPECTION_CLIENT_ID (or OKTA_CLIENT_ID) and OKTA_CLIENT_SECRET: a client of the authorization server allowed to introspect")
	}
	return cfg, nil
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
	// Lines are buffered and written in batches (see logWriter); Close
	// writes the rest when the command returns.
	lw := newLogWriter(stderr)
	defer lw.Close()
	log := newLogger(cfg.logFormat, cfg.logLevel, lw)

	ln, publicURL, err := listen(settingName("gateway-addr"), cfg.addr, cfg.publicURL)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.publicURL = publicURL
	cfg.shared.publicURL = cfg.publicURL
	reg := newRegistry()
	vm := newVerifierMetrics(reg) // serve's apiguard_jwks_*, _introspection_* and _redis_* (metrics.go)
	state, err := openSharedState(cfg.shared, vm, log)
	if err != nil {
		return err
	}
	defer state.close()

	tv, err := gatewayVerifier(cfg, state, log, vm)
	if err != nil {
		return err
	}
	gw, err := gateway.New(&apiguard.Middleware{Verifier: tv, Binding: state.binding()}, cfg.file.Rules, gateway.Options{
		Registry:      reg,
		Logger:        log,
		AuthProxy:     cfg.authProxy,
		SeparateAdmin: cfg.adminListen != "",
	})
	if err != nil {
		return err
	}
	reloader, err := newGatewayReloader(args, cfg, gw, reg, log)
	if err != nil {
		return err
	}

	servers := []*http.Server{newGatewayServer(gw, log)}
	listeners := []net.Listener{ln}
	adminAddr := ""
	if cfg.adminListen != "" {
		aln, err := net.Listen("tcp", cfg.adminListen)
		if err != nil {
			return &usageError{fmt.Errorf("admin_listen in %s line %d: failed to listen on %s: %w", cfg.path, cfg.file.line("admin_listen"), cfg.adminListen, err)}
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
	watched, err := watchGatewayFile(watchCtx, cfg.path, hup, reloader.reload, log)
	if err != nil {
		return err
	}
	defer func() { stopWatch(); <-watched }()

	// Fetch the signing keys now rather than on the first request; /readyz
	// says when they are in. The gateway serves either way (503 until then).
	var owned cleanup
	defer owned.close()
	owned.goRun(ctx, func(ctx context.Context) error {
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := tv.Ready(readyCtx); err != nil && ctx.Err() == nil {
			log.Warn("signing keys not loaded yet; protected routes answer 503 until they are", "issuer", cfg.issuer, "reason", apiguard.Reason(err), "err", err)
		}
		return nil
	})

	log.Info("gateway listening", "addr", ln.Addr().String(), "admin_addr", adminAddr, "public_url", cfg.publicURL,
		"config", cfg.path, "routes", len(cfg.file.Routes), "issuer", cfg.issuer, "audience", cfg.audience,
		"auth_proxy", cfg.authProxy)
	if len(cfg.clientIDs) > 0 {
		log.Info("accepting tokens of listed clients only", "client_ids", strings.Join(cfg.clientIDs, ","))
	}
	_ = lw.Flush() // the start-up lines at once, not with the first batch
	if onListen != nil {
		onListen(ln.Addr().String(), adminAddr)
	}

	return runServers(ctx, servers, listeners, log)
}

// gatewayVerifier returns the verifier the gateway decides with, built as
// serve builds its own (newVerifiers): the issuer setting's, named
// "default" and introspecting as set, and the file's issuers (JWTs only:
// their introspection secrets would have no setting).
func gatewayVerifier(cfg *gatewayConfig, state *sharedState, log *slog.Logger, vm *verifierMetrics) (apiguard.TokenVerifier, error) {
	vs, err := newVerifiers(apiguard.Config{Issuer: cfg.issuer, Audience: cfg.audience, ClientIDs: cfg.clientIDs},
		cfg.file.Issuers, state, vm, log, func(err error) error {
			return fmt.Errorf("issuers in %s line %d (with %s as %q): %w", cfg.path, cfg.file.line("issuers"), settingName("issuer"), defaultIssuerName, err)
		})
	if err != nil {
		return nil, err
	}
	return vs.tv, nil
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
