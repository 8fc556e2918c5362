package apiguard

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unsafe"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestCachedClaimsPayload checks that claims kept in the cache keep no
// decoded payload of their own (they decode it from the cached token when
// asked), and that MarshalJSON, Claim, Map and RequireClaim still give the
// verified payload, as for claims that are not cached.
func TestCachedClaimsPayload(t *testing.T) {
	iss := testissuer.New(t)
	ctx := context.Background()
	claims := iss.Claims(time.Now())
	claims["team"] = "blue"
	tok := iss.Sign(t, "eddsa", claims, nil)
	cached, err := New(Config{Issuer: iss.URL})
	if err != nil {
		t.Fatal(err)
	}
	uncached, err := New(Config{Issuer: iss.URL, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cached.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cached.Verify(ctx, tok); again != c {
		t.Fatal("the token was not cached")
	}
	if !c.rawB64 {
		t.Error("cached claims keep a decoded payload of their own")
	}
	u, err := uncached.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if u.rawB64 {
		t.Error("claims that are not cached have no cached token to decode from")
	}
	for name, got := range map[string]*Claims{"cached": c, "uncached": u} {
		b, err := got.MarshalJSON()
		var m map[string]any
		if err != nil || json.Unmarshal(b, &m) != nil || m["team"] != "blue" || m["sub"] != claims["sub"] {
			t.Errorf("%s: MarshalJSON = %s, %v; want the payload", name, b, err)
		}
		if v, ok := got.Claim("team"); !ok || v != "blue" {
			t.Errorf("%s: Claim(team) = %v, %v", name, v, ok)
		}
		if got.Map()["team"] != "blue" {
			t.Errorf("%s: Map() has no team", name)
		}
		if err := RequireClaim("team", "blue")(got); err != nil {
			t.Errorf("%s: RequireClaim: %v", name, err)
		}
	}
	if s := unsafe.Sizeof(Claims{}); s > 352 {
		t.Errorf("Claims takes %d bytes, past its 352-byte size class", s)
	}
}
