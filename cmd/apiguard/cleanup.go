package main

import (
	"context"
	"sync"
)

// cleanup owns what a constructor started: close undoes it all, last
// started first, once. A constructor closes its cleanup when a later step
// fails, and hands it to its result otherwise.
type cleanup struct {
	mu  sync.Mutex
	fns []func()
}

// add makes f part of close.
func (c *cleanup) add(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, f)
}

// goRun runs run in a goroutine until close, which cancels its context and
// waits for it to return.
func (c *cleanup) goRun(ctx context.Context, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(ctx)
	}()
	c.add(func() { cancel(); <-done })
}

// close undoes everything added, in reverse order.
func (c *cleanup) close() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
