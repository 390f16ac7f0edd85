#!/usr/bin/env bash
# Runs the Python integration suite against a real `quiver serve`.
#
#   integration/python/run.sh [pytest args...]
#
# Creates integration/python/.venv with the pinned requirements (again whenever
# requirements.txt or the Python version changes), builds the quiver binary
# into bin/quiver unless QUIVER_BIN names one, then runs pytest. When an
# argument names a benchmark (bench_*.py, or `-m bench`), it also installs
# requirements-bench.txt (ROAPI), which the default run does not need.
# Without python3 it skips on a developer's machine and fails under CI=true.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$here/.venv"

cannot_run() {
	if [[ "${CI:-}" == "true" ]]; then
		echo "integration/python: FAIL: $1 (CI=true, so this suite must run)" >&2
		exit 1
	fi
	echo "integration/python: SKIPPED: $1; install it to run the Python suite" >&2
	exit 0
}

command -v python3 >/dev/null 2>&1 || cannot_run "python3 not found"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
	cannot_run "python3 has no venv/ensurepip module (Debian: apt-get install python3-venv)"

# The stamp ties the venv to the exact requirements and interpreter; it is
# written only after a complete install, so an interrupted one is redone.
stamp="$venv/.requirements.sha256"
want="$( (cat "$here/requirements.txt"; python3 -VV) | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
	echo "integration/python: creating $venv" >&2
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
		-r "$here/requirements.txt"
	echo "$want" >"$stamp"
fi

wants_bench=false
for arg in "$@"; do
	[[ "$arg" == *bench* ]] && wants_bench=true
done
bench_stamp="$venv/.requirements-bench.sha256"
bench_want="$(sha256sum "$here/requirements-bench.txt" | cut -d' ' -f1)"
if $wants_bench && [[ ! -f "$bench_stamp" || "$(cat "$bench_stamp")" != "$bench_want" ]]; then
	echo "integration/python: installing requirements-bench.txt" >&2
	"$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
		-r "$here/requirements-bench.txt"
	echo "$bench_want" >"$bench_stamp"
fi

if [[ -n "${QUIVER_BIN:-}" ]]; then
	[[ -x "$QUIVER_BIN" ]] || { echo "integration/python: QUIVER_BIN=$QUIVER_BIN is not an executable" >&2; exit 1; }
elif compgen -G "$repo/cmd/quiver/*.go" >/dev/null; then
	command -v go >/dev/null 2>&1 || cannot_run "go not found (needed to build cmd/quiver; or set QUIVER_BIN)"
	echo "integration/python: building bin/quiver (the first cgo build takes minutes)" >&2
	(cd "$repo" && go build -tags duckdb_arrow -o bin/quiver ./cmd/quiver)
	export QUIVER_BIN="$repo/bin/quiver"
else
	# conftest.py decides: Quiver cases skip on a developer's machine, fail under CI.
	echo "integration/python: no cmd/quiver in this tree and QUIVER_BIN unset" >&2
fi

cd "$here"
status=0
"$venv/bin/python" -m pytest "$@" </dev/null || status=$?
if [[ $status -eq 5 ]]; then
	echo "integration/python: FAIL: pytest collected no tests" >&2
	exit 1
fi
exit "$status"
