package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// failingIssuer is the development issuer whose introspection endpoint
// answers 503 while failing is set.
type failingIssuer struct {
	*countingIssuer
	failing atomic.Bool
}

func newFailingIssuer(t *testing.T) *failingIssuer {
	t.Helper()
	fi := &failingIssuer{countingIssuer: &countingIssuer{}}
	fi.serve(t, func(w http.ResponseWriter, _ *http.Request) bool {
		if fi.failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	return fi
}

// metricValue is the value of the sample of name with exactly labels on
// the /metrics page at url, and whether there is one.
func metricValue(t *testing.T, url, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	for _, s := range scrape(t, url) {
		if s.name != name || len(s.labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && s.labels[k] == v
		}
		if !match {
			continue
		}
		f := strings.Fields(s.line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", s.line, err)
		}
		return v, true
	}
	return 0, false
}

// wantMetric fails the test unless name{labels} is want on the page at url.
func wantMetric(t *testing.T, url, name string, labels map[string]string, want float64, when string) {
	t.Helper()
	got, ok := metricValue(t, url, name, labels)
	switch {
	case !ok:
		t.Errorf("%s: %s%v is not exported, want %v", when, name, labels, want)
	case got != want:
		t.Errorf("%s: %s%v = %v, want %v", when, name, labels, got, want)
	}
}

// TestServeDependencyMetrics: serve with introspection (always) and login
// sessions, both in a real redis-server, counts its calls to the
// development issuer's introspection endpoint by issuer and outcome (an
// active JWT and an unknown opaque token are ok, a 503 is an error; cache
// hits make no call), and failed Redis commands by use: none while Redis
// answers (a missing key, redis.Nil, is no error), some for shared_state
// and sessions once it is stopped.
func TestServeDependencyMetrics(t *testing.T) {
	fi := newFailingIssuer(t)
	redisServer := redistest.New(t)
	s := startServe(t, stateEnv(fi.countingIssuer, redisServer.URL()+"/0", "APIGUARD_INTROSPECTION", "always",
		"APIGUARD_INTROSPECTION_CACHE_TTL", "5m", "APIGUARD_LOG_LEVEL", "error"))
	metrics := s.url + "/metrics"
	ok := map[string]string{"issuer": defaultIssuerName, "outcome": "ok"}
	failed := map[string]string{"issuer": defaultIssuerName, "outcome": "error"}
	sessions, shared := map[string]string{"use": redisUseSessions}, map[string]string{"use": redisUseSharedState}
	const requests, redisErrors = "apiguard_introspection_requests_total", "apiguard_redis_errors_total"

	wantMetric(t, metrics, requests, ok, 0, "at start")
	wantMetric(t, metrics, requests, failed, 0, "at start")
	wantMetric(t, metrics, redisErrors, sessions, 0, "at start")
	wantMetric(t, metrics, redisErrors, shared, 0, "at start")

	token, _ := fi.token(t, "")
	for i := range 3 {
		if r := bearerGet(t, s.url, token); r.status != http.StatusOK {
			t.Fatalf("active token, request %d: got %d %s, want 200", i+1, r.status, r.raw)
		}
	}
	for i := range 2 {
		if r := bearerGet(t, s.url, "opaque-not-issued-by-anyone"); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown opaque token, request %d: got %d %s, want 401", i+1, r.status, r.raw)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("/login with Redis up: got %d, want 302", res.StatusCode)
	}
	if n := fi.introspect.Load(); n != 2 {
		t.Fatalf("the issuer was asked %d times, want 2 (one per token, then its cached result)", n)
	}
	wantMetric(t, metrics, requests, ok, 2, "an active and an inactive token, each checked again from the cache")
	wantMetric(t, metrics, requests, failed, 0, "an active and an inactive token")
	if got, ok := metricValue(t, metrics, "apiguard_introspection_request_duration_seconds_count", map[string]string{"issuer": defaultIssuerName}); got != 2 || !ok {
		t.Errorf("introspection durations observed: %v (exported %v), want 2", got, ok)
	}
	wantMetric(t, metrics, redisErrors, sessions, 0, "Redis up, a login started")
	wantMetric(t, metrics, redisErrors, shared, 0, "Redis up, cache misses (redis.Nil) and hits")

	fi.failing.Store(true)
	if r := bearerGet(t, s.url, "another-opaque-token"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("introspection endpoint answering 503: got %d %s, want 503", r.status, r.raw)
	}
	wantMetric(t, metrics, requests, failed, 1, "the introspection endpoint answered 503")
	wantMetric(t, metrics, requests, ok, 2, "the introspection endpoint answered 503")
	fi.failing.Store(false)

	redisServer.Stop()
	fresh, _ := fi.token(t, "")
	if r := bearerGet(t, s.url, fresh); r.status != http.StatusOK {
		t.Fatalf("Redis down, valid token: got %d %s, want 200 (the issuer is asked)", r.status, r.raw)
	}
	wantMetric(t, metrics, requests, ok, 3, "Redis down, the issuer asked")
	wantMetric(t, metrics, redisErrors, shared, 2, "Redis down, the introspection cache read and write")
	wantMetric(t, metrics, redisErrors, sessions, 0, "Redis down, no login yet")
	res, err = noRedirect.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/login with Redis down: got %d, want 503", res.StatusCode)
	}
	wantMetric(t, metrics, redisErrors, sessions, 1, "Redis down, /login (storing its session)")
}

// TestRedisErrorHook: the hook counts the failed commands of a client to a
// real redis-server, alone and in a pipeline, and not a missing key
// (redis.Nil), a caller that gave up, or the handshake's CLIENT SETINFO
// that redis-server before 7.2 refuses and go-redis ignores.
func TestRedisErrorHook(t *testing.T) {
	redisServer := redistest.New(t)
	client, err := session.NewRedisClient(redisServer.URL() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	reg := prometheus.NewRegistry()
	client.AddHook(newVerifierMetrics(reg).redisHook(redisUseSharedState))
	count := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "apiguard_redis_errors_total" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no apiguard_redis_errors_total series")
		return 0
	}
	ctx := context.Background()

	if err := client.Get(ctx, "no-such-key").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v, want redis.Nil", err)
	}
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", time.Minute)
		p.Get(ctx, "other-missing-key")
		return nil
	}); !errors.Is(err, redis.Nil) {
		t.Fatalf("pipeline: %v, want redis.Nil", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := client.Get(canceled, "k").Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("GET with a canceled context: %v, want context.Canceled", err)
	}
	if n := count(); n != 0 {
		t.Errorf("Redis up: %v errors counted, want 0", n)
	}
	// A server error reply is an error.
	if err := client.Incr(ctx, "k").Err(); err == nil {
		t.Fatal("INCR of a string: no error")
	}
	if n := count(); n != 1 {
		t.Errorf("an error reply: %v errors counted, want 1", n)
	}

	redisServer.Stop()
	if err := client.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET with Redis stopped: no error")
	}
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", time.Minute)
		p.Get(ctx, "k")
		return nil
	}); err == nil {
		t.Fatal("pipeline with Redis stopped: no error")
	}
	if n := count(); n != 4 {
		t.Errorf("Redis stopped: %v errors counted, want 4 (1 before, a GET and a pipeline of 2)", n)
	}
}

