package main

import (
	"net/http"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus metrics of `apiguard serve`, in a registry of
// their own (no global state). Every label value comes from a fixed set, so
// requests cannot add series: route is a pattern of serve's mux or
// "unmatched", method one of metriclabel.Methods or "other", status a code
// net/http knows, a class such as "5xx", or "other", and reason a label of
// apiguard.Reason.
type metrics struct {
	*verifierMetrics
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refusals *prometheus.CounterVec
}

// verifierMetrics are the verifier's metrics (apiguard_jwks_*), the same
// in serve and gateway: key fetches by outcome and trigger, their
// duration, and the keys in the current set.
type verifierMetrics struct {
	reg           *prometheus.Registry
	fetches       *prometheus.CounterVec
	fetchDuration prometheus.Histogram
}

// newRegistry is a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newVerifierMetrics registers the verifier's metrics in reg; give the
// verifier observeFetch as its OnFetch, then call watchKeys.
func newVerifierMetrics(reg *prometheus.Registry) *verifierMetrics {
	m := &verifierMetrics{
		reg: reg,
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_jwks_fetches_total",
			Help: "Attempts to fetch the issuer's signing keys, by outcome (ok or error) and trigger (age or unknown_kid).",
		}, []string{"outcome", "trigger"}),
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "apiguard_jwks_fetch_duration_seconds",
			Help: "Duration of signing key fetches (discovery included).",
		}),
	}
	reg.MustRegister(m.fetches, m.fetchDuration)
	return m
}

func newMetrics() *metrics {
	reg := newRegistry()
	m := &metrics{
		verifierMetrics: newVerifierMetrics(reg),
		reg:             reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_http_requests_total",
			Help: "HTTP requests by route pattern (unmatched for no route), method (other for a non-standard one) and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiguard_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_token_refusals_total",
			Help: "Requests refused by the token check, by reason (expired, audience, signature, keys_unavailable, no_token, forbidden, …).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.refusals)
	return m
}

// watchKeys exports the verifier's key count.
func (m *verifierMetrics) watchKeys(v *apiguard.Verifier) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "apiguard_jwks_keys",
		Help: "Signing keys in the current key set.",
	}, func() float64 { return float64(v.KeyCount()) }))
}

func (m *verifierMetrics) observeFetch(e apiguard.FetchEvent) {
	outcome, trigger := "ok", "age"
	if e.Err != nil {
		outcome = "error"
	}
	if e.Forced {
		trigger = "unknown_kid"
	}
	m.fetches.WithLabelValues(outcome, trigger).Inc()
	m.fetchDuration.Observe(e.Duration.Seconds())
}

// observeRequest counts a request; route must be a pattern of serve's mux
// or "unmatched", never the request's path.
func (m *metrics) observeRequest(route, method string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, metriclabel.Method(method), metriclabel.Status(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
