package devissuer_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// TestWriteStateFileFailureLeavesNoTemporary: when the state file cannot be
// put in place (here its path is a directory that is not empty), the write
// fails and its temporary file, which holds the secrets, is removed.
func TestWriteStateFileFailureLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.MkdirAll(filepath.Join(path, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := devissuer.WriteStateFile(path, devissuer.State{ClientSecret: "x"}); err == nil {
		t.Fatal("WriteStateFile over a directory: got no error")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"state.json"}) {
		t.Errorf("after a failed write the directory holds %q, want only state.json", names)
	}
}
