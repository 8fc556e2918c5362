package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/urlcheck"
	"go.yaml.in/yaml/v3"
)

// A setting is declared once, in settingTable, with its flag, environment
// variable, gateway.yaml key, kind, default and help; each command names
// the settings it reads (newSettings) and gets them resolved in one order:
// flag, else environment, else .env, else the command's file, else the
// default. Values are parsed and checked once, by kind, and an error names
// where the bad value came from.

// kind is how a setting's value is parsed and checked.
type kind int

const (
	kindText     kind = iota
	kindSecret        // text never shown in messages
	kindBool          // 1/0, true/false, yes/no, on/off; the flag alone means on
	kindDuration      // a Go duration, not negative
	kindEnum          // one of decl.values, any letter case
	kindURL           // absolute http(s) URL, no credentials, query or fragment
	kindBaseURL       // kindURL without a trailing /
	kindAddr          // host:port
	kindList          // comma- or space-separated
	kindRedisURL      // redis:// or rediss://
)

// decl declares a setting.
type decl struct {
	key   string // name in this table; commands pick settings by it
	flag  string // "" for an environment-only setting
	env   string // "" for a flag-only setting
	file  string // top-level key of the command's file (gateway.yaml), if any
	kind  kind
	def   string
	value string   // how -h shows the value: URL, DURATION, …
	enum  []string // kindEnum's values
	help  string
	// per says what the setting means in a command, where that differs.
	per map[string]string
	// hint follows the placeholder message.
	hint string
	// check adds a check of the parsed raw value.
	check func(string) error
	// aliases are deprecated flag spellings, by command.
	aliases map[string]string
	// bare lets the flag be given without a value (--dev), for on.
	bare bool
}

// Values shared by several declarations.
var (
	logFormats = []string{"text", "json"}
	// introspectionModes and dpopModes are the values of introspection and
	// dpop (serve and gateway read them the same way).
	introspectionModes = []string{"off", "opaque", "always"}
	dpopModes          = []string{"on", "off", "required"}
	logLevels          = []string{"debug", "info", "warn", "error"}
	authStyles         = []string{"basic", "post"}
)

