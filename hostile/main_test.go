// Package hostile proves the repository's SECURITY.md over HTTP: hostile tokens
// and issuer faults sent to the real `apiguard serve` binary, built once by
// TestMain (with -race when the tests run with -race), configured with
// OKTA_ISSUER pointing at a loopback test issuer (internal/testissuer) that
// the tests control.
//
// # Files
//
//   - hostile_test.go: the hostile-token table, each case naming the
//     SECURITY.md rule it proves, beside a valid control in every algorithm.
//   - faults_test.go: the issuer down, slow, rotating, serving garbage,
//     flooded with unknown kids, or naming another issuer; with numbers.
//   - concurrency_test.go: many goroutines verifying during rotation and
//     refresh, in process and against serve (run them with -race).
package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// binaryEnv names the serve binary for the tests: set by TestMain after
// building it, or beforehand to test another build.
const binaryEnv = "APIGUARD_TEST_BINARY"

// buildErrEnv carries a build failure from TestMain to the tests.
const buildErrEnv = "APIGUARD_TEST_BINARY_ERROR"

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(binaryEnv) == "" {
			dir, err := os.MkdirTemp("", "apiguard-hostile-")
			if err != nil {
				fmt.Fprintf(os.Stderr, "hostile: %v\n", err)
				return 1
			}
			defer os.RemoveAll(dir)
			bin := filepath.Join(dir, "apiguard")
			args := []string{"build", "-o", bin}
			if raceEnabled {
				args = append(args, "-race")
			}
			args = append(args, "github.com/apiguard/apiguard/cmd/apiguard")
			start := time.Now()
			if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
				os.Setenv(buildErrEnv, fmt.Sprintf("go %v: %v\n%s", args, err, out))
			} else {
				os.Setenv(binaryEnv, bin)
				fmt.Fprintf(os.Stderr, "hostile: built apiguard (race %v) in %s\n", raceEnabled, time.Since(start).Round(time.Millisecond))
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// binary returns the serve binary, failing the test when it could not be
// built.
func binary(t *testing.T) string {
	t.Helper()
	if msg := os.Getenv(buildErrEnv); msg != "" {
		t.Fatalf("failed to build apiguard: %s", msg)
	}
	return os.Getenv(binaryEnv)
}
