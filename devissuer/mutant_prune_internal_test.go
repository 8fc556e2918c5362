package devissuer

import (
	"testing"
	"time"
)

// TestPruneOncePerMinute: expired state is forgotten at most once a minute,
// and a full minute after the last prune is time for the next one.
func TestPruneOncePerMinute(t *testing.T) {
	iss, err := New(Config{Issuer: "http://127.0.0.1:9/oauth2/default",
		Clients: []Client{{ID: "app", Secret: "app-secret", RedirectURIs: []string{"http://127.0.0.1:9/cb"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.lastPrune = t0
	iss.revoked["AT.expired"] = t0
	iss.pruneLocked(t0.Add(time.Minute - time.Nanosecond))
	if _, ok := iss.revoked["AT.expired"]; !ok {
		t.Error("pruned within a minute of the last prune")
	}
	iss.pruneLocked(t0.Add(time.Minute))
	if _, ok := iss.revoked["AT.expired"]; ok || !iss.lastPrune.Equal(t0.Add(time.Minute)) {
		t.Errorf("a minute after the last prune: expired revocation kept %v, last prune %v; want it pruned then", ok, iss.lastPrune)
	}
}
