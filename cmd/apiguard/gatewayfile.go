package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/gateway"
	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// The file of `apiguard gateway` (--config, gateway.yaml) holds the
// gateway's rules (gateway.Rules: upstream and routes), admin_listen, and
// the top-level keys of the settings that settingTable gives a file key
// (listen, issuer, dpop, …), which the settings layer reads, checks and
// names with their lines. This file decodes the rest strictly and watches
// the file for changes.

// gatewayFile is the file's contents beside the settings' keys.
type gatewayFile struct {
	gateway.Rules `yaml:",inline"`
	// AdminListen, when set, is a separate address for /healthz, /readyz,
	// /metrics and /auth; the main listener then proxies every path.
	// Changing it needs a restart.
	AdminListen string `yaml:"admin_listen"`
	// Issuers are the authorization servers accepted besides the issuer
	// setting (OKTA_ISSUER), which is named "default", in the file's
	// order; routes name them in their issuers lists. Changing them needs
	// a restart.
	Issuers fileIssuers `yaml:"issuers"`
	// Settings holds the keys of settingTable's file column, which
	// settings.readFile has read and checked; any other key is an error.
	Settings map[string]yaml.Node `yaml:",inline"`
	// lines are the lines of the top-level keys and of each route, for
	// messages.
	lines map[string]int
	route []int
}

// parseGatewayFile decodes the file's contents: exactly one YAML document,
// a mapping whose keys are the rules', admin_listen or settingKeys, and
// rules that gateway.Rules.Validate accepts. Errors start with the line
// they are about.
func parseGatewayFile(data []byte, settingKeys []string) (*gatewayFile, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file must hold exactly one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of keys (upstream, routes, …)", root.Line)
	}
	f := &gatewayFile{lines: map[string]int{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		f.lines[k.Value] = k.Line
		if k.Value == "routes" {
			for _, r := range v.Content {
				f.route = append(f.route, r.Line)
			}
		}
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem, "line N: field x not found in type …".
			return nil, errors.New(strings.Join(te.Errors, "; "))
		}
		return nil, err
	}
	// In the file's order, so that the first problem is reported.
	for i := 0; i < len(root.Content); i += 2 {
		key := root.Content[i].Value
		v, ok := f.Settings[key]
		switch {
		case !ok:
			continue // a key of the rules, or admin_listen: decoded above
		case !slices.Contains(settingKeys, key):
			return nil, fmt.Errorf("line %d: unknown key %q (the keys are upstream, routes, admin_listen, issuers, %s)",
				f.lines[key], key, strings.Join(settingKeys, ", "))
		case v.Kind == yaml.MappingNode:
			return nil, fmt.Errorf("line %d: %s: want a value or a list, not a mapping", f.lines[key], key)
		}
		// The settings join a list's items with commas and split them
		// again, so an item must be one client id.
		for _, it := range v.Content {
			if key == "client_ids" && !validClientID(it.Value) {
				return nil, fmt.Errorf("line %d: %s: bad client id %q", it.Line, key, it.Value)
			}
		}
	}
	if err := f.Rules.Validate(); err != nil {
		var re *gateway.RouteError
		if errors.As(err, &re) && re.Index < len(f.route) {
			return nil, fmt.Errorf("line %d: %w", f.route[re.Index], err)
		}
		return nil, err
	}
	// Routes name issuers of the file (or the setting's, "default"): a
	// name the file lacks is the file's mistake, reported with its line.
	names := []string{defaultIssuerName}
	for _, is := range f.Issuers {
		names = append(names, is.Name)
	}
	for i, r := range f.Routes {
		for _, n := range r.Issuers {
			if len(f.Issuers) == 0 {
				return nil, fmt.Errorf("line %d: routes[%d] (%s): issuers: the file has no issuers mapping to name them from", f.route[i], i, r.Path)
			}
			if !slices.Contains(names, n) {
				return nil, fmt.Errorf("line %d: routes[%d] (%s): issuers: no issuer is named %q (the issuers are %s)", f.route[i], i, r.Path, n, strings.Join(names, ", "))
			}
		}
	}
	return f, nil
}

