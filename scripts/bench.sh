#!/usr/bin/env bash
# Runs apiguard's benchmarks and writes BENCHMARKS.md (issue 7).
#
#   scripts/bench.sh                            everything, about 5 minutes on 2 cores
#   ROUNDS=3 BENCHTIME=100ms scripts/bench.sh   quicker, noisier
#
# Settings (environment): ROUNDS, BENCHTIME, LOAD_ROUNDS, LOAD_DURATION,
# FRESH_ROUNDS, FRESH_DURATION, FRESH_PER_RUN, FRESH_CYCLE, CONNECTIONS,
# CACHED_TOKENS,
# SERVE_ADDR (127.0.0.1:5000), GATEWAY_ADDR (127.0.0.1:5001), OUTPUT
# (BENCHMARKS.md), APIGUARD_BIN (an apiguard binary to use instead of
# building ./cmd/apiguard) and COMMIT (the commit to name in the report,
# when running from an exported tree).
#
# 1. Microbenchmarks, ROUNDS rounds (default 6): bench/ (Verify against the
#    floor and six Go verifiers for RS256, ES256, EdDSA; the middleware over
#    HTTP) and the root module's BenchmarkVerify. Each round runs every
#    benchmark once (-count 1, ROUNDS times), so rounds interleave the
#    contenders instead of running one contender six times in a row: on a
#    shared machine the load changes by the minute, and interleaving makes a
#    change hit everyone alike. benchstat summarises the rounds.
# 2. Memory: bench/cmd/cachemem fills a cache with 100,000 tokens.
# 3. Load: wrk against bench/cmd/loadserver (the same handler public, behind
#    apiguard, behind golang-jwt), against `apiguard serve` and against
#    `apiguard gateway` in front of the loadserver, all on 127.0.0.1, with a
#    reused token and with a fresh token per request (bench/wrk/fresh.lua).
#    serve and gateway take their keys from the loadserver's Okta-shaped
#    issuer (OKTA_ISSUER), as they would from Okta.
# 4. bench/cmd/benchreport writes BENCHMARKS.md from all of it.
#
# Needs Go and wrk (installed with apt-get when missing). Every server binds
# to 127.0.0.1 and is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

ROUNDS=${ROUNDS:-6}
BENCHTIME=${BENCHTIME:-300ms}
LOAD_ROUNDS=${LOAD_ROUNDS:-4}
LOAD_DURATION=${LOAD_DURATION:-3s}
FRESH_ROUNDS=${FRESH_ROUNDS:-3}
FRESH_DURATION=${FRESH_DURATION:-1s}
FRESH_PER_RUN=${FRESH_PER_RUN:-40000}
FRESH_CYCLE=${FRESH_CYCLE:-12000}
CONNECTIONS=${CONNECTIONS:-32}
CACHED_TOKENS=${CACHED_TOKENS:-100000}
SERVE_ADDR=${SERVE_ADDR:-127.0.0.1:5000}
GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:5001}
OUTPUT=${OUTPUT:-$repo/BENCHMARKS.md}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'bench.sh: %s\n' "$*" >&2
	exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null 2>&1; then
	log "installing wrk with apt-get"
	as_root=()
	[[ $(id -u) -eq 0 ]] || as_root=(sudo)
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
fi

