"""Fixtures that start real servers on 127.0.0.1 for the Python suite.

Three kinds of server answer the same client code:

- "quiver": the real binary, `quiver serve --root TMP --addr 127.0.0.1:0`,
  from QUIVER_BIN, else built from cmd/quiver when this tree has it. With
  QUIVER_TEST_BACKEND=s3 its root is a fresh bucket on a versitygw
  (versitygw.py) shared by the session: `--root s3://BUCKET/warehouse` with
  a part cache of its own; `Server.root` is then the directory versitygw
  keeps that prefix's objects in, so a test looks at what it stored as it
  does on a local root. Every case holds on both; cases that start no
  quiver (the cookbook's servers alone, test_seed.py) are deselected in that
  run, having nothing to do with where Quiver keeps its data.
- "cookbook" and "cookbook-streaming": the Arrow cookbook's two pyarrow
  servers (cookbook_server.py), the reference Quiver is compared with.

The benchmarks also start memory_server.py ("flight-memory", pyarrow
Flight with uploads kept in memory: their ceiling), its Go twin
integration/flightmemory ("go-memory": arrow-go's Flight stack, the one Quiver
is built on, doing nothing with the data) and ROAPI ("roapi", a Flight SQL server over Parquet
files it loads into memory) with `start_roapi`; it comes from
requirements-bench.txt, which run.sh installs only for a benchmark run.

Quiver's cases skip when there is no binary and no source, except under
CI=true, where a suite that cannot run must fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_flightsql.dbapi as adbc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import versitygw

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
# The Arrow cookbook's Flight recipe (Apache Arrow Cookbook, Apache License 2.0),
# copied byte for byte into the repository so that a clone runs every case:
# cookbook_client.py and cookbook_server.py are checked against it (test_seed.py).
SEED = HERE / "testdata" / "flight-cookbook.rst"

QUIVER = "quiver"
COOKBOOK = "cookbook"
COOKBOOK_STREAMING = "cookbook-streaming"
ALL_SERVERS = (COOKBOOK, COOKBOOK_STREAMING, QUIVER)
ROAPI = "roapi"
# memory_server.py: uploads kept in memory, no Parquet; the benchmarks' ceiling.
FLIGHT_MEMORY = "flight-memory"
# integration/flightmemory: the same in Go, with Quiver's gRPC transport options.
GO_MEMORY = "go-memory"

START_TIMEOUT = 30.0  # seconds until a server must have logged its address
STOP_TIMEOUT = 20.0  # seconds a server gets to shut down after SIGTERM
ROAPI_LOAD_TIMEOUT = 300.0  # ROAPI reads its tables whole before it listens

# quiver logs its bound address in a slog line, e.g. addr=grpc://127.0.0.1:41234.
QUIVER_ADDRESS = re.compile(r"grpc://127\.0\.0\.1:([1-9][0-9]*)")
COOKBOOK_READY = re.compile(r"^listening on (grpc://127\.0\.0\.1:[0-9]+)$", re.M)
# ROAPI logs this once its tables are loaded and its Flight SQL port is bound.
ROAPI_READY = re.compile(r"Listening on 127\.0\.0\.1:([0-9]+) for FlightSQL traffic")


# QUIVER_TEST_BACKEND=s3 runs every quiver on an S3 root (`make test-python-s3`);
# unset or "local" on a local directory. The Go integration suite reads the same variable.
BACKEND_ENV = "QUIVER_TEST_BACKEND"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def on_s3() -> bool:
    """Whether this run's quiver servers keep their datasets in a bucket."""
    backend = os.environ.get(BACKEND_ENV, "local")
    if backend not in ("local", "s3"):
        raise pytest.UsageError(f"{BACKEND_ENV}={backend!r}: want local or s3")
    return backend == "s3"


