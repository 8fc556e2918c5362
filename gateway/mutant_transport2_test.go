package gateway

// Tests that kill the mutants gremlins left alive in metrics.go,
// transport.go past its response header loop, and transport_unix.go
// (issue 19, the run after mutant_transport_test.go's; see MUTATION.md).

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered sums the samples of a metric family in reg: a counter's values,
// or a histogram's observation counts.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsCountKeepsKnownCodes: count remembers the counter of each
// series whose status net/http knows, so the next request finds it without
// the label lookup (issue 16); a code net/http does not know shares its
// class's series and gets no key of its own, so an upstream's odd codes do
// not grow the map. Every request is counted either way.
func TestMetricsCountKeepsKnownCodes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	keys := func() map[counterKey]prometheus.Counter {
		if p := m.counters.Load(); p != nil {
			return *p
		}
		return nil
	}
	for range 2 {
		m.count("proxy", "r", http.StatusOK, "")
		m.count("proxy", "r", 299, "")
		m.count("proxy", "r", 599, "")
	}
	m.count("auth", "", http.StatusUnauthorized, "no_token")
	got := keys()
	for _, k := range []counterKey{{"proxy", "r", "", http.StatusOK}, {"auth", "", "no_token", http.StatusUnauthorized}} {
		if _, ok := got[k]; !ok {
			t.Errorf("no remembered counter for %+v (remembered %v)", k, got)
		}
	}
	if len(got) != 2 {
		t.Errorf("%d remembered counters, want 2 (200 and 401; 299 and 599 have none)", len(got))
	}
	if n := gathered(t, reg, "apiguard_gateway_requests_total"); n != 7 {
		t.Errorf("%v requests counted, want 7", n)
	}
}

// TestTimedTransportObservesAnswers: requests that ReverseProxy sends (here
// with a body, which serveDirect leaves to it) are timed when the upstream
// answers, and not when it could not be reached.
func TestTimedTransportObservesAnswers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name, upstream string
		status         int
		observed       float64
	}{{"answer", up.URL, http.StatusOK, 1}, {"unreachable", "http://" + closedAddr(t), http.StatusBadGateway, 0}} {
		g, ct := newDirectGateway(t, tc.upstream, Options{})
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("POST", "/x", strings.NewReader("body")))
		if rec.Code != tc.status || ct.n.Load() != 1 {
			t.Fatalf("%s: status %d through ReverseProxy %d times, want %d once", tc.name, rec.Code, ct.n.Load(), tc.status)
		}
		if n := gathered(t, g.Registry(), "apiguard_gateway_upstream_duration_seconds"); n != tc.observed {
			t.Errorf("%s: %v upstream times observed, want %v", tc.name, n, tc.observed)
		}
	}
}
