// Package redistest starts a real redis-server for tests.
//
// # Use
//
//	addr := redistest.Start(t) // "127.0.0.1:PORT", stopped in t.Cleanup
//
// or, to take the server down and bring it back mid-test:
//
//	srv := redistest.New(t)
//	srv.Stop()    // clients now see connection refused
//	srv.Restart() // same address, empty data set
//
// NewCluster starts a one-node Redis Cluster (cluster mode, all 16384 slots
// on the one node), for clients that speak the cluster protocol.
//
// The server listens on a free 127.0.0.1 port, keeps nothing on disk
// (--save "" --appendonly no) and runs in a temporary directory.
//
// # Missing binary
//
// When redis-server is not on PATH (or at the path in REDIS_SERVER) the test
// fails with a message saying how to install it, unless APIGUARD_SKIP_REDIS=1
// is set, in which case the test is skipped.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/syncbuf"
)

// readyTimeout bounds how long Start waits for the server to answer PING.
const readyTimeout = 15 * time.Second

// Server is a redis-server process owned by one test.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	addr    string
	cluster bool
	// args, when set, replaces the command line built for a plain or
	// cluster server (sentinels, replicas, cluster nodes without slots).
	args func(dir, port string) ([]string, error)

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Start launches a redis-server for t and returns its "127.0.0.1:port"
// address. The server is killed when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	return New(t).Addr()
}

// New launches a redis-server for t and returns it, ready to answer PING.
// The server is killed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	return newServer(t, false)
}

// NewCluster launches a one-node Redis Cluster that owns every slot and
// returns it once the cluster state is ok. It is killed when the test ends.
func NewCluster(t testing.TB) *Server {
	t.Helper()
	return newServer(t, true)
}

func newServer(t testing.TB, cluster bool) *Server {
	t.Helper()
	return launch(t, cluster, nil)
}

// launch starts a server on a free port; args, when set, builds its
// command line.
func launch(t testing.TB, cluster bool, args func(dir, port string) ([]string, error)) *Server {
	t.Helper()
	bin, err := lookBinary()
	if err != nil {
		if os.Getenv("APIGUARD_SKIP_REDIS") == "1" {
			t.Skipf("redistest: %v (skipped because APIGUARD_SKIP_REDIS=1)", err)
		}
		t.Fatalf("redistest: %v; install it (Debian: apt-get install -y redis-server) or set APIGUARD_SKIP_REDIS=1 to skip", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), cluster: cluster, args: args}
	t.Cleanup(s.Stop)

	// A port picked by the kernel can be taken by someone else before
	// redis-server binds it; try a few ports before giving up.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr returns the server's "127.0.0.1:port" address. It stays the same
// across Stop and Restart.
func (s *Server) Addr() string { return s.addr }

// URL returns a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.addr }

// Stop kills the server and waits for it to exit. Data is lost. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart stops the server if it runs and starts a new, empty one on the
// same address, waiting until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: failed to restart redis-server: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, port, _ := net.SplitHostPort(s.addr)
	args, err := s.commandLine(port)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(readyTimeout)
	for {
		err := ping(s.addr)
		if err == nil && s.cluster && s.args == nil {
			err = clusterReady(s.addr)
		}
		if err == nil {
			s.cmd, s.out, s.done = cmd, out, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited before it was ready: %s", s.addr, bytes.TrimSpace(out.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on %s not ready after %v: %v; output: %s", s.addr, readyTimeout, err, bytes.TrimSpace(out.Bytes()))
		}
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// commandLine returns redis-server's arguments for port.
func (s *Server) commandLine(port string) ([]string, error) {
	if s.args != nil {
		return s.args(s.dir, port)
	}
	args := []string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--loglevel", "warning",
	}
	if s.cluster {
		// A restarted node starts empty: forget the previous node's config.
		nodes := filepath.Join(s.dir, "nodes-"+port+".conf")
		if err := os.Remove(nodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("failed to remove %s: %w", nodes, err)
		}
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", nodes)
	}
	return args, nil
}

func lookBinary() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("REDIS_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not found on PATH")
	}
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("failed to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

// clusterReady assigns every slot to the node if none is assigned yet and
// reports whether the cluster state is ok.
func clusterReady(addr string) error {
	info, err := command(addr, "CLUSTER INFO")
	if err != nil {
		return err
	}
	if strings.Contains(info, "cluster_state:ok") {
		return nil
	}
	if strings.Contains(info, "cluster_slots_assigned:0\r\n") {
		if reply, err := command(addr, "CLUSTER ADDSLOTSRANGE 0 16383"); err != nil {
			return err
		} else if reply != "OK" {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE answered %q", reply)
		}
	}
	return errors.New("cluster state not ok yet")
}

// command sends one inline command and returns a simple or bulk string
// reply.
func command(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("%s: %s", cmd, line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("%s: bad bulk reply %q", cmd, line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("%s: unexpected reply %q", cmd, line)
	}
}

// syncBuffer collects output that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer
