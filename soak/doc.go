// Package soak holds apiguard's chaos soak, TestSoak: two `apiguard serve`
// instances behind a load balancer and an `apiguard gateway` in front of an
// upstream, all behind one `apiguard issuer` and one Redis Sentinel group,
// under a load that mixes good and bad credentials while faults are
// injected on a schedule. Every request goes into a ledger with its
// expected and actual outcome; the test fails on any wrong accept and on
// any wrong refusal outside a fault window.
//
//	go test ./soak                                   # short mode, about a minute
//	scripts/soak.sh                                  # 5 minutes, report into RELIABILITY.md
//	go test ./soak -args -soak.duration=10m -soak.report=../RELIABILITY.md
//
// The package has no code outside its tests.
package soak
