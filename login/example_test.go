package login_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/example"
	"github.com/apiguard/apiguard/login"
	"github.com/apiguard/apiguard/session"
)

// Example wires browser login in front of an API route. A local
// development issuer stands in for Okta so that the example runs: with
// Okta, issuer is https://example.okta.com/oauth2/default, the client id
// and secret come from the environment, and PublicURL is where users reach
// the service, e.g. https://api.example.com (register …/login/callback and
// …/logout/callback at Okta).
//
// Several instances behind a load balancer share sessions through Redis,
// with the same secret (32 bytes or more) on every instance:
//
//	client, err := session.NewRedisClient(os.Getenv("APIGUARD_REDIS_URL")) // redis:// or rediss://
//	…
//	store, err := session.NewRedisStore(session.RedisConfig{
//		Client: client,
//		Secret: []byte(os.Getenv("APIGUARD_SESSION_SECRET")),
//	})
//
// and Config.Store set to store.
func Example() {
	app := httptest.NewUnstartedServer(nil) // started below, once its handler is set
	defer app.Close()
	publicURL := "http://" + app.Listener.Addr().String()
	iss := example.StartIssuer(publicURL) // the client's redirect URIs are under publicURL
	defer iss.Close()
	issuer := iss.URL

	access, err := apiguard.New(apiguard.Config{Issuer: issuer})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := login.New(login.Config{
		Issuer:         issuer,
		ClientID:       "example-client",
		ClientSecret:   "example-secret",
		PublicURL:      publicURL,
		Store:          session.NewMemoryStore(session.MemoryConfig{}), // one instance; see above for Redis
		AccessVerifier: access,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	// An API route that accepts the browser session (apiguard serve tries a
	// bearer token first).
	mux.HandleFunc("GET /secure-data", func(w http.ResponseWriter, r *http.Request) {
		claims, err := svc.Claims(r)
		if err != nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("hello " + claims.Subject))
	})
	app.Config.Handler = mux
	app.Start()

	// What a browser without a session sees.
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(publicURL + "/secure-data")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("GET /secure-data:", resp.StatusCode, strings.TrimSpace(string(body)))

	resp, err = noRedirects.Get(publicURL + "/login")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println("GET /login:", resp.StatusCode, "to", strings.TrimPrefix(to.Scheme+"://"+to.Host+to.Path, issuer))
	fmt.Println("  with PKCE", to.Query().Get("code_challenge_method"), "and redirect_uri", strings.TrimPrefix(to.Query().Get("redirect_uri"), publicURL))
	// Output:
	// GET /secure-data: 401 log in first
	// GET /login: 302 to /v1/authorize
	//   with PKCE S256 and redirect_uri /login/callback
}
