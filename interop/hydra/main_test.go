// Package hydra_test runs Ory Hydra v2 on loopback and verifies the JWT
// access tokens it issues with apiguard.
//
// Hydra is a program, not a library, so TestMain builds it once from the
// module proxy, the way its own go.mod builds it (with the replace of
// github.com/gobuffalo/pop/v6 by Ory's fork, and -tags sqlite for the
// in-memory store), and caches the binary by version under the user cache
// directory (${XDG_CACHE_HOME:-$HOME/.cache}/apiguard-hydra/v2.3.0/hydra).
// The first build takes minutes; later runs reuse it.
//
// Set APIGUARD_SKIP_HYDRA=1 to skip these tests (for machines that cannot
// build Hydra); without it a failed build fails the tests.
package hydra_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	hydraModule  = "github.com/ory/hydra/v2"
	hydraVersion = "v2.3.0"
	skipEnv      = "APIGUARD_SKIP_HYDRA"
)

// build is the outcome of TestMain's build, handed to the tests through
// the environment of this process (see hydraBinary).
const (
	binaryEnv    = "APIGUARD_TEST_HYDRA_BINARY"
	buildInfoEnv = "APIGUARD_TEST_HYDRA_BUILD"
	buildErrEnv  = "APIGUARD_TEST_HYDRA_BUILD_ERROR"
)

func TestMain(m *testing.M) {
	if os.Getenv(skipEnv) != "1" {
		bin, info, err := buildHydra()
		if err != nil {
			os.Setenv(buildErrEnv, err.Error())
		} else {
			os.Setenv(binaryEnv, bin)
			os.Setenv(buildInfoEnv, info)
		}
	}
	os.Exit(m.Run())
}

// hydraBinary returns the path of the Hydra binary TestMain built, skipping
// the test when APIGUARD_SKIP_HYDRA=1 and failing it when the build failed.
func hydraBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv(skipEnv) == "1" {
		t.Skipf("%s=1: Hydra interop tests skipped", skipEnv)
	}
	if msg := os.Getenv(buildErrEnv); msg != "" {
		t.Fatalf("failed to build Hydra %s (set %s=1 to skip): %s", hydraVersion, skipEnv, msg)
	}
	t.Logf("Hydra %s: %s", hydraVersion, os.Getenv(buildInfoEnv))
	return os.Getenv(binaryEnv)
}

// buildHydra returns the cached Hydra binary, building it first when the
// cache has none, and a line saying how it was had.
func buildHydra() (bin, info string, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", fmt.Errorf("failed to find the user cache directory: %w", err)
	}
	dir := filepath.Join(cache, "apiguard-hydra", hydraVersion)
	bin = filepath.Join(dir, "hydra")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		took, _ := os.ReadFile(filepath.Join(dir, "build-time"))
		return bin, fmt.Sprintf("cached at %s (first built in %s)", bin, strings.TrimSpace(string(took))), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("failed to create %s: %w", dir, err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", "", fmt.Errorf("failed to create a build directory: %w", err)
	}
	defer os.RemoveAll(work)

	start := time.Now()
	fmt.Fprintf(os.Stderr, "hydra_test: building %s@%s into %s (once; this takes minutes)\n", hydraModule, hydraVersion, bin)
	replace, err := popReplace(work)
	if err != nil {
		return "", "", err
	}
	gomod := "module apiguard.test/hydrabuild\n\ngo 1.26.0\n\n" + replace + "\n"
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", "", err
	}
	// A file importing Hydra's main package keeps it in the build list.
	tools := "//go:build tools\n\npackage tools\n\nimport _ \"" + hydraModule + "\"\n"
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(tools), 0o644); err != nil {
		return "", "", err
	}
	tmpBin := filepath.Join(work, "hydra")
	for _, args := range [][]string{
		{"get", hydraModule + "@" + hydraVersion},
		{"build", "-tags", "sqlite", "-o", tmpBin, hydraModule},
	} {
		if _, err := goCmd(work, args...); err != nil {
			return "", "", err
		}
	}
	took := time.Since(start).Round(time.Second)
	if err := os.Rename(tmpBin, bin); err != nil {
		return "", "", fmt.Errorf("failed to move the binary into the cache: %w", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "build-time"), []byte(took.String()+"\n"), 0o644)
	fmt.Fprintf(os.Stderr, "hydra_test: built Hydra in %s\n", took)
	return bin, fmt.Sprintf("built now in %s, cached at %s", took, bin), nil
}

// popReplace returns the replace directive for github.com/gobuffalo/pop/v6
// that Hydra's own go.mod carries (replaces in a dependency's go.mod do not
// apply to the main module, so the build module must repeat it).
func popReplace(work string) (string, error) {
	out, err := goCmd(work, "mod", "download", "-json", hydraModule+"@"+hydraVersion)
	if err != nil {
		return "", err
	}
	var mod struct{ GoMod string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.GoMod == "" {
		return "", fmt.Errorf("failed to find Hydra's go.mod in %q: %v", out, err)
	}
	data, err := os.ReadFile(mod.GoMod)
	if err != nil {
		return "", fmt.Errorf("failed to read Hydra's go.mod: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "replace github.com/gobuffalo/pop/v6 ") {
			return line, nil
		}
	}
	return "", errors.New("hydra's go.mod has no replace for github.com/gobuffalo/pop/v6")
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + "\n" + stderr.String())
		if len(msg) > 4000 {
			msg = msg[len(msg)-4000:]
		}
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}
