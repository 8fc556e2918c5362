package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/internal/testwait"
)

// bannerExports is the export line of the banner.
var bannerExports = regexp.MustCompile(`(?m)^\s+export CLIENT_ID='([^']+)' CLIENT_SECRET='([^']+)'$`)

// bannerClient returns the client id and secret of serve's banner, from
// its export line.
func bannerClient(t *testing.T, banner string) (id, secret string) {
	t.Helper()
	m := bannerExports.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no export line with a client id and secret in the banner:\n%s", banner)
	}
	return m[1], m[2]
}

// clientToken gets an access token by client credentials.
func clientToken(t *testing.T, issuerURL, id, secret string) string {
	t.Helper()
	req, err := http.NewRequest("POST", issuerURL+"/v1/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
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
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("client credentials at %s: status %d, %v", issuerURL, res.StatusCode, err)
	}
	return tok.AccessToken
}

// devServeEnv is serve's environment on the development issuer with its
// state at path.
func devServeEnv(path string) map[string]string {
	return map[string]string{"APIGUARD_DEV_STATE": path, "APIGUARD_DEV_USER": "", "APIGUARD_DEV_PASSWORD": "", "APIGUARD_ISSUER_CONFIG": ""}
}

// TestDevStateTokenSurvivesRestart: a token minted on the development
// issuer before serve restarts is accepted after it, with the same client
// credentials, when both runs share the state file; with the state off
// (today's behaviour before the file) the restart refuses it, which shows
// the test would fail without the file.
func TestDevStateTokenSurvivesRestart(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	path := filepath.Join(t.TempDir(), "state", "dev-issuer.json")

	first := startServe(t, devServeEnv(path), "--addr", addr)
	id, secret := bannerClient(t, first.stdout.String())
	token := clientToken(t, first.url+"/oauth2/default", id, secret)
	bearer := map[string]string{"Authorization": "Bearer " + token}
	if r := do(t, "GET", first.url+"/secure-data", bearer); r.status != 200 {
		t.Fatalf("before the restart: %d %s", r.status, r.raw)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	second := startServe(t, devServeEnv(path), "--addr", addr)
	if id2, secret2 := bannerClient(t, second.stdout.String()); id2 != id || secret2 != secret {
		t.Errorf("got client %q after the restart, want the stored %q and its secret", id2, id)
	}
	if r := do(t, "GET", second.url+"/secure-data", bearer); r.status != 200 {
		t.Errorf("token minted before the restart: %d %s, want 200", r.status, r.raw)
	}
	if r := do(t, "GET", second.url+"/secure-data", map[string]string{"Authorization": "Bearer " + clientToken(t, second.url+"/oauth2/default", id, secret)}); r.status != 200 {
		t.Errorf("token minted after the restart with the exported credentials: %d %s", r.status, r.raw)
	}
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}

	off := startServe(t, devServeEnv("off"), "--addr", addr)
	if strings.Contains(off.stdout.String(), secret) {
		t.Error("APIGUARD_DEV_STATE=off used the stored secret")
	}
	if !strings.Contains(off.stdout.String(), "state:         in memory (APIGUARD_DEV_STATE=off)") {
		t.Errorf("the banner does not say the state is in memory:\n%s", off.stdout.String())
	}
	if r := do(t, "GET", off.url+"/secure-data", bearer); r.status != 401 {
		t.Errorf("with the state off, the old token: %d, want 401 (new keys at every start)", r.status)
	}
}

// TestDevStateFile: the file serve creates is 0600 in a 0700 directory,
// holds the generated credentials but never one the operator set, and
// APIGUARD_DEV_USER and APIGUARD_DEV_PASSWORD win over the stored user.
func TestDevStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "apiguard")
	path := filepath.Join(dir, "dev-issuer.json")
	s := startServe(t, devServeEnv(path))
	id, secret := bannerClient(t, s.stdout.String())
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("got mode %04o for %s, want %04o", fi.Mode().Perm(), p, want)
		}
	}
	st, err := devissuer.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientID != id || st.ClientSecret != secret || st.Password == "" || st.Keys == nil {
		t.Errorf("got stored client %q, password set %v, keys %v; want the banner's client %q, a password and keys", st.ClientID, st.Password != "", st.Keys != nil, id)
	}

	const chosen = "chosen-passphrase-4b1f9e"
	env := devServeEnv(path)
	env["APIGUARD_DEV_USER"], env["APIGUARD_DEV_PASSWORD"] = "ada@example.com", chosen
	s = startServe(t, env)
	banner := s.stdout.String()
	if !strings.Contains(banner, "user:          ada@example.com / (from APIGUARD_DEV_PASSWORD; not shown)") || strings.Contains(banner, chosen) {
		t.Errorf("the banner does not show the operator's user with the password hidden:\n%s", banner)
	}
	if _, secret2 := bannerClient(t, banner); secret2 != secret {
		t.Error("the stored client secret was not used beside the operator's user")
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(chosen)) || bytes.Contains(data, []byte("ada@example.com")) {
		t.Error("the state file holds the user the operator set")
	}
	if st2, err := devissuer.ReadStateFile(path); err != nil || st2.Password != st.Password {
		t.Errorf("the stored password changed (%v): the operator's one must not replace it", err)
	}
}

