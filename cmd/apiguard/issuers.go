package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/metriclabel"
)

// verifiers are the token verifiers of serve and gateway, built by
// newVerifiers for both so the two commands agree on names, order,
// introspection and metrics.
type verifiers struct {
	// main is the verifier of the issuer setting (OKTA_ISSUER), named
	// "default": browser login and introspection use it.
	main *apiguard.Verifier
	// tv is what the Middleware verifies with: main (with introspection
	// when on), or an *apiguard.Issuers of all issuers.
	tv apiguard.TokenVerifier
	// names, urls and all are the issuers' names, URLs and verifiers, in
	// order, main first.
	names, urls []string
	all         []*apiguard.Verifier
}

// newVerifiers builds the verifiers of the issuer setting's Config main
// and of extra, the issuers configured besides it (OKTA_ISSUERS in serve,
// the file's issuers mapping in the gateway). main is named "default" and
// is the only one introspecting (when the introspection setting is on):
// the introspection client and secret settings are its. Each verifier
// reports its key fetches to vm under its own name. With no extra issuers
// the Middleware gets main alone, exactly as before several issuers
// existed; otherwise an apiguard.Issuers, and multiErr says where the
// issuers were configured when NewIssuers refuses them.
func newVerifiers(main apiguard.Config, extra []fileIssuer, state *sharedState, vm *verifierMetrics, log *slog.Logger,
	multiErr func(error) error) (*verifiers, error) {
	main.Name = defaultIssuerName
	main.Logger = log
	main.OnFetch = vm.onFetch(defaultIssuerName)
	vs := &verifiers{names: []string{defaultIssuerName}, urls: []string{main.Issuer}}
	if len(extra) == 0 {
		v, err := apiguard.New(main)
		if err != nil {
			return nil, &usageError{fmt.Errorf("%s: %w", settingName("issuer"), err)}
		}
		tv, err := state.tokenVerifier(v)
		if err != nil {
			return nil, &usageError{fmt.Errorf("%s: %w", settingName("introspection"), err)}
		}
		vs.main, vs.tv, vs.all = v, tv, []*apiguard.Verifier{v}
		vm.watchKeys(map[string]*apiguard.Verifier{defaultIssuerName: v})
		return vs, nil
	}
	list := []apiguard.Issuer{{Config: main}}
	if state.introspection != nil {
		list[0].Introspect = state.tokenVerifier
	}
	for _, fi := range extra {
		list = append(list, apiguard.Issuer{Config: apiguard.Config{Name: fi.Name, Issuer: fi.Issuer, Audience: fi.Audience,
			ClientIDs: fi.ClientIDs, Logger: log, OnFetch: vm.onFetch(fi.Name)}})
		vs.names = append(vs.names, fi.Name)
		vs.urls = append(vs.urls, fi.Issuer)
	}
	m, err := apiguard.NewIssuers(list...)
	if err != nil {
		return nil, &usageError{multiErr(err)}
	}
	byName := make(map[string]*apiguard.Verifier, len(vs.names))
	for _, n := range vs.names {
		byName[n] = m.Verifier(n)
		vs.all = append(vs.all, byName[n])
	}
	vm.watchKeys(byName)
	vs.main, vs.tv = m.Verifier(defaultIssuerName), m
	return vs, nil
}

// checkIssuerName applies the one rule for the names of extra issuers, in
// OKTA_ISSUERS and in the gateway file's issuers mapping alike: a metric
// label's spelling (the name becomes the issuer label), and not
// defaultIssuerName, which is OKTA_ISSUER's.
func checkIssuerName(name string) error {
	switch {
	case !metriclabel.IssuerName(name):
		return errors.New("use letters, digits and ._- (at most 63, the first a letter or digit)")
	case name == defaultIssuerName:
		return fmt.Errorf("%q names the issuer setting (OKTA_ISSUER, issuer): give this one another name", defaultIssuerName)
	}
	return nil
}

// parseIssuersSetting reads OKTA_ISSUERS: a comma-separated list of
// name=issuer-url or name=issuer-url|audience (audience default: the
// audience setting's). mainIssuer is OKTA_ISSUER's URL, named "default";
// no entry may take that name or URL. URLs are checked like OKTA_ISSUER's
// (checkHTTPURL, then the verifier's own rules) before anything listens.
func parseIssuersSetting(raw, mainIssuer, audience string) ([]fileIssuer, error) {
	names := map[string]bool{defaultIssuerName: true}
	urls := map[string]string{mainIssuer: defaultIssuerName}
	var out []fileIssuer
	for entry := range strings.SplitSeq(raw, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rest, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not name=issuer-url or name=issuer-url|audience", redactURL(entry))
		}
		iss, aud, hasAud := strings.Cut(rest, "|")
		name, iss, aud = strings.TrimSpace(name), strings.TrimSpace(iss), strings.TrimSpace(aud)
		if err := checkIssuerName(name); err != nil {
			return nil, fmt.Errorf("issuer name %q: %w", name, err)
		}
		if names[name] {
			return nil, fmt.Errorf("issuer name %q is used twice", name)
		}
		if err := checkHTTPURL(iss); err != nil {
			return nil, fmt.Errorf("issuer %s: %w", name, err)
		}
		if other, dup := urls[iss]; dup {
			return nil, fmt.Errorf("issuer %s: %q is also issuer %s: each issuer URL once", name, iss, other)
		}
		switch {
		case hasAud && aud == "":
			return nil, fmt.Errorf("issuer %s: empty audience after |: leave out the | for OKTA_AUDIENCE's", name)
		case !hasAud:
			aud = audience
		}
		if _, err := apiguard.New(apiguard.Config{Issuer: iss, Audience: aud}); err != nil {
			return nil, fmt.Errorf("issuer %s: %s", name, strings.TrimPrefix(err.Error(), "apiguard: "))
		}
		names[name], urls[iss] = true, name
		out = append(out, fileIssuer{Name: name, Issuer: iss, Audience: aud})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no issuer: give name=issuer-url entries, or unset it", raw)
	}
	return out, nil
}