// settingTable declares every setting of serve, gateway, issuer and token.
var settingTable = []*decl{
	// Where to listen and be reached.
	{key: "addr", flag: "addr", env: "APIGUARD_ADDR", kind: kindAddr, def: "127.0.0.1:5000", help: "listen address"},
	{key: "gateway-addr", flag: "addr", file: "listen", kind: kindAddr, def: "127.0.0.1:8080", help: "listen address"},
	{key: "issuer-addr", flag: "addr", env: "APIGUARD_ISSUER_ADDR", kind: kindAddr, def: "127.0.0.1:9000", help: "listen address"},
	{key: "public-url", flag: "public-url", env: "APIGUARD_PUBLIC_URL", file: "public_url", kind: kindBaseURL,
		help: "URL clients reach the service at, e.g. a load balancer's (default: http:// and the bound address)",
		per: map[string]string{
			"serve":   "login redirect URIs, the resource metadata and DPoP proofs' htu are built from it",
			"gateway": "the prefix of DPoP proofs' htu: the gateway's own URL, or the site of the proxy asking /auth",
		}},
	{key: "issuer-public-url", flag: "public-url", env: "APIGUARD_ISSUER_PUBLIC_URL", kind: kindBaseURL,
		help: "URL the issuer is reached at, without /oauth2/default (default: http:// and the bound address)"},

	// The issuer and its tokens.
	{key: "issuer", flag: "issuer", env: "OKTA_ISSUER", file: "issuer", kind: kindURL,
		help: "issuer URL, e.g. https://dev-123.okta.com/oauth2/default",
		per: map[string]string{
			"serve":   "default: the embedded development issuer",
			"gateway": "required: the gateway has no development issuer (run `apiguard issuer` for one)",
			"token":   "required unless --token-url is set",
			"inspect": "the issuer to verify against (default: decode only)",
		},
		hint: "put your Okta domain there (Okta admin console > Security > API > Authorization Servers > Issuer URI)"},
	{key: "issuers", flag: "issuers", env: "OKTA_ISSUERS", kind: kindText, value: "NAME=URL[|AUDIENCE],...",
		help: "issuers accepted besides OKTA_ISSUER (named default, always first): comma-separated name=issuer-url or " +
			"name=issuer-url|audience (audience default: OKTA_AUDIENCE), e.g. partners=https://dev-123.okta.com/oauth2/aus123|api://partners; " +
			"names of letters, digits and ._-; introspection and browser login stay with OKTA_ISSUER (default: OKTA_ISSUER alone)"},
	{key: "audience", flag: "audience", env: "OKTA_AUDIENCE", file: "audience", kind: kindText, def: apiguard.DefaultAudience,
		help: "audience of access tokens", check: notEmpty},
	{key: "client-id", flag: "client-id", env: "OKTA_CLIENT_ID", file: "client_ids", kind: kindText,
		help: "OAuth client id",
		per: map[string]string{
			"serve":   "the client of the browser login and of introspection; with the embedded issuer, the id of its client (default: generated once, kept in APIGUARD_DEV_STATE)",
			"gateway": "the only client whose tokens are accepted (the file's client_ids may list several; default: any client), and the introspection client unless APIGUARD_INTROSPECTION_CLIENT_ID is set",
			"issuer":  "the id of the development issuer's client (default: generated once, kept in APIGUARD_DEV_STATE)",
			"token":   "the client that asks for the token (required)",
		}},
	{key: "client-secret", flag: "client-secret", env: "OKTA_CLIENT_SECRET", kind: kindSecret,
		help: "OAuth client secret",
		per: map[string]string{
			"serve":   "the secret of OKTA_CLIENT_ID; with the embedded issuer, its client's secret (default: generated once, kept in APIGUARD_DEV_STATE)",
			"gateway": "secret of the introspection client",
			"token":   "the secret of OKTA_CLIENT_ID (required)",
			"issuer":  "secret of the development issuer's client (default: generated once, kept in APIGUARD_DEV_STATE)",
		}},
	{key: "introspection-client-id", flag: "introspection-client-id", env: "APIGUARD_INTROSPECTION_CLIENT_ID", kind: kindText,
		help: "client the gateway authenticates as at the introspection endpoint (default: OKTA_CLIENT_ID)"},

	// serve.
	{key: "allowed-origins", flag: "allowed-origins", env: "ALLOWED_ORIGINS", kind: kindList, value: "ORIGINS",
		help: "CORS: comma-separated origins allowed to call the API from browsers, or * (default: CORS off)", check: checkOrigins},
	{key: "redis-url", flag: "redis-url", env: "APIGUARD_REDIS_URL", kind: kindRedisURL,
		help: "redis:// or rediss:// URL of the state instances share (default: in memory)",
		per: map[string]string{
			"serve":   "sessions, the introspection cache and the DPoP replay cache",
			"gateway": "the introspection cache and the DPoP replay cache",
		}},
	{key: "session-secret", flag: "session-secret", env: "APIGUARD_SESSION_SECRET", kind: kindSecret,
		help: "secret of at least 32 characters, the same on every instance (required with Redis): seals what is stored in Redis and keys DPoP nonces"},
	{key: "require-scope", flag: "require-scope", env: "APIGUARD_REQUIRED_SCOPES", kind: kindList, value: "SCOPES",
		help: "scopes /secure-data requires, comma-separated (default: none)"},
	{key: "login-scopes", flag: "login-scopes", env: "APIGUARD_LOGIN_SCOPES", kind: kindList, value: "SCOPES",
		help: "scopes asked for at browser login (default: openid profile email offline_access, plus groups on the development issuer and the required scopes)"},
	{key: "issuer-config", flag: "issuer-config", env: "APIGUARD_ISSUER_CONFIG", kind: kindText, value: "FILE",
		help: "YAML file of the development issuer's clients, users and scopes (default: one client and one user)", aliases: map[string]string{"issuer": "config"}},
	{key: "dev", flag: "dev", env: "APIGUARD_DEV", kind: kindBool, def: "false", bare: true,
		help: "run the embedded development issuer even where settings look like production (OKTA_CLIENT_ID, OKTA_CLIENT_SECRET, an https public URL, Redis, an address beyond loopback)"},
	{key: "dev-state", flag: "dev-state", env: "APIGUARD_DEV_STATE", kind: kindText, value: "FILE|off",
		help: "file keeping the development issuer's generated client id and secret, user, password and signing keys across restarts " +
			"(mode 0600; holds private keys: never commit it), or off to keep them in memory, new at every start " +
			"(default: " + devStateDefaultHelp + ")"},
	{key: "dev-state-reset", flag: "dev-state-reset", kind: kindBool, def: "false", bare: true,
		help: "delete the development issuer's state file before starting: a new client secret, password and signing keys (tokens issued before are refused)"},
	{key: "dev-user", env: "APIGUARD_DEV_USER", kind: kindText,
		help: "user name of the development issuer's user (default: dev@example.com; ignored with APIGUARD_ISSUER_CONFIG)"},
	{key: "dev-password", env: "APIGUARD_DEV_PASSWORD", kind: kindSecret,
		help: "password of the development issuer's user, never printed nor stored (default: generated once, kept in APIGUARD_DEV_STATE; ignored with APIGUARD_ISSUER_CONFIG)"},

	// Token checks (serve and gateway).
	{key: "introspection", flag: "introspection", env: "APIGUARD_INTROSPECTION", file: "introspection", kind: kindEnum, def: "off",
		enum: introspectionModes,
		help: "introspect tokens at the issuer (RFC 7662): off, opaque (tokens that are not JWTs) or always (every token: revocation is seen)"},
	{key: "introspection-cache-ttl", flag: "introspection-cache-ttl", env: "APIGUARD_INTROSPECTION_CACHE_TTL", file: "introspection_cache_ttl",
		kind: kindDuration, def: "1m",
		help: "longest an introspection result is reused (shared through APIGUARD_REDIS_URL when set); 0: ask the issuer on every request"},
	{key: "dpop", flag: "dpop", env: "APIGUARD_DPOP", file: "dpop", kind: kindEnum, def: "on", enum: dpopModes,
		help: "DPoP sender-constrained tokens (RFC 9449): on (DPoP-bound and bearer tokens), required (DPoP-bound only) or off (DPoP-bound tokens refused)"},
	{key: "dpop-nonce", flag: "dpop-nonce", env: "APIGUARD_DPOP_NONCE", file: "dpop_nonce", kind: kindBool, def: "off",
		help: "require server-issued DPoP nonces: on or off (instances share nonces when they share APIGUARD_SESSION_SECRET)"},

	// gateway.
	{key: "gateway-config", flag: "config", env: "APIGUARD_GATEWAY_CONFIG", kind: kindText, def: "gateway.yaml", value: "FILE",
		help: "route rules file (reloaded on change and on SIGHUP)"},
	{key: "auth-proxy", flag: "auth-proxy", env: "APIGUARD_AUTH_PROXY", file: "auth_proxy", kind: kindEnum, def: gateway.AuthProxyNginx,
		enum: gateway.AuthProxies(),
		help: "proxy that asks /auth for decisions, naming the only headers trusted to describe the request: nginx (X-Original-Method, X-Original-URI), traefik or caddy (X-Forwarded-Method, X-Forwarded-Uri)"},

	// issuer.
	{key: "app-url", flag: "app-url", kind: kindList, def: "http://localhost:5000,http://127.0.0.1:5000", value: "URLS",
		help: "comma-separated URLs of the application; each gives the default client a /login/callback and a /logout/callback redirect URI",
		check: func(raw string) error {
			for _, u := range splitList(raw) {
				if err := checkHTTPURL(u); err != nil {
					return err
				}
			}
			return nil
		}},
	{key: "rotate-every", flag: "rotate-every", env: "APIGUARD_ISSUER_ROTATE_EVERY", kind: kindDuration, def: "0",
		help: "rotate the signing key at this period, e.g. 1h (0: only on SIGHUP)",
		check: func(raw string) error {
			if d, _ := time.ParseDuration(raw); d > 0 && d < time.Second {
				return fmt.Errorf("%q is not a duration of at least 1s, like 1h or 15m (0 turns rotation off)", raw)
			}
			return nil
		}},

	// token.
	{key: "token-url", flag: "token-url", kind: kindURL, help: "token endpoint (default: from the issuer's discovery document)"},
	{key: "scope", flag: "scope", kind: kindList, value: "SCOPES", help: `space-separated scopes, e.g. "api:read api:write" (default: the issuer's default scopes)`},
	{key: "auth", flag: "auth", kind: kindEnum, def: "basic", enum: authStyles,
		help: "client authentication: basic (client_secret_basic) or post (client_secret_post)"},
	{key: "json", flag: "json", kind: kindBool, def: "false", bare: true, help: "print the whole token response as JSON instead of the access token"},

	// Logs.
	{key: "log-format", flag: "log-format", env: "APIGUARD_LOG_FORMAT", kind: kindEnum, def: "text", enum: logFormats, help: "log format (slog)"},
	{key: "log-level", flag: "log-level", env: "APIGUARD_LOG_LEVEL", kind: kindEnum, def: "info", enum: logLevels, help: "log level"},
}

