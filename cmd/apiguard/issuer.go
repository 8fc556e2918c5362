package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
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
	appURLs                               []string
	rotateEvery                           time.Duration
}

func parseIssuerConfig(args []string, stderr io.Writer) (*issuerConfig, error) {
	s := newSettings("issuer", stderr)
	addr := s.add("addr", "APIGUARD_ISSUER_ADDR", "127.0.0.1:9000", "listen address")
	publicURL := s.add("public-url", "APIGUARD_ISSUER_PUBLIC_URL", "", "URL the issuer is reached at, without /oauth2/default (default: from --addr)")
	configPath := s.add("config", "APIGUARD_ISSUER_CONFIG", "", "YAML file of clients, users and scopes (default: one client and one user)")
	audience := s.add("audience", "OKTA_AUDIENCE", devissuer.DefaultAudience, "audience of access tokens")
	clientID := s.add("client-id", "OKTA_CLIENT_ID", "", "id of the default client (default: generated)")
	clientSecret := s.add("client-secret", "OKTA_CLIENT_SECRET", "", "secret of the default client (default: generated)")
	appURLs := s.add("app-url", "", "http://localhost:5000,http://127.0.0.1:5000", "comma-separated URLs of the application; each gives the default client a /login/callback and a /logout/callback redirect URI")
	rotate := s.add("rotate-every", "APIGUARD_ISSUER_ROTATE_EVERY", "0", "rotate the signing key at this period, e.g. 1h (0: only on SIGHUP)")
	if err := s.parse(args); err != nil {
		return nil, err
	}
	cfg := &issuerConfig{addr: *addr, publicURL: strings.TrimSuffix(*publicURL, "/"), configPath: *configPath,
		audience: *audience, clientID: *clientID, clientSecret: *clientSecret, appURLs: splitList(*appURLs)}
	if err := checkAddr(cfg.addr); err != nil {
		return nil, s.bad(addr, "%v", err)
	}
	if cfg.publicURL != "" {
		if err := checkHTTPURL(cfg.publicURL); err != nil {
			return nil, s.bad(publicURL, "%v", err)
		}
	}
	for _, u := range cfg.appURLs {
		if err := checkHTTPURL(u); err != nil {
			return nil, s.bad(appURLs, "%v", err)
		}
	}
	d, err := time.ParseDuration(*rotate)
	if err != nil || d < 0 || (d > 0 && d < time.Second) {
		return nil, s.bad(rotate, "%q is not a duration of at least 1s, like 1h or 15m (0 turns rotation off)", *rotate)
	}
	cfg.rotateEvery = d
	if cfg.audience == "" {
		return nil, s.bad(audience, "must not be empty")
	}
	return cfg, nil
}

// issuer runs `apiguard issuer` until ctx is done: the development issuer
// alone, at {public URL}/oauth2/default. onListen, when set, is told the
// bound address (tests listen on port 0). SIGHUP rotates the signing key.
func issuer(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr string)) error {
	cfg, err := parseIssuerConfig(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	ln, publicURL, err := listen("APIGUARD_ISSUER_ADDR (--addr)", cfg.addr, cfg.publicURL)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.publicURL = publicURL

	dev, gen, err := buildDevIssuer(devIssuerOptions{
		issuerURL:     cfg.publicURL + "/oauth2/default",
		configPath:    cfg.configPath,
		configSetting: "APIGUARD_ISSUER_CONFIG (--config)",
		clientID:      cfg.clientID,
		clientSecret:  cfg.clientSecret,
		appURLs:       cfg.appURLs,
		audience:      cfg.audience,
		rotateEvery:   cfg.rotateEvery,
		log:           log,
	})
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = dev.Run(runCtx) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go rotateOn(runCtx, hup, dev, log)
	src := devSources{clientSecret: "OKTA_CLIENT_SECRET", password: "APIGUARD_DEV_PASSWORD"}
	if cfg.configPath != "" {
		src = devSources{clientSecret: "APIGUARD_ISSUER_CONFIG", password: "APIGUARD_ISSUER_CONFIG"}
	}
	printDevBanner(stdout, dev.Config(), gen, src, "")
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	return runServer(ctx, newServer(dev, log), ln, log)
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
