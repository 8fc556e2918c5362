package main

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Issue 16's measurements: the gateway peers, fresh tokens against the
// golang-jwt reference, and memory.

// peer is one contender of the gateway peers table.
type peer struct {
	name, what string
	checks     bool // must refuse a request without a valid token
}

// peerList is the peers table's order; the names are bench.sh's.
var peerList = []peer{
	{"direct", "upstream direct (no proxy)", false},
	{"nginx", "nginx `proxy_pass` with upstream keepalive, no checks", false},
	{"revproxy", "bare `httputil.ReverseProxy` (bench/cmd/revproxy), no checks", false},
	{"gateway", "**apiguard gateway**, token required", true},
	{"nginx-auth", "nginx `auth_request` → apiguard `/auth`, then `proxy_pass` (both processes)", true},
	{"oauth2-proxy", "oauth2-proxy v7.15.6, `--skip-jwt-bearer-tokens`", true},
}

// Issue 16's goals.
const (
	goalGateway    = 2.0 // gateway proxy CPU per request ≤ this × nginx's
	goalAuth       = 2.5 // auth_request path (nginx + /auth) ≤ this × nginx plain
	goalOAuth2     = 7.0 // oauth2-proxy CPU per request ≥ this × the gateway's
	goalFresh      = 1.0 // serve with fresh tokens ≥ this × the reference's req/s
	goalEntryBytes = 700 // heap bytes per cached token ≤ this
	freshServe     = "apiguard serve, default settings, /secure-data"
)

type issue16 struct {
	peers    []*load
	checks   map[string]string // peer → what its check found
	skipped  map[string]string // peer → why it was left out
	fresh    []*load
	flood    map[string]float64
	entry    float64 // heap bytes per cached token (cachemem), NaN if absent
	notes    string  // notes-peers.txt
	freshTxt string  // notes-fresh.txt
}

func parseIssue16(files map[string]string) (*issue16, error) {
	i := &issue16{checks: tabbed(files["peers-checks.tsv"]), skipped: tabbed(files["peers-skipped.tsv"]),
		flood: map[string]float64{}, entry: math.NaN(),
		notes: strings.TrimSpace(files["notes-peers.txt"]), freshTxt: strings.TrimSpace(files["notes-fresh.txt"])}
	var err error
	if i.peers, err = parseLoad(strings.NewReader(files["peers.tsv"])); err != nil {
		return nil, fmt.Errorf("peers.tsv: %w", err)
	}
	if i.fresh, err = parseLoad(strings.NewReader(files["fresh.tsv"])); err != nil {
		return nil, fmt.Errorf("fresh.tsv: %w", err)
	}
	for line := range strings.Lines(files["flood.txt"]) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("flood.txt: %q: %w", line, err)
		}
		i.flood[k] = f
	}
	s := bufio.NewScanner(strings.NewReader(files["cachemem.txt"]))
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "heap bytes per entry:"); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				i.entry = f
			}
		}
	}
	return i, nil
}

// tabbed reads "key<TAB>text" lines.
func tabbed(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(s) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "\t"); ok {
			m[k] = v
		}
	}
	return m
}

// med returns the medians of a peer's req/s and proxy CPU per request.
func (i *issue16) med(name string) (rps, cpu float64, ok bool) {
	for _, l := range i.peers {
		if l.target == name {
			return median(l.rps), median(l.cpu), true
		}
	}
	return math.NaN(), math.NaN(), false
}

func mark(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// missing says why a peer has no measurement.
func (i *issue16) missing(name string) string {
	if why, ok := i.skipped[name]; ok {
		return why
	}
	if why, ok := i.skipped["all"]; ok {
		return why
	}
	return "not measured"
}

// goals checks issue 16's goals against the measurements.
func (i *issue16) goals() []string {
	var out []string
	if len(i.peers) > 0 || len(i.skipped) > 0 {
		_, nginx, okN := i.med("nginx")
		ratio := func(what, name string, goal float64) {
			_, c, ok := i.med(name)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s: **not measured** (%s)", what, i.missing(name)))
			case !okN:
				out = append(out, fmt.Sprintf("%s: **not measured** (no nginx row: %s)", what, i.missing("nginx")))
			default:
				out = append(out, fmt.Sprintf("%s: %s (%.2f×: %.1f µs against nginx's %.1f µs proxy CPU per request)", what, mark(c/nginx <= goal), c/nginx, c, nginx))
			}
		}
		ratio("gateway: proxy CPU per request ≤ 2.0× nginx's", "gateway", goalGateway)
		ratio("nginx `auth_request` → apiguard `/auth` (both processes) ≤ 2.5× nginx's plain proxy", "nginx-auth", goalAuth)
		_, gw, okG := i.med("gateway")
		_, o2p, okO := i.med("oauth2-proxy")
		switch what := "gateway ≥ 7× cheaper than oauth2-proxy (proxy CPU per request)"; {
		case !okO:
			out = append(out, fmt.Sprintf("%s: **not measured** (%s)", what, i.missing("oauth2-proxy")))
		case !okG:
			out = append(out, fmt.Sprintf("%s: **not measured** (%s)", what, i.missing("gateway")))
		default:
			out = append(out, fmt.Sprintf("%s: %s (%.1f×: %.1f µs against %.1f µs)", what, mark(o2p/gw >= goalOAuth2), o2p/gw, o2p, gw))
		}
	}
	if s, ok := i.freshLoad(freshServe); ok {
		if ref, ok := i.freshLoad(s.base); ok {
			r, c := median(s.rps)/median(ref.rps), median(ref.cpu)/median(s.cpu)
			out = append(out, fmt.Sprintf("`apiguard serve` (default settings) with a never-seen token per request ≥ 1.0× the golang-jwt reference on req/s: %s (%.2f× req/s: %s against %s; %.2f× by CPU per request)",
				mark(r >= goalFresh), r, fmtNum(median(s.rps)), fmtNum(median(ref.rps)), c))
		}
	}
	if !math.IsNaN(i.entry) {
		out = append(out, fmt.Sprintf("≤ 700 heap bytes per cached Okta-shaped token: %s (%.0f bytes, bench/cmd/cachemem)", mark(i.entry <= goalEntryBytes), i.entry))
	}
	if n, ok := i.flood["tokens"]; ok {
		out = append(out, fmt.Sprintf("RSS of `apiguard serve` under a flood of %s distinct valid tokens (%s), stated: %s (see Memory)", fmtThousands(n), i.floodEach(), i.floodSummary()))
	}
	return out
}

