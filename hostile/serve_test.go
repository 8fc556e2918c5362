package hostile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a running `apiguard serve`.
type server struct {
	URL    string
	client *http.Client

	mu   sync.Mutex
	logs bytes.Buffer // stdout and stderr
}

// startServe runs `apiguard serve` on a free loopback port with OKTA_ISSUER
// set to issuer (and env added), in an empty directory (no .env), and
// stops it at the end of the test. With a -race build, a data race
// reported by the server fails the test.
func startServe(t *testing.T, issuer string, env ...string) *server {
	t.Helper()
	s := &server{client: &http.Client{Timeout: 30 * time.Second}}
	cmd := exec.Command(binary(t), "serve")
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OKTA_") && !strings.HasPrefix(kv, "APIGUARD_") && !strings.HasPrefix(kv, "ALLOWED_ORIGINS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"OKTA_ISSUER="+issuer,
		"APIGUARD_ADDR=127.0.0.1:0",
		"APIGUARD_LOG_FORMAT=json",
		"APIGUARD_LOG_LEVEL=debug",
	)
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start apiguard serve: %v", err)
	}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.mu.Lock()
			s.logs.Write(line)
			s.logs.WriteByte('\n')
			s.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() { <-done; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		timer := time.NewTimer(15 * time.Second)
		defer timer.Stop()
		select {
		case <-exited:
		case <-timer.C:
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("apiguard serve did not stop within 15s of SIGINT")
		}
		logs := s.Logs()
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("apiguard serve reported a data race:\n%s", logs)
		} else if t.Failed() {
			t.Logf("apiguard serve's log:\n%s", logs)
		}
	})
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-exited:
		exited <- err
		t.Fatalf("apiguard serve exited before listening: %v\n%s", err, s.Logs())
	case <-timer.C:
		t.Fatalf("apiguard serve not listening after 30s:\n%s", s.Logs())
	}
	return s
}

// Logs returns what the server logged so far.
func (s *server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// do sends req to the server.
func (s *server) do(t *testing.T, req *http.Request) response {
	t.Helper()
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: failed to read the body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body, took: time.Since(start)}
}

// secureData calls GET /secure-data with the token as a bearer token.
func (s *server) secureData(t *testing.T, token string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/secure-data", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(t, req)
}