// defaultIssuerName names the issuer setting (OKTA_ISSUER) among the
// file's issuers.
const defaultIssuerName = "default"

// fileIssuer is one entry of the file's issuers mapping.
type fileIssuer struct {
	Name      string
	Issuer    string
	Audience  string
	ClientIDs []string
	Line      int
}

// fileIssuers is the file's issuers mapping, name → {issuer, audience,
// client_ids}, in the file's order (it is the order opaque tokens would be
// introspected in, and the order /readyz reports).
type fileIssuers []fileIssuer

// UnmarshalYAML reads the mapping strictly: known keys only, issuer
// required, client ids as the client_ids setting takes them.
func (fi *fileIssuers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: issuers: want a mapping of names to {issuer, audience, client_ids}", n.Line)
	}
	var out fileIssuers
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		is := fileIssuer{Name: k.Value, Line: k.Line}
		where := fmt.Sprintf("line %d: issuers.%s", k.Line, k.Value)
		if err := checkIssuerName(k.Value); err != nil {
			return fmt.Errorf("%s: bad name: %w", where, err)
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping with issuer, audience and client_ids", where)
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			key, val := v.Content[j], v.Content[j+1]
			var err error
			switch key.Value {
			case "issuer":
				err = val.Decode(&is.Issuer)
			case "audience":
				err = val.Decode(&is.Audience)
			case "client_ids":
				err = val.Decode(&is.ClientIDs)
				for _, id := range is.ClientIDs {
					if err == nil && !validClientID(id) {
						err = fmt.Errorf("bad client id %q", id)
					}
				}
			default:
				err = errors.New("unknown key (the keys are issuer, audience, client_ids)")
			}
			if err != nil {
				return fmt.Errorf("line %d: issuers.%s.%s: %v", key.Line, k.Value, key.Value, err)
			}
		}
		if is.Issuer == "" {
			return fmt.Errorf("%s: issuer is required", where)
		}
		out = append(out, is)
	}
	*fi = out
	return nil
}

// line returns the line of a top-level key of the file, 0 if absent.
func (f *gatewayFile) line(key string) int { return f.lines[key] }

// gatewayFileKeys are the file keys of the settings gateway reads.
func gatewayFileKeys() []string {
	var keys []string
	for _, k := range gatewaySettings {
		if d := lookupDecl(k); d.file != "" {
			keys = append(keys, d.file)
		}
	}
	return keys
}

// checkAdminListen checks the file's admin_listen against the listen
// address the gateway will use: a host:port of its own (port 0 picks one).
func checkAdminListen(f *gatewayFile, path, addr string) error {
	if f.AdminListen == "" {
		return nil
	}
	bad := func(format string, args ...any) error {
		return &usageError{fmt.Errorf("admin_listen in %s line %d: %s", path, f.line("admin_listen"), fmt.Sprintf(format, args...))}
	}
	if err := checkAddr(f.AdminListen); err != nil {
		return bad("%v", err)
	}
	if _, port, _ := net.SplitHostPort(f.AdminListen); f.AdminListen == addr && port != "0" {
		return bad("%q is also the listen address: give the admin endpoints an address of their own, or leave admin_listen out to serve them there", addr)
	}
	return nil
}

// validClientID reports whether an item of the file's client_ids list is
// one client id, which splitList keeps whole.
func validClientID(id string) bool {
	return id != "" && !strings.ContainsAny(id, " \t\r\n,")
}

// restartSettings are the settings a running gateway cannot change, by the
// name a reload warning gives them (the file's key, or the setting's name
// when it has none), with their values; secrets are compared, never shown.
func restartSettings(c *gatewayConfig) [][2]string {
	return [][2]string{
		{"listen", c.addr},
		{"admin_listen", c.adminListen},
		{"issuers", fmt.Sprint(c.file.Issuers)},
		{"issuer", c.issuer},
		{"audience", c.audience},
		{"client_ids", strings.Join(c.clientIDs, " ")},
		{"public_url", c.configuredPublicURL},
		{"auth_proxy", c.authProxy},
		{"introspection", c.shared.state.introspection},
		{"introspection_cache_ttl", c.shared.state.cacheTTL.String()},
		{"dpop", c.shared.state.dpop},
		{"dpop_nonce", fmt.Sprint(c.shared.state.dpopNonce)},
		{settingName("introspection-client-id"), c.shared.clientID},
		{settingName("client-secret"), c.shared.clientSecret},
		{settingName("redis-url"), c.shared.redisURL},
		{settingName("session-secret"), c.shared.sessionSecret},
		{settingName("log-format"), c.logFormat},
		{settingName("log-level"), c.logLevel.String()},
	}
}

