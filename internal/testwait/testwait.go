// Package testwait waits in tests for a condition that becomes true
// asynchronously (a goroutine's effect, a server's state), polling it
// until a deadline rather than sleeping for a guessed time.
package testwait

import (
	"testing"
	"time"
)

const (
	// Timeout is how long For waits before failing the test.
	Timeout = 10 * time.Second
	// Interval is how often For checks the condition.
	Interval = 10 * time.Millisecond
)

// For returns as soon as cond reports true, checking it every Interval,
// and fails the test naming what it waited for when cond has not held
// within Timeout.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(Interval)
	}
}
