package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// settingsDocs are the files whose tables document the settings.
var settingsDocs = []string{"../../README.md", "../../gateway/README.md"}

// awaitingREADME are declared variables whose README rows the lead adds
// with this change (see the report of issue 14); empty this list once
// they are there.
var awaitingREADME = []string{}

var (
	docEnvRE  = regexp.MustCompile("`((?:OKTA|APIGUARD|ALLOWED)_[A-Z0-9_]+)`")
	docFlagRE = regexp.MustCompile("`--([a-z][a-z0-9-]*)`")
)

// docRows returns the table rows of the settings documents.
func docRows(t *testing.T) []string {
	t.Helper()
	var rows []string
	for _, path := range settingsDocs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "|") {
				rows = append(rows, line)
			}
		}
	}
	return rows
}

// TestSettingsDocumented: every environment variable in the READMEs'
// tables is a declared setting, every declared one is in a table, and a
// row naming one variable and one flag names the variable's own flag.
func TestSettingsDocumented(t *testing.T) {
	declared := map[string]*decl{}
	for _, d := range settingTable {
		if d.env != "" {
			declared[d.env] = d
		}
	}
	documented := map[string]bool{}
	for _, row := range docRows(t) {
		var envs, flags []string
		for _, m := range docEnvRE.FindAllStringSubmatch(row, -1) {
			envs = append(envs, m[1])
			documented[m[1]] = true
			if declared[m[1]] == nil {
				t.Errorf("got %s documented in %q, want it declared in settingTable", m[1], row)
			}
		}
		for _, m := range docFlagRE.FindAllStringSubmatch(row, -1) {
			flags = append(flags, m[1])
		}
		if len(envs) == 1 && len(flags) == 1 {
			if d := declared[envs[0]]; d != nil && d.flag != flags[0] {
				t.Errorf("got --%s beside %s in %q, want --%s", flags[0], envs[0], row, d.flag)
			}
		}
	}
	for env := range declared {
		if !documented[env] && !slices.Contains(awaitingREADME, env) {
			t.Errorf("got %s declared but in no settings table of %s, want a row for it", env, strings.Join(settingsDocs, " or "))
		}
	}
}

// TestEveryCommandsHelpListsItsSettings: -h of each command names every
// setting the command reads, by flag and by environment variable, in the
// same style.
func TestEveryCommandsHelpListsItsSettings(t *testing.T) {
	for cmd, keys := range map[string][]string{
		"serve": serveSettings, "gateway": gatewaySettings, "issuer": issuerSettings, "token": tokenSettings,
		"dev-env": devEnvSettings,
	} {
		t.Run(cmd, func(t *testing.T) {
			var out syncBuffer
			s := newSettings(cmd, &out, keys...)
			if cmd == "gateway" {
				s.withFile("gateway-config")
			}
			if err := s.parse([]string{"-h"}); err == nil {
				t.Fatal("got no error for -h, want flag.ErrHelp")
			}
			help := out.String()
			if !strings.HasPrefix(help, "usage: apiguard "+cmd+" [flags]\n\nsettings (") {
				t.Errorf("got help starting %.60q, want the common usage line", help)
			}
			for _, k := range keys {
				d := lookupDecl(k)
				if d.flag != "" && !strings.Contains(help, "--"+d.flag) {
					t.Errorf("got help without --%s", d.flag)
				}
				if d.env != "" && !strings.Contains(help, "$"+d.env) {
					t.Errorf("got help without $%s", d.env)
				}
			}
		})
	}
}
