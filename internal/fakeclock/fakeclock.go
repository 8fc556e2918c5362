// Package fakeclock is a settable clock for tests: pass its Now where a
// Config takes a clock, and move it with Advance. Safe for concurrent use.
package fakeclock

import (
	"sync/atomic"
	"time"
)

// Clock is a settable clock.
type Clock struct{ ns atomic.Int64 }

// New returns a Clock showing t.
func New(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