// TestGatewayDependencyMetrics: the gateway, introspecting (always) with its
// cache in a real redis-server, counts its calls to the introspection
// endpoint and the failed commands of its shared-state client.
func TestGatewayDependencyMetrics(t *testing.T) {
	fi := newFailingIssuer(t)
	up, _ := newRecordingUpstream(t)
	redisServer := redistest.New(t)
	gw := startStateGateway(t, stateGatewayFile(t, fi.url, up.URL, "introspection: always\nintrospection_cache_ttl: 5m\n"),
		map[string]string{"APIGUARD_INTROSPECTION_CLIENT_ID": stateClient, "OKTA_CLIENT_SECRET": stateSecret,
			"APIGUARD_REDIS_URL": redisServer.URL() + "/0", "APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-gateway",
			"APIGUARD_LOG_LEVEL": "error"})
	metrics := gw + "/metrics"
	ok := map[string]string{"issuer": defaultIssuerName, "outcome": "ok"}
	failed := map[string]string{"issuer": defaultIssuerName, "outcome": "error"}
	shared := map[string]string{"use": redisUseSharedState}
	const requests, redisErrors = "apiguard_introspection_requests_total", "apiguard_redis_errors_total"
	bearer := func(token string, want int) {
		t.Helper()
		if r := do(t, http.MethodGet, gw+"/orders/1", map[string]string{"Authorization": "Bearer " + token}); r.status != want {
			t.Fatalf("GET /orders/1: got %d %s, want %d", r.status, r.raw, want)
		}
	}

	token, _ := fi.token(t, "")
	bearer(token, http.StatusOK)
	bearer(token, http.StatusOK) // from the cache
	wantMetric(t, metrics, requests, ok, 1, "one token checked twice")
	wantMetric(t, metrics, requests, failed, 0, "one token checked twice")
	wantMetric(t, metrics, redisErrors, shared, 0, "Redis up")
	if _, exported := metricValue(t, metrics, redisErrors, map[string]string{"use": redisUseSessions}); exported {
		t.Errorf("the gateway has no login sessions, but exports %s{use=sessions}", redisErrors)
	}

	fi.failing.Store(true)
	other, _ := fi.token(t, "")
	bearer(other, http.StatusServiceUnavailable)
	wantMetric(t, metrics, requests, failed, 1, "the introspection endpoint answered 503")
	fi.failing.Store(false)

	redisServer.Stop()
	fresh, _ := fi.token(t, "")
	bearer(fresh, http.StatusOK)
	wantMetric(t, metrics, requests, ok, 2, "Redis down, the issuer asked")
	wantMetric(t, metrics, redisErrors, shared, 2, "Redis down, the introspection cache read and write")
}
