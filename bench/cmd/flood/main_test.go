package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRun: every token of the slice is sent exactly once, the memory of
// the named process is reported, and a refused token fails the run.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		seen[tok]++
		mu.Unlock()
		if tok == "bad" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("t%d", i))
	}
	file := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(file, []byte(strings.Join(append(lines, "bad"), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, srv.URL, file, 100, 4, 1, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 100 {
		t.Errorf("server saw %d distinct tokens, want 100", len(seen))
	}
	for tok, n := range seen {
		if n != 1 || tok == "bad" {
			t.Errorf("token %q sent %d times", tok, n)
		}
	}
	for _, want := range []string{"tokens 100\n", "repeat 1\n", "connections 4\n", "rss_before_kib ", "rss_after_kib ", "hwm_kib "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	clear(seen)
	if err := run(context.Background(), &out, srv.URL, file, 10, 2, 3, 0); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 10 || seen["t0"] != 3 || seen["t9"] != 3 {
		t.Errorf("with -repeat 3: server saw %v, want t0…t9 three times each", seen)
	}
	if err := run(context.Background(), &out, srv.URL, file, 0, 4, 1, 0); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("with a refused token: got %v, want an error naming the 401", err)
	}
	if err := run(context.Background(), &out, srv.URL, file, 1000, 4, 1, 0); err == nil {
		t.Error("asking for more tokens than the file holds: no error")
	}
}
