package hostile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = ".."

// ruleTests names, by rule ID of SECURITY.md, tests outside this package's
// own cases that hold the rule: "path/from/the/repository/root_test.go:TestName"
// (or FuzzName). TestSecurityRules checks that each function exists in the
// file named. A test may instead name its rule in its own file (a comment
// such as "// Holds R-GW-3."); either is enough.
var ruleTests = map[string][]string{
	"R-BEARER-4": {"middleware_test.go:TestMiddleware"},
	"R-BEARER-5": {"middleware_test.go:TestMiddleware", "middleware_test.go:TestPolicies"},
	"R-BEARER-6": {"middleware_test.go:TestMiddleware", "hostile/faults_test.go:TestIssuerDownAtStart", "introspect/introspect_test.go:TestIntrospectUnreachable"},
	"R-BEARER-7": {"middleware_test.go:TestMiddleware"},
	"R-BEARER-8": {"cmd/apiguard/leak_test.go:TestNoSecretLeaks"},

	"R-CLAIM-8": {"introspect/introspect_test.go:TestIntrospectRefusals"},
	"R-CLAIM-9": {"claims_case_test.go:TestClaimNamesCaseSensitive", "claims_case_test.go:TestPoliciesIgnoreOtherCase",
		"claims_case_test.go:TestHeaderNamesCaseSensitive"},

	"R-DPOP-1": {"dpop/dpop_test.go:TestDPoPSchemes", "dpop/dpop_test.go:TestDPoPOffRefusesBoundTokens", "dpop/dpop_test.go:TestDPoPProofChecks"},
	"R-DPOP-2": {"dpop/dpop_test.go:TestDPoPReplayRefused", "dpop/dpop_test.go:TestDPoPReplayCacheDownIs503", "dpop/dpop_test.go:TestDPoPReplayCacheFullIs503",
		"cmd/apiguard/serve_dpop_test.go:TestServeDPoPReplayAcrossInstances"},

	"R-JWKS-1": {"keyset_test.go:TestDiscoveryIssuerMismatch", "hostile/faults_test.go:TestDiscoveryOtherIssuer"},
	"R-JWKS-2": {"keyset_test.go:TestCacheControlHonoured"},
	"R-JWKS-3": {"keyset_test.go:TestKeysRandomKIDFlood", "hostile/faults_test.go:TestAfterCooldown", "hostile/faults_test.go:TestKIDFloodFetchBound"},
	"R-JWKS-4": {"keyset_test.go:TestKeysDownLater", "hostile/faults_test.go:TestIssuerDownLater"},
	"R-JWKS-5": {"keyset_test.go:TestKeysDownAtStartThenUp", "hostile/faults_test.go:TestIssuerDownAtStart",
		"cmd/apiguard/serve_test.go:TestServeIssuerDownIs503ThenRecovers"},
	"R-JWKS-6": {"keyset_test.go:TestSlowIssuerIsBounded", "hostile/faults_test.go:TestSlowIssuer", "hostile/faults_test.go:TestAfterCooldown"},
	"R-JWKS-7": {"keyset_test.go:TestKeysSkipsUnusableKeys", "keyset_test.go:TestKeysBadSetsKeepOldKeys"},
	"R-JWKS-8": {"keyset_test.go:TestKeysRotationAndRemoval", "hostile/faults_test.go:TestAfterCooldown"},

	"R-LOGIN-1": {"devissuer/browser_test.go:TestAuthorizeErrors", "login/login_test.go:TestLoginFlow"},
	"R-LOGIN-2": {"login/login_test.go:TestLoginFlow"},
	"R-LOGIN-3": {"login/login_test.go:TestStateBinding"},
	"R-LOGIN-4": {"login/login_test.go:TestNonceMismatch"},
	"R-LOGIN-5": {"login/login_test.go:TestReturnTo", "login/returnto_test.go:FuzzReturnTo"},
	"R-LOGIN-6": {"session/session_test.go:TestCookieAttributes", "login/login_test.go:TestSecureCookieOverHTTPS"},
	"R-LOGIN-7": {"session/session_test.go:TestIDsAreUnique", "session/session_test.go:TestRotate", "session/session_test.go:TestTimeouts",
		"login/login_test.go:TestLoginFlow", "login/login_test.go:TestExpiredSession"},
	"R-LOGIN-8":  {"login/login_test.go:TestLogoutCSRF", "login/login_test.go:TestLoginFlow", "session/session_test.go:TestDestroy", "session/session_test.go:TestCheckCSRF"},
	"R-LOGIN-9":  {"session/redis_test.go:TestRedisStoreProtectsData", "session/redis_test.go:TestRedisStoreSecrets"},
	"R-LOGIN-11": {"devissuer/csrf_test.go:TestSignInCSRF", "devissuer/throttle_test.go:TestSignInThrottle"},

	"R-GW-1": {"gateway/gateway_test.go:TestHeaders"},
	"R-GW-2": {"gateway/gateway_test.go:TestHeaders"},
	"R-GW-3": {"gateway/auth_test.go:TestAuthTrustedPair", "gateway/auth_test.go:TestAuthAttacks",
		"gateway/proxies_test.go:TestNginxAuthRequest", "gateway/proxies_test.go:TestCaddyForwardAuth"},
	"R-GW-4": {"gateway/resolve_test.go:TestMethodCase", "gateway/failclosed_test.go:TestMethodCaseProxied"},
	"R-GW-5": {"gateway/differential_test.go:TestDifferentialUpstreams", "gateway/resolve_test.go:TestPathReadings", "gateway/resolve_test.go:FuzzResolve", "gateway/gateway_test.go:TestRefusals"},
	"R-GW-6": {"gateway/failclosed_test.go:TestOverrideHeadersStripped"},
	"R-GW-7": {"gateway/failclosed_test.go:TestUpgradeRefused", "gateway/stream_test.go:TestWebSocket"},
	"R-GW-8": {"gateway/identity_test.go:TestIdentityHeadersUnambiguous"},
	"R-GW-9": {"gateway/gateway_test.go:TestRules", "gateway/gateway_test.go:TestRefusals"},

	"R-RUN-1": {"cmd/apiguard/cardinality_test.go:TestServeMetricsCardinality", "cmd/apiguard/cardinality_test.go:TestGatewayMetricsCardinality", "gateway/metrics_test.go:TestMetrics"},
	"R-RUN-2": {"cache_test.go:TestCacheHitNeedsSameToken", "cache_test.go:TestCacheEvictsExpiredFirst"},
	"R-RUN-3": {"cmd/apiguard/devmode_test.go:TestServeRefusesDevIssuerWithProductionSettings"},
	"R-RUN-4": {"cmd/apiguard/serve_test.go:TestBadSettingsStopStartup", "cmd/apiguard/gateway_test.go:TestGatewaySettingsErrors"},
	"R-RUN-5": {"cache_mem_test.go:TestCacheKeepsOnlyTheToken"},
	"R-RUN-6": {"cmd/apiguard/leak_test.go:TestNoSecretLeaks", "cmd/apiguard/leak_test.go:TestCheckHTTPURLHidesPasswords"},
}