// TestDevStateRefused: a state file others may read, or a damaged one,
// stops serve and issuer with one line naming APIGUARD_DEV_STATE and the
// fix, and prints no banner; --dev-state-reset starts afresh.
func TestDevStateRefused(t *testing.T) {
	clearOktaEnv(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	s := startServe(t, devServeEnv(good))
	id, secret := bannerClient(t, s.stdout.String())
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"world-readable", write("open.json", string(data), 0o644), []string{"mode 0644", "chmod 600"}},
		{"group-readable", write("group.json", string(data), 0o640), []string{"mode 0640"}},
		{"damaged", write("damaged.json", string(data[:len(data)/3]), 0o600), []string{"not a development issuer state file", "delete it to start afresh"}},
		{"a directory", dir + string(filepath.Separator), []string{"is a directory"}},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"serve", "issuer"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				t.Setenv("APIGUARD_DEV_STATE", tt.path)
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), []string{cmd, "--addr", "127.0.0.1:0"}, nil, &stdout, &stderr)
				line := stderr.String()
				if code != 2 || strings.Count(line, "\n") != 1 {
					t.Fatalf("got exit %d, stderr %q; want exit 2 and one line", code, line)
				}
				for _, w := range append(tt.want, "apiguard "+cmd+": APIGUARD_DEV_STATE (--dev-state): ") {
					if !strings.Contains(line, w) {
						t.Errorf("got %q, want it to say %q", line, w)
					}
				}
				if stdout.Len() != 0 || strings.Contains(line, secret) {
					t.Errorf("got stdout %q and stderr %q, want no banner and no secret", stdout.String(), line)
				}
			})
		}
	}

	t.Run("reset", func(t *testing.T) {
		s := startServe(t, devServeEnv(good), "--dev-state-reset")
		id2, secret2 := bannerClient(t, s.stdout.String())
		if id2 == id || secret2 == secret {
			t.Errorf("got the old client %q after --dev-state-reset, want a new one", id2)
		}
		if st, err := devissuer.ReadStateFile(good); err != nil || st.ClientSecret != secret2 {
			t.Errorf("the new client was not stored (%v)", err)
		}
	})
	t.Run("reset with the state off", func(t *testing.T) {
		t.Setenv("APIGUARD_DEV_STATE", "off")
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{"serve", "--dev-state-reset"}, nil, &bytes.Buffer{}, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "--dev-state-reset: there is no state file to delete") {
			t.Errorf("got exit %d, %q", code, stderr.String())
		}
	})
}

// TestDevStateSharedByIssuerAndDevEnv: `apiguard issuer` on serve's state
// file has serve's client, `apiguard dev-env` prints it as the banner's
// exports, and a rotation is stored so a restart signs with the new key.
func TestDevStateSharedByIssuerAndDevEnv(t *testing.T) {
	clearOktaEnv(t)
	path := filepath.Join(t.TempDir(), "dev-issuer.json")
	t.Setenv("APIGUARD_DEV_STATE", path)

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"dev-env"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no development issuer state at "+path+" yet") {
		t.Errorf("dev-env before any start: exit %d, %q", code, stderr.String())
	}

	s := startServe(t, devServeEnv(path))
	id, secret := bannerClient(t, s.stdout.String())
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"dev-env"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "\nexport CLIENT_ID='"+id+"' CLIENT_SECRET='"+secret+"'\n") {
		t.Errorf("dev-env: exit %d, %q, want the banner's export line", code, stdout.String())
	}

	before, err := devissuer.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	iss := startIssuer(t, "--rotate-every", "1s")
	if gotID, gotSecret := iss.credentials(t); gotID != id || gotSecret != secret {
		t.Errorf("apiguard issuer on serve's state: client %q, want %q", gotID, id)
	}
	clientToken(t, iss.url, id, secret) // serve's exported credentials work at the issuer alone
	var after devissuer.State
	testwait.For(t, "the rotated keys stored", func() bool {
		after, err = devissuer.ReadStateFile(path)
		return err == nil && after.Keys != nil && !after.Keys.Active.Equal(before.Keys.Active)
	})
	if !after.Keys.Active.Equal(before.Keys.Next) || len(after.Keys.Retired) == 0 || after.ClientSecret != secret {
		t.Errorf("got stored keys and client unlike a rotation's: the next key active %v, %d retired, same secret %v",
			after.Keys.Active.Equal(before.Keys.Next), len(after.Keys.Retired), after.ClientSecret == secret)
	}
}
