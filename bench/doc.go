// Package bench measures apiguard against the bare floor and against other
// Go JWT verifiers, each verifying the same Okta-shaped access token with
// the same checks, and measures the middleware's overhead over HTTP.
//
// It is a module of its own so that the peers it compares against are not
// dependencies of apiguard.
//
// # Running
//
//	go test -run '^$' -bench . -benchmem        # every benchmark, once
//	../scripts/bench.sh                          # -count 6, benchstat, load run, BENCHMARKS.md
//
// The commands in cmd/ measure memory per cached token and serve the
// handlers the load run drives with wrk.
package bench
