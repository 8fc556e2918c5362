package devissuer_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// TestStateFileKeepsKeysAcrossRestart: an issuer started on the keys of
// the state file written by an earlier one publishes them under the same
// kids and signs with the same active key, so a token minted before the
// restart verifies against the new issuer's key set.
func TestStateFileKeepsKeysAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "dev-issuer.json")
	first := newFixture(t, nil)
	token := first.ccToken(t)
	if err := devissuer.WriteStateFile(path, devissuer.State{ClientID: appID, ClientSecret: appSecret, Keys: ptr(first.iss.Keys())}); err != nil {
		t.Fatal(err)
	}

	st, err := devissuer.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientID != appID || st.ClientSecret != appSecret {
		t.Errorf("got client %q/%q back, want %q/%q", st.ClientID, st.ClientSecret, appID, appSecret)
	}
	second := newFixture(t, func(c *devissuer.Config) { c.Keys = st.Keys })
	if got, want := kids(second.keySet(t)), kids(first.keySet(t)); !slices.Equal(got, want) {
		t.Errorf("got kids %v after the restart, want %v", got, want)
	}
	if err := verifyWith(second.keySet(t), token); err != nil {
		t.Errorf("token minted before the restart: %v, want it verified by the restarted issuer's keys", err)
	}
	if err := verifyWith(first.keySet(t), second.ccToken(t)); err != nil {
		t.Errorf("token minted after the restart: %v, want it signed with the same active key", err)
	}

	fresh := newFixture(t, nil)
	if err := verifyWith(fresh.keySet(t), token); err == nil {
		t.Error("an issuer with fresh keys verified the old token: the test proves nothing")
	}
}

// TestStateFileMode: the file is 0600 in a directory created 0700, and no
// temporary file is left beside it.
func TestStateFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := filepath.Join(t.TempDir(), "apiguard")
	path := filepath.Join(dir, "dev-issuer.json")
	for range 2 { // created, then replaced
		if err := devissuer.WriteStateFile(path, devissuer.State{ClientSecret: "s3cret-value"}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("got file mode %04o, want 0600", fi.Mode().Perm())
		}
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("got directory mode %04o, want 0700", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("got %d entries in the directory, want the state file alone", len(entries))
	}
}

// TestStateFileRefused: a file others may read, a damaged file and a key
// that does not match its kid are refused with a message saying what is
// wrong and how to start afresh; a missing file is fs.ErrNotExist.
func TestStateFileRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := devissuer.WriteStateFile(good, devissuer.State{ClientSecret: "x", Keys: &devissuer.KeySet{Active: key, Next: key}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherState, err := devissuer.MarshalState(devissuer.State{Keys: &devissuer.KeySet{Active: other, Next: other}})
	if err != nil {
		t.Fatal(err)
	}
	// The kid of the first key over the second key's numbers.
	kid := func(b []byte) string {
		s := string(b)
		i := strings.Index(s, `"kid": "`) + len(`"kid": "`)
		return s[i : i+strings.Index(s[i:], `"`)]
	}
	swapped := strings.ReplaceAll(string(otherState), kid(otherState), kid(data))

	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    []string
	}{
		{"readable by others", string(data), 0o644, []string{"mode 0644", "chmod 600"}},
		{"writable by the group", string(data), 0o620, []string{"mode 0620"}},
		{"truncated", string(data[:len(data)/2]), 0o600, []string{"not a development issuer state file", "delete it"}},
		{"not JSON", "hello", 0o600, []string{"not a development issuer state file"}},
		{"unknown field", strings.Replace(string(data), `"version"`, `"versoin": 1, "version"`, 1), 0o600, []string{"versoin"}},
		{"another version", strings.Replace(string(data), `"version": 1`, `"version": 7`, 1), 0o600, []string{"version 7"}},
		{"kid of another key", swapped, 0o600, []string{"not the key's thumbprint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("no Unix modes")
			}
			path := filepath.Join(t.TempDir(), "dev-issuer.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := devissuer.ReadStateFile(path)
			if err == nil {
				t.Fatal("got no error, want the file refused")
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), `"d"`) || strings.Contains(err.Error(), "client_secret") {
				t.Errorf("got %q, which quotes the file", err)
			}
		})
	}

	if _, err := devissuer.ReadStateFile(good); err != nil {
		t.Errorf("the untouched file: %v, want it read", err)
	}

	// Another user's file, mode 0600 or not: only root can make one here.
	if runtime.GOOS != "windows" && os.Geteuid() == 0 {
		foreign := filepath.Join(dir, "foreign.json")
		if err := os.WriteFile(foreign, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := devissuer.ReadStateFile(foreign); err == nil || !strings.Contains(err.Error(), "belongs to user id 65534, not to you") {
			t.Errorf("another user's file: got %v, want it refused", err)
		}
	}
	if _, err := devissuer.ReadStateFile(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: got %v, want fs.ErrNotExist", err)
	}
}

// TestOnRotateGetsTheNewKeys: after Rotate, OnRotate receives the ring the
// issuer now publishes, so a command can store it.
func TestOnRotateGetsTheNewKeys(t *testing.T) {
	var got []devissuer.KeySet
	f := newFixture(t, func(c *devissuer.Config) { c.OnRotate = func(k devissuer.KeySet) { got = append(got, k) } })
	_, next := f.iss.KeyIDs()
	if err := f.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d calls of OnRotate, want 1", len(got))
	}
	keys := f.iss.Keys()
	if !got[0].Active.Equal(keys.Active) || !got[0].Next.Equal(keys.Next) || len(got[0].Retired) != 1 {
		t.Errorf("got a key set unlike the issuer's: %d retired", len(got[0].Retired))
	}
	restarted := newFixture(t, func(c *devissuer.Config) { c.Keys = &got[0] })
	if active, _ := restarted.iss.KeyIDs(); active != next {
		t.Errorf("got active kid %q after restarting on the stored keys, want the rotated-in %q", active, next)
	}
	if n := len(restarted.keySet(t).Keys); n != 3 {
		t.Errorf("got %d published keys, want active, next and the retired one", n)
	}
}

// TestDefaultUserName: the default user's name follows its username.
func TestDefaultUserName(t *testing.T) {
	for user, want := range map[string]string{"ada@example.com": "ada", "": "dev", "grace": "grace"} {
		cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{Username: user})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Users[0].Name; got != want {
			t.Errorf("got name %q for username %q, want %q", got, user, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
