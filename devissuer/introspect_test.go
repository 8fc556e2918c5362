package devissuer_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/introspect"
)

// TestIntrospectTokenTypes checks what introspection says about each kind
// of token, as Okta does (token_type Bearer for an access token,
// refresh_token for a refresh token), and that apiguard's introspection
// accepts the access token and refuses the refresh token although the
// issuer calls it active: the request's token_type_hint=access_token is
// only a hint (issue 12, finding 7).
func TestIntrospectTokenTypes(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.signIn(t, newBrowser(t))
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	for _, tc := range []struct {
		name, token, wantType string
	}{
		{"access token", tok.AccessToken, "Bearer"},
		{"refresh token", tok.RefreshToken, "refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				form := url.Values{"token": {tc.token}}
				if hint != "" {
					form.Set("token_type_hint", hint)
				}
				_, body := postJSON(t, f.endpoint("introspect"), form, appID, appSecret)
				if body["active"] != true || body["token_type"] != tc.wantType {
					t.Errorf("hint %q: got active %v token_type %v, want true and %q", hint, body["active"], body["token_type"], tc.wantType)
				}
			}
		})
	}

	av, err := apiguard.New(apiguard.Config{Issuer: f.issuerURL, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := introspect.New(av, introspect.Config{ClientID: appID, ClientSecret: appSecret, Mode: introspect.Always})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("Verify(access token): got %v, want it accepted", err)
	}
	c, err := v.Verify(context.Background(), tok.RefreshToken)
	if !errors.Is(err, apiguard.ErrInvalidToken) || !errors.Is(err, apiguard.ErrType) {
		t.Errorf("Verify(refresh token): got claims %v, error %v; want ErrInvalidToken (ErrType)", c, err)
	}
}
