package apiguard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apiguard/apiguard/internal/discovery"
)

// The JWKS cache is our own: the libraries that offer one either refetch on
// every unknown kid (a flood of random kids becomes a flood of fetches), or
// report an issuer outage as a bad token, or have no bound on staleness.
// See SECURITY.md, "JWKS fetching".

// FetchEvent describes one attempt to fetch the issuer's discovery document
// and keys. [Config.OnFetch] receives one per attempt.
type FetchEvent struct {
	URL      string        // the jwks_uri (or the discovery URL if discovery failed)
	Forced   bool          // triggered by an unknown kid rather than by age
	Keys     int           // usable keys in the fetched set
	Skipped  int           // keys in the set that were skipped (bad, enc, weak)
	Duration time.Duration // how long the attempt took
	Err      error         // nil on success
}

// key is one usable verification key of the issuer.
type key struct {
	kid string
	alg string // the JWK's alg, "" when absent
	pub crypto.PublicKey
	// removed is set when the key leaves the issuer's key set, so cached
	// verifications made with it stop counting.
	removed atomic.Bool
}

// fits reports whether alg may be used with this key: the key type and
// curve must match, and the JWK's own alg when it names one.
func (k *key) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keySnapshot is an immutable set of keys as fetched at one time.
type keySnapshot struct {
	byKID     map[string]*key
	only      *key      // the single key, when the set has exactly one
	fetched   time.Time // when the set was fetched
	refreshAt time.Time // when to fetch again (from Cache-Control, bounded)
	staleAt   time.Time // after this, the set is not used at all
}

// keySet fetches and caches the issuer's keys.
//
// # Fetches caused by unknown kids
//
// A kid that is not in the current set may be a key the issuer has just
// rotated in, or one an attacker made up. The set cannot tell them apart, so
// the answer depends on what a fetch says, and fetches are rationed:
//
//   - An unknown kid is refused (ErrUnknownKey, 401) only when a fetch that
//     started after the request arrived shows the issuer does not publish
//     it. A fetch already running when it arrived (a background refresh, or
//     one for another kid) is awaited, but does not count: the key may have
//     been published after that fetch read the set.
//   - A kid a fetch found missing is remembered for unknownTTL (the per-kid
//     negative cache): it is refused at once, at no fetch, however often it
//     comes back, such as the tokens of a key the issuer removed.
//   - Fetches for unknown kids are limited to fetchBurst per cooldown
//     (counted over a sliding window). Fetches that are due anyway
//     (start-up, Ready, a refresh at the set's age) do not count, so a key
//     rotated in right after one of them is fetched and accepted on its
//     first request. A fetch that finds the kid it was made for costs
//     nothing: only a fetch that finds nothing new, which is all an attacker
//     can cause, spends the limit.
//   - When a kid needs a fetch and none may be made (the limit is spent, or
//     the issuer cannot be reached), the answer is ErrKeysUnavailable (503
//     with Retry-After), not ErrUnknownKey: the token may well be good, and a
//     client told 401 would throw it away, or get another signed with the
//     same new key and be refused again. Retry-After says when the limit
//     allows the next fetch. So a flood of made-up kids costs the issuer at
//     most fetchBurst fetches per cooldown and delays a real rotation by at
//     most one cooldown (503s, then the first retry is accepted), but never
//     turns it into 401s.
type keySet struct {
	issuer     string
	jwksURL    string // configured override, or "" to use discovery
	client     *http.Client
	now        func() time.Time
	log        *slog.Logger
	onFetch    func(FetchEvent)
	checkURL   func(setting, raw string) error
	timeout    time.Duration // per fetch
	maxWait    time.Duration // how long a request waits for a fetch
	cooldown   time.Duration // the window in which unknown kids may cause fetchBurst fetches
	minTTL     time.Duration
	maxTTL     time.Duration
	maxStale   time.Duration
	maxBody    int64
	unknownTTL time.Duration

	cur atomic.Pointer[keySnapshot]

	mu      sync.Mutex
	doc     *discovery.Document // the issuer's discovery document, once fetched
	call    *fetchCall          // the fetch in flight, or nil: one at a time
	started uint64              // fetches started so far (call.seq while one runs)
	// lastAttempt is when the last fetch started, as the clock read by the
	// caller that started it (never read later, in the fetch itself: a
	// fetch running late must not move it).
	lastAttempt time.Time
	lastErr     error                // the outcome of the last fetch that finished
	spent       []time.Time          // starts of the forced fetches that count, oldest first
	unknown     map[string]time.Time // kids recently found missing, until when
}

