package urlcheck_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/urlcheck"
)

// hosts are URL hosts (as written in a URL) and whether they are loopback.
var hosts = []struct {
	host     string
	loopback bool
}{
	{"127.0.0.1", true},
	{"127.0.0.1:8080", true},
	{"127.255.0.9", true},
	{"[::1]", true},
	{"[::1]:9000", true},
	{"[::ffff:127.0.0.1]", true}, // IPv4-mapped: connects to 127.0.0.1
	{"localhost", true},
	{"localhost:5000", true},
	{"LOCALHOST", true},  // host names are case-insensitive
	{"LocalHost", true},  //
	{"localhost.", true}, // the fully qualified form of the same name
	{"127.example.com", false},
	{"127.0.0.1.nip.io", false},
	{"localhost.evil.com", false},
	{"evil-localhost", false},
	{"sub.localhost", false},
	{"0x7f.1", false},     // inet_aton shorthand, a DNS name to Go
	{"2130706433", false}, // 127.0.0.1 as one number, likewise
	{"127.1", false},      // likewise
	{"0177.0.0.1", false}, // octal
	{"127.0.0.1.", false}, // not an IP literal with the dot
	{"[::1%25lo]", false}, // zoned
	{"[::ffff:10.0.0.1]", false},
	{"10.0.0.1", false},
	{"0.0.0.0", false},
	{"[::]", false},
	{"example.com", false},
}

