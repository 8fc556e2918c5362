package devissuer

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestThrottleTableIsBounded fails many distinct keys (a spray of
// usernames): the table never holds more than its bound, and the newest
// lock survives the evictions.
func TestThrottleTableIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(userFreeFailures, maxThrottleEntries)
	fail := func(key string) {
		if d := th.wait(key, now); d > 0 {
			t.Fatalf("key %s: got a wait of %v on its first attempts, want none", key, d)
		}
		th.begin(key, now)
		th.end(key, true, true, now)
	}
	for i := range 3 * maxThrottleEntries {
		fail("spray-" + strconv.Itoa(i))
		now = now.Add(time.Millisecond)
		if len(th.entries) > maxThrottleEntries {
			t.Fatalf("after %d keys: got %d entries, want at most %d", i+1, len(th.entries), maxThrottleEntries)
		}
	}
	for range userFreeFailures {
		fail("victim")
	}
	fail("spray-last")
	if d := th.wait("victim", now); d != throttleBase {
		t.Errorf("the victim's lock after a full table: got %v, want %v", d, throttleBase)
	}
	if _, ok := th.entries["spray-0"]; ok {
		t.Error("the oldest key was kept over newer ones")
	}

	// An hour later every entry is forgettable, and the next insert (or a
	// prune) drops them all.
	now = now.Add(throttleForget)
	th.prune(now)
	if len(th.entries) != 0 {
		t.Errorf("an hour after the last attempt: got %d entries, want 0", len(th.entries))
	}
}

// TestThrottleParallelAttempts checks that attempts begun together cannot
// pass the count: with no free failure left, only one attempt at a time is
// let through; the others are asked to wait.
func TestThrottleParallelAttempts(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(3, 10)
	begun := 0
	for range 10 {
		if th.wait("k", now) == 0 {
			th.begin("k", now)
			begun++
		}
	}
	if begun != 3 {
		t.Fatalf("with 3 free failures, 10 parallel attempts: got %d let through, want 3", begun)
	}
	for range begun {
		th.end("k", true, true, now)
	}
	if d := th.wait("k", now); d != throttleBase {
		t.Fatalf("after 3 failures: got a wait of %v, want %v", d, throttleBase)
	}
	now = now.Add(throttleBase)
	begun = 0
	for range 10 {
		if d := th.wait("k", now); d == 0 {
			th.begin("k", now)
			begun++
		} else if d != throttleBusy {
			t.Fatalf("while one attempt is checked: got a wait of %v, want %v", d, throttleBusy)
		}
	}
	if begun != 1 {
		t.Errorf("after a lock ends, 10 parallel attempts: got %d let through, want 1", begun)
	}
	th.end("k", false, true, now)
	if d := th.wait("k", now); d != 0 || len(th.entries) != 0 {
		t.Errorf("after a success with reset: got a wait of %v and %d entries, want none", d, len(th.entries))
	}
}

func TestThrottleDelay(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {9, 512 * time.Second}, {10, throttleMax}, {11, throttleMax}, {1 << 20, throttleMax},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			if got := throttleDelay(tt.n); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClientAddress(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1234", "fe80::/64"},
		{"[::1]:1234", "::/64"},
		{"not an address", "?not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tt.remote
			if got := clientAddress(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
