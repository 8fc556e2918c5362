#!/usr/bin/env bash
# Runs apiguard's tests, installing what they need first.
#
#   ./scripts/test.sh                          everything: all modules, the container image,
#                                              benchmarks once, short fuzzing
#   ./scripts/test.sh --quick                  the edit-test loop: the same go test runs, without the
#                                              Ory Hydra interop build and test, the container image
#                                              build, the benchmarks and fuzzing (it says so)
#   ./scripts/test.sh -run TestX ./devissuer   only `go test -race -count=1 ARGS` in the root module
#
# What the tests need: redis-server, redis-sentinel, chromium, nginx, caddy,
# curl, node/npm, python3-flask, podman (the image check; not in --quick) and
# prometheus (promtool, for the alerting rules' tests) (Debian packages),
# installed with apt-get when they are missing. Then:
#   1. go test -race -count=1 ./...  in the root module;
#   2. the same in every nested module (any other go.mod outside testdata/),
#      and in bench/ also its benchmarks once, briefly (-benchtime 10x);
#      deploy/'s tests build the container image (scripts/image.sh, podman,
#      a private image store in a temporary directory) and check it, and
#      check the Kubernetes manifests against the binary;
#   3. every fuzz target (func FuzzXxx(*testing.F)) for FUZZTIME each
#      (default 10s; 0 or "skip" skips fuzzing).
# Every step runs even when an earlier one failed; the script exits non-zero
# if any failed and lists them at the end, with each step's time.
#
# What it downloads, besides the Debian packages: the Go toolchain go1.27.3
# from the Go module proxy (about 76 MB, once per machine, into the module
# cache); the modules of the root and nested modules (once); Ory Hydra's
# modules and a build of it into ~/.cache/apiguard-hydra (once, several
# minutes; skipped by --quick or APIGUARD_SKIP_HYDRA=1); and the locked npm
# packages of the interop and differential tests into ~/.cache (npm ci, once
# per lock file). Nothing is downloaded from a container registry: the image
# is FROM scratch.
#
# How long: on a fresh 2-core machine the first run spends minutes on the
# downloads and builds above before the tests; later runs are dominated by
# the race-enabled tests of the root module. deploy/ takes about 25 s with a
# warm build cache (its image build about 5-10 s of that), several minutes
# cold. --quick saves the Hydra test, the image build, the benchmarks and
# 10 s per fuzz target. The table printed at the end gives each step's time.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Go toolchain for every step. The machine's go1.26.8 has standard-library
# vulnerabilities (net/http, crypto/tls, crypto/x509, html/template; fixed in
# go1.26.9/go1.26.10) that govulncheck finds reachable from apiguard; go1.27.3
# has them fixed, and the go command fetches it from the Go module proxy on
# first use (about 76 MB). GOTOOLCHAIN=local runs the machine's own Go instead.
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

# --quick: skip the slow parts, each through the switch its test honours.
quick=0
if [[ ${1:-} == --quick ]]; then
	quick=1
	shift
	export APIGUARD_SKIP_HYDRA=1 APIGUARD_SKIP_IMAGE=1
	FUZZTIME=skip
fi

FUZZTIME=${FUZZTIME:-10s}

log() { printf '==> %s\n' "$*"; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

# quiet runs a command with its output held back, and shows it only if the command fails.
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "test.sh: failed: $*" >&2
		return 1
	fi
}

install_deps() {
	local missing=()
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
	command -v chromium >/dev/null 2>&1 || missing+=(chromium)
	command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
	command -v caddy >/dev/null 2>&1 || missing+=(caddy)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
	/usr/bin/python3 -c 'import flask' >/dev/null 2>&1 || missing+=(python3-flask)
	command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
	if [[ $quick -eq 0 ]]; then
		command -v podman >/dev/null 2>&1 || missing+=(podman)
	fi
	if [[ ${#missing[@]} -eq 0 ]]; then
		return 0
	fi
	log "installing ${missing[*]} with apt-get"
	quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_deps

if [[ $quick -eq 1 ]]; then
	log "quick mode: skipping the Ory Hydra interop test (APIGUARD_SKIP_HYDRA=1), the container image build (APIGUARD_SKIP_IMAGE=1), the benchmarks and fuzzing (FUZZTIME=skip)"
fi

# With arguments: one go test in the root module, nothing else.
if [[ $# -gt 0 ]]; then
	exec go test -race -count=1 "$@"
fi

failed=()
timings=()

# step NAME DIR CMD...: runs CMD in DIR, timing it and recording a failure.
step() {
	local name=$1 dir=$2
	shift 2
	local start=$SECONDS
	log "$name"
	if ! (cd "$dir" && "$@"); then
		failed+=("$name")
	fi
	timings+=("$(printf '%5ss  %s' $((SECONDS - start)) "$name")")
}

# Nested modules, in a stable order; testdata holds fixtures, not modules.
mapfile -t nested < <(find . -name go.mod -not -path ./go.mod -not -path '*/testdata/*' -not -path './.git/*' |
	sed 's|/go.mod$||' | sort)

step "go test (root module)" . go test -race -count=1 ./...

for mod in "${nested[@]}"; do
	step "go test (${mod#./})" "$mod" go test -race -count=1 ./...
	if [[ $mod == ./bench && $quick -eq 0 ]]; then
		step "benchmarks (bench, 10x)" "$mod" go test -run '^$' -bench . -benchtime 10x ./...
	fi
done

# module_root DIR: the nearest directory at or above DIR holding a go.mod.
module_root() {
	local d=$1
	while [[ $d != . && ! -f $d/go.mod ]]; do
		d=$(dirname "$d")
	done
	echo "$d"
}

if [[ $FUZZTIME == 0 || $FUZZTIME == skip ]]; then
	log "fuzzing skipped (FUZZTIME=$FUZZTIME)"
else
	# "dir name" pairs, one per fuzz target.
	mapfile -t targets < <(
		grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]+ \*testing\.F\)' . 2>/dev/null |
			grep -v -e '/testdata/' -e '^\./\.git/' |
			sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|\1 \2|' |
			sort -u
	)
	if [[ ${#targets[@]} -eq 0 ]]; then
		log "no fuzz targets found"
	fi
	for t in "${targets[@]}"; do
		dir=${t% *}
		name=${t##* }
		root=$(module_root "$dir")
		rel=${dir#"$root"}
		rel=${rel#/}
		pkg=./${rel:-.}
		step "fuzz ${dir#./} $name ($FUZZTIME)" "$root" \
			go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
fi

log "test.sh timings"
printf '%s\n' "${timings[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "test.sh: FAILED:" >&2
	printf '  - %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "test.sh: all steps passed"
