package gateway_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/gateway"
)

// splitIdentity is what an upstream does with a list header, following the
// doc comment of the header names: split on sep, percent-decode each part.
func splitIdentity(t *testing.T, value, sep string) []string {
	t.Helper()
	var out []string
	for part := range strings.SplitSeq(value, sep) {
		name, err := url.PathUnescape(part)
		if err != nil {
			t.Fatalf("part %q of %q does not percent-decode: %v", part, value, err)
		}
		out = append(out, name)
	}
	return out
}

// TestIdentityHeadersUnambiguous sends tokens whose subject, client id,
// scopes and groups hold separators, '%', '+', quotes, control characters
// and non-ASCII text through the gateway to an echo upstream, and checks
// that splitting each header and percent-decoding the parts yields exactly
// the names in the token: the group "Sales, Admins" must not read as the
// two groups "Sales" and "Admins" (issue 12, finding 5).
func TestIdentityHeadersUnambiguous(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /**\n", map[string]string{"up": up.URL})

	tests := []struct {
		name          string
		sub, cid      string
		scopes        []string
		groups        []string
		wantGroupsHdr string // the header as sent, when the test pins it
	}{
		{name: "plain names are sent as they are", sub: "alice@example.com", cid: "0oa-app_1.x~y",
			scopes: []string{"openid", "api:read", "https://api.example.com/orders"}, groups: []string{"Everyone", "Ops"},
			wantGroupsHdr: "Everyone,Ops"},
		{name: "a comma in a group", sub: "alice", cid: "c", scopes: []string{"read"},
			groups: []string{"Sales, Admins"}, wantGroupsHdr: "Sales%2C%20Admins"},
		{name: "a comma at the ends", sub: "alice", cid: "c", scopes: []string{"read"},
			groups: []string{",Admins", "Admins,", ","}, wantGroupsHdr: "%2CAdmins,Admins%2C,%2C"},
		{name: "a space in a scope", sub: "alice", cid: "c", scopes: []string{"read admin", " ", "write"}, groups: []string{"g"}},
		{name: "percent signs are not decoded twice", sub: "100%", cid: "%41", scopes: []string{"%20", "%"},
			groups: []string{"Sales%2C%20Admins", "%2", "%%"}, wantGroupsHdr: "Sales%252C%2520Admins,%252,%25%25"},
		{name: "plus is not a space", sub: "a+b", cid: "c+", scopes: []string{"a+b"}, groups: []string{"a+b", "a b"},
			wantGroupsHdr: "a%2Bb,a%20b"},
		{name: "control characters", sub: "alice\r\nX-Auth-Groups: Admins", cid: "c\x00d", scopes: []string{"re\tad", "\x7f"},
			groups: []string{"a\nb", "\x01"}},
		{name: "quotes and backslashes", sub: `"alice"`, cid: `c\`, scopes: []string{`"read"`}, groups: []string{`"Sales, Admins"`, `a\,b`}},
		{name: "non-ASCII text", sub: "Zoë", cid: "клиент", scopes: []string{"lire:données"}, groups: []string{"Ventes, Europe", "日本"}},
		{name: "an empty group", sub: "alice", cid: "c", scopes: []string{"read"}, groups: []string{"", "Admins"},
			wantGroupsHdr: ",Admins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := ti.token(t, map[string]any{"sub": tc.sub, "cid": tc.cid, "scp": tc.scopes, "groups": tc.groups})
			resp := f.do(t, http.MethodGet, "/x", token, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200", resp.StatusCode)
			}
			var got echo
			decode(t, resp, &got)
			h := got.Header
			for _, k := range []string{gateway.HeaderSubject, gateway.HeaderClientID, gateway.HeaderScopes, gateway.HeaderGroups} {
				if vs := h.Values(k); len(vs) != 1 {
					t.Fatalf("upstream got %d %s headers %q, want 1", len(vs), k, vs)
				}
			}
			if got := splitIdentity(t, h.Get(gateway.HeaderSubject), "\x00"); !slices.Equal(got, []string{tc.sub}) {
				t.Errorf("decoded %s: got %q, want %q (header %q)", gateway.HeaderSubject, got, tc.sub, h.Get(gateway.HeaderSubject))
			}
			if got := splitIdentity(t, h.Get(gateway.HeaderClientID), "\x00"); !slices.Equal(got, []string{tc.cid}) {
				t.Errorf("decoded %s: got %q, want %q (header %q)", gateway.HeaderClientID, got, tc.cid, h.Get(gateway.HeaderClientID))
			}
			if got := splitIdentity(t, h.Get(gateway.HeaderScopes), " "); !slices.Equal(got, tc.scopes) {
				t.Errorf("decoded %s: got %q, want %q (header %q)", gateway.HeaderScopes, got, tc.scopes, h.Get(gateway.HeaderScopes))
			}
			if got := splitIdentity(t, h.Get(gateway.HeaderGroups), ","); !slices.Equal(got, tc.groups) {
				t.Errorf("decoded %s: got %q, want %q (header %q)", gateway.HeaderGroups, got, tc.groups, h.Get(gateway.HeaderGroups))
			}
			if tc.wantGroupsHdr != "" && h.Get(gateway.HeaderGroups) != tc.wantGroupsHdr {
				t.Errorf("got %s %q, want %q", gateway.HeaderGroups, h.Get(gateway.HeaderGroups), tc.wantGroupsHdr)
			}
			for k, vs := range h {
				for _, v := range vs {
					for i := 0; i < len(v); i++ {
						if c := v[i]; strings.HasPrefix(k, "X-Auth-") && (c < 0x21 && c != ' ' || c > 0x7e) {
							t.Errorf("upstream got %s %q with byte %#x, want printable ASCII only", k, v, c)
						}
					}
				}
			}
		})
	}
}

// TestIdentityIgnoresClaimsInOtherCase: a token carrying only
// "Groups":["Admins"] and "Sub" is in no group and has no subject, so a
// route for Admins refuses it and the upstream gets no X-Auth-Groups
// (issue 12, finding 6).
func TestIdentityIgnoresClaimsInOtherCase(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /admin/**\n    groups: [Admins]\n  - path: /**\n",
		map[string]string{"up": up.URL})
	token := ti.token(t, map[string]any{"groups": nil, "Groups": []string{"Admins"}, "sub": nil, "Sub": "admin", "SCP": []string{"admin"}})

	if resp := f.do(t, http.MethodGet, "/admin/x", token, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /admin/x: got status %d, want 403", resp.StatusCode)
	}
	resp := f.do(t, http.MethodGet, "/x", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /x: got status %d, want 200", resp.StatusCode)
	}
	var got echo
	decode(t, resp, &got)
	for _, k := range []string{gateway.HeaderGroups, gateway.HeaderSubject, gateway.HeaderScopes} {
		if vs := got.Header.Values(k); len(vs) != 0 {
			t.Errorf("upstream got %s %q, want none", k, vs)
		}
	}
}
