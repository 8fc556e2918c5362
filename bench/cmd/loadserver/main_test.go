package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunLoopbackOnly checks that the load server, whose issuer mints
// tokens for anyone, refuses to listen beyond this machine, and serves on a
// loopback host: with its context already done, run writes the tokens,
// reports ready, and shuts down.
func TestRunLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "10.0.0.1:0", "127.0.0.1.nip.io:0", "127.1:0", "localhost.example.com:0"} {
		if err := run(context.Background(), addr, dir, 1, 0, out); err == nil || !strings.Contains(err.Error(), "-addr") {
			t.Errorf("run(-addr %s): got %v, want an error naming -addr", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := run(ctx, addr, dir, 2, 3, out); err != nil && !strings.Contains(err.Error(), "listen") {
			t.Errorf("run(-addr %s): %v", addr, err)
		}
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "fresh.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(string(fresh)); len(lines) != 2 || lines[0] == lines[1] {
		t.Errorf("fresh.txt: got %q, want two distinct tokens", lines)
	}
	es, err := os.ReadFile(filepath.Join(dir, "fresh-es256.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(string(es)); len(lines) != 3 || lines[0] == lines[1] || lines[1] == lines[2] || !strings.HasPrefix(lines[0], "eyJhbGciOiJFUzI1NiIs") {
		t.Errorf("fresh-es256.txt: got %q, want three distinct ES256 tokens", lines)
	}
	got, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(got), "\nready\n") {
		t.Errorf("output %q does not report ready", got)
	}
}
