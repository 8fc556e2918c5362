package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's collectors, all in the gateway's own registry.
// Every label value comes from a fixed set, so requests cannot add series:
// handler is proxy or auth, route a rule's name from the config or "",
// status a code net/http knows, a class such as "5xx" (an upstream may send
// any code) or "other", and reason one of the gateway's own labels or an
// apiguard.Reason label.
type metrics struct {
	requests  *prometheus.CounterVec
	upstream  *prometheus.HistogramVec
	observers sync.Map // route name → its upstream histogram

	// counters holds the request counters already looked up, so a request
	// finds its own without hashing four label values or formatting its
	// status (issue 16). Written copy-on-write under mu: the labels come
	// from fixed sets, so it stops growing after warm-up.
	mu       sync.Mutex
	counters atomic.Pointer[map[counterKey]prometheus.Counter]
}

// counterKey names one series of the requests counter.
type counterKey struct {
	handler, route, reason string
	status                 int
}

// observeUpstream records an upstream's time to response headers for a
// route, looking the route's histogram up in observers rather than hashing
// its label on every request.
func (m *metrics) observeUpstream(route string, d time.Duration) {
	o, ok := m.observers.Load(route)
	if !ok {
		o, _ = m.observers.LoadOrStore(route, m.upstream.WithLabelValues(route))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_gateway_requests_total",
			Help: "Requests by handler (proxy or auth), route name, status code (a class such as 5xx for a code net/http does not know) and refusal reason.",
		}, []string{"handler", "route", "status", "reason"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiguard_gateway_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to receiving its response headers, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.upstream} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("failed to register gateway metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) count(handler, route string, status int, reason string) {
	k := counterKey{handler, route, reason, status}
	if p := m.counters.Load(); p != nil {
		if c, ok := (*p)[k]; ok {
			c.Inc()
			return
		}
	}
	c := m.requests.WithLabelValues(handler, route, metriclabel.Status(status), reason)
	c.Inc()
	if http.StatusText(status) == "" {
		return // an unknown code shares its class's series: not worth a key each
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.counters.Load()
	next := make(map[counterKey]prometheus.Counter, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = c
	m.counters.Store(&next)
}

func lenOf(p *map[counterKey]prometheus.Counter) int {
	if p == nil {
		return 0
	}
	return len(*p)
}

// timedTransport observes upstream latency per route.
type timedTransport struct {
	next    http.RoundTripper
	metrics *metrics
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if d, ok := req.Context().Value(ctxKey{}).(*decision); ok && err == nil {
		t.metrics.observeUpstream(d.rule.name, time.Since(start))
	}
	return resp, err
}
