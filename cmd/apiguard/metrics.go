package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/apiguard/apiguard/introspect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
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
// duration, the keys in the current set and the time of the last
// successful fetch, each by issuer. The issuer label's values are the
// configured issuers' names only ("default" for OKTA_ISSUER): each
// verifier gets its own OnFetch with its name fixed (onFetch), so a
// token's iss never becomes a label.
//
// They also count what the token check depends on besides the keys:
// calls to the introspection endpoint by issuer and outcome
// (apiguard_introspection_*, onIntrospection) and failed Redis commands by
// use (apiguard_redis_errors_total, redisHook), so that a 503 unavailable
// can be told apart, and Redis errors apiguard works around (a failed
// introspection cache read asks the issuer) are seen at all.
type verifierMetrics struct {
	reg           *prometheus.Registry
	fetches       *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	lastSuccess   *prometheus.GaugeVec
	introRequests *prometheus.CounterVec
	introDuration *prometheus.HistogramVec
	redisErrors   *prometheus.CounterVec
}

// Values of apiguard_redis_errors_total's use label: the login session
// store (serve), and the introspection cache and DPoP replay cache, which
// share one client (shared_state).
const (
	redisUseSessions    = "sessions"
	redisUseSharedState = "shared_state"
)

// newRegistry is a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newVerifierMetrics registers the verifier's metrics in reg; give each
// issuer's verifier onFetch(its name) as its OnFetch, then call watchKeys.
func newVerifierMetrics(reg *prometheus.Registry) *verifierMetrics {
	m := &verifierMetrics{
		reg: reg,
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_jwks_fetches_total",
			Help: "Attempts to fetch an issuer's signing keys, by issuer (its configured name), outcome (ok or error) and trigger (age or unknown_kid).",
		}, []string{"issuer", "outcome", "trigger"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiguard_jwks_fetch_duration_seconds",
			Help: "Duration of signing key fetches (discovery included), by issuer.",
		}, []string{"issuer"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiguard_jwks_last_success_timestamp_seconds",
			Help: "Unix time of the last successful fetch of an issuer's signing keys, by issuer (absent until the first).",
		}, []string{"issuer"}),
		introRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_introspection_requests_total",
			Help: "Calls to an issuer's introspection endpoint (cache hits make none), by issuer (its configured name) and outcome (ok: a JSON result, active or not; error: unreachable, timed out or another answer).",
		}, []string{"issuer", "outcome"}),
		introDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiguard_introspection_request_duration_seconds",
			Help: "Duration of calls to an issuer's introspection endpoint, by issuer.",
		}, []string{"issuer"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiguard_redis_errors_total",
			Help: "Redis commands that failed (a missing key is no error), by use: sessions (login sessions) or shared_state (introspection cache and DPoP replay cache).",
		}, []string{"use"}),
	}
	reg.MustRegister(m.fetches, m.fetchDuration, m.lastSuccess, m.introRequests, m.introDuration, m.redisErrors)
	return m
}

// onIntrospection returns the introspect.Config.OnRequest of the issuer
// called name, a configured name, and starts its series at zero.
func (m *verifierMetrics) onIntrospection(name string) func(introspect.RequestEvent) {
	ok, failed := m.introRequests.WithLabelValues(name, "ok"), m.introRequests.WithLabelValues(name, "error")
	duration := m.introDuration.WithLabelValues(name)
	return func(e introspect.RequestEvent) {
		if e.Err != nil {
			failed.Inc()
		} else {
			ok.Inc()
		}
		duration.Observe(e.Duration.Seconds())
	}
}

// redisHook returns the hook that counts the failed commands of a Redis
// client used for use (redisUseSessions or redisUseSharedState), and
// starts that series at zero.
func (m *verifierMetrics) redisHook(use string) redis.Hook {
	return redisErrorHook{m.redisErrors.WithLabelValues(use)}
}

// redisErrorHook counts failed Redis commands. Not errors: redis.Nil (no
// such key), a caller that gave up (context.Canceled: the client went
// away), and the CLIENT commands of the connection handshake (CLIENT
// SETINFO, unknown before redis-server 7.2), whose failure go-redis
// ignores; when a handshake fails for good, the command that opened the
// connection fails and counts.
type redisErrorHook struct{ errors prometheus.Counter }

func (h redisErrorHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisErrorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(cmd, err)
		return err
	}
}

func (h redisErrorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.count(cmd, cmd.Err())
		}
		return err
	}
}

func (h redisErrorHook) count(cmd redis.Cmder, err error) {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
	case cmd.Name() == "client":
	default:
		h.errors.Inc()
	}
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

// watchKeys exports the key count of each named verifier and starts its
// fetch series at zero, so rates and alerts see an issuer before its
// first fetch. The last-success gauge is left absent until a fetch
// succeeds: a zero would read as keys fifty years stale (an issuer that
// never loaded keys is apiguard_jwks_keys == 0).
func (m *verifierMetrics) watchKeys(vs map[string]*apiguard.Verifier) {
	for name, v := range vs {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "apiguard_jwks_keys",
			Help:        "Signing keys in an issuer's current key set, by issuer.",
			ConstLabels: prometheus.Labels{"issuer": name},
		}, func() float64 { return float64(v.KeyCount()) }))
		for _, outcome := range []string{"ok", "error"} {
			for _, trigger := range []string{"age", "unknown_kid"} {
				m.fetches.WithLabelValues(name, outcome, trigger)
			}
		}
		m.fetchDuration.WithLabelValues(name)
	}
}

// onFetch returns the OnFetch of the issuer called name, a configured
// name: the label comes from the configuration, never from a token.
func (m *verifierMetrics) onFetch(name string) func(apiguard.FetchEvent) {
	fetches := map[[2]bool]prometheus.Counter{}
	for _, failed := range []bool{false, true} {
		for _, forced := range []bool{false, true} {
			outcome, trigger := "ok", "age"
			if failed {
				outcome = "error"
			}
			if forced {
				trigger = "unknown_kid"
			}
			fetches[[2]bool{failed, forced}] = m.fetches.WithLabelValues(name, outcome, trigger)
		}
	}
	duration := m.fetchDuration.WithLabelValues(name)
	lastSuccess := m.lastSuccess.WithLabelValues(name)
	return func(e apiguard.FetchEvent) {
		fetches[[2]bool{e.Err != nil, e.Forced}].Inc()
		duration.Observe(e.Duration.Seconds())
		if e.Err == nil {
			lastSuccess.SetToCurrentTime()
		}
	}
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
