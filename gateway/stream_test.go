package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStreaming proves that what the upstream flushes reaches the client
// while the upstream handler is still running.
func TestStreaming(t *testing.T) {
	for _, contentType := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(contentType, func(t *testing.T) {
			release := make(chan struct{})
			up, finished := newTwoLineUpstream(t, http.Header{"Content-Type": {contentType}}, release)
			ti := newTestIssuer(t)
			f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /events\n", map[string]string{"up": up})

			resp := f.do(t, "GET", "/events", ti.token(t, nil), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("got status %d, want 200", resp.StatusCode)
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("got first line %q, %v; want \"first\\n\"", line, err)
			}
			select {
			case <-finished:
				t.Fatal("upstream finished before the first line arrived: nothing was streamed")
			default:
			}
			close(release)
			line, err = br.ReadString('\n')
			if err != nil || line != "second\n" {
				t.Fatalf("got second line %q, %v; want \"second\\n\"", line, err)
			}
		})
	}
}

// newTwoLineUpstream starts an upstream that answers with header, sends
// "first\n" and flushes it, then sends "second\n" once release is closed
// (or gives up when the client goes away). finished is closed when its
// handler returns.
func newTwoLineUpstream(t *testing.T, header http.Header, release <-chan struct{}) (url string, finished <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		for k, vs := range header {
			w.Header()[k] = vs
		}
		fmt.Fprint(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "second\n")
	}))
	t.Cleanup(up.Close)
	return up.URL, done
}

func TestLargeBodies(t *testing.T) {
	const size = 16 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Upload-Sha256", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-Upload-Size", fmt.Sprint(n))
		// Echo the body back in a large response.
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.CopyN(w, bytes.NewReader(bytes.Repeat([]byte{'z'}, size)), size)
	}))
	t.Cleanup(up.Close)
	ti := newTestIssuer(t)
	f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /upload\n", map[string]string{"up": up.URL})

	body := make([]byte, size)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	req, err := http.NewRequest("POST", f.srv.URL+"/upload", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ti.token(t, nil))
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Errorf("got response of %d bytes (%v), want %d", n, err, size)
	}
	if got, want := resp.Header.Get("X-Upload-Sha256"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("upstream got body with sha256 %s (size %s), want %s", got, resp.Header.Get("X-Upload-Size"), want)
	}
}

func TestWebSocket(t *testing.T) {
	seen := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	ti := newTestIssuer(t)
	f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /ws/*\n    scopes: [chat]\n", map[string]string{"up": up.URL})
	wsURL := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws/echo"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("refused without token", func(t *testing.T) {
		_, resp, err := websocket.Dial(ctx, wsURL, nil)
		if err == nil {
			t.Fatal("dial without a token succeeded, want a refusal")
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got response %v, want 401", resp)
		}
	})
	t.Run("echo", func(t *testing.T) {
		token := ti.token(t, map[string]any{"scp": []string{"chat"}, "sub": "dave"})
		c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + token}, "X-Auth-Subject": {"admin"}},
		})
		if err != nil {
			t.Fatalf("dial through the gateway: %v", err)
		}
		defer c.CloseNow()
		h := <-seen
		if got := h.Get("X-Auth-Subject"); got != "dave" {
			t.Errorf("upstream got X-Auth-Subject %q, want dave", got)
		}
		if got := h.Get("Authorization"); got != "" {
			t.Errorf("upstream got Authorization %q, want none", got)
		}
		for _, msg := range []string{"hello", "again"} {
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatalf("write: %v", err)
			}
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if string(got) != "echo: "+msg {
				t.Errorf("got %q, want %q", got, "echo: "+msg)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		eventually(t, "the upgrade to be counted", func() bool {
			resp := f.do(t, "GET", "/metrics", "", nil)
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), `apiguard_gateway_requests_total{handler="proxy",reason="",route="/ws/*",status="101"} 1`)
		})
	})
}
