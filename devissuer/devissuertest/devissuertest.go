// Package devissuertest runs the development issuer of package devissuer
// on a loopback server for tests, as net/http/httptest runs a handler: one
// call starts it with the issuer URL filled in, and the test's cleanup
// stops it.
package devissuertest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// Path is the path of the issuer URL, that of Okta's default custom
// authorization server.
const Path = "/oauth2/default"

// Server is a development issuer answering on a loopback address.
type Server struct {
	// URL is the issuer URL: the server's URL followed by Path.
	URL string
	// Issuer is the running issuer, to rotate its keys or read the
	// configuration in use.
	Issuer *devissuer.Issuer
	// HTTP is the loopback server; NewServer's cleanup closes it.
	HTTP *httptest.Server
}

// Option changes how NewServer serves the issuer.
type Option func(*options)

type options struct {
	wrap func(http.Handler) http.Handler
}

// Wrap serves wrap(issuer) instead of the issuer, so that a test can count,
// alter or refuse the requests it gets before the issuer sees them.
func Wrap(wrap func(issuer http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = wrap }
}

// NewServer starts a development issuer configured by cfg on a loopback
// httptest server and stops it when the test ends. It sets cfg.Issuer to
// the server's URL followed by Path (any value given is replaced), and
// fails the test when devissuer.New refuses cfg.
func NewServer(t testing.TB, cfg devissuer.Config, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg.Issuer = "http://" + srv.Listener.Addr().String() + Path
	iss, err := devissuer.New(cfg)
	if err != nil {
		srv.Close()
		t.Fatalf("devissuertest: devissuer.New: %v", err)
	}
	var h http.Handler = iss
	if o.wrap != nil {
		h = o.wrap(iss)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{URL: iss.URL(), Issuer: iss, HTTP: srv}
}

// Endpoint returns the URL of the issuer's endpoint name, for example
// Endpoint("token") for the token endpoint.
func (s *Server) Endpoint(name string) string { return s.URL + "/v1/" + name }
