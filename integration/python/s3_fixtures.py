"""Fixtures for the S3 layout cases: a bucket on versitygw and `quiver serve --root s3://...`.

The bucket is a fresh one on the session's versitygw (conftest.s3_gateway,
versitygw.py), whatever QUIVER_TEST_BACKEND says: these cases are about the
bucket's layout as other engines read it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.flight as flight
import pyarrow.fs as pafs
import pytest

import versitygw
from conftest import QUIVER_ADDRESS, START_TIMEOUT, STOP_TIMEOUT, wait_for_log
from versitygw import ACCESS_KEY, PREFIX, REGION, SECRET_KEY  # noqa: F401  (for the tests)


@dataclass(frozen=True)
class S3:
    """A bucket on a running versitygw."""

    gateway: versitygw.Gateway
    bucket: str

    @property
    def endpoint(self) -> str:
        return self.gateway.endpoint  # http://127.0.0.1:PORT

    def filesystem(self) -> pafs.S3FileSystem:
        """pyarrow's S3 client on this server, as another engine would use it."""
        return self.gateway.filesystem()


@pytest.fixture
def s3(s3_gateway: versitygw.Gateway, request: pytest.FixtureRequest) -> S3:
    """An empty bucket of its own on the session's versitygw."""
    return S3(s3_gateway, s3_gateway.new_bucket(request.node.name))


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
    env = versitygw.quiver_env(dict(os.environ), tmp_path)
    argv = [
        str(quiver_bin), "serve", "--addr", "127.0.0.1:0",
        *s3.gateway.serve_args(s3.bucket, tmp_path / "quiver-cache", "256MiB"),
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
