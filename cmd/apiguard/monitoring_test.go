package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/internal/testwait"
)

// The files of deploy/monitoring are checked here, against the real
// commands: the alerting rules with promtool (syntax and their unit tests),
// the Grafana dashboard's shape, and that every metric and label the
// queries of both name is one that `apiguard serve` or `apiguard gateway`
// exports. A renamed metric or label value would otherwise leave an alert
// that can never fire and a panel that stays empty, with nothing failing.

const (
	monitoringDir   = "../../deploy/monitoring"
	alertsFile      = "apiguard-alerts.yaml"
	dashboardFile   = "apiguard-dashboard.json"
	skipPromtoolEnv = "APIGUARD_SKIP_PROMTOOL"
)

// promtool finds Prometheus's promtool. A missing promtool fails the test:
// scripts/test.sh installs it (Debian package prometheus), and only
// APIGUARD_SKIP_PROMTOOL=1 skips, as APIGUARD_SKIP_PROXIES does for nginx
// and Caddy.
func promtool(t *testing.T) string {
	t.Helper()
	if os.Getenv(skipPromtoolEnv) == "1" {
		t.Skip(skipPromtoolEnv + "=1")
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH: run scripts/test.sh, which installs it (Debian package prometheus), or set %s=1", skipPromtoolEnv)
	}
	return p
}

// runPromtool runs promtool in dir and fails the test with its output when
// it fails.
func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// alertRules is the part of a Prometheus rules file these tests read.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         *string           `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool unit test file these tests read.
type ruleTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readMonitoringYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ruleTestFiles returns the promtool unit test files of deploy/monitoring.
func ruleTestFiles(t *testing.T) []string {
	t.Helper()
	tests, err := filepath.Glob(filepath.Join(monitoringDir, "*_test.yaml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule unit tests (*_test.yaml) in %s: %v", monitoringDir, err)
	}
	return tests
}

// TestMonitoringAlertRulesPromtool checks the rules with promtool and runs
// their unit tests.
func TestMonitoringAlertRulesPromtool(t *testing.T) {
	runPromtool(t, monitoringDir, "check", "rules", alertsFile)
	for _, f := range ruleTestFiles(t) {
		runPromtool(t, monitoringDir, "test", "rules", filepath.Base(f))
	}
}