// fetchCall is one fetch of the key set, awaited by every request that
// needs it.
type fetchCall struct {
	seq    uint64
	forced bool      // caused by an unknown kid
	kid    string    // the kid it was started for, when forced
	at     time.Time // when it was started; its entry in spent when forced
	done   chan struct{}
}

const (
	maxUnknownKIDs = 1024
	// fetchBurst is how many fetches unknown kids may cause per cooldown.
	fetchBurst = 3
)

// lookup returns the key for kid that fits alg, fetching the key set when
// it has none for kid and the fetch limit allows.
func (ks *keySet) lookup(ctx context.Context, kid, alg string) (*key, error) {
	now := ks.now()
	if ks.usable(now) {
		if k, err := ks.cur.Load().find(kid); k != nil || err != nil {
			return k, err
		}
	}
	return ks.lookupSlow(ctx, kid, now)
}

// usable reports whether the current set may be used at now, starting a
// background refresh when it is due. Cache hits call it so that a refresh
// (and with it the removal of keys) happens even when every token is cached.
func (ks *keySet) usable(now time.Time) bool {
	snap := ks.cur.Load()
	if snap == nil || !now.Before(snap.staleAt) {
		return false
	}
	if now.After(snap.refreshAt) {
		ks.refreshInBackground(now)
	}
	return true
}

// find returns the key for kid, nil if there is none, or an error when the
// token names no kid and the set has several keys.
func (s *keySnapshot) find(kid string) (*key, error) {
	if kid == "" {
		if s.only != nil {
			return s.only, nil
		}
		return nil, refuse(ErrUnknownKey, "token has no kid and the issuer has %d keys", len(s.byKID))
	}
	return s.byKID[kid], nil
}

// lookupSlow finds kid when the current set (if any) lacks it: it awaits
// the fetch in flight, or starts one, until a fetch that started after now
// has answered; see keySet.
func (ks *keySet) lookupSlow(ctx context.Context, kid string, now time.Time) (*key, error) {
	ks.mu.Lock()
	arrived := ks.started // fetches with a higher seq started after this request
	ks.mu.Unlock()
	var timer *time.Timer // bounds the whole wait to maxWait
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ks.mu.Lock()
		// Under ks.mu: a fetch installs its set before it is marked done.
		snap := ks.cur.Load()
		usable := snap != nil && now.Before(snap.staleAt)
		if usable {
			if k, err := snap.find(kid); k != nil || err != nil {
				ks.mu.Unlock()
				return k, err
			}
			if until, ok := ks.unknown[kid]; ok && now.Before(until) {
				ks.mu.Unlock()
				return nil, refuse(ErrUnknownKey, "no key with kid %q", kid)
			}
		}
		c := ks.call
		if c == nil && ks.started > arrived {
			// A fetch that started after this request has finished, and
			// the kid is not in the set: it failed, or the issuer does not
			// publish the kid.
			err := ks.lastErr
			if err == nil && usable {
				ks.rememberUnknownLocked(kid, now)
			}
			ks.mu.Unlock()
			switch {
			case err != nil:
				return nil, &KeysError{Err: err, RetryAfter: ks.retryAfter()}
			case !usable:
				return nil, &KeysError{Err: errors.New("the key set fetched is already past its stale time"), RetryAfter: ks.retryAfter()}
			}
			return nil, refuse(ErrUnknownKey, "no key with kid %q", kid)
		}
		if c == nil {
			var retry time.Duration
			if c, retry = ks.startLocked(now, usable, kid); c == nil {
				err := ks.lastErr
				if err == nil {
					err = fmt.Errorf("%w: kid %q is not in the key set, and unknown kids caused %d fetches in the last %s", ErrFetchLimit, kid, fetchBurst, ks.cooldown)
				}
				ks.mu.Unlock()
				return nil, &KeysError{Err: err, RetryAfter: retry}
			}
		}
		ks.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(ks.maxWait)
		}
		// A request waits for the fetch at most maxWait; the fetch itself
		// goes on (up to its timeout) and serves the requests after it.
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, &KeysError{Err: ctx.Err(), RetryAfter: ks.retryAfter()}
		case <-timer.C:
			return nil, &KeysError{Err: fmt.Errorf("no answer from the issuer within %s", ks.maxWait), RetryAfter: ks.retryAfter()}
		}
	}
}

