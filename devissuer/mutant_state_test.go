package devissuer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// TestStateFileSizeLimit: a state file of exactly 1 MiB is read (here a
// small state padded with trailing white space, which JSON allows), and one
// byte more is refused as too large, not parsed.
func TestStateFileSizeLimit(t *testing.T) {
	data, err := devissuer.MarshalState(devissuer.State{ClientSecret: "x"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{1 << 20, 1<<20 + 1} {
		path := filepath.Join(dir, "state.json")
		padded := append(bytes.Clone(data), bytes.Repeat([]byte(" "), n-len(data))...)
		if err := os.WriteFile(path, padded, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := devissuer.ReadStateFile(path)
		switch {
		case n == 1<<20 && (err != nil || st.ClientSecret != "x"):
			t.Errorf("state file of %d bytes: got %+v, %v; want it read", n, st, err)
		case n > 1<<20 && (err == nil || !strings.Contains(err.Error(), "larger than")):
			t.Errorf("state file of %d bytes: got error %v, want it refused as larger than 1 MiB", n, err)
		}
	}
}
