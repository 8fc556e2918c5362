package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/internal/smuggletest"
)

// rawUpstream answers every request it reads with the bytes of respond,
// counting connections and requests.
type rawUpstream struct {
	ln       net.Listener
	conns    atomic.Int32
	requests atomic.Int32
	last     atomic.Pointer[http.Request] // the last request read
}

func newRawUpstream(t *testing.T, respond func(req *http.Request) string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					u.requests.Add(1)
					u.last.Store(req)
					if _, err := io.WriteString(c, respond(req)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return u
}

func rawGatewayServer(t *testing.T, upstream string) *httptest.Server {
	t.Helper()
	ti := newTestIssuer(t)
	rules, opts := parseConfig(t, "upstream: "+upstream+"\nroutes:\n  - path: /**\n    public: true\n")
	srv := httptest.NewServer(newGateway(t, ti.URL, rules, opts, io.Discard))
	t.Cleanup(srv.Close)
	return srv
}

// TestProxyUpstreamFramingConflict: an upstream response with both
// Content-Length and Transfer-Encoding is a 502, and what followed it on
// the connection never reaches a client: the next request gets a new
// connection.
func TestProxyUpstreamFramingConflict(t *testing.T) {
	up := newRawUpstream(t, func(req *http.Request) string {
		if req.URL.Path == "/bad" {
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	srv := rawGatewayServer(t, "http://"+up.ln.Addr().String())
	client := srv.Client()
	for i, c := range []struct {
		path   string
		status int
		body   string
	}{{"/ok", 200, "ok"}, {"/bad", 502, ""}, {"/ok", 200, "ok"}, {"/ok", 200, "ok"}} {
		resp, err := client.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || c.body != "" && string(b) != c.body {
			t.Fatalf("request %d %s: %d %q, want %d %q", i, c.path, resp.StatusCode, b, c.status, c.body)
		}
	}
	if n := up.conns.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2 (one before the 502, one after)", n)
	}
}

// TestProxyClientFramingClosed: net/http reads a client request with both
// Content-Length and Transfer-Encoding by its chunked framing; the gateway
// then closes the connection after answering it, so bytes a proxy in front
// framed by Content-Length never become a request of their own.
func TestProxyClientFramingClosed(t *testing.T) {
	up := newRawUpstream(t, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	srv := rawGatewayServer(t, "http://"+up.ln.Addr().String())
	r := smuggletest.CLTE(t, srv.Listener.Addr().String())
	if r.KeptOpen {
		t.Error("the connection is kept after a request with both Content-Length and Transfer-Encoding")
	}
	if r.Second != 0 {
		t.Errorf("a second response (%d) to the bytes after the chunked body", r.Second)
	}
	if n := up.requests.Load(); n != 1 {
		t.Errorf("upstream got %d requests, want the POST alone", n)
	}
}

// TestProxyReusesUpstreamConnection: sequential requests through the
// gateway, with and without a token, travel on one upstream connection.
func TestProxyReusesUpstreamConnection(t *testing.T) {
	up := newRawUpstream(t, func(req *http.Request) string {
		head, body := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "ok"
		if strings.HasPrefix(req.URL.Path, "/chunked") {
			head, body = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "2\r\nok\r\n0\r\n\r\n"
		}
		if req.Method == "HEAD" {
			body = ""
		}
		return head + body
	})
	srv := rawGatewayServer(t, "http://"+up.ln.Addr().String())
	client := srv.Client()
	for i := range 30 {
		path := "/plain"
		if i%3 == 0 {
			path = "/chunked"
		}
		method := "GET"
		if i%5 == 0 {
			method = "HEAD"
		}
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || method == "GET" && string(b) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 30 sequential requests, want 1", n)
	}
}

// TestProxyHopByHop: hop-by-hop headers, and those a Connection header
// names, stop at the gateway in both directions; "Te: trailers" goes on; a
// query with ";" is re-encoded (as ReverseProxy does); no Accept-Encoding
// is added to a request that had none.
func TestProxyHopByHop(t *testing.T) {
	up := newRawUpstream(t, func(*http.Request) string {
		return "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok"
	})
	srv := rawGatewayServer(t, "http://"+up.ln.Addr().String())
	tr := &http.Transport{DisableCompression: true} // sends no Accept-Encoding
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for _, method := range []string{"GET", "HEAD", "DELETE"} {
		req, _ := http.NewRequest(method, srv.URL+"/x?a=1;b=2", nil)
		req.Header.Set("Connection", "X-Req-Hop")
		req.Header.Set("X-Req-Hop", "1")
		req.Header.Set("Te", "trailers, deflate")
		req.Header.Set("Proxy-Authorization", "Basic eDp5")
		req.Header.Set("X-Req-Kept", "1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Kept") != "1" || resp.Header.Get("X-Hop") != "" || resp.Header.Get("Keep-Alive") != "" {
			t.Errorf("%s: client got %d %v", method, resp.StatusCode, resp.Header)
		}
		got := up.last.Load()
		if got.Header.Get("X-Req-Kept") != "1" || got.Header.Get("X-Req-Hop") != "" || got.Header.Get("Proxy-Authorization") != "" ||
			got.Header.Get("Te") != "trailers" || got.URL.RawQuery != "" || got.Header.Get("Accept-Encoding") != "" {
			t.Errorf("%s: upstream got %s %v", method, got.URL, got.Header)
		}
	}
}
