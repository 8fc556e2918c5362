package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/redistest"
)

// The operator's real-looking credentials of issue 13: an .env that lost
// its OKTA_ISSUER line.
const (
	realClientID     = "0oaRealOktaApp"
	realClientSecret = "real-okta-secret-123"
	realPassword     = "operator-chosen-password-42"
)

// devEnv clears every setting the development-mode rule reads, then sets env.
func devEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"OKTA_ISSUER", "OKTA_AUDIENCE", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "ALLOWED_ORIGINS",
		"APIGUARD_ADDR", "APIGUARD_PUBLIC_URL", "APIGUARD_REDIS_URL", "APIGUARD_REQUIRED_SCOPES", "APIGUARD_SESSION_SECRET",
		"APIGUARD_DEV", "APIGUARD_DEV_USER", "APIGUARD_DEV_PASSWORD", "APIGUARD_ISSUER_CONFIG", "APIGUARD_LOG_LEVEL"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// TestServeRefusesDevIssuerWithProductionSettings: without OKTA_ISSUER and
// without --dev, any setting that looks like production stops start-up
// with one line naming it and the two ways out, before anything listens
// and without printing a banner or a secret.
func TestServeRefusesDevIssuerWithProductionSettings(t *testing.T) {
	const session = "0123456789abcdef0123456789abcdef-devmode"
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		mention []string // each in the refusal line
	}{
		{"issue 13: client id, secret and https public URL",
			map[string]string{"OKTA_CLIENT_ID": realClientID, "OKTA_CLIENT_SECRET": realClientSecret, "APIGUARD_PUBLIC_URL": "https://api.example.com"},
			nil, []string{"OKTA_CLIENT_ID (--client-id)", "OKTA_CLIENT_SECRET (--client-secret)", "APIGUARD_PUBLIC_URL (--public-url) (https)"}},
		{"client id alone", map[string]string{"OKTA_CLIENT_ID": realClientID}, nil, []string{"OKTA_CLIENT_ID (--client-id)"}},
		{"client secret alone", map[string]string{"OKTA_CLIENT_SECRET": realClientSecret}, nil, []string{"OKTA_CLIENT_SECRET (--client-secret)"}},
		{"client id as a flag", nil, []string{"--client-id", realClientID}, []string{"OKTA_CLIENT_ID (--client-id)"}},
		{"https public URL alone", map[string]string{"APIGUARD_PUBLIC_URL": "https://api.example.com"}, nil, []string{"APIGUARD_PUBLIC_URL (--public-url) (https)"}},
		{"Redis", map[string]string{"APIGUARD_REDIS_URL": "redis://:redis-pass@127.0.0.1:1/0", "APIGUARD_SESSION_SECRET": session}, nil,
			[]string{"APIGUARD_REDIS_URL (--redis-url)"}},
		{"all interfaces", nil, []string{"--addr", "0.0.0.0:0"}, []string{"APIGUARD_ADDR (--addr) 0.0.0.0:0 (not loopback)"}},
		{"empty host", nil, []string{"--addr", ":0"}, []string{"APIGUARD_ADDR (--addr) :0 (not loopback)"}},
		{"a host name", nil, []string{"--addr", "api.example.com:0"}, []string{"(not loopback)"}},
		{"APIGUARD_DEV=0 is not --dev", map[string]string{"APIGUARD_DEV": "0", "OKTA_CLIENT_ID": realClientID}, nil, []string{"OKTA_CLIENT_ID (--client-id)"}},
		{"--dev=false is not --dev", map[string]string{"OKTA_CLIENT_ID": realClientID}, []string{"--dev=false"}, []string{"OKTA_CLIENT_ID (--client-id)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devEnv(t, tt.env)
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 2 {
				t.Fatalf("got exit %d, want 2; stderr %q", code, stderr.String())
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 {
				t.Errorf("got stderr %q, want one line", line)
			}
			wants := append([]string{"apiguard serve: OKTA_ISSUER (--issuer): not set, so serve would run its development issuer",
				"look like production", "set OKTA_ISSUER", "--dev (or APIGUARD_DEV=1)"}, tt.mention...)
			for _, want := range wants {
				if !strings.Contains(line, want) {
					t.Errorf("got stderr %q, want it to contain %q", line, want)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("got stdout %q, want nothing (no banner)", stdout.String())
			}
			for _, secret := range []string{realClientSecret, "redis-pass", session} {
				if strings.Contains(stdout.String()+line, secret) {
					t.Errorf("got output containing the secret %q", secret)
				}
			}
		})
	}
}

// TestServeDevSettingErrors: --dev with OKTA_ISSUER, and a bad APIGUARD_DEV.
func TestServeDevSettingErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"--dev with OKTA_ISSUER", map[string]string{"OKTA_ISSUER": "https://example.okta.com/oauth2/default"}, []string{"--dev"},
			"--dev: runs the embedded development issuer, which is not used when OKTA_ISSUER is set"},
		{"APIGUARD_DEV not a boolean", map[string]string{"APIGUARD_DEV": "maybe"}, nil, `APIGUARD_DEV (--dev): "maybe" is not 1 or 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devEnv(t, tt.env)
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("got exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// TestServeDevIssuerStarts: the combinations that start the development
// issuer, and what its banner shows: generated values (said to be
// generated), never a secret or password the operator supplied.
func TestServeDevIssuerStarts(t *testing.T) {
	redisURL := redistest.New(t).URL() + "/0"
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		shows      []string // in the banner
		hides      []string // nowhere in stdout or stderr
		clientID   string   // the development issuer's client …
		secret     string   // … and its secret ("" : the generated one, read from the banner)
		wantBanner []string
	}{
		{name: "nothing set: all generated", env: nil,
			shows: []string{"(generated; set OKTA_CLIENT_SECRET to choose)", "(generated; set APIGUARD_DEV_USER/APIGUARD_DEV_PASSWORD to choose)"}},
		{name: "issue 13 settings with --dev",
			env:   map[string]string{"OKTA_CLIENT_ID": realClientID, "OKTA_CLIENT_SECRET": realClientSecret, "APIGUARD_PUBLIC_URL": "https://api.example.com"},
			args:  []string{"--dev"},
			shows: []string{"client id:     " + realClientID + "\n", "client secret: (from OKTA_CLIENT_SECRET; not shown", `-u '` + realClientID + `:'"$OKTA_CLIENT_SECRET"`},
			hides: []string{realClientSecret}, clientID: realClientID, secret: realClientSecret},
		{name: "issue 13 settings with APIGUARD_DEV=1",
			env:      map[string]string{"APIGUARD_DEV": "1", "OKTA_CLIENT_ID": realClientID, "OKTA_CLIENT_SECRET": realClientSecret},
			shows:    []string{"client secret: (from OKTA_CLIENT_SECRET; not shown"},
			hides:    []string{realClientSecret},
			clientID: realClientID, secret: realClientSecret},
		{name: "Redis with APIGUARD_DEV=true",
			env:   map[string]string{"APIGUARD_DEV": "true", "APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-devmode"},
			shows: []string{"(generated; set OKTA_CLIENT_SECRET to choose)"},
			hides: []string{"0123456789abcdef0123456789abcdef-devmode"}},
		{name: "a password the operator chose",
			env:   map[string]string{"APIGUARD_DEV_USER": "dana@example.com", "APIGUARD_DEV_PASSWORD": realPassword},
			shows: []string{"user:          dana@example.com / (from APIGUARD_DEV_PASSWORD; not shown)\n"},
			hides: []string{realPassword}},
		{name: "an http public URL is not production",
			env:   map[string]string{"APIGUARD_PUBLIC_URL": "http://127.0.0.1:5000"},
			shows: []string{"(generated; set OKTA_CLIENT_SECRET to choose)"}},
		{name: "localhost", args: []string{"--addr", "localhost:0"},
			shows: []string{"DEVELOPMENT ISSUER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devEnv(t, tt.env)
			s := startServe(t, tt.env, tt.args...)
			out := s.stdout.String()
			if !strings.Contains(out, "DEVELOPMENT ISSUER") {
				t.Fatalf("got stdout without the banner:\n%s", out)
			}
			for _, want := range tt.shows {
				if !strings.Contains(out, want) {
					t.Errorf("got a banner without %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "WARNING") || strings.Contains(s.stderr.String(), "BEYOND LOOPBACK") {
				t.Errorf("got a beyond-loopback warning on a loopback address:\n%s%s", out, s.stderr)
			}
			for _, secret := range tt.hides {
				if strings.Contains(out, secret) || strings.Contains(s.stderr.String(), secret) {
					t.Errorf("got output containing the supplied secret %q:\n%s\n%s", secret, out, s.stderr)
				}
			}
			// The development issuer mints tokens for its client with the
			// secret, shown or supplied.
			id, secret := tt.clientID, tt.secret
			if id == "" {
				id = bannerClientID.FindStringSubmatch(out)[1]
			}
			if secret == "" {
				secret = bannerClientSecret.FindStringSubmatch(out)[1]
			}
			if code := devTokenStatus(t, s.url, id, secret); code != http.StatusOK {
				t.Errorf("got status %d from the development issuer's token endpoint, want 200", code)
			}
		})
	}
}

// devTokenStatus asks serve's embedded issuer (reached at the bound address
// whatever the public URL) for a token by client credentials.
func devTokenStatus(t *testing.T, base, id, secret string) int {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/oauth2/default/v1/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// TestServeDevBeyondLoopbackWarns: with --dev an address beyond loopback is
// accepted, and the development issuer warns on stderr and in its banner.
// Tests bind loopback only, so this checks the parsed configuration and the
// issuer's set-up without listening.
func TestServeDevBeyondLoopbackWarns(t *testing.T) {
	tests := []struct {
		addr    string
		exposed bool
	}{
		{"0.0.0.0:5000", true},
		{":5000", true},
		{"[::]:5000", true},
		{"192.0.2.10:5000", true},
		{"api.example.com:5000", true},
		{"127.0.0.1:5000", false},
		{"127.0.0.2:5000", false},
		{"[::1]:5000", false},
		{"localhost:5000", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			devEnv(t, nil)
			cfg, err := parseServeConfig([]string{"--dev", "--addr", tt.addr}, io.Discard)
			if err != nil {
				t.Fatalf("got %v, want --dev to accept %s", err, tt.addr)
			}
			if cfg.devExposed != tt.exposed {
				t.Fatalf("got devExposed %v, want %v", cfg.devExposed, tt.exposed)
			}
			cfg.publicURL = "http://127.0.0.1:5000"
			var stdout, logs bytes.Buffer
			if _, err := newDevIssuer(cfg, slog.New(slog.NewTextHandler(&logs, nil)), &stdout); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "BEYOND LOOPBACK") &&
				strings.Contains(stdout.String(), "WARNING: listening on "+tt.addr+", beyond loopback")
			if warned != tt.exposed {
				t.Errorf("got warned %v, want %v; log %q, banner:\n%s", warned, tt.exposed, logs.String(), stdout.String())
			}
		})
	}
}

// TestIssuerBannerHidesSuppliedSecrets: `apiguard issuer` shares the
// banner: a secret or password from the environment or from the clients
// file is named, not shown.
func TestIssuerBannerHidesSuppliedSecrets(t *testing.T) {
	clearOktaEnv(t)
	t.Setenv("OKTA_CLIENT_ID", realClientID)
	t.Setenv("OKTA_CLIENT_SECRET", realClientSecret)
	t.Setenv("APIGUARD_DEV_PASSWORD", realPassword)
	r := startIssuer(t)
	out := r.stdout.String()
	for _, secret := range []string{realClientSecret, realPassword} {
		if strings.Contains(out, secret) || strings.Contains(r.stderr.String(), secret) {
			t.Errorf("got output containing the supplied secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"client secret: (from OKTA_CLIENT_SECRET; not shown", "(from APIGUARD_DEV_PASSWORD; not shown)",
		`curl -s -u '` + realClientID + `:'"$OKTA_CLIENT_SECRET"`} {
		if !strings.Contains(out, want) {
			t.Errorf("got a banner without %q:\n%s", want, out)
		}
	}
	// The printed command works once the user exports the secret.
	m := bannerCurl.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("got no curl command in the banner:\n%s", out)
	}
	cmd := exec.Command("sh", "-c", m[1])
	cmd.Env = append(os.Environ(), "OKTA_CLIENT_SECRET="+realClientSecret)
	got, err := cmd.Output()
	if err != nil || !strings.Contains(string(got), `"access_token"`) {
		t.Errorf("got %q, %v from the printed command with $OKTA_CLIENT_SECRET exported, want a token response", got, err)
	}
}

// TestIssuerBannerHidesFileSecrets: secrets and passwords from the
// clients file are the operator's too.
func TestIssuerBannerHidesFileSecrets(t *testing.T) {
	clearOktaEnv(t)
	path := filepath.Join(t.TempDir(), "issuer.yaml")
	yaml := "scopes: [{name: orders, default: true}]\nclients: [{id: shop, secret: " + realClientSecret + "}]\nusers: [{username: dana, password: " + realPassword + "}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startIssuer(t, "--config", path)
	out := r.stdout.String()
	for _, secret := range []string{realClientSecret, realPassword} {
		if strings.Contains(out, secret) || strings.Contains(r.stderr.String(), secret) {
			t.Errorf("got output containing the file's secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"client secret: (from APIGUARD_ISSUER_CONFIG; not shown", "dana / (from APIGUARD_ISSUER_CONFIG; not shown)"} {
		if !strings.Contains(out, want) {
			t.Errorf("got a banner without %q:\n%s", want, out)
		}
	}
}