// ruleLine is how SECURITY.md states a rule: "- **R-GROUP-N** text".
var ruleLine = regexp.MustCompile(`(?m)^- \*\*(R-[A-Z]+-[0-9]+)\*\*\s`)

// reservedLine is how SECURITY.md announces a rule whose tests are still
// being written: "- R-GROUP-N (being added) text". Tests may name it; it
// needs none yet.
var reservedLine = regexp.MustCompile(`(?m)^- (R-[A-Z]+-[0-9]+) \(being added\)\s`)

// ruleID is a rule ID anywhere in a test file.
var ruleID = regexp.MustCompile(`\bR-[A-Z]+-[0-9]+\b`)

// securityRules returns the rule IDs of the repository's SECURITY.md,
// failing the test when the file cannot be read, has no rules, or states a
// rule twice.
func securityRules(t *testing.T) map[string]bool {
	rules, _ := securityFile(t)
	return rules
}

// securityFile returns the rules SECURITY.md states and those it announces
// as being added.
func securityFile(t *testing.T) (rules, reserved map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "SECURITY.md"))
	if err != nil {
		t.Fatalf("the repository's SECURITY.md: %v", err)
	}
	rules, reserved = map[string]bool{}, map[string]bool{}
	for _, m := range ruleLine.FindAllStringSubmatch(string(data), -1) {
		if rules[m[1]] {
			t.Errorf("SECURITY.md states %s twice", m[1])
		}
		rules[m[1]] = true
	}
	for _, m := range reservedLine.FindAllStringSubmatch(string(data), -1) {
		if rules[m[1]] || reserved[m[1]] {
			t.Errorf("SECURITY.md has %s twice", m[1])
		}
		reserved[m[1]] = true
	}
	if len(rules) == 0 {
		t.Fatal(`SECURITY.md states no rule (lines "- **R-GROUP-N** …")`)
	}
	return rules, reserved
}

