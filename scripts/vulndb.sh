#!/usr/bin/env bash
# Builds (once per version) an offline Go vulnerability database for
# govulncheck from the golang.org/x/vulndb module, which the Go module proxy
# serves, and prints the database's directory on stdout. Use it as:
#
#   govulncheck -db "file://$(./scripts/vulndb.sh)" ./...
#
# The database is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/apiguard-vulndb/VERSION.
# VULNDB_VERSION picks another x/vulndb version (a pseudo-version: newer data).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/apiguard-vulndb
out=$cache_root/$version

if [[ ! -f $out/index/modules.json || ! -f $out/index/db.json ]]; then
	rm -rf "$out"
	mkdir -p "$cache_root"
	go run scripts/vulndb/main.go -version "$version" -out "$out" >&2
fi
echo "$out"
