package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apiguard/apiguard/gateway"
)

const reloadV1 = `
upstream: {{up}}
routes:
  - path: /old/**
    public: true
`

const reloadV2 = `
upstream: {{up}}
routes:
  - path: /new/**
    public: true
`

// writeFile replaces path the way editors do: write a temporary file, rename.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fileFixture starts a gateway from a config file holding v1.
func fileFixture(t *testing.T) (f *fixture, path string, sub func(string) string) {
	t.Helper()
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	sub = func(s string) string { return strings.ReplaceAll(s, "{{up}}", up.URL) }
	path = filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, sub(reloadV1))
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	gw := newGateway(t, ti.URL, cfg, logs)
	f = &fixture{gw: gw, issuer: ti, logs: logs}
	f.srv = newServer(t, gw)
	return f, path, sub
}

func (f *fixture) status(t *testing.T, path string) int {
	t.Helper()
	resp := f.do(t, "GET", path, "", nil)
	resp.Body.Close()
	return resp.StatusCode
}

func TestReloadOnFileChange(t *testing.T) {
	f, path, sub := fileFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := f.gw.Watch(ctx, path, nil)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	if got := f.status(t, "/new/x"); got != 404 {
		t.Fatalf("before reload: got %d for /new/x, want 404", got)
	}
	writeFile(t, path, sub(reloadV2))
	eventually(t, "the new rules", func() bool { return f.status(t, "/new/x") == 200 })
	if got := f.status(t, "/old/x"); got != 404 {
		t.Errorf("after reload: got %d for /old/x, want 404", got)
	}

	// A bad file is reported and the running rules stay.
	writeFile(t, path, sub(reloadV2)+"    scopes: [x]\n")
	eventually(t, "the bad file to be reported", func() bool {
		return strings.Contains(f.logs.String(), "not reloaded")
	})
	logs := f.logs.String()
	if !strings.Contains(logs, "public route must not name scopes") || !strings.Contains(logs, "line 4") {
		t.Errorf("got logs %q, want the problem and its line", logs)
	}
	if got := f.status(t, "/new/x"); got != 200 {
		t.Errorf("after a bad file: got %d for /new/x, want the running rules (200)", got)
	}

	// Removed and written again (as some deploy tools do).
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sub(reloadV1)), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rewritten file", func() bool { return f.status(t, "/old/x") == 200 })
}

func TestReloadOnSignal(t *testing.T) {
	f, path, sub := fileFixture(t)
	// The file changes before the watch starts, so no file event reloads
	// it: only the signal can.
	writeFile(t, path, sub(reloadV2))
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := f.gw.Watch(ctx, path, hup)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
	if got := f.status(t, "/new/x"); got != 404 {
		t.Fatalf("before SIGHUP: got %d for /new/x, want 404", got)
	}
	hup <- syscall.SIGHUP
	eventually(t, "the new rules", func() bool { return f.status(t, "/new/x") == 200 })
	if !strings.Contains(f.logs.String(), "trigger=signal") {
		t.Errorf("got logs %q, want a reload triggered by the signal", f.logs.String())
	}
}

func TestReloadFile(t *testing.T) {
	f, path, sub := fileFixture(t)
	writeFile(t, path, sub(reloadV2)+"bogus: 1\n")
	err := f.gw.ReloadFile(path)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("ReloadFile with an unknown field: got %v, want an error naming it", err)
	}
	if got := f.status(t, "/old/x"); got != 200 {
		t.Errorf("after a failed reload: got %d for /old/x, want 200", got)
	}
	writeFile(t, path, sub(reloadV2))
	if err := f.gw.ReloadFile(path); err != nil {
		t.Fatalf("ReloadFile: %v", err)
	}
	if got := f.status(t, "/new/x"); got != 200 {
		t.Errorf("after reload: got %d for /new/x, want 200", got)
	}
	// Settings that need a restart are reported.
	writeFile(t, path, "issuer: https://other.example/oauth2/default\n"+sub(reloadV2))
	if err := f.gw.ReloadFile(path); err != nil {
		t.Fatalf("ReloadFile: %v", err)
	}
	if !strings.Contains(f.logs.String(), "setting=issuer") {
		t.Errorf("got logs %q, want a restart warning for issuer", f.logs.String())
	}
}
