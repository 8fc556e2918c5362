#!/usr/bin/env bash
# Builds apiguard's container image (Containerfile) with podman.
#
#   ./scripts/image.sh                      builds localhost/apiguard:dev in podman's usual storage
#   ./scripts/image.sh --tag NAME           another name, e.g. registry.example.com/apiguard:1.2.0
#   ./scripts/image.sh --context DIR        keep the build context (the binary and CA file) in DIR
#   ./scripts/image.sh --storage DIR        a private image store in DIR (vfs driver), as the tests use
#
# Steps: the static binary is built on the host (CGO_ENABLED=0, -trimpath,
# symbol tables stripped), the host's /etc/ssl/certs/ca-certificates.crt is
# copied beside it, and `podman build` packs the two into a FROM scratch image.
# No registry is contacted: the image has no base to pull, and the Containerfile
# runs nothing (no RUN steps), so no container runtime is needed for the build.
# podman comes from Debian (apt-get install podman, done here when it is
# missing and we are root). Prints the image ID on the last line.
#
# The image's created date and file times are the last commit's date, so two
# builds of the same commit with the same Go give the same image ID.
set -euo pipefail
cd "$(dirname "$0")/.."

# Release binaries are built with go1.27.3 (see README, Development): go1.26.8's
# standard library has vulnerabilities govulncheck finds reachable.
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

tag=localhost/apiguard:dev
context=
storage=

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	echo
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--tag)
		tag=${2:?--tag needs a name}
		shift 2
		;;
	--context)
		context=${2:?--context needs a directory}
		shift 2
		;;
	--storage)
		storage=${2:?--storage needs a directory}
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "image.sh: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
done

if ! command -v podman >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "image.sh: podman is missing: install it (Debian: apt-get install podman)" >&2
		exit 1
	fi
	echo "image.sh: installing podman with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman >/dev/null
fi

ca=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s $ca ]]; then
	echo "image.sh: $ca is missing: install Debian's ca-certificates" >&2
	exit 1
fi

if [[ -z $context ]]; then
	context=$(mktemp -d)
	trap 'rm -rf "$context"' EXIT
fi
mkdir -p "$context"

# The labels' version and revision, from git when this is a checkout: the
# tag (or commit) git describe gives, and the commit.
version=dev
revision=unknown
created_epoch=$(date +%s)
if head=$(git rev-parse --verify -q HEAD 2>/dev/null); then
	revision=$head
	created_epoch=$(git log -1 --format=%ct)
	version=$(git describe --tags --always --dirty)
	if [[ $version == *-dirty ]]; then
		revision+="-dirty"
	fi
fi
created=$(date -u -d "@$created_epoch" +%Y-%m-%dT%H:%M:%SZ)

echo "image.sh: building the binary ($(go env GOVERSION), CGO_ENABLED=0, -trimpath)" >&2
# -buildvcs=auto: `apiguard version` names the commit even where GOFLAGS
# turns stamping off.
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags='-s -w' -o "$context/apiguard" ./cmd/apiguard
cp "$ca" "$context/ca-certificates.crt"

podman=(podman)
if [[ -n $storage ]]; then
	# vfs works on any file system (overlay inside a container's overlay may
	# not); the store is a plain directory the caller removes.
	mkdir -p "$storage"
	podman+=(--root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
fi

echo "image.sh: podman build -t $tag (version $version, revision $revision)" >&2
"${podman[@]}" build --quiet --pull=never \
	--file Containerfile \
	--tag "$tag" \
	--timestamp "$created_epoch" \
	--build-arg "VERSION=$version" \
	--build-arg "REVISION=$revision" \
	--build-arg "CREATED=$created" \
	"$context"