start=$(date +%s)
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
{
	echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit:      ${COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')}"
	echo "cpu:         $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
	echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel:      $(uname -sr)"
	echo "go:          $(go version)"
	echo "wrk:         $(wrk -v 2>&1 | head -1)"
	echo "load avg at start (1/5/15 min): $(loadavg)"
} >"$work/machine.txt"

log "building"
(cd bench && go test -c -o "$work/bench.test" .)
go test -c -o "$work/root.test" .
(cd bench && go build -o "$work/" ./cmd/loadserver ./cmd/cachemem ./cmd/benchreport)
have_apiguard=true
if [[ -n ${APIGUARD_BIN:-} ]]; then
	cp "$APIGUARD_BIN" "$work/apiguard"
elif ! go build -o "$work/apiguard" ./cmd/apiguard 2>"$work/apiguard-build.txt"; then
	have_apiguard=false
	log "go build ./cmd/apiguard failed; serve and gateway are left out (see below)"
	cat "$work/apiguard-build.txt" >&2
fi
(cd bench && go list -m github.com/apiguard/apiguard github.com/golang-jwt/jwt/v5 github.com/go-jose/go-jose/v4 \
	github.com/lestrrat-go/jwx/v3 github.com/coreos/go-oidc/v3 github.com/okta/okta-jwt-verifier-golang/v2 \
	github.com/auth0/go-jwt-middleware/v2 github.com/lestrrat-go/jwx/v2 gopkg.in/go-jose/go-jose.v2) >"$work/versions.txt"
echo "benchstat: $BENCHSTAT" >>"$work/versions.txt"

log "microbenchmarks: $ROUNDS rounds, -benchtime $BENCHTIME"
for ((i = 1; i <= ROUNDS; i++)); do
	log "  round $i/$ROUNDS"
	(cd bench && "$work/bench.test" -test.run '^$' -test.bench '^Benchmark(Verify|HTTP)$' \
		-test.benchtime "$BENCHTIME" -test.benchmem) >>"$work/bench.txt"
	"$work/root.test" -test.run '^$' -test.bench '^Benchmark(Verify|IssuersVerify)$' -test.benchtime "$BENCHTIME" -test.benchmem >>"$work/root.txt"
done
GOBIN=$work go install "$BENCHSTAT" || log "could not build benchstat; BENCHMARKS.md goes without it"
if [[ -x $work/benchstat ]]; then
	(cd "$work" && ./benchstat bench.txt && echo && ./benchstat root.txt) >"$work/benchstat.txt" 2>&1 ||
		log "benchstat failed; BENCHMARKS.md goes without it"
fi

log "memory: $CACHED_TOKENS cached tokens"
"$work/cachemem" -n "$CACHED_TOKENS" >"$work/cachemem.txt"

# wait_for URL [SECONDS]: polls URL until it answers 200, or fails.
wait_for() {
	local url=$1 deadline=$((SECONDS + ${2:-30}))
	until [[ $(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null) == 200 ]]; do
		((SECONDS < deadline)) || die "$url did not answer 200 in time"
		sleep 0.2
	done
}

fresh_total=$((FRESH_CYCLE + FRESH_PER_RUN * FRESH_ROUNDS))
log "load: starting the loadserver (minting $fresh_total RS256 tokens)"
mkdir -p "$work/load"
"$work/loadserver" -dir "$work/load" -fresh "$fresh_total" -lifetime 30m >"$work/load/server.txt" 2>&1 &
ls_pid=$!
pids+=("$ls_pid")
deadline=$((SECONDS + 600))
until grep -q '^ready$' "$work/load/server.txt"; do
	kill -0 "$ls_pid" 2>/dev/null || die "loadserver stopped: $(cat "$work/load/server.txt")"
	((SECONDS < deadline)) || die "loadserver not ready in time"
	sleep 0.5
done
log "  $(grep '^minted' "$work/load/server.txt")"
issuer=$(awk '$1 == "issuer" {print $2}' "$work/load/server.txt")
ls_url=$(awk '$1 == "url" {print $2}' "$work/load/server.txt")
token=$(cat "$work/load/token.txt")
fresh_file=$work/load/fresh.txt

serve_url= gateway_url= serve_pid= gateway_pid=
if $have_apiguard; then
	# Run from an empty directory so no .env is picked up; access logs are
	# at info level, so --log-level warn leaves them out, as a busy
	# deployment would.
	mkdir -p "$work/run"
	(cd "$work/run" && OKTA_ISSUER=$issuer exec "$work/apiguard" serve --addr "$SERVE_ADDR" --log-level warn) >"$work/serve.txt" 2>&1 &
	serve_pid=$!
	pids+=("$serve_pid")
	serve_url=http://$SERVE_ADDR
	wait_for "$serve_url/readyz"
	if "$work/apiguard" help | grep -q '^ *gateway '; then
		cat >"$work/run/gateway.yaml" <<-EOF
			listen: $GATEWAY_ADDR
			upstream: $ls_url
			issuer: $issuer
			audience: api://default
			routes:
			  - path: /**
		EOF
		(cd "$work/run" && exec "$work/apiguard" gateway --config gateway.yaml --log-level warn) >"$work/gateway.txt" 2>&1 &
		gateway_pid=$!
		pids+=("$gateway_pid")
		gateway_url=http://$GATEWAY_ADDR
		wait_for "$gateway_url/readyz"
	fi
fi

# cpu_ticks PID...: CPU time (user + system, in clock ticks) the processes
# have used so far.
cpu_ticks() {
	local pid total=0
	for pid in "$@"; do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done
	echo "$total"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# run_wrk LABEL ROUND BASE FRESH FIRST DURATION URL PID...: one wrk run;
# FRESH > 0 sends tokens FIRST..FIRST+FRESH-1 of fresh.txt, one per request,
# else the reused token (a public route ignores it). FRESH ending in "c"
# (e.g. 12000c) cycles through that many tokens on a route that cannot hit
# a cache with them (recorded as negative). The servers' CPU time
# per request (PIDs: the processes that serve the route) is recorded with
# the req/s: on a shared machine it says what a request costs the server,
# whatever else is running.
run_wrk() {
	local label=$1 round=$2 base=$3 fresh=$4 first=$5 duration=$6 url=$7 out before after record
	shift 7
	record=$fresh
	if [[ $fresh == *c ]]; then
		fresh=${fresh%c}
		record=-$fresh
	fi
	before=$(cpu_ticks "$@")
	if ((fresh > 0)); then
		out=$(wrk -t1 -c"$CONNECTIONS" -d"$duration" -s bench/wrk/fresh.lua "$url" -- "$fresh_file" "$first" "$fresh")
	else
		out=$(wrk -t1 -c"$CONNECTIONS" -d"$duration" -H "Authorization: Bearer $token" "$url")
	fi
	if grep -q 'Non-2xx' <<<"$out"; then
		printf '%s\n' "$out" >&2
		die "$label: some responses were not 2xx"
	fi
	after=$(cpu_ticks "$@")
	local rps requests cpu_us
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	requests=$(awk '/requests in/ {print $1}' <<<"$out")
	[[ -n $rps && -n $requests ]] || die "$label: could not read wrk's output: $out"
	cpu_us=$(awk -v t=$((after - before)) -v us="$tick_us" -v n="$requests" 'BEGIN {printf "%.2f", t * us / n}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$round" "$rps" "$requests" "$record" "$base" "$cpu_us" >>"$work/load.tsv"
	log "  $label: $rps req/s, $cpu_us µs server CPU per request"
}

log "load: $LOAD_ROUNDS rounds of $LOAD_DURATION each target"
for ((r = 1; r <= LOAD_ROUNDS; r++)); do
	run_wrk "loadserver /" "$r" "" 0 0 "$LOAD_DURATION" "$ls_url/" "$ls_pid"
	run_wrk "loadserver /secure-data (one token)" "$r" "loadserver /" 0 0 "$LOAD_DURATION" "$ls_url/secure-data" "$ls_pid"
	run_wrk "loadserver /golang-jwt/secure-data (one token)" "$r" "loadserver /" 0 0 "$LOAD_DURATION" "$ls_url/golang-jwt/secure-data" "$ls_pid"
	if [[ -n $serve_url ]]; then
		run_wrk "serve /" "$r" "" 0 0 "$LOAD_DURATION" "$serve_url/" "$serve_pid"
		run_wrk "serve /secure-data (one token)" "$r" "serve /" 0 0 "$LOAD_DURATION" "$serve_url/secure-data" "$serve_pid"
	fi
	if [[ -n $gateway_url ]]; then
		run_wrk "upstream direct /" "$r" "" 0 0 "$LOAD_DURATION" "$ls_url/" "$ls_pid"
		run_wrk "gateway / (one token)" "$r" "upstream direct /" 0 0 "$LOAD_DURATION" "$gateway_url/" "$gateway_pid" "$ls_pid"
	fi
	# Fresh tokens on routes where cycling through FRESH_CYCLE of them can
	# never hit a cache, so these runs can be as long as the others.
	gj="loadserver /golang-jwt/secure-data (fresh tokens)"
	run_wrk "$gj" "$r" "loadserver /" "${FRESH_CYCLE}c" 1 "$LOAD_DURATION" "$ls_url/golang-jwt/secure-data" "$ls_pid"
	run_wrk "loadserver /secure-data-small-cache (fresh tokens)" "$r" "$gj" "${FRESH_CYCLE}c" 1 "$LOAD_DURATION" "$ls_url/secure-data-small-cache" "$ls_pid"
done

if [[ -n $serve_url ]]; then
	log "load: $FRESH_ROUNDS rounds of $FRESH_DURATION against apiguard serve with a fresh token per request"
	first=$((FRESH_CYCLE + 1)) # tokens 1..FRESH_CYCLE are for the routes that cannot hit a cache
	for ((r = 1; r <= FRESH_ROUNDS; r++)); do
		run_wrk "serve /secure-data (fresh tokens)" "$r" "loadserver /golang-jwt/secure-data (fresh tokens)" \
			"$FRESH_PER_RUN" "$first" "$FRESH_DURATION" "$serve_url/secure-data" "$serve_pid"
		first=$((first + FRESH_PER_RUN))
	done
fi

echo "load avg at end (1/5/15 min):   $(loadavg)" >>"$work/machine.txt"
echo "bench.sh took: $(($(date +%s) - start)) s" >>"$work/machine.txt"
{
	echo "wrk -t1 -c$CONNECTIONS on the same machine as the servers (they share its $(nproc) CPUs): $LOAD_ROUNDS rounds of $LOAD_DURATION for each"
	echo "target, interleaved, then $FRESH_ROUNDS rounds of $FRESH_DURATION against \`apiguard serve\` with a fresh token per request"
	echo "(bench/wrk/fresh.lua), each run with $FRESH_PER_RUN tokens it has not seen (requests past them would reuse tokens and are"
	echo "counted). The loadserver's fresh-token routes cycle through $FRESH_CYCLE tokens, which can never hit there: golang-jwt caches nothing, and"
	echo "/secure-data-small-cache is apiguard with a cache of 1,024 entries, so every request verifies the token, inserts it and"
	echo "evicts another (random eviction: a token survives $FRESH_CYCLE insertions with probability about e^-$((FRESH_CYCLE / 1024)))."
	echo "Server CPU per request is the CPU time the serving processes used during the run (from /proc/PID/stat; the gateway's"
	echo "row counts the gateway and its upstream) divided by the requests: unlike req/s it does not depend on what else the"
	echo "machine was doing. Targets: bench/cmd/loadserver"
	echo "(the same one-line JSON handler public, behind apiguard's middleware and behind a golang-jwt/v5 middleware),"
	if [[ -n $serve_url ]]; then
		echo "\`apiguard serve\` (its own / and /secure-data, which answers with the verified claims) with OKTA_ISSUER set to the"
		echo "loadserver's Okta-shaped issuer and --log-level warn,"
	else
		echo "(\`apiguard serve\` could not be built, so it is left out),"
	fi
	if [[ -n $gateway_url ]]; then
		echo "and \`apiguard gateway\` requiring a token on /** in front of the loadserver's public route (\"upstream direct\")."
	else
		echo "and no gateway (\`apiguard gateway\` was not available)."
	fi
} >"$work/notes.txt"

"$work/benchreport" -dir "$work" -o "$OUTPUT"
log "wrote $OUTPUT in $(($(date +%s) - start)) s"
