package testwait_test

import (
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/internal/testwait"
)

func TestFor(t *testing.T) {
	var calls atomic.Int32
	testwait.For(t, "the third call", func() bool { return calls.Add(1) == 3 })
	if got := calls.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3 (For returns once it holds)", got)
	}
	testwait.For(t, "a condition that already holds", func() bool { return true })
}
