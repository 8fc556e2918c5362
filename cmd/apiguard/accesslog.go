package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// requestInfo travels in the request context so inner handlers can add to
// the access log line (the refusal reason).
type requestInfo struct {
	id     string
	reason string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// accessLog logs one line per request (id, method, route, path, status,
// latency, refusal reason) and counts it. It never logs headers or the
// query string, where a token could be.
func accessLog(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: requestID(r.Header.Get("X-Request-Id"))}
		w.Header().Set("X-Request-Id", info.id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		route := r.Pattern // set by ServeMux on this request
		if route == "" || route == "/" {
			route = "unmatched"
		}
		m.observeRequest(route, r.Method, rec.status, took)
		if !log.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		attrs := []slog.Attr{
			slog.String("id", info.id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("latency", took),
		}
		if info.reason != "" {
			attrs = append(attrs, slog.String("refused", info.reason))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// requestID keeps a client's X-Request-Id when it is short and plain, and
// makes a new one otherwise.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 64 {
		ok := true
		for i := 0; i < n && ok; i++ {
			c := in[i]
			ok = c == '-' || c == '_' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		}
		if ok {
			return in
		}
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusRecorder remembers the status and size of a response. Unwrap lets
// http.ResponseController reach the writer's Flush and deadlines.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logWriter buffers the log's lines and writes them in batches: with an
// access-log line per request, writing each line to stderr as it comes
// costs a write system call per request. A line is written whole, in the
// order lines came, at most logFlushEvery after it came (or sooner, when
// the buffer fills), and Close writes what is left, so nothing is lost on
// a clean exit. On a crash (a panic that ends the process, SIGKILL, the
// machine going down) the lines of the last logFlushEvery can be lost;
// a Go panic's own report goes to stderr directly and is not delayed.
//
// slog's handlers give Write one whole line at a time, under their own
// lock; logWriter keeps lines whole even across handlers (the server's
// error log and the Redis client's share it), as it only ever writes a
// line completely or not at all.
type logWriter struct {
	mu        sync.Mutex
	w         io.Writer
	buf       []byte
	scheduled bool // a flush is due within logFlushEvery
	closed    bool // Close was called: lines go straight to w
}

const (
	logFlushEvery = 50 * time.Millisecond
	logBufferSize = 64 << 10
)

func newLogWriter(w io.Writer) *logWriter {
	return &logWriter{w: w, buf: make([]byte, 0, logBufferSize)}
}

// Write takes one line (or more: whatever it is given is kept together).
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.w.Write(p)
	}
	if len(l.buf)+len(p) > cap(l.buf) {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(l.buf) {
			return l.w.Write(p)
		}
	}
	l.buf = append(l.buf, p...)
	if !l.scheduled {
		l.scheduled = true
		time.AfterFunc(logFlushEvery, l.timedFlush)
	}
	return len(p), nil
}

func (l *logWriter) timedFlush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.scheduled = false
	_ = l.flushLocked()
}

// Flush writes the buffered lines.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *logWriter) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// Close writes the buffered lines; later lines are written as they come.
func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.flushLocked()
}

// flushingHandler writes a record of level Warn or above, and the buffered
// lines before it, at once: access-log lines may wait for logWriter's
// batch, a warning or an error should not (an operator or a test watching
// the log sees it when it happens, and a crash right after it loses
// nothing of it).
type flushingHandler struct {
	slog.Handler
	lw *logWriter
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.lw.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.lw}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.lw}
}
