package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/apiguard/apiguard/devissuer"
)

// The development issuer's state file keeps what `serve` (without
// OKTA_ISSUER) and `issuer` generate, the client id and secret, the user
// and password and the signing keys, so that a restart changes none of
// them: the credentials a user exported and the tokens they got keep
// working. Its format, mode and atomic writes are package devissuer's
// (ReadStateFile, WriteStateFile); here is where it lives and how the
// settings choose it.

// devStateFileName is the state file's name in its directory.
const devStateFileName = "dev-issuer.json"

// devStateDefaultHelp says where the state file is by default, for -h.
const devStateDefaultHelp = "$XDG_STATE_HOME/apiguard/" + devStateFileName + ", else ~/.local/state/apiguard/" + devStateFileName +
	"; on macOS and Windows apiguard/" + devStateFileName + " in the user configuration directory"

// devState is where the development issuer keeps its state.
type devState struct {
	path      string // "": in memory
	setting   string // APIGUARD_DEV_STATE with its origin, for errors
	isDefault bool   // path is the default: failing to write it falls back to memory, with a warning
	reset     bool   // --dev-state-reset: delete the file first
	off       bool   // APIGUARD_DEV_STATE=off
	note      string // why the state is in memory though not off
}

// stateInfo is what the banner says of the state.
type stateInfo struct {
	path string // the file, or "" for memory
	off  bool
	note string
}

// devStateFrom resolves APIGUARD_DEV_STATE (and, when the command reads
// it, --dev-state-reset): off or none for memory, empty for the default
// file, anything else a file.
func devStateFrom(s *settings, withReset bool) (devState, error) {
	ds := devState{setting: s.origin("dev-state")}
	if withReset {
		ds.reset = s.bool("dev-state-reset")
	}
	switch raw := strings.TrimSpace(s.str("dev-state")); strings.ToLower(raw) {
	case "off", "none":
		if ds.reset {
			return ds, s.bad("dev-state-reset", "there is no state file to delete: %s is %s", s.name("dev-state"), raw)
		}
		ds.off = true
	case "":
		p, err := defaultDevStatePath()
		if err != nil {
			ds.note = "no directory for it (" + err.Error() + ")"
			return ds, nil
		}
		ds.path, ds.isDefault = p, true
	default:
		if strings.HasSuffix(raw, string(filepath.Separator)) {
			return ds, s.bad("dev-state", "%q is a directory: name a file, like %s", raw, filepath.Join(raw, devStateFileName))
		}
		ds.path = raw
	}
	return ds, nil
}

// defaultDevStatePath is $XDG_STATE_HOME/apiguard/dev-issuer.json, or
// ~/.local/state/apiguard/dev-issuer.json without it (the XDG base
// directory specification's place for state kept across restarts); on
// macOS and Windows, which have no such place, the user configuration
// directory's apiguard/dev-issuer.json.
func defaultDevStatePath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "apiguard", devStateFileName), nil
	}
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "plan9":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "apiguard", devStateFileName), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "apiguard", devStateFileName), nil
}

// devStateStore writes the state file of one process.
type devStateStore struct {
	path   string
	exists bool // the file was there at start

	mu  sync.Mutex
	cur devissuer.State
}

// openDevState reads the state file of ds (deleting it first with
// --dev-state-reset). It returns no store for a state in memory, and an
// empty State when there is no file yet. A file that cannot be used (others
// may read it, another user's, damaged) stops start-up with an error naming
// the setting: it is never silently replaced.
func openDevState(ds devState) (*devStateStore, devissuer.State, error) {
	if ds.path == "" {
		return nil, devissuer.State{}, nil
	}
	if ds.reset {
		if err := os.Remove(ds.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, devissuer.State{}, &usageError{fmt.Errorf("--dev-state-reset: %w", err)}
		}
	}
	st, err := devissuer.ReadStateFile(ds.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &devStateStore{path: ds.path}, devissuer.State{}, nil
	case err != nil:
		return nil, devissuer.State{}, &usageError{fmt.Errorf("%s: %w", ds.setting, err)}
	}
	return &devStateStore{path: ds.path, exists: true, cur: st}, st, nil
}

// save writes next when it differs from what was read (old) or there was
// no file.
func (s *devStateStore) save(old, next devissuer.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Secrets are compared with crypto/subtle like every secret (R-LOGIN-10),
	// though only a change is looked for here.
	same := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if s.exists && old.ClientID == next.ClientID && same(old.ClientSecret, next.ClientSecret) &&
		old.Username == next.Username && same(old.Password, next.Password) && old.Keys == next.Keys {
		return nil
	}
	if err := devissuer.WriteStateFile(s.path, next); err != nil {
		return err
	}
	s.cur, s.exists = next, true
	return nil
}

// saveKeys stores the keys of a rotation, so that a restart signs with the
// key verifiers were told about last.
func (s *devStateStore) saveKeys(keys devissuer.KeySet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cur
	next.Keys = &keys
	if err := devissuer.WriteStateFile(s.path, next); err != nil {
		return err
	}
	s.cur = next
	return nil
}

// devEnvSettings are the settings dev-env reads (settingTable).
var devEnvSettings = []string{"dev-state"}

// runDevEnv prints the stored client of the development issuer as shell
// exports, for `eval "$(apiguard dev-env)"`: the README's commands read
// $CLIENT_ID and $CLIENT_SECRET. Only a generated client is ever stored, so
// nothing the operator supplied is printed.
func runDevEnv(_ context.Context, args []string, stdout, stderr io.Writer) error {
	s := newSettings("dev-env", stderr, devEnvSettings...)
	if err := s.parse(args); err != nil {
		return err
	}
	ds, err := devStateFrom(s, false)
	if err != nil {
		return err
	}
	if ds.path == "" {
		why := s.name("dev-state") + " is off"
		if !ds.off {
			why = "the state file has " + ds.note
		}
		return fmt.Errorf("%s, so the development issuer keeps no client to print: copy the export line from the banner of apiguard serve", why)
	}
	st, err := devissuer.ReadStateFile(ds.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no development issuer state at %s yet: start 'apiguard serve' (without OKTA_ISSUER) or 'apiguard issuer' first, with the same %s", ds.path, s.name("dev-state"))
	case err != nil:
		return &usageError{fmt.Errorf("%s: %w", ds.setting, err)}
	case st.ClientID == "" || st.ClientSecret == "":
		return fmt.Errorf("%s holds no generated client (its client was set with OKTA_CLIENT_ID and OKTA_CLIENT_SECRET or APIGUARD_ISSUER_CONFIG): export CLIENT_ID and CLIENT_SECRET yourself", ds.path)
	}
	fmt.Fprintf(stdout, "# the development issuer's client, from %s\nexport CLIENT_ID=%s CLIENT_SECRET=%s\n",
		ds.path, shellQuote(st.ClientID), shellQuote(st.ClientSecret))
	return nil
}
