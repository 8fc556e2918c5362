package gateway_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTrustBoundariesNameRealTests: every test the README's "Trust
// boundaries" section names as holding a row is a test function of this
// package, so a renamed or deleted test cannot leave a row unguarded.
func TestTrustBoundariesNameRealTests(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Trust boundaries\n")
	if start < 0 {
		t.Fatal("README.md has no Trust boundaries section")
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	names := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(section, -1)
	if len(names) == 0 {
		t.Fatal("the Trust boundaries section names no tests")
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for _, m := range names {
		if !regexp.MustCompile(`(?m)^func ` + m[1] + `\(`).MatchString(src.String()) {
			t.Errorf("Trust boundaries names %s, which is not a test function here", m[1])
		}
	}
}
