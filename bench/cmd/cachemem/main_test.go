package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestMeasure fills a small cache and checks that the growth it reports is
// that of a cache holding every token: a cache that kept nothing would
// report about zero bytes per entry, one that kept the tokens' copies
// several times more than a token's size.
func TestMeasure(t *testing.T) {
	const n = 3000
	r, err := measure(n, "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if r.BytesPerEntry < 200 || r.BytesPerEntry > 8*r.TokenBytes+2048 {
		t.Errorf("got %.0f bytes per entry for %.0f-byte tokens, want between 200 and %.0f", r.BytesPerEntry, r.TokenBytes, 8*r.TokenBytes+2048)
	}
	// Every token cached, also by a cache that admits a token on its
	// second sighting: a pass after the fill hits. A hit allocates nothing,
	// a verification a few dozen times (allocations, unlike time, do not
	// depend on what else the machine runs).
	if r.HitAllocs > 1 {
		t.Errorf("after the fill: %.1f allocations per token, want cache hits (none)", r.HitAllocs)
	}
	if r.RSSAfter <= 0 || r.RSSBefore <= 0 {
		t.Errorf("got VmRSS %d before and %d after, want both positive", r.RSSBefore, r.RSSAfter)
	}
}

func TestRunPrints(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 100, "ES256"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"heap bytes per entry:", "VmRSS with 100 cached:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
}
