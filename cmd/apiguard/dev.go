package main

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/devissuer"
)

// devIssuerOptions say how `serve` (embedded) or `issuer` (alone) builds the
// development issuer.
type devIssuerOptions struct {
	issuerURL     string // {public URL}/oauth2/default
	configPath    string // YAML file, or "" for the defaults below
	configSetting string // how users know the config setting, for errors
	clientID      string // defaults: the one client (generated when empty)
	clientSecret  string
	user          string // APIGUARD_DEV_USER, APIGUARD_DEV_PASSWORD (generated when empty)
	password      string
	appURLs       []string // defaults: each gives the client its callbacks
	audience      string
	rotateEvery   time.Duration
	log           *slog.Logger
}

// buildDevIssuer builds the development issuer from a file or from the
// defaults, with the user of APIGUARD_DEV_USER/APIGUARD_DEV_PASSWORD.
func buildDevIssuer(o devIssuerOptions) (*devissuer.Issuer, devissuer.Generated, error) {
	var (
		cfg devissuer.Config
		gen devissuer.Generated
		err error
	)
	if o.configPath != "" {
		if cfg, err = devissuer.LoadConfig(o.configPath); err != nil {
			return nil, gen, &usageError{fmt.Errorf("%s: %w", o.configSetting, err)}
		}
	} else {
		cfg, gen, err = devissuer.DefaultConfig(devissuer.Defaults{
			ClientID:     o.clientID,
			ClientSecret: o.clientSecret,
			Username:     o.user,
			Password:     o.password,
			BaseURLs:     o.appURLs,
		})
		if err != nil {
			return nil, gen, fmt.Errorf("failed to configure the development issuer: %w", err)
		}
	}
	cfg.Issuer = o.issuerURL
	cfg.RotateEvery = o.rotateEvery
	cfg.Logger = o.log
	if cfg.Audience == "" {
		cfg.Audience = o.audience
	}
	dev, err := devissuer.New(cfg)
	if err != nil {
		return nil, gen, &usageError{fmt.Errorf("failed to start the development issuer: %w", err)}
	}
	return dev, gen, nil
}

// devSources say where the development issuer's credentials came from
// when the operator supplied them: the banner names the setting instead of
// printing the value.
type devSources struct {
	clientSecret string // "OKTA_CLIENT_SECRET", "APIGUARD_ISSUER_CONFIG"
	password     string // "APIGUARD_DEV_PASSWORD", "APIGUARD_ISSUER_CONFIG"
	exposedAddr  string // a listen address beyond loopback, for a warning
}

// secretVar is the shell variable the printed commands read a client
// secret from when the banner does not show it.
const secretVar = "OKTA_CLIENT_SECRET"

// printDevBanner says loudly that the issuer is for development and prints
// what a user needs: the issuer URL, the credentials, and the tutorial's
// step 5 as commands to paste. It shows only generated secrets and
// passwords (saying so): one the operator supplied may be real, and is
// named by its setting instead, with the commands reading it from
// $OKTA_CLIENT_SECRET. With apiURL (the issuer embedded in serve) step 5.2
// stores the token and step 5.3 calls /secure-data with it; without, step
// 5.2 prints the token response.
func printDevBanner(w io.Writer, c devissuer.Config, gen devissuer.Generated, src devSources, apiURL string) {
	fmt.Fprintf(w, `
  ┌──────────────────────────────────────────────────────────────────────┐
  │  DEVELOPMENT ISSUER, Okta-shaped. For development only, never        │
  │  production: its users, clients and keys live in this process.       │
  └──────────────────────────────────────────────────────────────────────┘
  issuer (OKTA_ISSUER): %s
`, c.Issuer)
	if src.exposedAddr != "" {
		fmt.Fprintf(w, "  WARNING: listening on %s, beyond loopback (--dev): anyone who can reach it\n  can sign in and get tokens. Use a trusted network only.\n", src.exposedAddr)
	}
	if apiURL != "" {
		fmt.Fprintln(w, "  (no OKTA_ISSUER is set, so apiguard serve runs this issuer itself)")
	}
	if len(c.Users) > 0 {
		u := c.Users[0]
		password := "(from " + src.password + "; not shown)"
		if gen.Password {
			password = u.Password
		}
		fmt.Fprintf(w, "  user:          %s / %s%s\n", u.Username, password, generatedNote(gen.Username || gen.Password, "APIGUARD_DEV_USER/APIGUARD_DEV_PASSWORD"))
	}
	i := slices.IndexFunc(c.Clients, func(cl devissuer.Client) bool {
		return cl.Secret != "" && slices.Contains(cl.GrantTypes, devissuer.GrantClientCredentials)
	})
	if i < 0 {
		fmt.Fprintln(w, "  (no client may use client credentials)")
		return
	}
	client := c.Clients[i]
	fmt.Fprintf(w, "  client id:     %s%s\n", client.ID, generatedNote(gen.ClientID, "OKTA_CLIENT_ID"))
	credentials := shellQuote(client.ID + ":" + client.Secret)
	if gen.ClientSecret {
		fmt.Fprintf(w, "  client secret: %s%s\n", client.Secret, generatedNote(true, "OKTA_CLIENT_SECRET"))
	} else {
		fmt.Fprintf(w, "  client secret: (from %s; not shown: the commands below read it from $%s)\n", src.clientSecret, secretVar)
		credentials = shellQuote(client.ID+":") + `"$` + secretVar + `"`
	}

	scope := ""
	if d := slices.IndexFunc(c.Scopes, func(s devissuer.Scope) bool { return s.Default }); d >= 0 {
		scope = c.Scopes[d].Name
	} else if len(client.Scopes) > 0 {
		scope = client.Scopes[0]
	}
	request := "curl -s -u " + credentials + " -d grant_type=client_credentials"
	if scope != "" {
		request += " -d scope=" + shellQuote(scope)
	}
	request += " " + shellQuote(c.Issuer+"/v1/token")
	if apiURL == "" {
		fmt.Fprintf(w, "\n  Get an access token (the tutorial's step 5.2):\n\n    %s\n\n", request)
		return
	}
	fmt.Fprintf(w, `
  Get an access token (the tutorial's step 5.2):

    TOKEN=$(%s | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

  Call the protected route (step 5.3):

    curl -s %s -H "Authorization: Bearer $TOKEN"

  Log in with a browser: %s/profile

`, request, shellQuote(apiURL+"/secure-data"), apiURL)
}

func generatedNote(generated bool, env string) string {
	if generated {
		return "   (generated; set " + env + " to choose)"
	}
	return ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
