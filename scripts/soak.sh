#!/usr/bin/env bash
# Runs apiguard's chaos soak (soak/, TestSoak) and writes its report into
# RELIABILITY.md, below the soak marker.
#
#   ./scripts/soak.sh            5 minutes (three fault cycles of 90 s and the rest steady)
#   ./scripts/soak.sh 10m        another duration (at least 30s)
#   SOAK_RATE=500 ./scripts/soak.sh
#
# The short mode (60 s, report only in the test log) runs in the ordinary
# `go test ./...` of the root module, so scripts/test.sh runs it.
#
# Needs go, redis-server and redis-sentinel (Debian: apt-get install -y
# redis-server redis-sentinel). The ledger of every request is written to
# soak-ledger.jsonl in a temporary directory, named at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-5m}
ledger=$(mktemp -d)/soak-ledger.jsonl
cd "$root"
go test -count=1 -timeout 60m -run '^TestSoak$' -v ./soak -args \
	-soak.duration="$duration" -soak.rate="${SOAK_RATE:-300}" \
	-soak.report="$root/RELIABILITY.md" -soak.ledger="$ledger"
echo "ledger: $ledger"
