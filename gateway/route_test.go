package gateway_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

func TestRulesValidateErrors(t *testing.T) {
	const head = "upstream: http://127.0.0.1:9000\nroutes:\n"
	tests := []struct {
		name   string
		config string
		route  int      // index of the route a *RouteError names, or -1 for none
		want   []string // every one must appear in the error
		is     error    // when set, the error must wrap it
	}{
		{"no routes", "upstream: http://127.0.0.1:9000\n", -1, []string{"routes", "at least one"}, nil},
		{"bad glob", head + "  - path: /a\n  - path: /b*\n", 1, []string{"routes[1] (/b*)", "bad glob"}, nil},
		{"relative glob", head + "  - path: a/b\n", 0, []string{"routes[0]", "start with /"}, nil},
		{"missing path", head + "  - public: true\n", 0, []string{"routes[0]", "path is required"}, nil},
		{"unknown method", head + "  - path: /a\n    methods: [GETT]\n", 0, []string{"unknown method", "GETT"}, nil},
		{"public with scopes", head + "  - path: /a\n    public: true\n    scopes: [x]\n", 0, []string{"routes[0]", "public"}, nil},
		{"public with claims", head + "  - path: /a\n    public: true\n    claims: {cid: [x]}\n", 0, []string{"public"}, nil},
		{"claim without values", head + "  - path: /a\n    claims: {cid: []}\n", 0, []string{"claims.cid"}, nil},
		{"scope with space", head + "  - path: /a\n    scopes: [\"a b\"]\n", 0, []string{"bad scope"}, nil},
		{"method_override with methods", head + "  - path: /a\n    methods: [POST]\n    method_override: true\n", 0, []string{"method_override"}, nil},
		{"bad upstream scheme", "upstream: ftp://x\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrScheme},
		{"upstream without host", "upstream: http://\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrNotAbsolute},
		{"upstream with query", "upstream: http://x/?a=1\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrQuery},
		{"upstream with empty query", "upstream: http://x/?\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrQuery},
		{"upstream with fragment", "upstream: http://x/#a\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrFragment},
		{"upstream with credentials", "upstream: http://u:secret@x/\nroutes:\n  - path: /a\n", -1, []string{"upstream"}, urlcheck.ErrCredentials},
		{"bad route upstream", head + "  - path: /a\n    upstream: localhost:9000\n", 0, []string{"routes[0]", "upstream"}, urlcheck.ErrNotAbsolute},
		{"shadowed route", head + "  - path: /a/**\n  - path: /a/**\n    methods: [GET]\n", 1, []string{"routes[1]", "never matches"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, _ := parseConfig(t, tt.config)
			err := rules.Validate()
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("got error %q, which shows the upstream's password", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got error %q, want it to wrap %q", err, tt.is)
			}
			var re *gateway.RouteError
			switch {
			case tt.route < 0 && errors.As(err, &re):
				t.Errorf("got a RouteError for routes[%d], want none", re.Index)
			case tt.route >= 0 && !errors.As(err, &re):
				t.Errorf("got %T, want a *RouteError", err)
			case tt.route >= 0 && re.Index != tt.route:
				t.Errorf("got a RouteError for routes[%d], want routes[%d]", re.Index, tt.route)
			}
		})
	}
}

func TestRulesValidateAccepts(t *testing.T) {
	for _, config := range []string{
		// Same path, disjoint methods: both routes can match, so both are kept.
		"routes:\n  - path: /a/**\n    methods: [GET]\n  - path: /a/**\n    methods: [post]\n",
		// Plain http to any host: upstreams are internal services.
		"upstream: http://orders.internal:8080/v1\nroutes:\n  - path: /a\n    upstream: HTTPS://billing.internal/\n",
		// Decisions only: no upstream at all.
		"routes:\n  - path: /**\n",
	} {
		rules, _ := parseConfig(t, config)
		if err := rules.Validate(); err != nil {
			t.Errorf("%q: got %v, want no error", config, err)
		}
	}
}
