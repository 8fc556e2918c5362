package devissuer

import (
	"testing"
	"time"
)

// TestWaitText: the sign-in lock's wait, as the page tells it, is rounded
// up (never promising an attempt earlier than the lock ends), in seconds
// below two minutes and in minutes from there, with "1 second" singular and
// every other count plural.
func TestWaitText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Nanosecond:                   "1 second",
		time.Second:                       "1 second",
		time.Second + time.Nanosecond:     "2 seconds",
		2 * time.Second:                   "2 seconds",
		30 * time.Second:                  "30 seconds",
		119 * time.Second:                 "119 seconds",
		119*time.Second + time.Nanosecond: "2 minutes",
		120 * time.Second:                 "2 minutes",
		121 * time.Second:                 "3 minutes",
		15 * time.Minute:                  "15 minutes",
	} {
		if got := waitText(d); got != want {
			t.Errorf("waitText(%v) = %q, want %q", d, got, want)
		}
	}
}
