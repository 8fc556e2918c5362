package devissuer_test

import (
	"context"
	"errors"
	"testing"
)

// TestRunWithoutRotation: with no RotateEvery, Run only waits for its
// context: it returns the context's error and never rotates the key.
func TestRunWithoutRotation(t *testing.T) {
	f := newFixture(t, nil)
	active, next := f.iss.KeyIDs()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.iss.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context: got %v, want context.Canceled", err)
	}
	if a, n := f.iss.KeyIDs(); a != active || n != next {
		t.Errorf("keys after Run: %s, %s; want them unchanged (%s, %s)", a, n, active, next)
	}
}
