package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
)

// settings reads a command's settings from flags, then the environment
// (into which main has merged .env), then defaults.
type settings struct {
	fs   *flag.FlagSet
	list []*setting
}

type setting struct {
	flag, env, def string
	value          *string
	set            bool // given as a flag
	boolean        bool // a flag without a value: --dev
}

func newSettings(name string, stderr io.Writer) *settings {
	fs := flag.NewFlagSet("apiguard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &settings{fs: fs}
}

// add declares a setting with a flag and, when env is not empty, an
// environment variable.
func (s *settings) add(flagName, env, def, help string) *string {
	st := &setting{flag: flagName, env: env, def: def, value: new(string)}
	if env != "" {
		help += " (env " + env + ")"
	}
	s.fs.Var(flagValue{st}, flagName, help)
	*st.value = def
	s.list = append(s.list, st)
	return st.value
}

// addBool declares an on/off setting: the flag alone (--dev) turns it on,
// and the environment variable takes 1/0, true/false, yes/no or on/off.
// Read it with (*settings).bool after parse.
func (s *settings) addBool(flagName, env, help string) *string {
	v := s.add(flagName, env, "false", help)
	s.list[len(s.list)-1].boolean = true
	return v
}

// bool reads a setting declared with addBool.
func (s *settings) bool(value *string) (bool, error) {
	switch strings.ToLower(*value) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, s.bad(value, "%q is not 1 or 0 (true or false)", *value)
}

type flagValue struct{ s *setting }

// IsBoolFlag lets an on/off setting's flag be given without a value.
func (f flagValue) IsBoolFlag() bool { return f.s != nil && f.s.boolean }

func (f flagValue) String() string {
	if f.s == nil {
		return ""
	}
	return f.s.def
}

func (f flagValue) Set(v string) error { *f.s.value, f.s.set = v, true; return nil }

// parse parses args and fills the settings not given as flags from the
// environment.
func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{err}
	}
	if s.fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", s.fs.Arg(0))}
	}
	for _, st := range s.list {
		if st.set || st.env == "" {
			continue
		}
		if v, ok := os.LookupEnv(st.env); ok && v != "" {
			*st.value = v
		}
	}
	return nil
}

// name returns how a setting is known to users: "OKTA_ISSUER (--issuer)".
func (s *settings) name(value *string) string {
	for _, st := range s.list {
		if st.value == value {
			if st.env == "" {
				return "--" + st.flag
			}
			return st.env + " (--" + st.flag + ")"
		}
	}
	return "setting"
}

// bad returns a usage error naming the setting.
func (s *settings) bad(value *string, format string, args ...any) error {
	return &usageError{fmt.Errorf("%s: %s", s.name(value), fmt.Sprintf(format, args...))}
}

// checkHTTPURL checks that raw is an absolute http(s) URL with no user
// information, query or fragment. Messages show the URL with any password
// hidden: a URL with credentials in it is refused, not echoed.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", redactURL(raw))
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with https:// (or http:// for a local issuer)", shown)
	case u.Host == "":
		return fmt.Errorf("%q has no host", shown)
	case u.User != nil:
		return fmt.Errorf("%q must not contain a user name or password", shown)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment", shown)
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
