package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRun: the proxy passes a request to the upstream whatever it carries
// (it checks nothing) and refuses to listen beyond loopback.
func TestRun(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+" "+r.Header.Get("Authorization"))
	}))
	defer up.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := run(context.Background(), "0.0.0.0:0", up.URL, out); err == nil || !strings.Contains(err.Error(), "-addr") {
		t.Errorf("got %v, want an error naming -addr", err)
	}
	if err := run(context.Background(), "127.0.0.1:0", "ftp://x", out); err == nil || !strings.Contains(err.Error(), "-upstream") {
		t.Errorf("got %v, want an error naming -upstream", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", up.URL, out) }()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; {
		b, _ := os.ReadFile(out.Name())
		for line := range strings.Lines(string(b)) {
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "url "); ok {
				url = u
			}
		}
		if url == "" && time.Now().After(deadline) {
			t.Fatal("revproxy did not report its URL")
		}
		time.Sleep(10 * time.Millisecond) // polling the output file, with a deadline
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/a/b", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "/a/b Bearer x" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "/a/b Bearer x")
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
