package gateway_test

import (
	"bufio"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestEventStreamWithLength proves that an event stream is flushed to the
// client as it arrives even when the upstream announces its length (a
// response of unknown length is always flushed), whatever the case and
// parameters of its Content-Type.
func TestEventStreamWithLength(t *testing.T) {
	for _, contentType := range []string{"text/event-stream", "Text/Event-Stream; charset=utf-8", "TEXT/EVENT-STREAM ;retry=1"} {
		t.Run(contentType, func(t *testing.T) {
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce)
			up, _ := newTwoLineUpstream(t, http.Header{"Content-Type": {contentType}, "Content-Length": {"13"}}, release)
			ti := newTestIssuer(t)
			f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /events\n", map[string]string{"up": up})
			token := ti.token(t, nil)

			type result struct {
				resp *http.Response
				line string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest("GET", f.srv.URL+"/events", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := f.srv.Client().Do(req)
				if err != nil {
					got <- result{err: err}
					return
				}
				line, err := bufio.NewReader(resp.Body).ReadString('\n')
				got <- result{resp: resp, line: line, err: err}
			}()
			select {
			case r := <-got:
				if r.err != nil || r.line != "first\n" {
					t.Fatalf("got first line %q, %v; want \"first\\n\"", r.line, r.err)
				}
				releaseOnce()
				r.resp.Body.Close()
			case <-time.After(10 * time.Second):
				releaseOnce()
				t.Fatal("the first event did not reach the client while the upstream was still sending: the stream was not flushed")
			}
		})
	}
}