// gatewayReloader reloads the rules of a running gateway from its file.
type gatewayReloader struct {
	args    []string       // the command's arguments, read again on each reload
	running *gatewayConfig // what the process started with
	gw      *gateway.Gateway
	log     *slog.Logger
	reloads *prometheus.CounterVec
	// lastOK is 1 while the running rules are the file's as last read
	// (at start-up or by the last reload), 0 after a reload failed; a
	// counter of failures alone cannot say whether the file is still bad.
	lastOK, lastOKTime prometheus.Gauge
}

func newGatewayReloader(args []string, running *gatewayConfig, gw *gateway.Gateway, reg *prometheus.Registry, log *slog.Logger) (*gatewayReloader, error) {
	r := &gatewayReloader{args: args, running: running, gw: gw, log: log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_gateway_config_reloads_total",
			Help: "Configuration reloads by result (success or failure).",
		}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiguard_gateway_config_last_reload_successful",
			Help: "1 if the running rules are those of the file as last read (at start-up or by the last reload), 0 if the last reload failed.",
		}),
		lastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiguard_gateway_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the running rules were loaded (start-up or the last successful reload).",
		}),
	}
	for _, c := range []prometheus.Collector{r.reloads, r.lastOK, r.lastOKTime} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("failed to register gateway metrics: %w", err)
		}
	}
	// The process started with the file's rules.
	r.lastOK.Set(1)
	r.lastOKTime.SetToCurrentTime()
	return r, nil
}

// reload reads the settings and the file again, as at start-up, and swaps
// in the file's rules. A file that would not start the gateway is refused:
// the error is logged and the running rules stay. Settings other than the
// rules take effect at the next restart, which a warning says.
func (r *gatewayReloader) reload(trigger string) {
	path := r.running.path
	next, err := parseGatewayConfig(r.args, io.Discard)
	if err == nil {
		err = r.gw.Reload(next.file.Rules)
	}
	if err != nil {
		r.reloads.WithLabelValues("failure").Inc()
		r.lastOK.Set(0)
		r.log.Error("gateway config not reloaded; the running rules stay", "path", path, "trigger", trigger, "err", err)
		return
	}
	r.reloads.WithLabelValues("success").Inc()
	r.lastOK.Set(1)
	r.lastOKTime.SetToCurrentTime()
	was := restartSettings(r.running)
	for i, now := range restartSettings(next) {
		if now != was[i] {
			r.log.Warn("gateway config setting changed; it takes effect after a restart", "setting", now[0])
		}
	}
	r.log.Info("gateway config reloaded", "path", path, "trigger", trigger, "routes", len(next.file.Routes))
}

// reloadDelay lets an editor finish writing (several events per save) before
// the file is read.
const reloadDelay = 100 * time.Millisecond

// watchGatewayFile calls reload("file change") when the file at path
// changes and reload("signal") whenever a value arrives on hup. It watches
// path's directory, so files replaced by editors or by Kubernetes ConfigMap
// updates are seen; events that leave the file's content as it was are
// ignored.
//
// The watch is in place when watchGatewayFile returns; reloads then happen
// on a goroutine until ctx is done, and the returned channel is closed after
// it stops.
func watchGatewayFile(ctx context.Context, path string, hup <-chan os.Signal, reload func(trigger string), log *slog.Logger) (<-chan struct{}, error) {
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
				reload("signal")
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				timer.Reset(reloadDelay)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("gateway config watch error", "err", err)
			case <-timer.C:
				data, err := os.ReadFile(path)
				if err == nil && bytes.Equal(data, last) {
					continue
				}
				last = data
				reload("file change")
			}
		}
	}()
	return done, nil
}
