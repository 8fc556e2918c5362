package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSettingErrorsNameTheirOrigin: a bad value is reported with where it
// came from (flag, environment, .env line, gateway.yaml line), and the
// tutorial's placeholders are recognised in any setting, a secret's value
// never shown.
func TestSettingErrorsNameTheirOrigin(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		dotEnv  string
		env     map[string]string
		args    []string
		file    string // gateway.yaml
		want    []string
		notWant string
	}{
		{"flag", "serve", "", nil, []string{"--addr", "nope"}, "", []string{`--addr: "nope" is not host:port`}, ""},
		{"environment", "serve", "", map[string]string{"APIGUARD_ADDR": "nope"}, nil, "", []string{`APIGUARD_ADDR (--addr): "nope"`}, ""},
		{".env line", "serve", "# settings\n\nAPIGUARD_LOG_LEVEL=info\nAPIGUARD_ADDR=nope\n", nil, nil, "",
			[]string{`APIGUARD_ADDR from .env line 4: "nope" is not host:port`}, ""},
		{"the environment wins over .env", "serve", "APIGUARD_ADDR=127.0.0.1:0\n", map[string]string{"APIGUARD_ADDR": "nope"}, nil, "",
			[]string{`APIGUARD_ADDR (--addr): "nope"`}, ""},
		{"gateway.yaml line", "gateway", "", map[string]string{"OKTA_ISSUER": "https://issuer.example/oauth2/default"}, nil,
			"routes:\n  - path: /**\nintrospection: sometimes\n",
			[]string{`introspection in `, `gateway.yaml line 3: "sometimes" is not off, opaque or always`}, ""},
		{"the environment wins over gateway.yaml", "gateway", "", map[string]string{"OKTA_ISSUER": "https://issuer.example/oauth2/default",
			"APIGUARD_DPOP": "sometimes"}, nil, "dpop: off\nroutes:\n  - path: /**\n",
			[]string{`APIGUARD_DPOP (--dpop): "sometimes" is not on, off or required`}, ""},
		{"placeholder client id", "token", "", map[string]string{"OKTA_CLIENT_ID": "{yourClientId}"}, []string{"--issuer", "https://issuer.example"}, "",
			[]string{`OKTA_CLIENT_ID (--client-id): "{yourClientId}" is the tutorial's placeholder`}, ""},
		{"placeholder secret from .env", "token", "OKTA_CLIENT_SECRET=hunter2{yourClientSecret}\n", nil,
			[]string{"--issuer", "https://issuer.example", "--client-id", "c"}, "",
			[]string{`OKTA_CLIENT_SECRET from .env line 1: holds the tutorial's placeholder {yourClientSecret}`}, "hunter2"},
		{"placeholder domain in gateway.yaml", "gateway", "", nil, nil, "issuer: https://{yourOktaDomain}/oauth2/default\nroutes:\n  - path: /**\n",
			[]string{`issuer in `, `gateway.yaml line 1: "https://{yourOktaDomain}/oauth2/default" is the tutorial's placeholder`}, ""},
		{"placeholder in the issuer's settings", "issuer", "", map[string]string{"APIGUARD_DEV_USER": "{yourUsername}"}, nil, "",
			[]string{`APIGUARD_DEV_USER: "{yourUsername}" is the tutorial's placeholder`}, ""},
		{"issuer validates log settings", "issuer", "", map[string]string{"APIGUARD_LOG_FORMAT": "xml"}, nil, "",
			[]string{`APIGUARD_LOG_FORMAT (--log-format): "xml" is not text or json`}, ""},
		{"deprecated issuer --config", "issuer", "", nil, []string{"--config", "/nonexistent/issuer.yaml"}, "",
			[]string{`--config: `}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOktaEnv(t)
			gwClearEnv(t)
			for _, k := range []string{"APIGUARD_ADDR", "APIGUARD_LOG_LEVEL", "APIGUARD_LOG_FORMAT", "APIGUARD_DPOP", "APIGUARD_DEV_USER", "APIGUARD_DEV_PASSWORD"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			t.Chdir(dir)
			if tt.dotEnv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotEnv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { _ = loadDotEnv(filepath.Join(dir, "none")) }) // forget the lines
			args := tt.args
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// run puts .env's values into the environment: have them
			// restored after the test.
			for _, line := range strings.Split(tt.dotEnv, "\n") {
				if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") && os.Getenv(k) == "" {
					t.Setenv(k, "")
				}
			}
			var stderr syncBuffer
			code := run(t.Context(), append([]string{tt.cmd}, args...), nil, io.Discard, &stderr)
			got := stderr.String()
			if code != 2 {
				t.Errorf("got exit %d, want 2; stderr %q", code, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
			if tt.notWant != "" && strings.Contains(got, tt.notWant) {
				t.Errorf("got %q, which shows %q", got, tt.notWant)
			}
		})
	}
}

// TestTypedSettings: a value is parsed once, by its kind, whatever its
// source: dpop_nonce from gateway.yaml is a bool as the environment's is.
func TestTypedSettings(t *testing.T) {
	gwClearEnv(t)
	t.Setenv("OKTA_ISSUER", "https://issuer.example/oauth2/default")
	for _, tt := range []struct {
		file, env string
		want      bool
	}{
		{"dpop_nonce: true\n", "", true},
		{"dpop_nonce: false\n", "", false},
		{"dpop_nonce: true\n", "off", false},
		{"", "yes", true},
		{"", "", false},
	} {
		t.Setenv("APIGUARD_DPOP_NONCE", tt.env)
		cfg, err := parseGatewayConfig([]string{"--config", writeGatewayConfig(t, tt.file+"routes:\n  - path: /**\n")}, io.Discard)
		if err != nil {
			t.Fatalf("file %q, env %q: %v", tt.file, tt.env, err)
		}
		if cfg.shared.state.dpopNonce != tt.want {
			t.Errorf("file %q, env %q: got dpop nonce %v, want %v", tt.file, tt.env, cfg.shared.state.dpopNonce, tt.want)
		}
	}
}
