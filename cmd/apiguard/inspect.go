package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
)

// errRefused: inspect printed why the token is refused; exit 1 quietly.
var errRefused = errors.New("token refused")

// inspectLeeway is the clock skew inspect tolerates for exp, nbf and iat:
// the verifier's default, which apiguard serve uses too.
const inspectLeeway = 60 * time.Second

// runInspect decodes a token, verifies it against the configured issuer and
// explains a refusal: the first tool to reach for when a token is refused.
func runInspect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return inspect(ctx, args, stdin, stdout, stderr, time.Now)
}

// inspect is runInspect on the clock now.
func inspect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) error {
	s := newSettings("inspect", stderr, "issuer", "audience")
	issuer, audience := s.raw("issuer"), s.raw("audience")
	s.fs.Usage = func() {
		s.usage(stderr, "usage: apiguard inspect [flags] [TOKEN | -]   (reads the token from stdin with - or no argument)")
	}
	// The token may come before the flags too.
	var positional []string
	if len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
		positional, args = args[:1], args[1:]
	}
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	positional = append(positional, s.fs.Args()...)
	if err := s.parse(nil); err != nil {
		return err
	}
	if len(positional) > 1 {
		return &usageError{errors.New("give one token (or - to read it from stdin)")}
	}
	var token string
	if len(positional) == 0 || positional[0] == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("failed to read the token from stdin: %w", err)
		}
		token = line
	} else {
		token = positional[0]
	}
	token = strings.TrimSpace(token)
	if scheme, rest, ok := strings.Cut(token, " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
	}
	if token == "" {
		return &usageError{errors.New("no token given")}
	}

	claims := printDecoded(stdout, token, now())
	if *issuer == "" {
		fmt.Fprintln(stdout, "\nnot verified: set OKTA_ISSUER or --issuer to the issuer the API trusts")
		if iss, ok := claims["iss"].(string); ok {
			fmt.Fprintf(stdout, "  (this token says it comes from %s)\n", iss)
		}
		return errRefused
	}
	v, err := apiguard.New(apiguard.Config{Issuer: *issuer, Audience: *audience, DisableCache: true, Leeway: inspectLeeway, Now: now})
	if err != nil {
		return &usageError{fmt.Errorf("OKTA_ISSUER (--issuer): %w", err)}
	}
	fmt.Fprintf(stdout, "\nverifying against issuer %s, audience %s\n", *issuer, *audience)
	c, err := v.Verify(ctx, token)
	if err != nil {
		fmt.Fprintf(stdout, "REFUSED (%s): %v\n", apiguard.Reason(err), err)
		if hint := hintFor(err, claims, *issuer, *audience); hint != "" {
			fmt.Fprintf(stdout, "hint: %s\n", hint)
		}
		return errRefused
	}
	fmt.Fprintf(stdout, "VALID: subject %q, client %q, scopes %q, %s\n", c.Subject, c.ClientID, c.Scopes, expiry(c.Expiry, now()))
	return nil
}

// expiry says when a token that verified expires, or, when it is past its
// exp and accepted only within the leeway, that it expired and for how much
// longer the leeway accepts it.
func expiry(exp, now time.Time) string {
	left := exp.Sub(now).Round(time.Second)
	if left > 0 {
		return "expires in " + left.String()
	}
	grace := exp.Add(inspectLeeway).Sub(now).Round(time.Second)
	return fmt.Sprintf("but it EXPIRED %s ago (exp %s): accepted only within the %ds clock-skew leeway, for %s more; get a fresh token",
		(-left).String(), exp.UTC().Format(time.RFC3339), int(inspectLeeway/time.Second), max(grace, 0))
}

// printDecoded prints the header and claims without verifying them, with
// times relative to now, and returns the claims (nil if they cannot be
// decoded).
func printDecoded(w io.Writer, token string, now time.Time) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		fmt.Fprintf(w, "not a JWT: %d parts separated by dots, want 3 (an opaque token needs introspection)\n", len(parts))
		return nil
	}
	var claims map[string]any
	for i, name := range []string{"header", "claims"} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			fmt.Fprintf(w, "%s: not base64url: %v\n", name, err)
			continue
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			fmt.Fprintf(w, "%s: not JSON: %v\n", name, err)
			continue
		}
		fmt.Fprintf(w, "%s (not yet verified):\n%s\n", name, pretty.String())
		if name == "claims" {
			_ = json.Unmarshal(raw, &claims)
		}
	}
	for _, name := range []string{"iat", "nbf", "exp"} {
		if f, ok := claims[name].(float64); ok {
			at := time.Unix(int64(f), 0)
			fmt.Fprintf(w, "%s: %s (%s)\n", name, at.UTC().Format(time.RFC3339), relative(at, now))
		}
	}
	return claims
}

func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d < 0 {
		return (-d).String() + " ago"
	}
	return "in " + d.String()
}

// hintFor explains the refusals people hit most with Okta.
func hintFor(err error, claims map[string]any, issuer, audience string) string {
	switch {
	case errors.Is(err, apiguard.ErrAudience):
		aud := fmt.Sprint(claims["aud"])
		cid, _ := claims["cid"].(string)
		switch {
		case cid != "" && audience == cid:
			return fmt.Sprintf("the audience expected is a client id (the tutorial's mistake): access tokens carry the authorization server's audience, here %s (api://default for Okta's default server); set OKTA_AUDIENCE to it", aud)
		case cid != "" && strings.Contains(aud, cid) || claims["nonce"] != nil:
			return "the audience is a client id: this is an ID token; send the access token. Okta access tokens carry the authorization server's audience (api://default for the default server)."
		}
		return fmt.Sprintf("the token's aud is %s; set OKTA_AUDIENCE to your authorization server's audience if %q is wrong", aud, audience)
	case errors.Is(err, apiguard.ErrIssuer):
		if iss, _ := claims["iss"].(string); strings.TrimSuffix(iss, "/") == strings.TrimSuffix(issuer, "/") {
			return "the issuers differ only by a trailing slash; OKTA_ISSUER must be exactly the token's iss"
		} else if strings.Contains(issuer, "/oauth2/") != strings.Contains(iss, "/oauth2/") {
			return "one issuer is the Okta org authorization server and the other a custom one (…/oauth2/default); tokens of the org server are not meant for your API"
		}
	case errors.Is(err, apiguard.ErrExpired):
		return "get a fresh token (apiguard token …); Okta access tokens live one hour by default"
	case errors.Is(err, apiguard.ErrKeysUnavailable):
		return "the issuer's discovery document or keys could not be fetched: check the URL and the network"
	case errors.Is(err, apiguard.ErrType):
		if claims["nonce"] != nil || claims["at_hash"] != nil {
			return "this is an ID token; send the access token to the API"
		}
	case errors.Is(err, apiguard.ErrUnknownKey), errors.Is(err, apiguard.ErrSignature):
		return "the token was not signed by this issuer's current keys: is it from another authorization server?"
	}
	if slices.Contains([]string{"malformed"}, apiguard.Reason(err)) {
		return "the token was damaged when copied (quotes, line breaks) or is not a JWT"
	}
	return ""
}
