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
# With QUIVER_TEST_BACKEND=s3 the root is a bucket instead: it starts versitygw
# (bin/versitygw from integration/s3/versitygw.sh, or QUIVER_VERSITYGW) on loopback,
# creates a bucket and serves --root s3://BUCKET/warehouse with a part cache; quiver.root
# is then the directory versitygw keeps those objects in, and quiver.sqlDir the part
# cache (the one directory the server's DuckDB may read).
# Without java or mvn it skips on a developer's machine and fails under CI=true.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

start_timeout=30 # seconds until quiver (or versitygw) must be up
stop_timeout=20  # seconds quiver gets to shut down after SIGTERM

cannot_run() {
	if [[ "${CI:-}" == "true" ]]; then
		echo "integration/jdbc: FAIL: $1 (CI=true, so this suite must run)" >&2
		exit 1
	fi
	echo "integration/jdbc: SKIPPED: $1; install it to run the JDBC suite" >&2
	exit 0
}

backend="${QUIVER_TEST_BACKEND:-local}"
case "$backend" in
local | s3) ;;
*) echo "integration/jdbc: QUIVER_TEST_BACKEND=$backend: want local or s3" >&2; exit 2 ;;
esac

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

if [[ "$backend" == s3 ]]; then
	vgw="${QUIVER_VERSITYGW:-$repo/bin/versitygw}"
	[[ -x "$vgw" ]] || cannot_run "versitygw is not installed at $vgw (bash integration/s3/versitygw.sh)"
	command -v curl >/dev/null 2>&1 || cannot_run "curl not found (it creates the test bucket)"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/quiver-jdbc.XXXXXX")"
root="$tmp/root"
log="$tmp/quiver.log"
mkdir "$root"
pid=""
vgw_pid=""

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
	if [[ -n "$vgw_pid" ]] && kill -0 "$vgw_pid" 2>/dev/null; then
		kill -TERM "$vgw_pid"
		wait "$vgw_pid" 2>/dev/null || true
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
serve=(--root "$root")
sql_dir="$root"
if [[ "$backend" == s3 ]]; then
	# The Go tests' credentials (catalog/storage/s3/s3test); versitygw wants path-style
	# addressing on loopback and a bucket name of 3 or more characters.
	access_key=quiver-test-access secret_key=quiver-test-secret-key region=us-east-1 bucket=quiver-jdbc
	data="$tmp/s3-data"
	mkdir "$data"
	# A free port: try random ones until versitygw stays up on one.
	endpoint=""
	for ((try = 0; try < 20; try++)); do
		[[ -z "$endpoint" ]] || break
		vgw_port=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$vgw_port") 2>/dev/null && continue # taken
		HOME="$data" ROOT_ACCESS_KEY="$access_key" ROOT_SECRET_KEY="$secret_key" VGW_REGION="$region" \
			"$vgw" --port "127.0.0.1:$vgw_port" --quiet posix "$data" </dev/null >>"$tmp/versitygw.log" 2>&1 &
		vgw_pid=$!
		for ((i = 0; i < start_timeout * 10; i++)); do
			# An unsigned request gets 403: it answers.
			if curl -s -o /dev/null "http://127.0.0.1:$vgw_port/"; then
				endpoint="http://127.0.0.1:$vgw_port"
				break
			fi
			kill -0 "$vgw_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [[ -z "$endpoint" ]]; then
			kill "$vgw_pid" 2>/dev/null || true
			wait "$vgw_pid" 2>/dev/null || true
			vgw_pid=""
		fi
	done
	if [[ -z "$endpoint" ]]; then
		echo "integration/jdbc: FAIL: versitygw did not start; its output:" >&2
		cat "$tmp/versitygw.log" >&2
		exit 1
	fi
	# CreateBucket, signed with SigV4; S3 wants the payload's SHA-256 (here of nothing).
	empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	if ! curl -fsS --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
		-H "x-amz-content-sha256: $empty_sha256" -X PUT "$endpoint/$bucket" >/dev/null; then
		echo "integration/jdbc: FAIL: could not create bucket $bucket on versitygw at $endpoint" >&2
		exit 1
	fi
	serve=(--root "s3://$bucket/warehouse" --s3-endpoint "$endpoint" --s3-path-style
		--cache-dir "$tmp/cache" --cache-size 1GiB)
	root="$data/$bucket/warehouse" # where versitygw's POSIX backend keeps the objects
	sql_dir="$tmp/cache"
	mkdir -p "$root"
	export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" AWS_REGION="$region" \
		AWS_CONFIG_FILE="$tmp/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/no-aws-credentials" \
		AWS_EC2_METADATA_DISABLED=true
	echo "integration/jdbc: on S3: --root s3://$bucket/warehouse at $endpoint" >&2
fi
"$QUIVER_BIN" serve "${serve[@]}" --addr 127.0.0.1:0 </dev/null >>"$log" 2>&1 &
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
	-Dquiver.port="$port" -Dquiver.root="$root" -Dquiver.sqlDir="$sql_dir" \
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
# On S3 the datasets the suite seeded must be in the bucket, each with its manifest:
# a run that silently served a local directory would fail here.
if [[ "$backend" == s3 ]] && ! compgen -G "$root/*/_quiver_manifest.json" >/dev/null; then
	echo "integration/jdbc: FAIL: no dataset manifest under $root: the server did not store in the bucket" >&2
	exit 1
fi
exit "$status"