func (i *issue16) freshLoad(name string) (*load, bool) {
	for _, l := range i.fresh {
		if l.target == name {
			return l, true
		}
	}
	return nil, false
}

// floodEach says how many times each token of the flood was sent.
func (i *issue16) floodEach() string {
	switch r := i.flood["repeat"]; {
	case r <= 1:
		return "each once"
	case r == 2:
		return "each twice in a row"
	default:
		return fmt.Sprintf("each %.0f times in a row", r)
	}
}

func (i *issue16) floodSummary() string {
	mib := func(k string) string { return fmt.Sprintf("%.1f MiB", i.flood[k]/1024) }
	if _, ok := i.flood["rss_after_kib"]; !ok {
		return "not measured"
	}
	return fmt.Sprintf("VmRSS %s before, %s after, peak (VmHWM) %s", mib("rss_before_kib"), mib("rss_after_kib"), mib("hwm_kib"))
}

// fmtThousands writes an integer with thousands separators.
func fmtThousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (i *issue16) peersSection(p func(string, ...any)) {
	if len(i.peers) == 0 && len(i.skipped) == 0 {
		return
	}
	p("## Gateway peers (issue 16)\n\n")
	if i.notes != "" {
		p("%s\n\n", i.notes)
	}
	_, nginx, _ := i.med("nginx")
	p("| in front of one tiny Go upstream, one reused token | req/s (median) | proxy CPU per request | × nginx (CPU) | rounds | check before the rounds |\n|---|--:|--:|--:|--:|---|\n")
	for _, pr := range peerList {
		rps, cpu, ok := i.med(pr.name)
		check := i.checks[pr.name]
		if check == "" {
			check = "–"
		}
		if !ok {
			p("| %s | – | – | – | 0 | not run: %s |\n", pr.what, i.missing(pr.name))
			continue
		}
		rounds := 0
		for _, l := range i.peers {
			if l.target == pr.name {
				rounds = len(l.rps)
			}
		}
		if pr.name == "direct" {
			p("| %s | %s | – (upstream: %.1f µs) | – | %d | %s |\n", pr.what, fmtNum(rps), cpu, rounds, check)
			continue
		}
		x := fmtRatio(cpu / nginx)
		if pr.name == "gateway" {
			x = "**" + x + "**"
		}
		p("| %s | %s | %.1f µs | %s | %d | %s |\n", pr.what, fmtNum(rps), cpu, x, rounds, check)
	}
	p("\n× nginx is the proxy CPU per request over nginx's plain proxy's: what the contender costs the machine per request ")
	p("whatever else ran meanwhile (req/s depend on that, and on wrk sharing the CPUs).\n\n")
}

func (i *issue16) freshSection(p func(string, ...any)) {
	if len(i.fresh) == 0 {
		return
	}
	p("## Fresh tokens: apiguard serve against a golang-jwt reference (issue 16)\n\n")
	if i.freshTxt != "" {
		p("%s\n\n", i.freshTxt)
	}
	loadTable(p, i.fresh)
	p("\n")
}

// floodSection is the memory section's part on the flood.
func (i *issue16) floodSection(p func(string, ...any)) {
	if _, ok := i.flood["rss_after_kib"]; !ok {
		return
	}
	p("A new `apiguard serve` at its default settings (cache of 100,000 tokens) was sent %s distinct valid ES256 tokens, %s, ",
		fmtThousands(i.flood["tokens"]), i.floodEach())
	p("over %.0f connections in %.1f s (bench/cmd/flood); its memory from /proc/PID/status.", i.flood["connections"], i.flood["seconds"])
	if i.flood["repeat"] <= 1 {
		p(" Sent once, as in a flood of tokens never reused, they leave a cache that stores a token on its second sighting ")
		p("only nearly empty: what a full cache costs is cachemem's figure above (or run bench.sh with FLOOD_REPEAT=2).")
	}
	p("\n\n")
	p("| VmRSS before | VmRSS after | peak (VmHWM) |\n|--:|--:|--:|\n| %.1f MiB | %.1f MiB | %.1f MiB |\n\n",
		i.flood["rss_before_kib"]/1024, i.flood["rss_after_kib"]/1024, i.flood["hwm_kib"]/1024)
}