// startLocked starts a fetch at now if one may start, and returns it; or
// returns nil and how long until one may. With a usable set the fetch is
// forced (for kid) and counts against the limit of fetchBurst per
// cooldown. With none, a failed attempt is retried after at most a second,
// so start-up during an issuer outage recovers by itself without hammering
// the issuer. ks.mu must be held and no fetch be in flight.
func (ks *keySet) startLocked(now time.Time, forced bool, kid string) (*fetchCall, time.Duration) {
	if forced {
		// Forget the fetches that left the window; the rest are oldest first.
		n := 0
		for n < len(ks.spent) && now.Sub(ks.spent[n]) >= ks.cooldown {
			n++
		}
		ks.spent = ks.spent[n:]
		if len(ks.spent) >= fetchBurst {
			return nil, wholeSeconds(ks.spent[0].Add(ks.cooldown).Sub(now))
		}
		ks.spent = append(ks.spent, now)
	} else if ks.lastErr != nil && !ks.lastAttempt.IsZero() {
		wait := min(ks.cooldown, time.Second)
		if since := now.Sub(ks.lastAttempt); since < wait {
			return nil, ks.retryAfter()
		}
	}
	return ks.startFetchLocked(now, forced, kid), 0
}

// startFetchLocked starts a fetch at now; ks.mu must be held and no fetch
// be in flight.
func (ks *keySet) startFetchLocked(now time.Time, forced bool, kid string) *fetchCall {
	ks.started++
	c := &fetchCall{seq: ks.started, forced: forced, kid: kid, at: now, done: make(chan struct{})}
	ks.call = c
	ks.lastAttempt = now
	go ks.run(c)
	return c
}

// run performs c and publishes its outcome.
func (ks *keySet) run(c *fetchCall) {
	err := ks.fetch(c.forced, c.at)
	ks.mu.Lock()
	ks.call = nil
	ks.lastErr = err
	if c.forced && err == nil && ks.cur.Load().byKID[c.kid] != nil {
		// Found what it was made for (a rotation): it costs nothing.
		if i := slices.Index(ks.spent, c.at); i >= 0 {
			ks.spent = slices.Delete(ks.spent, i, i+1)
		}
	}
	ks.mu.Unlock()
	close(c.done)
}

// wholeSeconds rounds d up to whole seconds, and to at least one: a
// Retry-After in seconds must not send the client back before the time.
func wholeSeconds(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

func (ks *keySet) rememberUnknownLocked(kid string, now time.Time) {
	if ks.unknown == nil || len(ks.unknown) >= maxUnknownKIDs {
		ks.unknown = make(map[string]time.Time) // forget the oldest wholesale: bounded, and cheap
	}
	ks.unknown[kid] = now.Add(ks.unknownTTL)
}

func (ks *keySet) retryAfter() time.Duration {
	if ks.cooldown < time.Second {
		return time.Second
	}
	return ks.cooldown
}

// refreshInBackground starts a fetch when the set is due, none is in
// flight and none started within the cooldown. Callers keep using the
// current set meanwhile.
func (ks *keySet) refreshInBackground(now time.Time) {
	ks.mu.Lock()
	if ks.call == nil && now.Sub(ks.lastAttempt) >= ks.cooldown {
		ks.startFetchLocked(now, false, "")
	}
	ks.mu.Unlock()
}

// ready returns nil when a usable key set is loaded, fetching it if needed.
func (ks *keySet) ready(ctx context.Context) error {
	now := ks.now()
	if snap := ks.cur.Load(); snap != nil && now.Before(snap.staleAt) {
		return nil
	}
	ks.mu.Lock()
	arrived := ks.started
	ks.mu.Unlock()
	timer := time.NewTimer(ks.maxWait)
	defer timer.Stop()
	for {
		ks.mu.Lock()
		if snap := ks.cur.Load(); snap != nil && now.Before(snap.staleAt) {
			ks.mu.Unlock()
			return nil
		}
		c := ks.call
		if c == nil && ks.started > arrived {
			err := ks.lastErr
			ks.mu.Unlock()
			if err == nil {
				err = errors.New("the key set fetched is already past its stale time")
			}
			return &KeysError{Err: err, RetryAfter: ks.retryAfter()}
		}
		if c == nil {
			if c, _ = ks.startLocked(now, false, ""); c == nil {
				err := ks.lastErr
				ks.mu.Unlock()
				return &KeysError{Err: err, RetryAfter: ks.retryAfter()}
			}
		}
		ks.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return &KeysError{Err: ctx.Err(), RetryAfter: ks.retryAfter()}
		case <-timer.C:
			return &KeysError{Err: fmt.Errorf("no answer from the issuer within %s", ks.maxWait), RetryAfter: ks.retryAfter()}
		}
	}
}

