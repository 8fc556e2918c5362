package redistest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	srv := New(t)
	if err := ping(srv.Addr()); err != nil {
		t.Fatalf("PING after New: got %v, want nil", err)
	}
	if got, want := srv.URL(), "redis://"+srv.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	srv.Stop()
	if err := ping(srv.Addr()); err == nil {
		t.Fatal("PING after Stop: got nil, want an error")
	}
	srv.Stop() // a second Stop is a no-op
	srv.Restart()
	if err := ping(srv.Addr()); err != nil {
		t.Fatalf("PING after Restart: got %v, want nil", err)
	}
}

func TestCluster(t *testing.T) {
	srv := NewCluster(t)
	for range 2 { // a restarted node is a cluster again
		info, err := command(srv.Addr(), "CLUSTER INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			t.Fatalf("CLUSTER INFO = %q, %v; want state ok with 16384 slots", info, err)
		}
		if got, err := command(srv.Addr(), "SET k v"); err != nil || got != "OK" {
			t.Fatalf("SET = %q, %v; want OK", got, err)
		}
		srv.Restart()
	}
}

func TestStartReturnsReadyAddr(t *testing.T) {
	addr := Start(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("Start() = %q, want a 127.0.0.1 address", addr)
	}
	if err := ping(addr); err != nil {
		t.Fatalf("PING: got %v, want nil", err)
	}
}

// recordTB records Fatalf and Skipf instead of acting on the real test.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recordTB) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingBinary(t *testing.T) {
	tests := []struct {
		name      string
		skipEnv   string
		wantFatal bool
		wantSkip  bool
	}{
		{name: "fails by default", skipEnv: "", wantFatal: true},
		{name: "skips when APIGUARD_SKIP_REDIS=1", skipEnv: "1", wantSkip: true},
		{name: "fails when APIGUARD_SKIP_REDIS is not 1", skipEnv: "yes", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("REDIS_SERVER", t.TempDir()+"/no-such-redis-server")
			t.Setenv("APIGUARD_SKIP_REDIS", tt.skipEnv)
			rec := &recordTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				New(rec)
			}()
			<-done
			if got := rec.fatal != ""; got != tt.wantFatal {
				t.Errorf("fatal = %q, want fatal: %v", rec.fatal, tt.wantFatal)
			}
			if got := rec.skip != ""; got != tt.wantSkip {
				t.Errorf("skip = %q, want skip: %v", rec.skip, tt.wantSkip)
			}
			if tt.wantFatal && !strings.Contains(rec.fatal, "apt-get install -y redis-server") {
				t.Errorf("fatal message %q does not say how to install redis-server", rec.fatal)
			}
		})
	}
}
