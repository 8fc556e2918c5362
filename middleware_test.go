package apiguard_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/middlewaretest"
	"github.com/apiguard/apiguard/internal/testissuer"
)

func TestMiddleware(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	var refused []string
	m := &apiguard.Middleware{
		Verifier:         v,
		Realm:            "orders",
		ResourceMetadata: "http://127.0.0.1:5000/.well-known/oauth-protected-resource",
		OnRefuse:         func(_ *http.Request, err error) { refused = append(refused, apiguard.Reason(err)) },
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := apiguard.ClaimsFromContext(r.Context())
		if !found {
			t.Error("no claims in the context")
			return
		}
		_, _ = io.WriteString(w, c.Subject)
	})
	h := m.Handler(ok, apiguard.RequireScopes("read"))
	claims := iss.Claims(clk.Now())
	good := iss.Sign(t, "rs256", claims, nil)
	expired := iss.Sign(t, "rs256", testissuer.With(claims, "exp", clk.Now().Add(-time.Hour).Unix()), nil)
	noScope := iss.Sign(t, "rs256", testissuer.With(claims, "scp", []string{"write"}), nil)
	const rm = `resource_metadata="http://127.0.0.1:5000/.well-known/oauth-protected-resource"`

	cases := []struct {
		name          string
		req           func(*http.Request)
		status        int
		challenge     string // substring; "" = no header
		noErrorCode   bool
		bodyError     string
		reason        string
		wantRetryHint bool
	}{
		{"valid", middlewaretest.Bearer(good), 200, "", false, "", "", false},
		{"lower-case scheme", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+good) }, 200, "", false, "", "", false},
		{"no token", nil, 401, `Bearer realm="orders", ` + rm, true, "unauthorized", "no_token", false},
		{"basic auth", func(r *http.Request) { r.SetBasicAuth("a", "b") }, 401, `Bearer realm="orders"`, true, "unauthorized", "no_token", false},
		{"expired", middlewaretest.Bearer(expired), 401, `error="invalid_token", error_description="token expired: expired at`, false, "invalid_token", "expired", false},
		{"garbage", middlewaretest.Bearer("not-a-token"), 401, `error="invalid_token"`, false, "invalid_token", "malformed", false},
		{"missing scope", middlewaretest.Bearer(noScope), 403, `error="insufficient_scope", error_description="missing scope read", scope="read", ` + rm, false, "insufficient_scope", "forbidden", false},
		{"token in query", func(r *http.Request) { r.URL.RawQuery = "access_token=" + good }, 400, `error="invalid_request"`, false, "invalid_request", "invalid_request", false},
		{"token in query and header", func(r *http.Request) { middlewaretest.Bearer(good)(r); r.URL.RawQuery = "access_token=" + good }, 400, `error="invalid_request"`, false, "invalid_request", "invalid_request", false},
		{"token in form body", func(r *http.Request) {
			r.Method = http.MethodPost
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Body = io.NopCloser(strings.NewReader("access_token=" + good))
		}, 401, `Bearer realm="orders"`, true, "unauthorized", "no_token", false},
		{"two headers", func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+good)
			r.Header.Add("Authorization", "Bearer "+good)
		}, 400, `error="invalid_request"`, false, "invalid_request", "invalid_request", false},
		{"empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, 400, `error="invalid_request"`, false, "invalid_request", "invalid_request", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refused = nil
			got := middlewaretest.Call(t, h, c.req)
			if got.Status != c.status {
				t.Fatalf("status %d, want %d (body %v)", got.Status, c.status, got.Body)
			}
			if !strings.Contains(got.Challenge, c.challenge) || (c.challenge == "") != (got.Challenge == "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got.Challenge, c.challenge)
			}
			if c.noErrorCode && strings.Contains(got.Challenge, "error=") {
				t.Errorf("WWW-Authenticate %q has an error code for a request without credentials", got.Challenge)
			}
			if got.Body["error"] != c.bodyError {
				t.Errorf("body error %q, want %q", got.Body["error"], c.bodyError)
			}
			if c.status != 200 && (len(refused) != 1 || refused[0] != c.reason) {
				t.Errorf("OnRefuse reasons %q, want [%s]", refused, c.reason)
			}
			if strings.Contains(got.Challenge, good) || strings.Contains(got.Body["error_description"], good) {
				t.Error("the response echoes the token")
			}
		})
	}

	t.Run("keys unavailable is 503, never 401", func(t *testing.T) {
		down := testissuer.New(t)
		down.SetDown(true)
		m := &apiguard.Middleware{Verifier: newVerifier(t, down, clk)}
		got := middlewaretest.Call(t, m.Handler(ok), middlewaretest.Bearer(down.Sign(t, "rs256", down.Claims(clk.Now()), nil)))
		if got.Status != http.StatusServiceUnavailable || got.RetryAfter == "" || got.Challenge != "" {
			t.Errorf("got %d Retry-After %q WWW-Authenticate %q, want 503 with Retry-After", got.Status, got.RetryAfter, got.Challenge)
		}
		if got.Body["error"] != "temporarily_unavailable" {
			t.Errorf("body %v", got.Body)
		}
	})
}

func TestPolicies(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	claims := testissuer.With(iss.Claims(clk.Now()), "groups", []string{"Everyone", "Engineering"}, "tier", "gold", "level", 3, "roles", []string{"a", "b"})
	tok := iss.Sign(t, "rs256", claims, nil)
	c, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		policy apiguard.Policy
		allow  bool
	}{
		{"scopes all present", apiguard.RequireScopes("read", "write"), true},
		{"scopes one missing", apiguard.RequireScopes("read", "admin"), false},
		{"groups any of", apiguard.RequireGroups("Admins", "Engineering"), true},
		{"groups none", apiguard.RequireGroups("Admins"), false},
		{"claim string", apiguard.RequireClaim("tier", "silver", "gold"), true},
		{"claim string other", apiguard.RequireClaim("tier", "silver"), false},
		{"claim number", apiguard.RequireClaim("level", "3"), true},
		{"claim array", apiguard.RequireClaim("roles", "b"), true},
		{"claim array other", apiguard.RequireClaim("roles", "c"), false},
		{"claim present", apiguard.RequireClaim("tier"), true},
		{"claim absent", apiguard.RequireClaim("missing"), false},
		{"cid", apiguard.RequireClaim("cid", "0oa-test-client"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy(c)
			if tc.allow && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.allow && !errors.Is(err, apiguard.ErrForbidden) {
				t.Errorf("got %v, want ErrForbidden", err)
			}
		})
	}
}

func TestReason(t *testing.T) {
	cases := map[error]string{
		apiguard.ErrExpired:                          "expired",
		&apiguard.KeysError{Err: errors.New("down")}: "keys_unavailable",
		&apiguard.ForbiddenError{Detail: "x"}:        "forbidden",
		apiguard.ErrInvalidToken:                     "invalid",
		errors.New("boom"):                           "error",
	}
	for err, want := range cases {
		if got := apiguard.Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
