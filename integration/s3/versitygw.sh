#!/usr/bin/env bash
# Installs versitygw, the S3-compatible server the S3 tests start on loopback, into
# <repo>/bin (git-ignored). Idempotent: a binary of the pinned version already there is
# kept, so only the first run pays for the build (about four minutes on two cores).
#
#   bash integration/s3/versitygw.sh          # install if missing, print the path
#
# The tests find the binary at <repo>/bin/versitygw, or wherever QUIVER_VERSITYGW points.
set -euo pipefail

VERSION="v1.8.0"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$repo/bin"
target="$bin/versitygw"
stamp="$bin/.versitygw.version"

if [[ -x "$target" && -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
	echo "$target"
	exit 0
fi

mkdir -p "$bin"
echo "installing versitygw $VERSION into $bin (first time only; takes a few minutes)" >&2
# Build into a private directory and move the result into place, so an interrupted
# build never leaves a half-written binary where the tests look for one.
tmp="$(mktemp -d "$bin/.versitygw-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
mv -f "$tmp/versitygw" "$target"
echo "$VERSION" > "$stamp"
echo "$target"
