package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apiguard/apiguard/devissuer"
)

func runIssuer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return issuer(ctx, args, stdout, stderr, nil)
}

// issuerConfig is the validated configuration of `apiguard issuer`.
type issuerConfig struct {
	addr, publicURL, configPath, audience string
	clientID, clientSecret                string
	user, password                        string
	appURLs                               []string
	devState                              devState
	rotateEvery                           time.Duration
	logFormat                             string
	logLevel                              slog.Level
	configOrigin                          string // names APIGUARD_ISSUER_CONFIG and its source, for errors
}

// issuerSettings are the settings issuer reads (settingTable).
var issuerSettings = []string{"issuer-addr", "issuer-public-url", "issuer-config", "audience", "client-id", "client-secret",
	"dev-state", "dev-state-reset", "dev-user", "dev-password", "app-url", "rotate-every", "log-format", "log-level"}

func parseIssuerConfig(args []string, stderr io.Writer) (*issuerConfig, error) {
	s := newSettings("issuer", stderr, issuerSettings...)
	if err := s.parse(args); err != nil {
		return nil, err
	}
	state, err := devStateFrom(s, true)
	if err != nil {
		return nil, err
	}
	return &issuerConfig{devState: state, addr: s.str("issuer-addr"), publicURL: s.str("issuer-public-url"), configPath: s.str("issuer-config"),
		audience: s.str("audience"), clientID: s.str("client-id"), clientSecret: s.str("client-secret"),
		user: s.str("dev-user"), password: s.str("dev-password"), appURLs: s.list("app-url"),
		rotateEvery: s.duration("rotate-every"), configOrigin: s.origin("issuer-config"), logFormat: s.str("log-format"), logLevel: logLevel(s.str("log-level"))}, nil
}

// issuer runs `apiguard issuer` until ctx is done: the development issuer
// alone, at {public URL}/oauth2/default. onListen, when set, is told the
// bound address (tests listen on port 0). SIGHUP rotates the signing key.
func issuer(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr string)) error {
	cfg, err := parseIssuerConfig(args, stderr)
	if err != nil {
		return err
	}
	// Lines are buffered and written in batches (see logWriter); Close
	// writes the rest when the command returns.
	lw := newLogWriter(stderr)
	defer lw.Close()
	log := newLogger(cfg.logFormat, cfg.logLevel, lw)

	ln, publicURL, err := listen(settingName("issuer-addr"), cfg.addr, cfg.publicURL)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.publicURL = publicURL

	dev, gen, err := buildDevIssuer(devIssuerOptions{
		issuerURL:     cfg.publicURL + "/oauth2/default",
		configPath:    cfg.configPath,
		configSetting: cfg.configOrigin,
		clientID:      cfg.clientID,
		clientSecret:  cfg.clientSecret,
		user:          cfg.user,
		password:      cfg.password,
		appURLs:       cfg.appURLs,
		audience:      cfg.audience,
		rotateEvery:   cfg.rotateEvery,
		state:         cfg.devState,
		log:           log,
	})
	if err != nil {
		return err
	}

	var owned cleanup
	defer owned.close()
	owned.goRun(ctx, dev.Run)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	owned.add(func() { signal.Stop(hup) })
	owned.goRun(ctx, func(ctx context.Context) error { rotateOn(ctx, hup, dev.Issuer, log); return nil })
	src := devSources{clientSecret: "OKTA_CLIENT_SECRET", password: "APIGUARD_DEV_PASSWORD", state: dev.state}
	if cfg.configPath != "" {
		src = devSources{clientSecret: "APIGUARD_ISSUER_CONFIG", password: "APIGUARD_ISSUER_CONFIG", state: dev.state}
	}
	printDevBanner(stdout, dev.Config(), gen, src, "")
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	return runServer(ctx, newServer(dev.Issuer, log), ln, log)
}

// rotateOn rotates the signing key on every signal from hup until ctx is done.
func rotateOn(ctx context.Context, hup <-chan os.Signal, dev *devissuer.Issuer, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := dev.Rotate(); err != nil {
				log.Error("failed to rotate the signing key", "error", err)
			}
		}
	}
}