// count returns the number of keys in the current set.
func (ks *keySet) count() int {
	if snap := ks.cur.Load(); snap != nil {
		return len(snap.byKID)
	}
	return 0
}

// fetch runs discovery (once) and fetches the key set, replacing the current
// set on success and keeping it on failure. at is when the fetch was
// started: the new set's age counts from it.
func (ks *keySet) fetch(forced bool, at time.Time) (err error) {
	start := ks.now()
	ctx, cancel := context.WithTimeout(context.Background(), ks.timeout)
	defer cancel()

	ev := FetchEvent{Forced: forced}
	defer func() {
		ev.Err = err
		ev.Duration = ks.now().Sub(start)
		if err != nil {
			ks.log.Warn("failed to fetch signing keys", "url", ev.URL, "err", err)
		} else {
			ks.log.Debug("fetched signing keys", "url", ev.URL, "keys", ev.Keys, "skipped", ev.Skipped)
		}
		if ks.onFetch != nil {
			ks.onFetch(ev)
		}
	}()

	jwksURL, err := ks.jwksLocation(ctx)
	if err != nil {
		ev.URL = discovery.URL(ks.issuer)
		return err
	}
	ev.URL = jwksURL
	body, header, err := ks.get(ctx, jwksURL, forced)
	if err != nil {
		return err
	}
	keys, skipped, err := parseJWKS(body, ks.log)
	ev.Keys, ev.Skipped = len(keys), skipped
	if err != nil {
		return err
	}
	ks.install(keys, ks.ttl(header), at)
	return nil
}

// install replaces the current set. Keys unchanged since the last set keep
// their identity (so cached verifications stay valid); keys that left the set
// or changed are marked removed, and the kids that left are remembered as
// missing, like kids a fetch found missing. Kids found missing before stay
// remembered: the set is looked in first, so a kid the new set has is found.
func (ks *keySet) install(keys []*key, ttl time.Duration, now time.Time) {
	old := ks.cur.Load()
	snap := &keySnapshot{
		byKID:     make(map[string]*key, len(keys)),
		fetched:   now,
		refreshAt: now.Add(ttl),
		staleAt:   now.Add(ttl + ks.maxStale),
	}
	for _, k := range keys {
		if prev, ok := old.lookupExact(k); ok {
			k = prev
		}
		snap.byKID[k.kid] = k
	}
	if len(keys) == 1 {
		snap.only = snap.byKID[keys[0].kid]
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if old != nil {
		for kid, k := range old.byKID {
			if snap.byKID[kid] != k {
				k.removed.Store(true)
			}
			if snap.byKID[kid] == nil {
				// Gone from the set: its tokens are refused without a fetch.
				ks.rememberUnknownLocked(kid, now)
			}
		}
	}
	ks.cur.Store(snap)
}

// lookupExact returns the key of this set with the same kid, alg and
// material as k.
func (s *keySnapshot) lookupExact(k *key) (*key, bool) {
	if s == nil {
		return nil, false
	}
	prev, ok := s.byKID[k.kid]
	if !ok || prev.alg != k.alg {
		return nil, false
	}
	eq, ok := prev.pub.(interface{ Equal(crypto.PublicKey) bool })
	return prev, ok && eq.Equal(k.pub)
}

// ttl derives the set's lifetime from Cache-Control max-age, bounded.
func (ks *keySet) ttl(h http.Header) time.Duration {
	ttl := time.Hour
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		if strings.EqualFold(name, "max-age") {
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs >= 0 {
				ttl = time.Duration(min(secs, int64(ks.maxTTL/time.Second))) * time.Second
			}
		}
	}
	return min(max(ttl, ks.minTTL), ks.maxTTL)
}