// TestMonitoringAlertRules checks what promtool does not: every alert has
// a for duration, a severity of critical or warning, a summary and a
// description that says what to check (naming only dashboard panels that
// exist), unit tests where it fires and where it must not, and a line in
// deploy/monitoring/README.md.
func TestMonitoringAlertRules(t *testing.T) {
	tests := ruleTestFiles(t)
	var rules alertRules
	readMonitoringYAML(t, filepath.Join(monitoringDir, alertsFile), &rules)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range tests {
		var rt ruleTests
		readMonitoringYAML(t, f, &rt)
		for _, tc := range rt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if r.For == nil {
				t.Errorf("%s: no for: (write for: 0m when firing at once is meant)", r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: got severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary annotation", r.Alert)
			}
			if d := r.Annotations["description"]; !strings.Contains(d, "Check:") {
				t.Errorf("%s: got description %q, want one that says what to check (Check: …)", r.Alert, d)
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no unit test where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no unit test where it must not fire", r.Alert)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts in " + alertsFile)
	}
	// Panels and rows a description sends the reader to must exist.
	titles := map[string]bool{}
	for _, p := range readDashboard(t).allPanels() {
		titles[p.Title] = true
	}
	panelRef := regexp.MustCompile(`"[^"\n]+"(?:\s+and\s+"[^"\n]+")*\s+(?:panels?|row)\b`)
	quoted := regexp.MustCompile(`"([^"\n]+)"`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, ref := range panelRef.FindAllString(r.Annotations["description"], -1) {
				for _, m := range quoted.FindAllStringSubmatch(ref, -1) {
					if !titles[m[1]] {
						t.Errorf("%s: its description names the dashboard's %q, which has no panel or row of that title", r.Alert, m[1])
					}
				}
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join(monitoringDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(readme), a) {
			t.Errorf("%s is not described in deploy/monitoring/README.md", a)
		}
	}
}

// grafanaDashboard is the part of a dashboard's JSON these tests read.
type grafanaDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []grafanaVar `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaVar struct {
	Type       string             `json:"type"`
	Name       string             `json:"name"`
	Query      json.RawMessage    `json:"query"`
	Definition string             `json:"definition"` // the query as Grafana shows it
	Datasource *grafanaDatasource `json:"datasource"`
}

type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	GridPos    struct{ X, Y, W, H int }
	Targets    []struct {
		Expr       string             `json:"expr"`
		Datasource *grafanaDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels returns the dashboard's panels, those in collapsed rows too.
func (d grafanaDashboard) allPanels() []grafanaPanel {
	var out []grafanaPanel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// varQuery returns a query variable's query: a string, or the "query"
// member of the object newer Grafana versions write.
func (v grafanaVar) varQuery(t *testing.T) string {
	t.Helper()
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		t.Fatalf("variable %s: query is neither a string nor an object with a query: %s", v.Name, v.Query)
	}
	return o.Query
}

// promDatasource is what every Prometheus query of the dashboard must use:
// the dashboard's datasource variable, so that it imports into any Grafana
// whatever its data sources' UIDs are.
var promDatasource = grafanaDatasource{Type: "prometheus", UID: "${datasource}"}

// TestMonitoringDashboard checks what makes the dashboard importable and
// portable: it parses, has a uid and a title, a Prometheus datasource
// variable that every panel and query uses (no data source UID of one
// Grafana), unique panel ids, panels within the 24-column grid and not
// over each other, a query in every panel, and no variable a query uses
// without the dashboard defining it.
func TestMonitoringDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("got uid %q and title %q, want both set", d.UID, d.Title)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Name == "datasource" {
			if q := v.varQuery(t); v.Type != "datasource" || q != "prometheus" {
				t.Errorf("got datasource variable of type %q for %q, want type datasource for prometheus", v.Type, q)
			}
			continue
		}
		if v.Type != "query" {
			continue
		}
		if v.Datasource == nil || *v.Datasource != promDatasource {
			t.Errorf("variable %s: got datasource %+v, want %+v", v.Name, v.Datasource, promDatasource)
		}
		if q := v.varQuery(t); v.Definition != "" && v.Definition != q {
			t.Errorf("variable %s: got definition %q and query %q, want the same (Grafana shows one and runs the other)", v.Name, v.Definition, q)
		}
	}
	if !vars["datasource"] {
		t.Fatal("no datasource variable")
	}
	used := regexp.MustCompile(`\$\{?([A-Za-z]\w*)`)
	ids := map[int]string{}
	var placed []grafanaPanel
	for _, p := range d.allPanels() {
		for _, q := range placed {
			a, b := p.GridPos, q.GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("panels %q and %q overlap", q.Title, p.Title)
			}
		}
		placed = append(placed, p)
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: got gridPos x=%d w=%d, want within 24 columns", p.Title, p.GridPos.X, p.GridPos.W)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != promDatasource {
			t.Errorf("panel %q: got datasource %+v, want %+v", p.Title, p.Datasource, promDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource != nil && *q.Datasource != promDatasource {
				t.Errorf("panel %q: got a query's datasource %+v, want %+v", p.Title, q.Datasource, promDatasource)
			}
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			for _, m := range used.FindAllStringSubmatch(q.Expr, -1) {
				if !vars[m[1]] {
					t.Errorf("panel %q uses $%s, which the dashboard does not define", p.Title, m[1])
				}
			}
		}
	}
}

// monQuery is one PromQL expression of deploy/monitoring and where it is.
type monQuery struct {
	where string
	expr  string
}

// monitoringQueries returns every PromQL expression of the rules and the
// dashboard: the alerts' expressions, the panels' queries and the series
// selectors in the variables' label_values(…) queries.
func monitoringQueries(t *testing.T) []monQuery {
	t.Helper()
	var out []monQuery
	var rules alertRules
	readMonitoringYAML(t, filepath.Join(monitoringDir, alertsFile), &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, monQuery{alertsFile + ": " + r.Alert + r.Record, r.Expr})
		}
	}
	d := readDashboard(t)
	labelValues := regexp.MustCompile(`^\s*label_values\((.+),\s*\w+\s*\)\s*$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if m := labelValues.FindStringSubmatch(v.varQuery(t)); m != nil {
			out = append(out, monQuery{dashboardFile + ": variable " + v.Name, m[1]})
		}
	}
	for _, p := range d.allPanels() {
		for i, q := range p.Targets {
			out = append(out, monQuery{dashboardFile + ": panel " + strconv.Quote(p.Title) + " query " + strconv.Itoa(i+1), q.Expr})
		}
	}
	return out
}

// Grafana's variables in a query: grafanaIntervalVar matches
// $__rate_interval and its kin, which stand for a duration; grafanaNamedVar
// matches $name, ${name} and ${name:format}, which the dashboard uses only
// inside label matchers' strings.
var (
	grafanaIntervalVar = regexp.MustCompile(`\$\{?__\w+\}?`)
	grafanaNamedVar    = regexp.MustCompile(`\$\{\w+(:\w+)?\}|\$\w+`)
)

// plainPromQL replaces a dashboard query's Grafana variables with what they
// stand for, so that the query is PromQL promtool can parse.
func plainPromQL(expr string) string {
	expr = grafanaIntervalVar.ReplaceAllString(expr, "5m")
	return grafanaNamedVar.ReplaceAllString(expr, ".+")
}

// TestMonitoringQueriesParse has promtool parse every dashboard query (the
// alerts' expressions are parsed by TestMonitoringAlertRulesPromtool) by checking a
// rules file with one recording rule per query: promtool parses them with
// Prometheus's own parser, as a Prometheus server would.
func TestMonitoringQueriesParse(t *testing.T) {
	pt := promtool(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	var where []string
	for _, q := range monitoringQueries(t) {
		if strings.HasPrefix(q.where, alertsFile) {
			continue
		}
		rules = append(rules, rule{"dashboard_query_" + strconv.Itoa(len(rules)), plainPromQL(q.expr)})
		where = append(where, q.where)
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pt, "check", "rules", path).CombinedOutput(); err != nil {
		var list strings.Builder
		for i, w := range where {
			list.WriteString("dashboard_query_" + strconv.Itoa(i) + ": " + w + "\n")
		}
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s\nwhere the rules are:\n%s", err, out, &list)
	}
}

// Metric names are taken from the expressions with regular expressions,
// not with Prometheus's PromQL parser: that parser
// (github.com/prometheus/prometheus/promql/parser) lives in the Prometheus
// server's module, whose long list of requirements would enter apiguard's
// go.mod for one test. The expressions are parsed by promtool
// (TestMonitoringAlertRulesPromtool, TestMonitoringQueriesParse), so here
// they are known to be valid PromQL; and in valid PromQL, once string
// literals, label matchers {…}, ranges […] and grouping label lists (by,
// without, on, ignoring, group_left, group_right (…)) are taken out, every
// identifier that is not a keyword and not followed by "(" (a function or
// an aggregation) is a metric name; the letters in numbers and durations
// (1e3, 10m) follow a digit. This finds every name, not only those with a
// known prefix, so a query on a name no target exports (such as
// Prometheus's own "up") fails the test.
var (
	promString   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promBraces   = regexp.MustCompile(`\{[^}]*\}`)
	promBrackets = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`(?i)\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}

	// promSelector is a metric name and its label matchers; promMatcher is
	// one matcher. Label values in these files hold no "}".
	promSelector = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`^\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*$`)
)

// metricNames returns the metric names expr refers to.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promBraces.ReplaceAllString(s, " ")
	s = promBrackets.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.", rune(s[loc[0]-1])) {
			continue // 1e3, 10m
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue // a function or an aggregation
		}
		if slices.Contains(promKeywords, strings.ToLower(name)) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`apiguard_jwks_keys == 0`, []string{"apiguard_jwks_keys"}},
		{`sum by (job, instance) (increase(a_total{outcome="error", x=~"a(b)c"}[10m])) > 0 unless on (job, instance) sum by (job) (b_total{outcome="ok"}) > 1e3`,
			[]string{"a_total", "b_total"}},
		{`histogram_quantile(0.99, sum by (route, le) (rate(h_bucket[5m] offset 1h)))`, []string{"h_bucket"}},
		{"rate(x[5m:1m]) / on (a) group_left (b) y > bool 2 or sum without (q) (z)", []string{"x", "y", "z"}},
		{`process_open_fds{job=~"$job"} / process_max_fds`, []string{"process_max_fds", "process_open_fds"}},
		{`sum(rate(a{l="by (x) or y"}[1m]))`, []string{"a"}},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q): got %q, want %q", c.expr, got, c.want)
		}
	}
}

// exportedLabels is what a running instance's /metrics showed: for each sample
// name, its label names and the values seen for each.
type exportedLabels map[string]map[string][]string

func (e exportedLabels) add(samples []sample) {
	for _, s := range samples {
		if e[s.name] == nil {
			e[s.name] = map[string][]string{}
		}
		for k, v := range s.labels {
			if !slices.Contains(e[s.name][k], v) {
				e[s.name][k] = append(e[s.name][k], v)
			}
		}
	}
}

// TestMonitoringMetricsExist starts serve and gateway for real, drives the
// traffic that makes every labelled series appear, and checks that every
// metric name the rules and the dashboard query is exported, with the label
// names they match on, and label values an instance can have.
//
// A CounterVec or HistogramVec is exposed only once it has a child (a
// label set that was observed): a fresh instance shows no
// apiguard_http_requests_total at all. So the test makes requests that
// produce each series the queries use: a 200, a refusal (no_token) and a
// 503 (keys_unavailable: a token with a kid the issuer has not published,
// while the issuer is down, which is also a failed key fetch) on both; a
// 502 (an unreachable upstream) and a 404 no_route on the gateway; and a
// failed and a successful reload of the gateway's rules file. A third
// instance, serve introspecting with its sessions and shared state in a
// real redis-server, exports apiguard_introspection_* and
// apiguard_redis_errors_total (both uses), whose series exist from
// start-up. apiguard_jwks_keys, apiguard_jwks_fetch_duration_seconds and the go_ and
// process_ metrics are there from the start.
func TestMonitoringMetricsExist(t *testing.T) {
	gwClearEnv(t)
	iss := testissuer.New(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"upstream":"ok"}`))
	}))
	t.Cleanup(up.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // an upstream that refuses connections: 502

	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL, "APIGUARD_LOG_LEVEL": "warn"})
	rules := "issuer: " + iss.URL + "\nupstream: " + up.URL + `
routes:
  - name: public
    path: /public/**
    public: true
  - name: orders
    path: /orders/**
  - name: gone
    path: /gone/**
    public: true
    upstream: ` + closed.URL + "\n"
	path := writeGatewayConfig(t, rules)
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0", "--log-level", "error")
	gw := "http://" + g.addr
	// After the gateway started: stateEnv's settings would be its too.
	redisServer := redistest.New(t)
	deps := startServe(t, stateEnv(newCountingIssuer(t), redisServer.URL()+"/0", "APIGUARD_INTROSPECTION", "always",
		"APIGUARD_LOG_LEVEL", "warn"))
	for _, base := range []string{s.url, gw, deps.url} {
		testwait.For(t, "readiness of "+base, func() bool {
			resp, _ := gwGet(t, base+"/readyz", "")
			return resp.StatusCode == 200
		})
	}

	good := iss.Sign(t, "es256", iss.Claims(time.Now()), nil)
	k := iss.Key("es256")
	iss.AddKey(&testissuer.Key{ID: "rotated-in", Alg: k.Alg, JWKAlg: k.JWKAlg, Use: k.Use, Private: k.Private}, false)
	rotated := iss.Sign(t, "rotated-in", iss.Claims(time.Now()), nil)
	expect := func(url, token string, want int) {
		t.Helper()
		if resp, body := gwGet(t, url, token); resp.StatusCode != want {
			t.Fatalf("GET %s: got %d %s, want %d", url, resp.StatusCode, body, want)
		}
	}
	expect(s.url+"/secure-data", good, 200)
	expect(s.url+"/secure-data", "", 401)
	expect(s.url+"/healthz", "", 200)
	expect(gw+"/public/x", "", 200)
	expect(gw+"/orders/1", good, 200)
	expect(gw+"/orders/1", "", 401)
	expect(gw+"/gone/x", "", 502)
	expect(gw+"/nowhere", "", 404)
	iss.SetDown(true)
	expect(s.url+"/secure-data", rotated, 503)
	expect(gw+"/orders/1", rotated, 503)
	iss.SetDown(false)

	// A rules file that does not load, then the good one again.
	reloads := func(result string) bool {
		for _, smp := range scrape(t, gw+"/metrics") {
			if smp.name == "apiguard_gateway_config_reloads_total" && smp.labels["result"] == result {
				return true
			}
		}
		return false
	}
	if err := os.WriteFile(path, []byte("routes: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "a failed reload", func() bool { return reloads("failure") })
	if err := os.WriteFile(path, []byte(rules+"# changed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "a successful reload", func() bool { return reloads("success") })

	all := exportedLabels{}
	all.add(scrape(t, s.url+"/metrics"))
	all.add(scrape(t, gw+"/metrics"))
	all.add(scrape(t, deps.url+"/metrics"))

	// The label values an instance can have, where the code has a fixed
	// set (internal/metriclabel, apiguard.Reason and the gateway's own
	// reasons, as in cardinality_test.go); for other labels, the values
	// this test's traffic produced.
	fixed := map[string][]string{
		"status": metriclabel.Statuses(),
		"method": append(slices.Clone(metriclabel.Methods), metriclabel.Other),
		"reason": append([]string{"", "bad_path", "bad_request", "bad_auth_headers", "no_route", "no_upstream"}, reasonLabels...),
	}
	// Target labels: Prometheus adds them at scrape time.
	targetLabels := []string{"job", "instance"}

	for _, q := range monitoringQueries(t) {
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: found no metric name in %q", q.where, q.expr)
		}
		var labels []string // of the metrics the query uses
		for _, n := range names {
			if all[n] == nil {
				t.Errorf("%s: metric %s is not exported by serve or gateway", q.where, n)
			}
			for l := range all[n] {
				labels = append(labels, l)
			}
		}
		for _, m := range promGrouping.FindAllStringSubmatch(q.expr, -1) {
			list := m[0][strings.IndexByte(m[0], '(')+1 : len(m[0])-1]
			for _, l := range strings.Split(list, ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s (%s) names label %q, which none of %q has", q.where, m[1], list, l, names)
				}
			}
		}
		for _, sel := range promSelector.FindAllStringSubmatch(q.expr, -1) {
			name := sel[1]
			for _, part := range splitMatchers(sel[2]) {
				mm := promMatcher.FindStringSubmatch(part)
				if mm == nil {
					t.Errorf("%s: cannot read the label matcher %q of %s", q.where, part, name)
					continue
				}
				label, op := mm[1], mm[2]
				value, err := strconv.Unquote(mm[3])
				if err != nil {
					t.Errorf("%s: label matcher %q: %v", q.where, part, err)
					continue
				}
				if slices.Contains(targetLabels, label) {
					continue
				}
				seen, ok := all[name][label]
				if !ok {
					t.Errorf("%s: %s has no label %q (it has %q)", q.where, name, label, sortedKeys(all[name]))
					continue
				}
				if strings.Contains(value, "$") {
					continue // a dashboard variable
				}
				allowed := fixed[label]
				if allowed == nil {
					allowed = seen
				}
				switch op {
				case "=", "!=":
					if !slices.Contains(allowed, value) {
						t.Errorf("%s: %s{%s}: %q is not a value %s can have; it has %q", q.where, name, part, value, label, allowed)
					}
				default:
					re, err := regexp.Compile("^(?:" + value + ")$")
					if err != nil {
						t.Errorf("%s: %s{%s}: %v", q.where, name, part, err)
						continue
					}
					if !slices.ContainsFunc(allowed, re.MatchString) {
						t.Errorf("%s: %s{%s}: %q matches no value %s can have (%q)", q.where, name, part, value, label, allowed)
					}
				}
			}
		}
	}
}

// splitMatchers splits the inside of {…} at the commas between matchers,
// not those inside a quoted value.
func splitMatchers(s string) []string {
	var out []string
	start, inString := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inString:
			i++
		case c == '"':
			inString = !inString
		case c == ',' && !inString:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if rest := s[start:]; strings.TrimSpace(rest) != "" {
		out = append(out, rest)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
