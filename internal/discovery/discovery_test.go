package discovery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/discovery"
)

// TestFetch: the document is fetched from the well-known URL, refused when
// it names another issuer, when the answer is not 200 or too large; and
// endpoints are checked as urlcheck.Discovered says.
func TestFetch(t *testing.T) {
	var body string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/default/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	issuer := srv.URL + "/oauth2/default"
	get := discovery.HTTPGetter(srv.Client())
	ctx := context.Background()

	body = `{"issuer":"` + issuer + `","jwks_uri":"` + issuer + `/v1/keys","token_endpoint":"https://evil.example/token"}`
	doc, err := discovery.Fetch(ctx, get, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := doc.Endpoint("jwks_uri", doc.JWKSURI, false); err != nil || u != issuer+"/v1/keys" {
		t.Errorf("jwks_uri: got %q, %v", u, err)
	}
	if _, err := doc.Endpoint("introspection_endpoint", doc.IntrospectionEndpoint, false); err == nil {
		t.Error("absent introspection_endpoint accepted")
	}

	body = `{"issuer":"https://other.example"}`
	var ie *discovery.IssuerError
	if _, err := discovery.Fetch(ctx, get, issuer); !errors.As(err, &ie) || ie.Got != "https://other.example" || ie.Want != issuer {
		t.Errorf("other issuer: got %v, want an IssuerError", err)
	}

	status = http.StatusInternalServerError
	var se *discovery.StatusError
	var fe *discovery.FetchError
	if _, err := discovery.Fetch(ctx, get, issuer); !errors.As(err, &se) || se.Status != 500 || !errors.As(err, &fe) {
		t.Errorf("status 500: got %v, want a FetchError with a StatusError", err)
	}

	status, body = http.StatusOK, `{"issuer":"`+issuer+`","x":"`+strings.Repeat("a", discovery.MaxSize)+`"}`
	if _, err := discovery.Fetch(ctx, get, issuer); !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large document: got %v, want a FetchError", err)
	}
}
