// Command flood sends a server a flood of distinct bearer tokens, each
// exactly once, and reports the resident memory of the server's process
// before and after (issue 16: the RSS of `apiguard serve` under a flood of
// 200,000 distinct valid tokens).
//
//	flood -url http://127.0.0.1:5007/secure-data -tokens fresh.txt -n 200000 -c 16 -pid PID
//
// It reads the first -n tokens of the file (one per line), sends them over
// -c keep-alive connections (each -repeat times in a row: 2 is a flood of
// tokens that are reused, which a cache storing tokens on their second
// sighting keeps), and fails if any answer is not 2xx. It prints "key
// value" lines: tokens, repeat, connections, seconds, rss_before_kib,
// rss_after_kib and hwm_kib (the peak, VmHWM), from /proc/PID/status.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to GET with each token")
	file := flag.String("tokens", "", "file of tokens, one per line")
	n := flag.Int("n", 0, "number of tokens to send (0: all of the file)")
	c := flag.Int("c", 16, "connections")
	repeat := flag.Int("repeat", 1, "times each token is sent, in a row")
	pid := flag.Int("pid", 0, "process whose memory to report (0: none)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *url, *file, *n, *c, *repeat, *pid); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, url, file string, n, c, repeat, pid int) error {
	if url == "" || file == "" || c < 1 || repeat < 1 {
		return errors.New("-url and -tokens are required, -c and -repeat at least 1")
	}
	tokens, err := readTokens(file, n)
	if err != nil {
		return err
	}
	var before, after, hwm int64
	if pid > 0 {
		if before, _, err = memory(pid); err != nil {
			return err
		}
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: c, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
	defer client.CloseIdleConnections()
	start := time.Now()
	var next atomic.Int64
	errs := make([]error, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(tokens) {
					return
				}
				for range repeat {
					if err := send(ctx, client, url, tokens[k]); err != nil {
						errs[i] = fmt.Errorf("token %d: %w", k+1, err)
						next.Store(int64(len(tokens))) // stop the others
						return
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if pid > 0 {
		if after, hwm, err = memory(pid); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "tokens %d\nrepeat %d\nconnections %d\nseconds %.1f\n", len(tokens), repeat, c, took.Seconds())
	if pid > 0 {
		fmt.Fprintf(w, "rss_before_kib %d\nrss_after_kib %d\nhwm_kib %d\n", before, after, hwm)
	}
	return nil
}

func send(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// readTokens reads the first n non-empty lines of file (all when n is 0)
// and fails when it holds fewer.
func readTokens(file string, n int) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tokens []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() && (n == 0 || len(tokens) < n) {
		if t := strings.TrimSpace(s.Text()); t != "" {
			tokens = append(tokens, t)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 || (n > 0 && len(tokens) < n) {
		return nil, fmt.Errorf("%s: %d tokens, want %d", file, len(tokens), max(n, 1))
	}
	return tokens, nil
}

// memory reads VmRSS and VmHWM (in KiB) from /proc/PID/status.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("failed to read the memory of process %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", dst); err != nil {
			return 0, 0, fmt.Errorf("failed to parse %s %q: %w", k, v, err)
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}