// testFuncs returns the names of the Test and Fuzz functions a Go file
// declares.
func testFuncs(path string) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	funcs := map[string]bool{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil &&
			(strings.HasPrefix(fd.Name.Name, "Test") || strings.HasPrefix(fd.Name.Name, "Fuzz")) {
			funcs[fd.Name.Name] = true
		}
	}
	return funcs, nil
}

// namedRules walks the repository's _test.go files (but not this one, nor
// testdata) and returns, by rule ID, the files that name it. A file counts
// only if it declares a test.
func namedRules(t *testing.T) map[string][]string {
	t.Helper()
	self, err := filepath.Abs("rules_test.go")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string][]string{}
	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != repoRoot && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if abs, err := filepath.Abs(path); err == nil && abs == self {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ids := ruleID.FindAllString(string(data), -1)
		if len(ids) == 0 {
			return nil
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if funcs, err := testFuncs(path); err != nil || len(funcs) == 0 {
			t.Errorf("%s names rules %v but declares no Test or Fuzz function (%v)", rel, ids, err)
			return nil
		}
		for _, id := range ids {
			if !slices.Contains(named[id], rel) {
				named[id] = append(named[id], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the repository's tests: %v", err)
	}
	return named
}

// TestSecurityRules holds SECURITY.md and the tests to each other: every
// rule it states is named by a test (in the test's own file or in
// ruleTests), and every rule a test names is stated there (or announced as
// being added).
func TestSecurityRules(t *testing.T) {
	rules, reserved := securityFile(t)
	named := namedRules(t)

	for id, files := range named {
		switch {
		case reserved[id]:
			t.Logf("%s names %s, announced as being added: state it as a rule", strings.Join(files, ", "), id)
		case !rules[id]:
			t.Errorf("%s names %s, which SECURITY.md does not state", strings.Join(files, ", "), id)
		}
	}

	parsed := map[string]map[string]bool{}
	for id, refs := range ruleTests {
		if !rules[id] && !reserved[id] {
			t.Errorf("ruleTests names %s, which SECURITY.md does not state", id)
		}
		if len(refs) == 0 {
			t.Errorf("ruleTests[%s] names no test", id)
		}
		for _, ref := range refs {
			file, fn, ok := strings.Cut(ref, ":")
			if !ok || !strings.HasSuffix(file, "_test.go") || fn == "" {
				t.Errorf("ruleTests[%s]: %q is not FILE_test.go:TestName", id, ref)
				continue
			}
			funcs, seen := parsed[file]
			if !seen {
				var err error
				funcs, err = testFuncs(filepath.Join(repoRoot, filepath.FromSlash(file)))
				if err != nil {
					t.Errorf("ruleTests[%s]: %v", id, err)
				}
				parsed[file] = funcs
			}
			if funcs != nil && !funcs[fn] {
				t.Errorf("ruleTests[%s]: %s declares no function %s", id, file, fn)
			}
		}
	}

	var untested []string
	for id := range rules {
		if len(named[id]) == 0 && len(ruleTests[id]) == 0 {
			untested = append(untested, id)
		}
	}
	slices.Sort(untested)
	for _, id := range untested {
		t.Errorf("SECURITY.md states %s, but no test names it", id)
	}
	t.Logf("%d rules (%d more being added), %d named in test files, %d in ruleTests", len(rules), len(reserved), len(named), len(ruleTests))
}