// lookupDecl returns the declaration of key.
func lookupDecl(key string) *decl {
	for _, d := range settingTable {
		if d.key == key {
			return d
		}
	}
	panic("apiguard: no setting " + key)
}

// source says where a resolved value came from.
type source int

const (
	fromDefault source = iota
	fromFlag
	fromEnv
	fromDotEnv
	fromFile
)

// resolved is a setting's value in a command.
type resolved struct {
	d      *decl
	raw    string
	src    source
	flag   string // the flag spelling given
	line   int    // .env or file line
	parsed any
}

// settings are the settings a command reads.
type settings struct {
	cmd string
	fs  *flag.FlagSet
	all []*resolved
	// file names the setting holding the path of the command's file
	// (gateway.yaml); "" for none.
	file     string
	fileData []byte
}

// newSettings declares the flags of the settings keys for command cmd.
func newSettings(cmd string, stderr io.Writer, keys ...string) *settings {
	fs := flag.NewFlagSet("apiguard "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &settings{cmd: cmd, fs: fs}
	for _, k := range keys {
		s.use(lookupDecl(k))
	}
	fs.Usage = func() { s.usage(fs.Output(), "usage: apiguard "+cmd+" [flags]") }
	return s
}

func (s *settings) use(d *decl) *resolved {
	r := &resolved{d: d, raw: d.def}
	s.all = append(s.all, r)
	if d.flag != "" {
		s.fs.Var(flagValue{r, d.flag}, d.flag, s.helpOf(d))
		if a := d.aliases[s.cmd]; a != "" {
			s.fs.Var(flagValue{r, a}, a, "deprecated spelling of --"+d.flag)
		}
	}
	return r
}

// raw returns where the value of a setting the command reads will be, for
// a command that reads its flags itself (inspect).
func (s *settings) raw(key string) *string { return &s.get(key).raw }

// helpOf is a setting's help in this command.
func (s *settings) helpOf(d *decl) string {
	h := d.help
	if p := d.per[s.cmd]; p != "" {
		h += " — " + p
	}
	switch d.kind {
	case kindBool:
		switch {
		case d.bare && d.env != "":
			h += " (the flag alone turns it on; otherwise 1/0, true/false, yes/no or on/off)"
		case !d.bare:
			h += " (1/0, true/false, yes/no or on/off)"
		}
	}
	return h
}

// usage prints every setting the command reads, in one style.
func (s *settings) usage(w io.Writer, head string) {
	fmt.Fprintln(w, head)
	order := "flag, else environment, else .env"
	if s.file != "" {
		order += ", else the key of the --config file"
	}
	fmt.Fprintf(w, "\nsettings (%s, else default):\n", order)
	for _, r := range s.all {
		d := r.d
		var names []string
		if d.flag != "" {
			f := "--" + d.flag
			if v := valueName(d); v != "" {
				f += " " + v
			}
			names = append(names, f)
		}
		if d.env != "" {
			names = append(names, "$"+d.env)
		}
		if d.file != "" && s.file != "" {
			names = append(names, "file: "+d.file)
		}
		fmt.Fprintf(w, "  %s\n      %s", strings.Join(names, ", "), s.helpOf(d))
		if d.def != "" && !d.bare {
			fmt.Fprintf(w, " (default %s)", d.def)
		}
		fmt.Fprintln(w)
		if a := d.aliases[s.cmd]; a != "" {
			if v := valueName(d); v != "" {
				a += " " + v
			}
			fmt.Fprintf(w, "  --%s\n      deprecated spelling of --%s\n", a, d.flag)
		}
	}
}

func valueName(d *decl) string {
	if d.value != "" {
		return d.value
	}
	switch d.kind {
	case kindBool:
		if d.bare {
			return ""
		}
		return "on|off"
	case kindDuration:
		return "DURATION"
	case kindURL, kindBaseURL, kindRedisURL:
		return "URL"
	case kindAddr:
		return "HOST:PORT"
	case kindEnum:
		return strings.Join(d.enum, "|")
	case kindSecret:
		return "SECRET"
	}
	return "VALUE"
}

type flagValue struct {
	r    *resolved
	name string
}

// IsBoolFlag lets an on/off setting's flag be given without a value.
func (f flagValue) IsBoolFlag() bool { return f.r != nil && f.r.d.bare }

func (f flagValue) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.d.def
}

