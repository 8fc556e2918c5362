package devissuer

import (
	"testing"
	"time"
)

// TestThrottleEvictedAttemptEnds: an attempt whose entry was evicted while
// it ran (a full table) ends without driving the new entry's count of
// attempts in flight below zero, so that entry is still forgotten an hour
// after its last attempt. Both ends are held: a failure (which creates the
// entry again) and, for the address table, a success that does not reset.
func TestThrottleEvictedAttemptEnds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	forgotten := func(t *testing.T, th *throttle) {
		t.Helper()
		if e := th.entries["k"].Value.(*throttleEntry); e.inflight != 0 {
			t.Errorf("attempts in flight: got %d, want 0", e.inflight)
		}
		later := t0.Add(throttleForget)
		if d := th.wait("k", later); d != 0 {
			t.Errorf("an hour later: wait %v, want none", d)
		}
		if _, ok := th.entries["k"]; ok {
			t.Error("an hour after its last attempt, with nothing in flight, the entry is kept")
		}
	}
	t.Run("failure", func(t *testing.T) {
		th := newThrottle(addrFreeFailures, 1)
		th.begin("k", t0)
		th.begin("other", t0) // evicts k's entry, the attempt still running
		th.end("k", true, false, t0)
		forgotten(t, th)
	})
	t.Run("success without reset", func(t *testing.T) {
		th := newThrottle(addrFreeFailures, 1)
		th.begin("k", t0)     // attempt A
		th.begin("other", t0) // evicts k's entry, A still running
		th.begin("k", t0)     // attempt B: a new entry for k
		th.end("k", true, false, t0)
		th.end("k", false, false, t0) // A ends after B
		forgotten(t, th)
	})
}

// TestSignInParallelAttempts: the issuer's sign-in reserves each attempt it
// lets through, so that with no free failure left for a username a second
// attempt begun while the first is checked is asked to wait.
func TestSignInParallelAttempts(t *testing.T) {
	iss, err := New(Config{Issuer: "http://127.0.0.1:9/oauth2/default",
		Clients: []Client{{ID: "app", Secret: "app-secret", RedirectURIs: []string{"http://127.0.0.1:9/cb"}}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const addr = "192.0.2.1"
	for i := range userFreeFailures - 1 {
		if d := iss.beginSignIn("alice", addr, now); d != 0 {
			t.Fatalf("attempt %d: got a wait of %v, want none", i+1, d)
		}
		iss.endSignIn("alice", addr, false, now)
	}
	if d := iss.beginSignIn("alice", addr, now); d != 0 {
		t.Fatalf("the last free attempt: got a wait of %v, want none", d)
	}
	if d := iss.beginSignIn("alice", addr, now); d != throttleBusy {
		t.Errorf("an attempt while the last free one is checked: got a wait of %v, want %v", d, throttleBusy)
	}
}
