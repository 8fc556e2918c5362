package apiguard

import "testing"

// TestIssuersCacheBounds: the cache several issuers share is bounded by the
// sum of their counts and of their byte bounds (each CacheBytes, or its
// default of CacheSize × cacheEntryBytes), so configuring several issuers
// neither loosens nor tightens what each asked for.
func TestIssuersCacheBounds(t *testing.T) {
	m, err := NewIssuers(
		Issuer{Config: Config{Name: "a", Issuer: "https://a.example", CacheSize: 10, CacheBytes: 1000}},
		Issuer{Config: Config{Name: "b", Issuer: "https://b.example", CacheSize: 20}},
		Issuer{Config: Config{Name: "c", Issuer: "https://c.example", DisableCache: true}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if m.cache == nil {
		t.Fatal("no shared cache")
	}
	if got, want := m.cache.size, int64(30); got != want {
		t.Errorf("shared cache holds %d entries, want %d", got, want)
	}
	if got, want := m.cache.maxBytes, int64(1000+20*cacheEntryBytes); got != want {
		t.Errorf("shared cache bound is %d bytes, want %d", got, want)
	}
}