func (f flagValue) Set(v string) error {
	f.r.raw, f.r.src, f.r.flag = v, fromFlag, f.name
	return nil
}

// withFile makes the setting key name the command's file, whose top-level
// keys come after the environment and .env.
func (s *settings) withFile(key string) { s.file = key }

// parse parses args and resolves every setting: flag, else environment,
// else .env, else the command's file, else default; then parses and checks
// each value by its kind.
func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	if s.fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", s.fs.Arg(0))}
	}
	for _, r := range s.all {
		if r.src != fromDefault || r.d.env == "" {
			continue
		}
		if v, ok := os.LookupEnv(r.d.env); ok && v != "" {
			r.raw, r.src = v, fromEnv
			if line, ok := dotEnvLine(r.d.env, v); ok {
				r.src, r.line = fromDotEnv, line
			}
		}
	}
	if s.file != "" {
		if err := s.readFile(); err != nil {
			return err
		}
	}
	for _, r := range s.all {
		if err := s.check(r); err != nil {
			return err
		}
	}
	return nil
}

// readFile fills the settings still at their default from the command's
// file's top-level keys, remembering their lines.
func (s *settings) readFile() error {
	fr := s.get(s.file)
	data, err := os.ReadFile(fr.raw)
	if err != nil {
		return s.bad(s.file, "failed to read: %v", err)
	}
	s.fileData = data
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil // the file's own parser says what is wrong
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		for _, r := range s.all {
			if r.d.file != k.Value || r.src != fromDefault {
				continue
			}
			switch v.Kind {
			case yaml.ScalarNode:
				r.raw = v.Value
			case yaml.SequenceNode:
				var items []string
				for _, it := range v.Content {
					items = append(items, it.Value)
				}
				r.raw = strings.Join(items, ",")
			default:
				continue
			}
			if v.Tag == "!!null" {
				r.raw = r.d.def
				continue
			}
			r.src, r.line = fromFile, k.Line
		}
	}
	return nil
}

