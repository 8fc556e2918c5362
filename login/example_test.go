package login_test

import (
	"log"
	"net/http"
	"os"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/login"
	"github.com/apiguard/apiguard/session"
)

// Example wires browser login with sessions shared through Redis, as
// several instances behind a load balancer would.
func Example() {
	issuer := "https://example.okta.com/oauth2/default"
	access, err := apiguard.New(apiguard.Config{Issuer: issuer})
	if err != nil {
		log.Fatal(err)
	}
	client, err := session.NewRedisClient(os.Getenv("APIGUARD_REDIS_URL")) // redis:// or rediss://
	if err != nil {
		log.Fatal(err)
	}
	store, err := session.NewRedisStore(session.RedisConfig{
		Client: client,
		Secret: []byte(os.Getenv("APIGUARD_SESSION_SECRET")), // the same on every instance, ≥ 32 bytes
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := login.New(login.Config{
		Issuer:         issuer,
		ClientID:       os.Getenv("OKTA_CLIENT_ID"),
		ClientSecret:   os.Getenv("OKTA_CLIENT_SECRET"),
		PublicURL:      "https://api.example.com", // register …/login/callback and …/logout/callback at Okta
		Store:          store,
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
	log.Fatal(http.ListenAndServe("127.0.0.1:5000", mux))
}
