// Package sharedstatetest makes sharedstate Stores on a real redis-server
// for tests and benchmarks: each with a client of its own, as an apiguard
// instance has, closed when the test ends.
//
//	srv := redistest.New(t)
//	a := sharedstatetest.New(t, srv.URL(), sharedstate.Config{})
//	b := sharedstatetest.New(t, srv.URL(), sharedstate.Config{}) // a second instance
package sharedstatetest

import (
	"testing"

	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/session"
)

// New returns a Store configured by cfg on a new client for the Redis at
// url (redis:// or rediss://, as session.NewRedisClient takes it); any
// cfg.Client is replaced. It fails the test when either cannot be made.
func New(t testing.TB, url string, cfg sharedstate.Config) *sharedstate.Store {
	t.Helper()
	client, err := session.NewRedisClient(url)
	if err != nil {
		t.Fatalf("sharedstatetest: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	cfg.Client = client
	s, err := sharedstate.New(cfg)
	if err != nil {
		t.Fatalf("sharedstatetest: %v", err)
	}
	return s
}
