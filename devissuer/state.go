package devissuer

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeySet is an issuer's signing keys: what Issuer.Keys returns and
// Config.Keys takes, so that a restarted issuer keeps signing with the keys
// verifiers already know and tokens it issued before keep verifying.
type KeySet struct {
	// Active signs tokens now.
	Active *rsa.PrivateKey
	// Next is published ahead of its use and signs after the next rotation.
	Next *rsa.PrivateKey
	// Retired keys are published until their Until, so that tokens they
	// signed keep verifying.
	Retired []RetiredKey
}

// RetiredKey is a key no longer used for signing, published until Until.
type RetiredKey struct {
	Key   *rsa.PrivateKey
	Until time.Time
}

// minKeyBits is the smallest RSA key accepted from a state file, the size
// the issuer generates.
const minKeyBits = 2048

// ring returns the key ring of s, after checking every key.
func (s *KeySet) ring(r io.Reader, now func() time.Time, grace time.Duration) (*keyRing, error) {
	if s.Active == nil || s.Next == nil {
		return nil, errors.New("devissuer: Keys needs an active and a next key")
	}
	active, err := checkedSigningKey(s.Active)
	if err != nil {
		return nil, fmt.Errorf("devissuer: active key: %w", err)
	}
	next, err := checkedSigningKey(s.Next)
	if err != nil {
		return nil, fmt.Errorf("devissuer: next key: %w", err)
	}
	k := &keyRing{rand: r, now: now, grace: grace, active: active, next: next}
	for i, rk := range s.Retired {
		key, err := checkedSigningKey(rk.Key)
		if err != nil {
			return nil, fmt.Errorf("devissuer: retired key %d: %w", i+1, err)
		}
		k.retired = append(k.retired, retiredKey{signingKey: key, until: rk.Until})
	}
	return k, nil
}

// checkedSigningKey refuses a key the issuer would not have generated.
func checkedSigningKey(priv *rsa.PrivateKey) (*signingKey, error) {
	if priv == nil {
		return nil, errors.New("missing")
	}
	if priv.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("an RSA key of %d bits, want at least %d", priv.N.BitLen(), minKeyBits)
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("not a valid RSA key: %w", err)
	}
	return signingKeyOf(priv)
}

// State is what a development issuer keeps across restarts in its state
// file (ReadStateFile, WriteStateFile): the credentials the command
// generated for its default client and user, and the signing keys. A field
// the operator supplied (OKTA_CLIENT_SECRET, APIGUARD_DEV_PASSWORD, …) is
// left empty: what the operator chose is never written down here.
type State struct {
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	// Keys are the signing keys; nil before the issuer first ran.
	Keys *KeySet
}

// stateVersion is the version of the state file's format.
const stateVersion = 1

// stateAbout heads every state file, for whoever opens it.
const stateAbout = "apiguard development issuer state: generated client secret, password and PRIVATE signing keys. " +
	"Keep it private (mode 0600), never commit or share it; delete it to start afresh."

// maxStateSize caps what ReadStateFile reads: a state file is a few KB.
const maxStateSize = 1 << 20

// stateFile is the JSON form of State. Keys are JWKs (RFC 7517) with
// their private parts.
type stateFile struct {
	About        string     `json:"about"`
	Version      int        `json:"version"`
	ClientID     string     `json:"client_id,omitempty"`
	ClientSecret string     `json:"client_secret,omitempty"`
	Username     string     `json:"username,omitempty"`
	Password     string     `json:"password,omitempty"`
	Keys         *stateKeys `json:"signing_keys,omitempty"`
}

type stateKeys struct {
	Active  *jose.JSONWebKey  `json:"active"`
	Next    *jose.JSONWebKey  `json:"next"`
	Retired []stateRetiredKey `json:"retired,omitempty"`
}

type stateRetiredKey struct {
	Key   *jose.JSONWebKey `json:"key"`
	Until time.Time        `json:"until"`
}

func privateJWK(priv *rsa.PrivateKey) (*jose.JSONWebKey, error) {
	k, err := checkedSigningKey(priv)
	if err != nil {
		return nil, err
	}
	return &jose.JSONWebKey{Key: priv, KeyID: k.id, Algorithm: "RS256", Use: "sig"}, nil
}

