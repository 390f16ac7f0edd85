"""Fixtures for the S3 cases: versitygw on loopback and `quiver serve --root s3://...`.

versitygw (an S3-compatible server with a POSIX backend) is the binary
integration/s3/versitygw.sh builds into bin/versitygw, or QUIVER_VERSITYGW.
Without it the cases skip, except under CI=true, where they must run.
The credentials are the Go tests' (catalog/storage/s3/s3test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.flight as flight
import pyarrow.fs as pafs
import pytest

from conftest import QUIVER_ADDRESS, REPO_ROOT, START_TIMEOUT, STOP_TIMEOUT, free_port, in_ci, wait_for_log

ACCESS_KEY = "quiver-test-access"
SECRET_KEY = "quiver-test-secret-key"
REGION = "us-east-1"
BUCKET = "quiver-py"
PREFIX = "warehouse"


@dataclass(frozen=True)
class S3:
    """A running versitygw with one bucket."""

    endpoint: str  # http://127.0.0.1:PORT
    bucket: str

    def filesystem(self) -> pafs.S3FileSystem:
        """pyarrow's S3 client on this server, as another engine would use it."""
        return pafs.S3FileSystem(
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=REGION,
            scheme="http",
            endpoint_override=self.endpoint.removeprefix("http://"),
            allow_bucket_creation=True,
        )


def versitygw_bin() -> Path:
    env = os.environ.get("QUIVER_VERSITYGW")
    path = Path(env) if env else REPO_ROOT / "bin" / "versitygw"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    reason = f"versitygw is not installed at {path}: run `bash integration/s3/versitygw.sh`"
    if in_ci():
        pytest.fail(reason + " (CI=true, so the S3 cases must run)")
    pytest.skip(reason)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3]:
    """versitygw on a free loopback port, with an empty bucket."""
    binary = versitygw_bin()
    data = tmp_path / "s3-data"
    data.mkdir()
    port = free_port()
    log = tmp_path / "versitygw.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data),
        "ROOT_ACCESS_KEY": ACCESS_KEY,
        "ROOT_SECRET_KEY": SECRET_KEY,
        "VGW_REGION": REGION,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--port", f"127.0.0.1:{port}", "--quiet", "posix", str(data)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # an unsigned request gets 403: it answers
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"versitygw did not start; its output:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
    server = S3(endpoint, BUCKET)
    server.filesystem().create_dir(BUCKET)
    try:
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class S3Quiver:
    """`quiver serve --root s3://BUCKET/PREFIX` on the s3 fixture's server."""

    location: str
    log: Path

    def connect(self) -> flight.FlightClient:
        return flight.connect(self.location)


@pytest.fixture
def s3_quiver(s3: S3, tmp_path: Path, quiver_bin: Path) -> Iterator[S3Quiver]:
    log = tmp_path / "quiver-s3.log"
    cache = tmp_path / "quiver-cache"
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    argv = [
        str(quiver_bin), "serve", "--root", f"s3://{s3.bucket}/{PREFIX}", "--addr", "127.0.0.1:0",
        "--s3-endpoint", s3.endpoint, "--s3-path-style", "--cache-dir", str(cache), "--cache-size", "256MiB",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    location = wait_for_log(proc, log, QUIVER_ADDRESS).group(0)
    server = S3Quiver(location, log)
    with server.connect() as client:
        client.wait_for_available(timeout=START_TIMEOUT)
    try:
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"quiver ignored SIGTERM; its output:\n{log.read_text(errors='replace')}")
        if code != 0:
            pytest.fail(f"quiver exited with {code} after SIGTERM; its output:\n{log.read_text(errors='replace')}")