@dataclass(frozen=True)
class Server:
    """A running server, as the tests see it."""

    kind: str
    location: str  # grpc://127.0.0.1:PORT, for pyarrow.flight.connect
    root: Path  # the directory it stores datasets in (on S3: where versitygw keeps them)
    log: Path  # its stdout and stderr
    pid: int  # its process id, to watch its CPU time
    url: str = ""  # its --root: the local directory, or s3://BUCKET/PREFIX
    # The one directory its DuckDB may read, and the label its messages show for
    # it: the root itself, or on S3 the part cache (flightsql hides both paths).
    sql_dir: Path | None = None
    sql_dir_label: str = "<root>"

    @property
    def is_quiver(self) -> bool:
        return self.kind == QUIVER

    def connect(self) -> flight.FlightClient:
        return flight.connect(self.location)

    def adbc(self) -> adbc.Connection:
        """An ADBC Flight SQL DB-API connection; close it (or use `with`).

        autocommit=True because Quiver has no transactions: without it the
        driver warns that it cannot disable autocommit."""
        return adbc.connect(self.location, autocommit=True)

    def put(self, name: str, table: pa.Table) -> None:
        """Uploads table as dataset name with a plain Flight DoPut."""
        with self.connect() as client:
            writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), table.schema)
            with writer:
                writer.write_table(table)

    def get(self, name: str) -> pa.Table:
        """Reads dataset name whole with a plain Flight DoGet of its name."""
        with self.connect() as client:
            return client.do_get(flight.Ticket(name.encode())).read_all()

    def peak_rss(self) -> int:
        """The process's peak resident set size (VmHWM) in bytes."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        m = re.search(r"^VmHWM:\s+([0-9]+) kB$", status, re.M)
        if m is None:
            raise RuntimeError(f"no VmHWM in /proc/{self.pid}/status")
        return int(m.group(1)) * 1024

    def reset_peak_rss(self) -> bool:
        """Restarts the peak_rss count from the current RSS (Linux's clear_refs 5).

        Returns False where the kernel does not allow it; peak_rss is then the
        peak since the process started."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True


@pytest.fixture(scope="session")
def quiver_bin() -> Path:
    """The quiver binary: QUIVER_BIN, or built from this tree's cmd/quiver."""
    env = os.environ.get("QUIVER_BIN")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"QUIVER_BIN={env} is not an executable file")
        return path
    if not any((REPO_ROOT / "cmd" / "quiver").glob("*.go")):
        reason = "no quiver: QUIVER_BIN is unset and this tree has no cmd/quiver"
        if in_ci():
            pytest.fail(reason + " (CI=true, so Quiver's cases must run)")
        pytest.skip(reason)
    if shutil.which("go") is None:
        pytest.fail("cmd/quiver is here but go is not on PATH; set QUIVER_BIN")
    return go_build("./cmd/quiver", REPO_ROOT / "bin" / "quiver")


@pytest.fixture(scope="session")
def flightmemory_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """integration/flightmemory, built from this tree (the benchmarks' Go ceiling)."""
    if shutil.which("go") is None:
        pytest.fail("the go-memory server is built from integration/flightmemory, but go is not on PATH")
    return go_build("./integration/flightmemory", tmp_path_factory.mktemp("flightmemory") / "flightmemory")


