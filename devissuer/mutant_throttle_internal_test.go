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
