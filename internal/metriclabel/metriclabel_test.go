package metriclabel

import (
	"slices"
	"strings"
	"testing"
)

func TestMethod(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"GET", "GET"},
		{"PATCH", "PATCH"},
		{"OPTIONS", "OPTIONS"},
		{"get", Other},
		{"PROPFIND", Other},
		{"", Other},
		{strings.Repeat("X", 8192), Other},
	} {
		t.Run(tt.in[:min(len(tt.in), 16)], func(t *testing.T) {
			if got := Method(tt.in); got != tt.want {
				t.Errorf("got Method(%.16q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		in   int
		want string
	}{
		{200, "200"},
		{401, "401"},
		{418, "418"},
		{503, "503"},
		{299, "2xx"},
		{599, "5xx"},
		{199, "1xx"},
		{0, Other},
		{99, Other},
		{600, Other},
		{999, Other},
	} {
		t.Run(Status(tt.in), func(t *testing.T) {
			if got := Status(tt.in); got != tt.want {
				t.Errorf("got Status(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestStatusesIsTheWholeRange checks that every code an HTTP server can
// send maps into Statuses, which is therefore the whole label set.
func TestStatusesIsTheWholeRange(t *testing.T) {
	all := Statuses()
	for code := 0; code <= 1000; code++ {
		if got := Status(code); !slices.Contains(all, got) {
			t.Fatalf("got Status(%d) = %q, not in Statuses()", code, got)
		}
	}
	if n := len(all); n > 80 {
		t.Errorf("got %d status label values, want at most 80", n)
	}
}
