package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter keeps what it is given and each Write call's bytes.
type recordingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes []string
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return r.buf.Write(p)
}

func (r *recordingWriter) snapshot() (string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), append([]string(nil), r.writes...)
}

// TestLogWriterConcurrentLines logs from many goroutines through two slog
// handlers sharing one logWriter (as the access log and the server's error
// log do): after Close every line is there, whole, each goroutine's lines
// in the order it logged them, every write to the underlying writer ends
// at a line's end, and the lines went out in far fewer writes than lines.
func TestLogWriterConcurrentLines(t *testing.T) {
	out := &recordingWriter{}
	lw := newLogWriter(out)
	text := slog.New(slog.NewTextHandler(lw, nil))
	js := slog.New(slog.NewJSONHandler(lw, nil))
	const workers, lines = 8, 2000
	pad := strings.Repeat("x", 100)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			log := text
			if w%2 == 1 {
				log = js
			}
			for i := range lines {
				log.Info("request", "worker", w, "seq", i, "pad", pad)
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	for i, w := range writes {
		if !strings.HasSuffix(w, "\n") {
			t.Fatalf("write %d of %d does not end at a line's end: …%q", i, len(writes), w[max(0, len(w)-40):])
		}
	}
	next := make([]int, workers)
	all := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	for _, line := range all {
		var w, seq int
		var err error
		if strings.HasPrefix(line, "{") {
			_, err = fmt.Sscanf(line[strings.Index(line, `"worker":`):], `"worker":%d,"seq":%d,`, &w, &seq)
		} else {
			_, err = fmt.Sscanf(line[strings.Index(line, "worker="):], "worker=%d seq=%d ", &w, &seq)
		}
		if err != nil || !strings.Contains(line, pad) || w < 0 || w >= workers {
			t.Fatalf("torn or foreign line %q: %v", line, err)
		}
		if seq != next[w] {
			t.Fatalf("worker %d: line %d came where line %d was due", w, seq, next[w])
		}
		next[w]++
	}
	if len(all) != workers*lines {
		t.Errorf("got %d lines, want %d", len(all), workers*lines)
	}
	if len(writes) > len(all)/10 {
		t.Errorf("%d lines took %d writes, want them batched (at most a tenth as many)", len(all), len(writes))
	}
}

// TestLogWriterFlushes checks that a line is written within the flush
// interval without anything else happening, that Close writes what is
// buffered at once, and that lines after Close and lines longer than the
// buffer are written at once, in order.
func TestLogWriterFlushes(t *testing.T) {
	out := &recordingWriter{}
	lw := newLogWriter(out)
	if _, err := lw.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "first\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written by the timer within 5 s")
		}
		time.Sleep(logFlushEvery / 5)
	}
	_, _ = lw.Write([]byte("second\n"))
	long := strings.Repeat("l", logBufferSize+1) + "\n"
	_, _ = lw.Write([]byte(long)) // flushes "second" first, then goes straight through
	if got, _ := out.snapshot(); got != "first\nsecond\n"+long {
		t.Fatalf("after a line longer than the buffer: got %d bytes, want the three lines in order", len(got))
	}
	_, _ = lw.Write([]byte("third\n"))
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); !strings.HasSuffix(got, long+"third\n") {
		t.Fatal("Close did not write the buffered line")
	}
	_, _ = lw.Write([]byte("after close\n"))
	if got, _ := out.snapshot(); !strings.HasSuffix(got, "third\nafter close\n") {
		t.Fatal("a line after Close was not written at once")
	}
}

// TestLoggerWritesWarningsAtOnce: through newLogger, an info line waits for
// logWriter's batch, but a warning is written when it is logged, together
// with the lines buffered before it, in their order.
func TestLoggerWritesWarningsAtOnce(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		out := &recordingWriter{}
		lw := newLogWriter(out)
		log := newLogger(format, slog.LevelInfo, lw).With("component", "test")
		log.Info("first")
		log.Warn("second")
		got, _ := out.snapshot()
		i, j := strings.Index(got, "first"), strings.Index(got, "second")
		if i < 0 || j < i {
			t.Errorf("%s: right after the warning the output is %q, want the info line and then the warning", format, got)
		}
		_ = lw.Close()
	}
}
