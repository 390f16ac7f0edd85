#!/usr/bin/env bash
# Installs DuckDB's own release build of libduckdb.so into <repo>/bin/lib (git-ignored)
# and prints the CGO_LDFLAGS that link quiver against it instead of the static library
# duckdb-go-bindings ships. Idempotent: a library of the pinned checksum already there
# is kept.
#
#   flags="$(bash tools/libduckdb.sh)"
#   CGO_LDFLAGS="$flags" go build -tags duckdb_arrow,duckdb_use_lib -o bin/quiver ./cmd/quiver
#   CGO_LDFLAGS="$flags" go test -tags duckdb_arrow,duckdb_use_lib ./...
#
# Why: the static library of duckdb-go-bindings v0.10506.0 was compiled with GCC 12,
# whose code for UncompressedStringStorage::StringScanPartial stalls on a store-forward
# for every string it scans; DuckDB's release build (GCC 14) does not. Same DuckDB
# version (v1.5.6), so the same behaviour; a GROUP BY with min(string) over 10M rows
# takes about a fifth less CPU. The version must match the one duckdb-go-bindings in
# go.mod was built for: TestLinkedDuckDBVersion checks it.
#
# The library comes from npm, where DuckDB publishes it inside its Node bindings for
# linux-x64 (npm pack fetches the package without installing it). The binary finds it
# at run time through its rpath: the directory printed here, and lib/ beside the
# binary ($ORIGIN/lib), so bin/quiver with bin/lib/libduckdb.so can move together.
set -euo pipefail

PACKAGE="@duckdb/node-bindings-linux-x64@1.5.6-r.1"
SHA256="3f4962cdd266eab2b479a5b5a4a6d063d279b2954ae814ed00385d553b747633" # libduckdb.so v1.5.6

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
	echo "tools/libduckdb.sh: only linux-x86_64 is pinned; this is $(uname -s)-$(uname -m)" >&2
	exit 1
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
lib="$repo/bin/lib"
target="$lib/libduckdb.so"
flags="-L$lib -Wl,-rpath,$lib -Wl,-rpath,\$ORIGIN/lib"

if [[ -f "$target" ]] && echo "$SHA256  $target" | sha256sum --check --status; then
	echo "$flags"
	exit 0
fi

command -v npm >/dev/null || { echo "tools/libduckdb.sh: npm is needed to fetch $PACKAGE" >&2; exit 1; }
mkdir -p "$lib"
echo "fetching libduckdb.so from $PACKAGE into $lib" >&2
# Unpack into a private directory and move the library into place only once its
# checksum is right, so an interrupted run never leaves a wrong library behind.
tmp="$(mktemp -d "$lib/.libduckdb.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/libduckdb.so
if ! echo "$SHA256  $tmp/package/libduckdb.so" | sha256sum --check --status; then
	echo "tools/libduckdb.sh: $PACKAGE's libduckdb.so does not have the pinned checksum $SHA256" >&2
	exit 1
fi
mv -f "$tmp/package/libduckdb.so" "$target"
echo "$flags"
