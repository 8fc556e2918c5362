package introspect_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/introspect"
)

// events records what Config.OnRequest receives.
type events struct {
	mu   sync.Mutex
	list []introspect.RequestEvent
}

func (e *events) add(ev introspect.RequestEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

// take returns the events since the last take.
func (e *events) take() []introspect.RequestEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	return out
}

// TestOnRequestOutcomes runs against the development issuer: OnRequest
// gets one event per call to its introspection endpoint (found by
// discovery), active for a valid token, not active and no error for an
// unknown one, and none for a result from the cache.
func TestOnRequestOutcomes(t *testing.T) {
	_, issuerURL := devIssuer(t)
	var got events
	v := newIntrospect(t, apiguard.Config{Issuer: issuerURL}, introspect.Config{
		ClientID: "0oa-dev", ClientSecret: "dev-secret-0123456789", Mode: introspect.Always,
		MaxCacheTTL: time.Minute, OnRequest: got.add})
	ctx := context.Background()
	endpoint := issuerURL + "/v1/introspect"

	token := devToken(t, issuerURL)
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	evs := got.take()
	if len(evs) != 1 || !evs[0].Active || evs[0].Err != nil || evs[0].Endpoint != endpoint || evs[0].Duration <= 0 {
		t.Fatalf("valid token: got events %+v, want one active, no error, at %s, with a duration", evs, endpoint)
	}
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("valid token again: %v", err)
	}
	if evs := got.take(); len(evs) != 0 {
		t.Errorf("a cached result: got events %+v, want none (no call to the issuer)", evs)
	}

	if _, err := v.Verify(ctx, "RT.not-issued"); !errors.Is(err, introspect.ErrInactive) {
		t.Fatalf("unknown token: got %v, want ErrInactive", err)
	}
	evs = got.take()
	if len(evs) != 1 || evs[0].Active || evs[0].Err != nil || evs[0].Endpoint != endpoint {
		t.Errorf("unknown token: got events %+v, want one not active, with no error (the call succeeded)", evs)
	}
}

// TestOnRequestErrors: an endpoint that refuses connections, and one that
// answers something other than a JSON result, are calls with an error: the
// UnavailableError the check returns.
func TestOnRequestErrors(t *testing.T) {
	_, issuerURL := devIssuer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>"))
	}))
	t.Cleanup(notJSON.Close)

	for _, endpoint := range []string{closed.URL + "/introspect", notJSON.URL + "/introspect"} {
		var got events
		v := newIntrospect(t, apiguard.Config{Issuer: issuerURL}, introspect.Config{
			ClientID: "0oa-dev", ClientSecret: "dev-secret-0123456789", Endpoint: endpoint, OnRequest: got.add})
		_, err := v.Verify(context.Background(), "opaque-token")
		var ue *apiguard.UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("%s: got %v, want an UnavailableError", endpoint, err)
		}
		evs := got.take()
		if len(evs) != 1 || evs[0].Active || evs[0].Endpoint != endpoint || !errors.Is(evs[0].Err, apiguard.ErrUnavailable) {
			t.Errorf("%s: got events %+v, want one with the error %v", endpoint, evs, err)
		}
	}
}
