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
//	../scripts/bench.sh                          # 6 rounds, benchstat, load run, gateway peers, BENCHMARKS.md
//
// The commands in cmd/ measure memory per cached token (cachemem), serve the
// handlers the load run drives with wrk (loadserver), and stand in for the
// peers of issue 16: a bare httputil.ReverseProxy (revproxy), a minimal
// golang-jwt + keyfunc server (jwtref), and a flood of distinct tokens
// (flood); benchreport writes BENCHMARKS.md.
package bench