// check parses r's value by its kind.
func (s *settings) check(r *resolved) error {
	d, raw := r.d, r.raw
	if r.src != fromDefault {
		if p := placeholder(raw); p != "" {
			shown := fmt.Sprintf("%q is", raw)
			if d.kind == kindSecret {
				shown = "holds" // a secret is not shown, even beside a placeholder
			}
			msg := fmt.Sprintf("%s the tutorial's placeholder %s", shown, p)
			if d.hint != "" {
				msg += ": " + d.hint
			}
			return s.bad(d.key, "%s", msg)
		}
	}
	var err error
	switch d.kind {
	case kindText, kindSecret:
		r.parsed = raw
	case kindBool:
		r.parsed, err = parseBool(raw)
	case kindDuration:
		var v time.Duration
		v, err = time.ParseDuration(raw)
		if err != nil || v < 0 {
			err = fmt.Errorf("%q is not a duration like 30s or 5m", raw)
		}
		r.parsed = v
	case kindEnum:
		v := strings.ToLower(raw)
		if !slices.Contains(d.enum, v) {
			err = fmt.Errorf("%q is not %s", raw, orList(d.enum))
		}
		r.parsed = v
	case kindURL, kindBaseURL:
		if d.kind == kindBaseURL {
			raw = strings.TrimSuffix(raw, "/")
		}
		if raw != "" {
			err = checkHTTPURL(raw)
		}
		r.parsed = raw
	case kindAddr:
		err = checkAddr(raw)
		r.parsed = raw
	case kindList:
		r.parsed = splitList(raw)
	case kindRedisURL:
		if raw != "" {
			u, perr := url.Parse(raw)
			if perr != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				err = fmt.Errorf("%q is not a redis:// or rediss:// URL", redactURL(raw))
			}
		}
		r.parsed = raw
	}
	if err == nil && d.check != nil && (raw != "" || d.def != "") {
		err = d.check(raw)
	}
	if err != nil {
		return s.bad(d.key, "%v", err)
	}
	return nil
}

