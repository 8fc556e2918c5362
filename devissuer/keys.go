package devissuer

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signingKey is one RS256 key with its published form.
type signingKey struct {
	id   string
	priv *rsa.PrivateKey
	jwk  jose.JSONWebKey // public part only
}

// retiredKey is a key no longer used for signing, published until until.
type retiredKey struct {
	*signingKey
	until time.Time
}

// keyRing holds the active signing key, the next one (published ahead of its
// use so caches learn it before it signs anything) and retired keys kept for
// a grace period so tokens they signed keep verifying.
type keyRing struct {
	rand  io.Reader
	now   func() time.Time
	grace time.Duration

	mu      sync.RWMutex
	active  *signingKey
	next    *signingKey
	retired []retiredKey
}

// newKeyRing returns the key ring of set, or of two fresh keys when set is
// nil.
func newKeyRing(r io.Reader, now func() time.Time, grace time.Duration, set *KeySet) (*keyRing, error) {
	if set != nil {
		return set.ring(r, now, grace)
	}
	active, err := newSigningKey(r)
	if err != nil {
		return nil, err
	}
	next, err := newSigningKey(r)
	if err != nil {
		return nil, err
	}
	return &keyRing{rand: r, now: now, grace: grace, active: active, next: next}, nil
}

func newSigningKey(r io.Reader) (*signingKey, error) {
	priv, err := rsa.GenerateKey(r, 2048)
	if err != nil {
		return nil, fmt.Errorf("failed to generate signing key: %w", err)
	}
	return signingKeyOf(priv)
}

// signingKeyOf returns priv with its published form; its key id is the
// JWK thumbprint (RFC 7638), so a stored key keeps its kid.
func signingKeyOf(priv *rsa.PrivateKey) (*signingKey, error) {
	jwk := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: "RS256", Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("failed to compute key id: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return &signingKey{id: jwk.KeyID, priv: priv, jwk: jwk}, nil
}

// signer returns the key to sign with now.
func (k *keyRing) signer() *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

// rotate makes the next key active, retires the active one for the grace
// period and publishes a fresh next key.
func (k *keyRing) rotate() error {
	fresh, err := newSigningKey(k.rand)
	if err != nil {
		return err
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.retired = append(k.pruned(now), retiredKey{signingKey: k.active, until: now.Add(k.grace)})
	k.active, k.next = k.next, fresh
	return nil
}

// pruned returns the retired keys still within their grace period. The
// caller holds k.mu.
func (k *keyRing) pruned(now time.Time) []retiredKey {
	kept := k.retired[:0:0]
	for _, r := range k.retired {
		if now.Before(r.until) {
			kept = append(kept, r)
		}
	}
	return kept
}

// published returns the keys in the JWKS now: active, next, then retired
// keys within their grace period.
func (k *keyRing) published() []*signingKey {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	keys := []*signingKey{k.active, k.next}
	for _, r := range k.pruned(now) {
		keys = append(keys, r.signingKey)
	}
	return keys
}

// publicKey returns the public key published under kid, for checking tokens
// this issuer minted (introspection, userinfo, logout hints).
func (k *keyRing) publicKey(kid string) (*rsa.PublicKey, bool) {
	for _, s := range k.published() {
		if s.id == kid {
			return &s.priv.PublicKey, true
		}
	}
	return nil, false
}

// jwks returns the published key set.
func (k *keyRing) jwks() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, s := range k.published() {
		set.Keys = append(set.Keys, s.jwk)
	}
	return set
}

// snapshot returns the ring as a KeySet, retired keys past their grace
// period left out.
func (k *keyRing) snapshot() KeySet {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := KeySet{Active: k.active.priv, Next: k.next.priv}
	for _, r := range k.pruned(now) {
		set.Retired = append(set.Retired, RetiredKey{Key: r.priv, Until: r.until})
	}
	return set
}
