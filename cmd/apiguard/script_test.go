package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run the real apiguard command as a subprocess.
// The tests themselves run with the development issuer's state in memory
// (APIGUARD_DEV_STATE=off), as before it had a state file, so that none
// writes to the developer's state directory or depends on what an earlier
// run left there; the tests of the state file set their own in
// t.TempDir(). The subprocess (os.Args[0] "apiguard") keeps the
// environment its script gives it.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) != "apiguard" {
		os.Setenv("APIGUARD_DEV_STATE", "off")
	}
	testscript.Main(m, map[string]func(){"apiguard": main})
}

// TestScripts runs the CLI scenarios in testdata/script against the real
// binary: exit codes, messages, .env files, signals.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(port))
			env.Setenv("APIGUARD_DEV_STATE", "off") // HOME is /no-home: no state directory
			for _, k := range []string{"OKTA_ISSUER", "OKTA_AUDIENCE", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "ALLOWED_ORIGINS", "APIGUARD_ADDR", "APIGUARD_REDIS_URL"} {
				env.Setenv(k, "")
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor": cmdWaitFor,
			"get":     cmdGet,
		},
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitfor URL: polls URL until it answers 200, for at most 20 seconds.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfor URL")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(args[0])
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s not ready after 20s (last error %v)", args[0], err)
		}
		time.Sleep(50 * time.Millisecond) // polling readiness with a deadline
	}
}

// get [-auth FILE] URL: GETs URL (with the bearer token in FILE) and
// prints the status line and the body on stdout.
func cmdGet(ts *testscript.TestScript, neg bool, args []string) {
	auth := ""
	if len(args) == 3 && args[0] == "-auth" {
		auth = strings.TrimSpace(ts.ReadFile(args[1]))
		args = args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: get [-auth FILE] URL")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	ts.Check(err)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "status %d\nwww-authenticate: %s\n%s\n", res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
	if neg != (res.StatusCode >= 400) {
		ts.Fatalf("unexpected status %d", res.StatusCode)
	}
}
