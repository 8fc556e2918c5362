package devissuer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
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

// TestRunRotatesQuietly: with RotateEvery, Run promotes the next key on its
// period, and a rotation that succeeds logs no warning or error (only its
// INFO line).
func TestRunRotatesQuietly(t *testing.T) {
	var logs bytes.Buffer // written only by Run's goroutine, read after it returns
	f := newFixture(t, func(c *devissuer.Config) {
		c.RotateEvery = 20 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	_, next := f.iss.KeyIDs()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.iss.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if a, _ := f.iss.KeyIDs(); a == next {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not promote the next key within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	if logs.Len() != 0 {
		t.Errorf("Run logged %q at WARN or above while every rotation succeeded", logs.String())
	}
}
