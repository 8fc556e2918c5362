package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testwait"
)

// readmeMarker marks a README shell block this test runs: the comment
// stands on the line before the block's ```sh fence.
var readmeMarker = regexp.MustCompile(`^<!-- readme-test: ([a-z-]+) -->$`)

// readmeBlocks returns the marked shell blocks of the README at path, by
// kind, in the README's order.
func readmeBlocks(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string][]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		m := readmeMarker.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if !sc.Scan() || sc.Text() != "```sh" {
			t.Fatalf("%s line %d: a readme-test marker must stand right before a ```sh block", path, line)
		}
		line++
		var body []string
		for {
			if !sc.Scan() {
				t.Fatalf("%s line %d: unterminated block", path, line)
			}
			line++
			if sc.Text() == "```" {
				break
			}
			body = append(body, sc.Text())
		}
		blocks[m[1]] = append(blocks[m[1]], strings.Join(body, "\n")+"\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// readmeServe is the README's serve command running in the background.
type readmeServe struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error // Wait's result
	stopOnce       sync.Once
}

// stop ends the shell and serve (its process group) and waits for them;
// it may be called again.
func (s *readmeServe) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
			t.Error("serve did not stop within 30s of SIGTERM")
		}
	})
}

// TestREADMEQuickStart runs the README's quick start as a new user would:
// its serve block in the background, then its client blocks pasted in
// order into one bash, in a fresh directory with a fresh HOME and state
// directory and the apiguard of this build first on PATH. Then serve
// restarts and the token got before still works, as the README says. The
// only change to the blocks is the address, 127.0.0.1:5000, moved to a
// free port.
func TestREADMEQuickStart(t *testing.T) {
	blocks := readmeBlocks(t, "../../README.md")
	if len(blocks["serve"]) != 1 || !strings.Contains(blocks["serve"][0], "apiguard serve") {
		t.Fatalf("got serve blocks %q, want one block marked <!-- readme-test: serve --> running apiguard serve", blocks["serve"])
	}
	client := strings.Join(blocks["client"], "")
	for _, want := range []string{"apiguard dev-env", "apiguard token", "apiguard inspect", "/secure-data"} {
		if !strings.Contains(client, want) {
			t.Fatalf("the README's blocks marked <!-- readme-test: client --> do not run %s:\n%s", want, client)
		}
	}
	var secureCurl string
	for _, l := range strings.Split(client, "\n") {
		if strings.HasPrefix(l, "curl -s ") && strings.Contains(l, "/secure-data") {
			secureCurl = l
			break
		}
	}
	calls := strings.Count(client, "/secure-data -H")
	if secureCurl == "" || calls == 0 {
		t.Fatalf("no curl of /secure-data in the client blocks:\n%s", client)
	}
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the README's commands: %v", tool, err)
		}
	}

	root := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"home", "state", "config", "work", "bin"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.Mkdir(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary is this build's apiguard when called by that name
	// (TestMain).
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(dirs["bin"], "apiguard")); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	at := func(s string) string { return strings.ReplaceAll(s, "127.0.0.1:5000", addr) }
	env := []string{
		"PATH=" + dirs["bin"] + string(filepath.ListSeparator) + os.Getenv("PATH"),
		"HOME=" + dirs["home"], "XDG_STATE_HOME=" + dirs["state"], "XDG_CONFIG_HOME=" + dirs["config"],
		"TMPDIR=" + os.TempDir(), "LANG=C.UTF-8",
		"APIGUARD_ADDR=" + addr, // for the serve block, which names no address
	}

	startServe := func() *readmeServe {
		s := &readmeServe{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
		s.cmd = exec.Command("bash", "-euo", "pipefail", "-c", at(blocks["serve"][0]))
		s.cmd.Dir, s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = dirs["work"], env, s.stdout, s.stderr
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.done <- s.cmd.Wait() }()
		t.Cleanup(func() { s.stop(t) })
		// Polled with a deadline: a race-enabled binary on a busy machine
		// can take a while to generate its keys.
		deadline := time.Now().Add(90 * time.Second)
		for {
			select {
			case err := <-s.done:
				s.stopOnce.Do(func() {}) // nothing left to stop
				t.Fatalf("serve exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
			default:
			}
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return s
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve not ready at %s within 90s\nstderr:\n%s", addr, s.stderr)
			}
			time.Sleep(50 * time.Millisecond) // polling readiness with a deadline
		}
	}
	runBash := func(script string, extraEnv ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dirs["work"], append(env[:len(env):len(env)], extraEnv...)
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the README's commands failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, script, out, stderr.String())
		}
		return string(out)
	}

	serve := startServe()
	// The banner reaches the test through a pipe, which a busy machine may
	// deliver after /readyz already answers.
	testwait.For(t, "serve's banner with an export line to paste", func() bool {
		return strings.Contains(serve.stdout.String(), "export CLIENT_ID='")
	})
	tokenFile := filepath.Join(root, "token")
	out := runBash(at(client)+`printf '%s' "$TOKEN" > "$README_TOKEN_FILE"`+"\n", "README_TOKEN_FILE="+tokenFile)
	if !strings.Contains(out, "\nVALID: ") {
		t.Errorf("apiguard inspect did not say VALID:\n%s", out)
	}
	if got := strings.Count(out, `"message":"Secure data accessed!"`); got != calls {
		t.Errorf("got %d answers of /secure-data with its data, want %d:\n%s", got, calls, out)
	}

	state := filepath.Join(dirs["state"], "apiguard", "dev-issuer.json")
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("got state file %v (%v), want it at %s with mode 0600", fi, err, state)
	}
	serve.stop(t)
	token, err := os.ReadFile(tokenFile)
	if err != nil || len(token) == 0 {
		t.Fatalf("no token saved from the README's commands: %v", err)
	}
	startServe()
	if out := runBash(at(secureCurl), "TOKEN="+string(token)); !strings.Contains(out, `"message":"Secure data accessed!"`) {
		t.Errorf("after restarting serve, the token got before: %s, want the secure data", out)
	}
}
