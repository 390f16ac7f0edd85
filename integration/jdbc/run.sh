#!/usr/bin/env bash
# Runs the JDBC integration suite against a real `quiver serve`.
#
#   integration/jdbc/run.sh [mvn args...]     e.g. -Dtest=MetadataTest
#
# Builds the quiver binary into bin/quiver unless QUIVER_BIN names one, starts
# `quiver serve --root <tmp> --addr 127.0.0.1:0`, reads its port from the log line
# `addr=grpc://127.0.0.1:PORT`, runs `mvn test` with the port and root as system
# properties (the tests seed their datasets over Flight DoPut), and stops the server
# with SIGTERM on exit. Maven's downloads go to integration/jdbc/.m2 (git-ignored),
# so the run does not depend on, or change, ~/.m2.
# Without java or mvn it skips on a developer's machine and fails under CI=true.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

start_timeout=30 # seconds until quiver must have logged its address
stop_timeout=20  # seconds quiver gets to shut down after SIGTERM

cannot_run() {
	if [[ "${CI:-}" == "true" ]]; then
		echo "integration/jdbc: FAIL: $1 (CI=true, so this suite must run)" >&2
		exit 1
	fi
	echo "integration/jdbc: SKIPPED: $1; install it to run the JDBC suite" >&2
	exit 0
}

command -v java >/dev/null 2>&1 || cannot_run "java not found (JDK 11 or newer)"
command -v mvn >/dev/null 2>&1 || cannot_run "mvn (Apache Maven) not found"
java_major="$(java -XshowSettings:properties -version 2>&1 |
	sed -n 's/^ *java\.specification\.version = \([0-9.]*\)$/\1/p')"
[[ "${java_major%%.*}" =~ ^[0-9]+$ && "${java_major%%.*}" -ge 11 ]] ||
	cannot_run "java is version ${java_major:-unknown}; the Arrow JDBC driver needs 11 or newer"

if [[ -n "${QUIVER_BIN:-}" ]]; then
	[[ -x "$QUIVER_BIN" ]] || { echo "integration/jdbc: QUIVER_BIN=$QUIVER_BIN is not an executable" >&2; exit 1; }
else
	compgen -G "$repo/cmd/quiver/*.go" >/dev/null || cannot_run "no cmd/quiver in this tree and QUIVER_BIN unset"
	command -v go >/dev/null 2>&1 || cannot_run "go not found (needed to build cmd/quiver; or set QUIVER_BIN)"
	echo "integration/jdbc: building bin/quiver (the first cgo build takes minutes)" >&2
	(cd "$repo" && go build -tags duckdb_arrow -o bin/quiver ./cmd/quiver)
	QUIVER_BIN="$repo/bin/quiver"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/quiver-jdbc.XXXXXX")"
root="$tmp/root"
log="$tmp/quiver.log"
mkdir "$root"
pid=""

# stop ends the server (a clean exit after SIGTERM is part of what is tested) and
# removes the temporary root; on failure it shows the server's log.
stop() {
	local status=$? code=0
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for ((i = 0; i < stop_timeout * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "integration/jdbc: FAIL: quiver ignored SIGTERM for ${stop_timeout}s" >&2
			kill -KILL "$pid" 2>/dev/null || true
			status=1
		fi
		wait "$pid" 2>/dev/null || code=$?
		if [[ $code -ne 0 ]]; then
			echo "integration/jdbc: FAIL: quiver exited with $code after SIGTERM, want 0" >&2
			status=1
		fi
	fi
	if [[ $status -ne 0 && -f "$log" ]]; then
		echo "----- quiver log ($log) -----" >&2
		cat "$log" >&2
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The log exists before the server starts: the loop below may read it before the
# child has opened it, and under `set -e -o pipefail` a sed that cannot read it
# would end this script (and SIGTERM a server still starting up).
: >"$log"
"$QUIVER_BIN" serve --root "$root" --addr 127.0.0.1:0 </dev/null >>"$log" 2>&1 &
pid=$!

port=""
for ((i = 0; i < start_timeout * 10; i++)); do
	port="$(sed -n 's/.*grpc:\/\/127\.0\.0\.1:\([1-9][0-9]*\).*/\1/p' "$log" | head -n1)"
	[[ -n "$port" ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z "$port" ]]; then
	echo "integration/jdbc: FAIL: quiver did not log grpc://127.0.0.1:PORT within ${start_timeout}s" >&2
	exit 1
fi
echo "integration/jdbc: quiver serving on 127.0.0.1:$port" >&2

cd "$here"
rm -rf target/surefire-reports
status=0
# Failures do not stop Maven here (maven.test.failure.ignore), so that both Surefire
# executions (pom.xml) run; the counts below decide the exit status.
mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$here/.m2" \
	-Dmaven.test.failure.ignore=true \
	-Dquiver.port="$port" -Dquiver.root="$root" \
	test "$@" </dev/null || status=$?

# Maven's -q hides Surefire's counts: add them up from its reports, and refuse a
# run that executed no test.
read -r tests failures errors skipped < <(
	cat target/surefire-reports/TEST-*.xml 2>/dev/null |
		sed -n 's/.*<testsuite [^>]*>.*/&/p' |
		awk '{
			for (i = 1; i <= NF; i++) {
				if (match($i, /^(tests|failures|errors|skipped)="[0-9]+"/)) {
					split($i, kv, "\""); n[substr($i, 1, index($i, "=") - 1)] += kv[2]
				}
			}
		} END { printf "%d %d %d %d\n", n["tests"], n["failures"], n["errors"], n["skipped"] }'
)
failed=$((failures + errors))
echo
echo "jdbc: $((tests - failed - skipped)) passed, $failed failed, $skipped skipped"
if [[ $tests -eq 0 ]]; then
	echo "integration/jdbc: FAIL: Surefire ran no tests" >&2
	exit 1
fi
if [[ $failed -gt 0 ]]; then
	echo "integration/jdbc: FAIL: see integration/jdbc/target/surefire-reports" >&2
	exit 1
fi
exit "$status"
