// Command apiguard secures REST APIs with OAuth 2.0 / OpenID Connect access
// tokens from Okta or any standards-following issuer.
//
// Usage:
//
//	apiguard serve     the tutorial's API, protected (embedded development issuer without OKTA_ISSUER)
//	apiguard gateway   a reverse proxy enforcing per-route token rules
//	apiguard issuer    the development issuer alone
//	apiguard token     get an access token by client credentials
//	apiguard inspect   decode and verify a token, and say why it is refused
//	apiguard dev-env   print the development issuer's stored client as shell exports
//	apiguard version   print the version
//
// Settings come from flags, then the environment, then a .env file in the
// working directory, then (gateway) the rules file; each is declared once,
// in settings.go, and 'apiguard <command> -h' lists those a command reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/joho/godotenv"
)

const usage = `usage: apiguard <command> [flags]

commands:
  serve     run the API (GET /, GET /secure-data, login, health, metrics)
  gateway   protect an upstream REST API (--config gateway.yaml)
  issuer    run the Okta-shaped development issuer alone
  token     get an access token by client credentials
  inspect   decode a token, verify it, and explain a refusal
  dev-env   print the development issuer's client as shell exports:
            eval "$(apiguard dev-env)" sets CLIENT_ID and CLIENT_SECRET
  version   print the version

Run 'apiguard <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it loads .env, dispatches the command
// and turns its error into one line on stderr and an exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := loadDotEnv(dotEnvPath); err != nil {
		fmt.Fprintf(stderr, "apiguard: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr)
	case "gateway":
		err = runGateway(ctx, rest, stdout, stderr)
	case "issuer":
		err = runIssuer(ctx, rest, stdout, stderr)
	case "token":
		err = runToken(ctx, rest, stdout, stderr)
	case "inspect":
		err = runInspect(ctx, rest, stdin, stdout, stderr)
	case "dev-env":
		err = runDevEnv(ctx, rest, stdout, stderr)
	case "version":
		err = runVersion(rest, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "apiguard: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errRefused):
		return 1 // inspect already said why
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "apiguard %s: %v\n", args[0], ue.err)
		return 2
	}
	fmt.Fprintf(stderr, "apiguard %s: %v\n", args[0], err)
	return 1
}

// usageError is a bad flag or setting: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// dotEnvPath is the .env file main reads.
const dotEnvPath = ".env"

// dotEnv remembers the variables loadDotEnv set and their lines, so that
// an error can say "OKTA_ISSUER from .env line 3".
var dotEnv = struct {
	sync.Mutex
	vars map[string]dotEnvVar
}{}

type dotEnvVar struct {
	value string
	line  int
}

// dotEnvLine returns the .env line that set the variable env to value.
func dotEnvLine(env, value string) (int, bool) {
	dotEnv.Lock()
	defer dotEnv.Unlock()
	v, ok := dotEnv.vars[env]
	return v.line, ok && v.value == value
}

// loadDotEnv adds the variables of a .env file to the environment, without
// overriding variables set to a value (the environment wins over the file;
// an empty variable counts as unset, as it does for every setting).
func loadDotEnv(path string) error {
	vars, err := godotenv.Read(path)
	dotEnv.Lock()
	defer dotEnv.Unlock()
	dotEnv.vars = nil
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", path, err)
	}
	lines := dotEnvLines(path)
	dotEnv.vars = map[string]dotEnvVar{}
	for k, v := range vars {
		if os.Getenv(k) == "" {
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("failed to set %s from %s: %w", k, path, err)
			}
			dotEnv.vars[k] = dotEnvVar{value: v, line: lines[k]}
		}
	}
	return nil
}

// dotEnvLines finds the line of each variable's last assignment in a .env
// file (godotenv gives values, not lines).
func dotEnvLines(path string) map[string]int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		if line == "" || line[0] == '#' {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = i + 1
		} else if k, _, ok := strings.Cut(line, ":"); ok {
			out[strings.TrimSpace(k)] = i + 1
		}
	}
	return out
}