func rsaKeyOf(jwk *jose.JSONWebKey) (*rsa.PrivateKey, error) {
	if jwk == nil {
		return nil, errors.New("missing")
	}
	priv, ok := jwk.Key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an RSA private key", jwk.Key)
	}
	k, err := checkedSigningKey(priv)
	if err != nil {
		return nil, err
	}
	if jwk.KeyID != k.id {
		return nil, fmt.Errorf("kid %q is not the key's thumbprint", jwk.KeyID)
	}
	return priv, nil
}

// MarshalState returns the state file's content for s.
func MarshalState(s State) ([]byte, error) {
	f := stateFile{About: stateAbout, Version: stateVersion, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		Username: s.Username, Password: s.Password}
	if s.Keys != nil {
		var err error
		f.Keys = &stateKeys{}
		if f.Keys.Active, err = privateJWK(s.Keys.Active); err != nil {
			return nil, fmt.Errorf("devissuer: active key: %w", err)
		}
		if f.Keys.Next, err = privateJWK(s.Keys.Next); err != nil {
			return nil, fmt.Errorf("devissuer: next key: %w", err)
		}
		for i, r := range s.Keys.Retired {
			jwk, err := privateJWK(r.Key)
			if err != nil {
				return nil, fmt.Errorf("devissuer: retired key %d: %w", i+1, err)
			}
			f.Keys.Retired = append(f.Keys.Retired, stateRetiredKey{Key: jwk, Until: r.Until.UTC()})
		}
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("devissuer: failed to encode the state: %w", err)
	}
	return append(out, '\n'), nil
}

// UnmarshalState parses a state file's content. Unknown fields, another
// version, a key that is not a valid RSA key of at least 2048 bits or
// whose kid is not its thumbprint are errors: a damaged file is refused,
// not half used.
func UnmarshalState(data []byte) (State, error) {
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return State{}, fmt.Errorf("not a development issuer state file: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("not a development issuer state file: data after the JSON object")
	}
	if f.Version != stateVersion {
		return State{}, fmt.Errorf("state file version %d, want %d", f.Version, stateVersion)
	}
	s := State{ClientID: f.ClientID, ClientSecret: f.ClientSecret, Username: f.Username, Password: f.Password}
	if f.Keys != nil {
		var err error
		s.Keys = &KeySet{}
		if s.Keys.Active, err = rsaKeyOf(f.Keys.Active); err != nil {
			return State{}, fmt.Errorf("signing_keys.active: %w", err)
		}
		if s.Keys.Next, err = rsaKeyOf(f.Keys.Next); err != nil {
			return State{}, fmt.Errorf("signing_keys.next: %w", err)
		}
		for i, r := range f.Keys.Retired {
			priv, err := rsaKeyOf(r.Key)
			if err != nil {
				return State{}, fmt.Errorf("signing_keys.retired[%d]: %w", i, err)
			}
			s.Keys.Retired = append(s.Keys.Retired, RetiredKey{Key: priv, Until: r.Until})
		}
	}
	return s, nil
}

// ReadStateFile reads the state file at path. A missing file is an error
// wrapping fs.ErrNotExist. The file must be private: a regular file of the
// current user, readable and writable by no one else (it holds private
// keys, and a file another user could write could hand the issuer keys they
// know); otherwise ReadStateFile refuses it and says how to fix it.
func ReadStateFile(path string) (State, error) {
	f, err := os.Open(path)
	if err != nil {
		return State{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return State{}, err
	}
	if !fi.Mode().IsRegular() {
		return State{}, fmt.Errorf("%s is not a regular file", path)
	}
	if err := checkPrivate(path, fi); err != nil {
		return State{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return State{}, fmt.Errorf("failed to read %s: %w", path, err)
	}
	if len(data) > maxStateSize {
		return State{}, fmt.Errorf("%s is larger than %d bytes: not a development issuer state file", path, maxStateSize)
	}
	s, err := UnmarshalState(data)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w (delete it to start afresh)", path, err)
	}
	return s, nil
}

// WriteStateFile writes s to path atomically: to a temporary file of mode
// 0600 in the same directory, synced, then renamed over path, so that a
// reader sees the old file or the new one, never a part. A missing
// directory is created with mode 0700.
func WriteStateFile(path string, s State) (err error) {
	data, err := MarshalState(s)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create the directory of the state file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	return nil
}
