package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestNewAppFailureLeavesNothingRunning: when a set-up step fails after the
// development issuer has started (a setting found bad only then, Redis
// clients made), newApp stops and closes everything it started: no
// goroutine is left behind.
func TestNewAppFailureLeavesNothingRunning(t *testing.T) {
	const short = "too short for a sealing key" // under 32 bytes
	tests := []struct {
		name string
		cfg  serveConfig
		want string
	}{
		{"session store refuses the secret after the issuer and Redis client started",
			serveConfig{redisURL: "redis://127.0.0.1:1", sessionSecret: short,
				state: stateConfig{introspection: "off", dpop: "off"}},
			"APIGUARD_SESSION_SECRET"},
		{"shared DPoP state refuses the secret after the issuer started",
			serveConfig{redisURL: "redis://127.0.0.1:1", sessionSecret: short,
				state: stateConfig{introspection: "off", dpop: "on"}},
			"sharedstate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			cfg := tt.cfg
			cfg.addr, cfg.publicURL, cfg.audience = "127.0.0.1:5000", "http://127.0.0.1:5000", "api://default"
			a, err := newApp(context.Background(), &cfg, slog.New(slog.DiscardHandler), io.Discard)
			if err == nil {
				a.close()
				t.Fatal("got no error, want the late set-up step to fail")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestGatewayLateFailureLeavesNothingRunning: the gateway fails at its last
// set-up step (admin_listen taken) after opening its listener, a Redis
// client and the verifier; nothing it started keeps running.
func TestGatewayLateFailureLeavesNothingRunning(t *testing.T) {
	gwClearEnv(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := writeGatewayConfig(t, "issuer: https://issuer.example/oauth2/default\nadmin_listen: "+taken.Addr().String()+"\nroutes:\n  - path: /**\n")
	t.Setenv("APIGUARD_REDIS_URL", "redis://127.0.0.1:1")
	t.Setenv("APIGUARD_SESSION_SECRET", strings.Repeat("s", 32))
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	err = runGateway(context.Background(), []string{"--config", path, "--addr", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "admin_listen") {
		t.Fatalf("got %v, want an admin_listen error", err)
	}
}
