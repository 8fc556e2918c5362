package devissuer

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Sign-in throttling. Failed sign-ins are counted per username (whether or
// not the user exists, so the answer reveals nothing) and per client
// address. Past a number of free failures, each further failure locks the
// key for a delay that doubles, from throttleBase up to throttleMax; while
// a key is locked every attempt is refused with 429 before the password is
// looked at, and the refused attempt does not lengthen the lock. A
// successful sign-in clears the username's count, not the address's (else
// an attacker could clear it by signing in to an account of their own).
const (
	// userFreeFailures is how many failures a username gets before the
	// first delay.
	userFreeFailures = 5
	// addrFreeFailures is the same for one client address (an IPv4 address
	// or an IPv6 /64), which may try many usernames.
	addrFreeFailures = 20
	// throttleBase is the first delay; each further failure doubles it.
	throttleBase = time.Second
	// throttleMax caps the delay.
	throttleMax = 15 * time.Minute
	// throttleForget is how long after its last attempt a key is forgotten
	// (once unlocked). It exceeds throttleMax, so an attacker who waits
	// out every lock keeps the longest delay.
	throttleForget = time.Hour
	// throttleBusy is the wait asked of an attempt that arrives while
	// another attempt on a key with no free failure left is still being
	// checked, so parallel attempts cannot slip past the count.
	throttleBusy = time.Second
	// maxThrottleEntries bounds each table (usernames, addresses).
	maxThrottleEntries = 10000
)

// throttleEntry is the count of one username or address.
type throttleEntry struct {
	key      string
	failures int       // consecutive failures
	last     time.Time // last attempt
	until    time.Time // attempts are refused before this
	inflight int       // attempts allowed and not yet ended
}

// throttle is a bounded table of throttleEntry, kept in the order of their
// last attempt so that the stalest entry is found at once. The issuer's mu
// guards it.
type throttle struct {
	free    int // failures before the first delay
	max     int // entries
	entries map[string]*list.Element
	order   *list.List // of *throttleEntry, most recent attempt first
}

func newThrottle(free, limit int) *throttle {
	return &throttle{free: free, max: limit, entries: map[string]*list.Element{}, order: list.New()}
}

// forgettable reports whether e holds nothing worth keeping at now.
func (e *throttleEntry) forgettable(now time.Time) bool {
	return e.inflight == 0 && !now.Before(e.until) && now.Sub(e.last) >= throttleForget
}

// wait returns how long an attempt on key must wait, zero when it may go on.
func (t *throttle) wait(key string, now time.Time) time.Duration {
	el, ok := t.entries[key]
	if !ok {
		return 0
	}
	e := el.Value.(*throttleEntry)
	switch {
	case e.forgettable(now):
		t.remove(el)
		return 0
	case now.Before(e.until):
		return e.until.Sub(now)
	case e.inflight > 0 && e.failures+e.inflight >= t.free:
		return throttleBusy
	}
	return 0
}

// touch returns key's entry, created if need be, marked as attempted at now.
func (t *throttle) touch(key string, now time.Time) *throttleEntry {
	el, ok := t.entries[key]
	if ok {
		t.order.MoveToFront(el)
	} else {
		t.makeRoom(now)
		el = t.order.PushFront(&throttleEntry{key: key})
		t.entries[key] = el
	}
	e := el.Value.(*throttleEntry)
	e.last = now
	return e
}

// begin records an allowed attempt on key, which must be ended by end.
func (t *throttle) begin(key string, now time.Time) {
	t.touch(key, now).inflight++
}

// end ends an attempt on key. A failure is counted and may lock the key;
// a success with reset clears the key.
func (t *throttle) end(key string, failed, reset bool, now time.Time) {
	if !failed {
		el, ok := t.entries[key]
		switch {
		case !ok:
		case reset:
			t.remove(el)
		default:
			if e := el.Value.(*throttleEntry); e.inflight > 0 {
				e.inflight--
			}
		}
		return
	}
	e := t.touch(key, now) // created again if evicted or reset while the attempt ran
	if e.inflight > 0 {
		e.inflight--
	}
	e.failures++
	if e.failures >= t.free {
		e.until = now.Add(throttleDelay(e.failures - t.free))
	}
}

func (t *throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.order.Remove(el)
}

// throttleDelay is the lock after the n-th failure past the free ones
// (n = 0 for the first): throttleBase doubled n times, at most throttleMax.
func throttleDelay(n int) time.Duration {
	d := throttleBase
	for range n {
		if d >= throttleMax {
			break
		}
		d *= 2
	}
	return min(d, throttleMax)
}

// makeRoom keeps the table under its bound before an insert: it drops the
// forgettable entries and, if the table is still full, the entry whose last
// attempt is the oldest.
func (t *throttle) makeRoom(now time.Time) {
	if len(t.entries) < t.max {
		return
	}
	t.prune(now)
	for len(t.entries) >= t.max {
		t.remove(t.order.Back())
	}
}

// prune drops the forgettable entries. They are at the back: an entry is
// forgettable once its last attempt is throttleForget old, longer than any
// lock.
func (t *throttle) prune(now time.Time) {
	for el := t.order.Back(); el != nil; {
		prev := el.Prev()
		if e := el.Value.(*throttleEntry); now.Sub(e.last) < throttleForget {
			break
		} else if e.forgettable(now) {
			t.remove(el)
		}
		el = prev
	}
}

// clientAddress is the throttling key of the request's peer: its IPv4
// address, or the /64 of its IPv6 address (one host usually holds a whole
// /64). Forwarding headers are not trusted.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "?" + host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// beginSignIn reserves a sign-in attempt for username from addr, or returns
// how long the caller must wait first.
func (iss *Issuer) beginSignIn(username, addr string, now time.Time) time.Duration {
	user := hashKey(username)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if d := max(iss.userThrottle.wait(user, now), iss.addrThrottle.wait(addr, now)); d > 0 {
		return d
	}
	iss.userThrottle.begin(user, now)
	iss.addrThrottle.begin(addr, now)
	return 0
}

// endSignIn ends an attempt begun by beginSignIn. It returns, after a
// failure, how long the next attempt for username or from addr must wait.
func (iss *Issuer) endSignIn(username, addr string, ok bool, now time.Time) time.Duration {
	user := hashKey(username)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.userThrottle.end(user, !ok, true, now)
	iss.addrThrottle.end(addr, !ok, false, now)
	if ok {
		return 0
	}
	return max(iss.userThrottle.wait(user, now), iss.addrThrottle.wait(addr, now))
}