// discover returns the issuer's discovery document, fetched once (and again
// after a failure) and refused unless it names the configured issuer.
func (ks *keySet) discover(ctx context.Context) (*discovery.Document, error) {
	ks.mu.Lock()
	doc := ks.doc
	ks.mu.Unlock()
	if doc != nil {
		return doc, nil
	}
	doc, err := discovery.Fetch(ctx, func(ctx context.Context, url string) ([]byte, error) {
		body, _, err := ks.get(ctx, url, false)
		return body, err
	}, ks.issuer)
	if err != nil {
		return nil, err
	}
	ks.mu.Lock()
	ks.doc = doc
	ks.mu.Unlock()
	return doc, nil
}

// discoveredURL returns the URL the discovery document gives under name,
// checked like the issuer's (https, or http on loopback).
func (ks *keySet) discoveredURL(ctx context.Context, name string, pick func(*discovery.Document) string) (string, error) {
	doc, err := ks.discover(ctx)
	if err != nil {
		return "", err
	}
	u := pick(doc)
	if u == "" {
		return "", fmt.Errorf("discovery document has no %s", name)
	}
	if err := ks.checkURL(name, u); err != nil {
		return "", err
	}
	return u, nil
}

// jwksLocation returns the jwks_uri, from the configuration or from the
// issuer's discovery document.
func (ks *keySet) jwksLocation(ctx context.Context) (string, error) {
	if ks.jwksURL != "" {
		return ks.jwksURL, nil
	}
	return ks.discoveredURL(ctx, "jwks_uri", func(d *discovery.Document) string { return d.JWKSURI })
}

// get fetches url with the body capped at maxBody.
func (ks *keySet) get(ctx context.Context, url string, noCache bool) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if noCache {
		req.Header.Set("Cache-Control", "no-cache")
	}
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !(mt == "application/json" || mt == "application/jwk-set+json") {
			return nil, nil, fmt.Errorf("GET %s: content type %q is not JSON", url, ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, ks.maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > ks.maxBody {
		return nil, nil, fmt.Errorf("GET %s: body larger than %d bytes", url, ks.maxBody)
	}
	return body, resp.Header, nil
}

// parseJWKS parses a JWK set. Keys that cannot be used to verify (bad,
// symmetric, for encryption, RSA under 2048 bits) are skipped and counted;
// a set with no usable key is an error.
func parseJWKS(body []byte, log *slog.Logger) (keys []*key, skipped int, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("failed to decode the key set: %w", err)
	}
	seen := make(map[string]bool, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := parseJWK(raw)
		if err == nil && seen[k.kid] {
			err = fmt.Errorf("duplicate kid %q", k.kid)
		}
		if err != nil {
			skipped++
			log.Warn("skipping a key in the issuer's key set", "index", i, "err", err)
			continue
		}
		seen[k.kid] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("key set has no usable key (%d skipped)", skipped)
	}
	return keys, skipped, nil
}

func parseJWK(raw json.RawMessage) (*key, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("failed to parse key: %w", err)
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf("key %q is for %q, not signatures", jwk.KeyID, jwk.Use)
	}
	k := &key{kid: jwk.KeyID, alg: jwk.Algorithm}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		k.pub = pub
	case *rsa.PrivateKey:
		k.pub = &pub.PublicKey
	case *ecdsa.PublicKey:
		k.pub = pub
	case *ecdsa.PrivateKey:
		k.pub = &pub.PublicKey
	case ed25519.PublicKey:
		k.pub = pub
	case ed25519.PrivateKey:
		k.pub = pub.Public()
	default:
		return nil, fmt.Errorf("key %q has unsupported type %T", jwk.KeyID, jwk.Key)
	}
	if rk, ok := k.pub.(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key %q has %d bits, fewer than 2048", jwk.KeyID, rk.N.BitLen())
	}
	if k.alg != "" && !knownAlgorithm(k.alg) {
		return nil, fmt.Errorf("key %q names algorithm %q", jwk.KeyID, k.alg)
	}
	if k.alg != "" && !k.fits(k.alg) {
		return nil, fmt.Errorf("key %q names algorithm %q, which does not fit its key type", jwk.KeyID, k.alg)
	}
	return k, nil
}