func TestIsLoopback(t *testing.T) {
	for _, h := range hosts {
		t.Run(h.host, func(t *testing.T) {
			u, err := url.Parse("http://" + h.host + "/")
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			if got := urlcheck.IsLoopback(u.Hostname()); got != h.loopback {
				t.Errorf("IsLoopback(%q): got %v, want %v", u.Hostname(), got, h.loopback)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	type tc struct {
		raw      string
		insecure bool
		want     error // nil: accepted
	}
	var tests []tc
	for _, h := range hosts {
		var want error
		if !h.loopback {
			want = urlcheck.ErrPlainHTTP
		}
		tests = append(tests,
			tc{"http://" + h.host + "/oauth2/default", false, want},
			tc{"https://" + h.host + "/oauth2/default", false, nil},
			tc{"http://" + h.host + "/oauth2/default", true, nil},
		)
	}
	tests = append(tests,
		tc{"HTTP://127.0.0.1/", false, nil}, // the scheme is case-insensitive
		tc{"http://localhost@evil.example/", false, urlcheck.ErrPlainHTTP},
		tc{"http://evil.example#@127.0.0.1/", false, urlcheck.ErrFragment},
		tc{"https://example.com/#frag", false, urlcheck.ErrFragment},
		tc{"https://example.com/#", false, urlcheck.ErrFragment},
		tc{"https://example.com/authorize?prompt=login", false, nil},
		tc{"ftp://127.0.0.1/", false, urlcheck.ErrScheme},
		tc{"ftp://127.0.0.1/", true, urlcheck.ErrScheme},
		tc{"127.0.0.1:8080", false, urlcheck.ErrNotAbsolute},
		tc{"/oauth2/default", false, urlcheck.ErrNotAbsolute},
		tc{"https:example.com", false, urlcheck.ErrNotAbsolute},
		tc{"https://", false, urlcheck.ErrNotAbsolute},
		tc{"http://[::1", false, urlcheck.ErrNotAbsolute},
		tc{"", false, urlcheck.ErrNotAbsolute},
	)
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := urlcheck.Check(tt.raw, tt.insecure)
			if !errors.Is(err, tt.want) { // errors.Is(err, nil) is err == nil
				t.Errorf("Check(%q, insecure=%v): got %v, want %v", tt.raw, tt.insecure, err, tt.want)
			}
		})
	}
}

func TestDiscovered(t *testing.T) {
	tests := []struct {
		issuer, endpoint string
		insecure         bool
		want             error
	}{
		{"https://example.okta.com/oauth2/default", "https://example.okta.com/oauth2/default/v1/keys", false, nil},
		{"https://example.okta.com", "https://keys.example.net/jwks", false, nil},
		{"http://127.0.0.1:9000", "http://127.0.0.1:9000/keys", false, nil},
		{"http://localhost:9000", "http://[::1]:9000/keys", false, nil},
		{"https://127.0.0.1:8443", "http://127.0.0.1:9000/keys", false, nil},
		{"http://127.0.0.1:9000", "https://127.0.0.1:9443/keys", false, nil},
		// A remote issuer cannot point at plain http, even on loopback.
		{"https://example.okta.com", "http://example.okta.com/keys", false, urlcheck.ErrPlainHTTP},
		{"https://example.okta.com", "http://127.0.0.1/keys", false, urlcheck.ErrPlainHTTP},
		{"https://example.okta.com", "http://localhost/keys", false, urlcheck.ErrPlainHTTP},
		// A loopback issuer cannot point at plain http elsewhere.
		{"http://127.0.0.1:9000", "http://example.com/keys", false, urlcheck.ErrPlainHTTP},
		{"http://127.0.0.1:9000", "http://127.example.com/keys", false, urlcheck.ErrPlainHTTP},
		// Issuers that only look local are not.
		{"http://127.example.com", "http://127.0.0.1/keys", false, urlcheck.ErrPlainHTTP},
		{"http://127.1", "http://127.0.0.1/keys", false, urlcheck.ErrPlainHTTP},
		{"http://localhost.evil.com", "http://localhost/keys", false, urlcheck.ErrPlainHTTP},
		{"not a url", "http://127.0.0.1/keys", false, urlcheck.ErrPlainHTTP},
		{"https://dev.internal", "http://dev.internal/keys", true, nil},
		{"https://example.com", "https://example.com/keys#x", false, urlcheck.ErrFragment},
		{"https://example.com", "gopher://example.com/keys", false, urlcheck.ErrScheme},
		{"https://example.com", "/keys", false, urlcheck.ErrNotAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.issuer+" "+tt.endpoint, func(t *testing.T) {
			_, err := urlcheck.Discovered(tt.issuer, tt.endpoint, tt.insecure)
			if !errors.Is(err, tt.want) { // errors.Is(err, nil) is err == nil
				t.Errorf("Discovered(%q, %q, insecure=%v): got %v, want %v", tt.issuer, tt.endpoint, tt.insecure, err, tt.want)
			}
		})
	}
}

func TestBase(t *testing.T) {
	tests := []struct {
		raw  string
		want error // nil: accepted
	}{
		{"https://api.example.com", nil},
		{"https://api.example.com/", nil},
		{"https://api.example.com:8443/prefix", nil},
		{"http://api.example.com/prefix", nil}, // plain http is the caller's rule, not Base's
		{"HTTP://127.0.0.1:5000", nil},
		{"http://[::1]:5000/", nil},
		{"https://user:secret@api.example.com", urlcheck.ErrCredentials},
		{"https://user@api.example.com", urlcheck.ErrCredentials},
		{"https://:secret@api.example.com", urlcheck.ErrCredentials},
		{"https://@api.example.com", urlcheck.ErrCredentials}, // an empty user is still user information
		{"https://api.example.com/?a=b", urlcheck.ErrQuery},
		{"https://api.example.com/?", urlcheck.ErrQuery}, // a path put after it would land in the query
		{"https://api.example.com?", urlcheck.ErrQuery},
		{"https://api.example.com/#top", urlcheck.ErrFragment},
		{"https://api.example.com/#", urlcheck.ErrFragment},
		{"ftp://api.example.com/", urlcheck.ErrScheme},
		{"ws://api.example.com/", urlcheck.ErrScheme},
		{"api.example.com", urlcheck.ErrNotAbsolute},
		{"/prefix", urlcheck.ErrNotAbsolute},
		{"https:api.example.com", urlcheck.ErrNotAbsolute},
		{"https://", urlcheck.ErrNotAbsolute},
		{"https://[::1", urlcheck.ErrNotAbsolute},
		{"", urlcheck.ErrNotAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := urlcheck.Base(tt.raw)
			if !errors.Is(err, tt.want) { // errors.Is(err, nil) is err == nil
				t.Fatalf("Base(%q): got %v, want %v", tt.raw, err, tt.want)
			}
			if err == nil && (u == nil || u.Host == "") {
				t.Errorf("Base(%q): got %v, want the parsed URL", tt.raw, u)
			}
			if err != nil && (u != nil || strings.Contains(err.Error(), "secret")) {
				t.Errorf("Base(%q): got %v, %q; want no URL and an error that does not repeat it", tt.raw, u, err)
			}
		})
	}
}