// placeholderRE matches the tutorial's placeholders: {yourOktaDomain},
// {yourClientId}, {yourClientSecret}, any {your…}, and the
// your-okta-domain of its URLs.
var placeholderRE = regexp.MustCompile(`(?i)\{your[^}]*\}|your-okta-domain`)

// placeholder returns the tutorial's placeholder in v, or "".
func placeholder(v string) string {
	return placeholderRE.FindString(v)
}

func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not 1 or 0 (true or false, on or off)", v)
}

func (s *settings) get(key string) *resolved {
	for _, r := range s.all {
		if r.d.key == key {
			return r
		}
	}
	panic("apiguard " + s.cmd + ": setting " + key + " not read by this command")
}

// str returns a text, URL, address or enum setting.
func (s *settings) str(key string) string { v, _ := s.get(key).parsed.(string); return v }

// bool returns an on/off setting.
func (s *settings) bool(key string) bool { v, _ := s.get(key).parsed.(bool); return v }

// duration returns a duration setting.
func (s *settings) duration(key string) time.Duration {
	v, _ := s.get(key).parsed.(time.Duration)
	return v
}

// list returns a list setting.
func (s *settings) list(key string) []string { v, _ := s.get(key).parsed.([]string); return v }

// name returns how a setting is known to users: "OKTA_ISSUER (--issuer)".
func (s *settings) name(key string) string { return s.get(key).d.name() }

// settingName returns how the setting key of settingTable is known to
// users, for errors found after the settings were read.
func settingName(key string) string { return lookupDecl(key).name() }

func (d *decl) name() string {
	switch {
	case d.env == "" && d.flag == "":
		return d.key
	case d.env == "":
		return "--" + d.flag
	case d.flag == "":
		return d.env
	}
	return d.env + " (--" + d.flag + ")"
}

// origin names a setting with where its value came from:
// "--issuer", "OKTA_ISSUER from .env line 3", "introspection in
// gateway.yaml line 9", or for the environment or a default its name.
func (s *settings) origin(key string) string {
	r := s.get(key)
	switch r.src {
	case fromFlag:
		return "--" + r.flag
	case fromDotEnv:
		return fmt.Sprintf("%s from %s line %d", r.d.env, dotEnvPath, r.line)
	case fromFile:
		return fmt.Sprintf("%s in %s line %d", r.d.file, s.get(s.file).raw, r.line)
	}
	return s.name(key)
}

// bad returns a usage error naming the setting and its value's origin.
func (s *settings) bad(key string, format string, args ...any) error {
	return &usageError{fmt.Errorf("%s: %s", s.origin(key), fmt.Sprintf(format, args...))}
}

func notEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkOrigins(raw string) error {
	for _, o := range splitList(raw) {
		if o == "*" {
			continue
		}
		if u, err := urlcheck.Base(o); err != nil || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("%q is not an origin like https://app.example.com", redactURL(o))
		}
	}
	return nil
}

// checkHTTPURL checks that raw is an absolute http(s) URL with no user
// information, query or fragment (urlcheck.Base). Messages show the URL
// with any password hidden: a URL with credentials in it is refused, not
// echoed.
func checkHTTPURL(raw string) error {
	if _, err := urlcheck.Base(raw); err != nil {
		if u, perr := url.Parse(raw); errors.Is(err, urlcheck.ErrScheme) || (perr == nil && u.Scheme == "") {
			return fmt.Errorf("%q must start with https:// (or http:// for a local issuer)", redactURL(raw))
		}
		return fmt.Errorf("%q: %w", redactURL(raw), err)
	}
	return nil
}

// checkAddr checks a host:port listen address.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		if strings.ContainsAny(host, "/ ") {
			return fmt.Errorf("%q has a bad host", addr)
		}
	}
	return nil
}

// splitList splits a comma- or space-separated list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