def go_build(package: str, out: Path) -> Path:
    """Builds package of this tree (with the duckdb_arrow tag) into out."""
    build = subprocess.run(
        ["go", "build", "-tags", "duckdb_arrow", "-o", str(out), package],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if build.returncode != 0:
        pytest.fail(f"go build {package} failed:\n{build.stdout}{build.stderr}")
    return out


@pytest.fixture(scope="session")
def s3_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[versitygw.Gateway]:
    """One versitygw for the session; each quiver root gets a fresh bucket on it."""
    try:
        exe = versitygw.binary(REPO_ROOT)
    except versitygw.NotInstalled as e:
        if in_ci():
            pytest.fail(f"{e} (CI=true, so the S3 cases must run)")
        pytest.skip(str(e))
    gw = versitygw.Gateway.start(exe, tmp_path_factory.mktemp("versitygw"))
    try:
        yield gw
    finally:
        gw.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an S3 run, deselects the cases that start no quiver: the cookbook's
    reference servers and the seed check do not depend on Quiver's root."""
    if not on_s3():
        return
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        kind = params.params.get("server") if params else None
        if item.path.name == "test_seed.py" or kind in (COOKBOOK, COOKBOOK_STREAMING):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Keeps each phase's report on the item, so fixtures can tell at teardown
    # whether the test failed and dump the server logs then.
    report = yield
    setattr(item, "report_" + report.when, report)
    return report


def roapi_bin() -> Path:
    """ROAPI's binary: ROAPI_BIN, or the one `pip install roapi` put beside python."""
    env = os.environ.get("ROAPI_BIN")
    found = env or shutil.which("roapi", path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip("no roapi: pip install -r requirements-bench.txt (run.sh does for a bench run) or set ROAPI_BIN")
    path = Path(found)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"ROAPI_BIN={env} is not an executable file")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_log(proc: subprocess.Popen, log: Path, pattern: re.Pattern[str], timeout: float = START_TIMEOUT) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if m := pattern.search(log.read_text(errors="replace")):
            return m
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise RuntimeError(
        f"{proc.args!r} did not log {pattern.pattern!r} within {timeout}s "
        f"(exit code {proc.returncode}); its output:\n{log.read_text(errors='replace')}"
    )


class Servers:
    """Starts servers for one test and stops them all at its end."""

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self._tmp = tmp_path
        self._request = request
        self._running: list[tuple[Server, subprocess.Popen]] = []
        self._buckets: dict[Path, str] = {}  # on S3: a root's bucket, for servers sharing it

    def start(self, kind: str, args: tuple[str, ...] = (), name: str = "", root: Path | None = None) -> Server:
        """Starts a server; for quiver, args are more `quiver serve` flags (a later
        --addr wins), name tells its log and root apart from another quiver's, and
        root, when given, is a dataset root it shares with another."""
        label = name or kind
        if root is None:
            root = self._tmp / f"{label}-root"
            root.mkdir()
        log = self._tmp / f"{label}.log"
        url = str(root)
        sql_dir, sql_dir_label = root, "<root>"
        if kind == QUIVER:
            binary = self._request.getfixturevalue("quiver_bin")
            serve = ["--root", str(root)]
            env = None
            if on_s3():
                # The local root stands for a bucket: servers given the same root share one.
                gw: versitygw.Gateway = self._request.getfixturevalue("s3_gateway")
                bucket = self._buckets.get(root)
                if bucket is None:
                    bucket = self._buckets[root] = gw.new_bucket(self._request.node.name)
                cache = self._tmp / f"{label}-cache"  # one server per part cache
                serve = gw.serve_args(bucket, cache)
                url = serve[1]
                root = gw.mirror(bucket)
                sql_dir, sql_dir_label = cache, "<cache>"
                env = versitygw.quiver_env(dict(os.environ), self._tmp)
            argv = [str(binary), "serve", *serve, "--addr", "127.0.0.1:0", *args]
            proc = self._spawn(argv, log, env)
            location = wait_for_log(proc, log, QUIVER_ADDRESS).group(0)
        elif kind in (COOKBOOK, COOKBOOK_STREAMING):
            variant = "first" if kind == COOKBOOK else "streaming"
            location = f"grpc://127.0.0.1:{free_port()}"
            argv = [sys.executable, str(HERE / "cookbook_server.py"), variant, location, str(root)]
            proc = self._spawn(argv, log)
            wait_for_log(proc, log, COOKBOOK_READY)
        elif kind == FLIGHT_MEMORY:
            location = f"grpc://127.0.0.1:{free_port()}"
            proc = self._spawn([sys.executable, str(HERE / "memory_server.py"), location], log)
            wait_for_log(proc, log, COOKBOOK_READY)
        elif kind == GO_MEMORY:
            location = f"grpc://127.0.0.1:{free_port()}"
            binary = self._request.getfixturevalue("flightmemory_bin")
            proc = self._spawn([str(binary), location], log)
            wait_for_log(proc, log, COOKBOOK_READY)
        else:
            raise ValueError(f"unknown server kind {kind!r}")
        server = Server(kind, location, root, log, proc.pid, url, sql_dir, sql_dir_label)
        self._running.append((server, proc))
        with server.connect() as client:
            client.wait_for_available(timeout=START_TIMEOUT)
        return server

    def start_roapi(self, tables: dict[str, Path]) -> Server:
        """Starts ROAPI serving each Parquet file (or directory) as the named table.

        Every one of its listeners is bound to a free loopback port; ROAPI
        reads the tables into memory before it binds its Flight SQL port."""
        binary = roapi_bin()
        root = self._tmp / f"{ROAPI}-root"
        root.mkdir()
        log = self._tmp / f"{ROAPI}.log"
        port = free_port()
        argv = [
            str(binary),
            "--addr-http", f"127.0.0.1:{free_port()}",
            "--addr-postgres", f"127.0.0.1:{free_port()}",
            "--addr-flight-sql", f"127.0.0.1:{port}",
        ]
        for name, path in tables.items():
            argv += ["-t", f"{name}={path}"]
        proc = self._spawn(argv, log)
        wait_for_log(proc, log, ROAPI_READY, timeout=ROAPI_LOAD_TIMEOUT)
        server = Server(ROAPI, f"grpc://127.0.0.1:{port}", root, log, proc.pid)
        self._running.append((server, proc))
        return server

    @staticmethod
    def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        with log.open("wb") as out:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)

    def stop_all(self) -> list[str]:
        """Stops every server; returns what went wrong on the way."""
        problems = []
        for server, proc in reversed(self._running):
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                problems.append(f"{server.kind} ignored SIGTERM for {STOP_TIMEOUT}s")
                continue
            # Quiver promises a graceful shutdown on SIGTERM; the cookbook's
            # server simply dies of it, which is fine for a reference.
            if server.is_quiver and code != 0:
                problems.append(f"quiver exited with {code} after SIGTERM, want 0")
        return problems

    def dump_logs(self) -> None:
        for server, _ in self._running:
            sys.stderr.write(f"----- {server.kind} log ({server.log}) -----\n")
            sys.stderr.write(server.log.read_text(errors="replace"))


@pytest.fixture
def start_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Server]]:
    """A function that starts a server of the given kind for this test."""
    yield from stopped_at_end(tmp_path, request, lambda servers: servers.start)


@pytest.fixture
def start_roapi(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[dict[str, Path]], Server]]:
    """A function that starts ROAPI on the given {table: Parquet path} for this test."""
    yield from stopped_at_end(tmp_path / "roapi", request, lambda servers: servers.start_roapi)


def stopped_at_end(tmp_path: Path, request: pytest.FixtureRequest, starter: Callable[[Servers], Callable]) -> Iterator[Callable]:
    """Yields starter's function, then stops what it started and reports problems."""
    tmp_path.mkdir(exist_ok=True)
    servers = Servers(tmp_path, request)
    yield starter(servers)
    problems = servers.stop_all()
    call = getattr(request.node, "report_call", None)
    if problems or call is None or call.failed:
        servers.dump_logs()
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def server(request: pytest.FixtureRequest, start_server: Callable[[str], Server]) -> Server:
    """The server named by the test's indirect parameter."""
    return start_server(request.param)
