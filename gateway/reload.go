package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDelay lets an editor finish writing (several events per save) before
// the file is read.
const reloadDelay = 100 * time.Millisecond

// Reload validates cfg and, if it is good, swaps it in atomically for new
// requests. A bad cfg returns an error and the running rules stay. Listen,
// admin_listen, issuer, audience, client_ids, public_url, auth_proxy and the
// introspection and DPoP settings cannot change at run time: a change to them
// is logged and takes effect at the next restart.
func (g *Gateway) Reload(cfg *Config) error {
	if cfg == nil {
		return errors.New("failed to reload gateway config: no config")
	}
	rs, err := compile(cfg)
	if err != nil {
		g.metrics.reloads.WithLabelValues("failure").Inc()
		return fmt.Errorf("failed to reload gateway config: %w", err)
	}
	old := g.rules.Swap(rs)
	g.metrics.reloads.WithLabelValues("success").Inc()
	for _, f := range []struct{ name, was, now string }{
		{"listen", old.cfg.Listen, cfg.Listen},
		{"admin_listen", old.cfg.AdminListen, cfg.AdminListen},
		{"issuer", old.cfg.Issuer, cfg.Issuer},
		{"audience", old.cfg.Audience, cfg.Audience},
		{"client_ids", strings.Join(old.cfg.ClientIDs, " "), strings.Join(cfg.ClientIDs, " ")},
		{"public_url", old.cfg.PublicURL, cfg.PublicURL},
		{"introspection", old.cfg.Introspection, cfg.Introspection},
		{"introspection_cache_ttl", old.cfg.IntrospectionCacheTTL, cfg.IntrospectionCacheTTL},
		{"dpop", old.cfg.DPoP, cfg.DPoP},
		{"auth_proxy", old.cfg.AuthProxy, cfg.AuthProxy},
		{"dpop_nonce", fmt.Sprint(old.cfg.DPoPNonce != nil && *old.cfg.DPoPNonce), fmt.Sprint(cfg.DPoPNonce != nil && *cfg.DPoPNonce)},
	} {
		if f.was != f.now {
			g.log.Warn("gateway config setting changed; it takes effect after a restart", "setting", f.name)
		}
	}
	return nil
}

// ReloadFile loads the file at path and reloads it (see Reload).
func (g *Gateway) ReloadFile(path string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		g.metrics.reloads.WithLabelValues("failure").Inc()
		return fmt.Errorf("failed to reload gateway config: %w", err)
	}
	return g.Reload(cfg)
}

// Watch reloads the configuration file at path when it changes and whenever
// a value arrives on hup (pass a channel registered with signal.Notify for
// SIGHUP, or nil). It watches path's directory, so files replaced by editors
// or by Kubernetes ConfigMap updates are seen. Outcomes are logged: a bad
// file is reported and the running rules stay.
//
// The watch is in place when Watch returns; reloads then happen on a
// goroutine until ctx is done, and the returned channel is closed after it
// stops.
func (g *Gateway) Watch(ctx context.Context, path string, hup <-chan os.Signal) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("failed to watch gateway config: %w", err)
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("failed to watch gateway config: %w", err)
	}
	// The content the running rules came from, so unrelated events in the
	// directory do not cause reloads.
	last, _ := os.ReadFile(path)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		timer := time.NewTimer(reloadDelay)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-hup:
				last, _ = os.ReadFile(path)
				g.logReload(path, "signal", g.ReloadFile(path))
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				timer.Reset(reloadDelay)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				g.log.Warn("gateway config watch error", "err", err)
			case <-timer.C:
				data, err := os.ReadFile(path)
				if err == nil && bytes.Equal(data, last) {
					continue
				}
				last = data
				g.logReload(path, "file change", g.ReloadFile(path))
			}
		}
	}()
	return done, nil
}

func (g *Gateway) logReload(path, trigger string, err error) {
	if err != nil {
		g.log.Error("gateway config not reloaded; the running rules stay", "path", path, "trigger", trigger, "err", err)
		return
	}
	g.log.Info("gateway config reloaded", "path", path, "trigger", trigger, "routes", len(g.rules.Load().rules))
}
