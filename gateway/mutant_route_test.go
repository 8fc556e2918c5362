package gateway

import (
	"strings"
	"testing"
)

// TestShadowedRoutes: a later route on the same path is refused as never
// matching only when an earlier one takes every method it takes: all
// methods cover any list, a list covers a list it contains; a later route
// taking all methods still gets those the earlier list leaves out.
func TestShadowedRoutes(t *testing.T) {
	for _, tt := range []struct {
		first, later []string
		shadowed     bool
	}{
		{nil, nil, true},
		{nil, []string{"GET"}, true},
		{[]string{"GET", "POST"}, []string{"POST"}, true},
		{[]string{"GET"}, []string{"GET", "POST"}, false},
		{[]string{"GET"}, []string{"POST"}, false},
		{[]string{"GET"}, nil, false},
	} {
		rules := Rules{Upstream: "http://127.0.0.1:9000", Routes: []Route{
			{Path: "/a/**", Methods: tt.first},
			{Path: "/a/**", Methods: tt.later},
		}}
		err := rules.Validate()
		if got := err != nil && strings.Contains(err.Error(), "never matches"); got != tt.shadowed || err != nil && !got {
			t.Errorf("methods %v then %v: got error %v, want shadowed %v", tt.first, tt.later, err, tt.shadowed)
		}
	}
}
