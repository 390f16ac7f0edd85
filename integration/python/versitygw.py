"""versitygw, the S3-compatible server the S3 runs use, started on loopback.

versitygw (POSIX backend) is the binary integration/s3/versitygw.sh builds
into bin/versitygw, or QUIVER_VERSITYGW. Its POSIX backend keeps an object
as a file at DATA/BUCKET/KEY, so a test can look at what a server stored in
a bucket as it looks into a local root. The credentials are the Go tests'
(catalog/storage/s3/s3test).

This module imports nothing from conftest, so that conftest and
s3_fixtures can both use it.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

ACCESS_KEY = "quiver-test-access"
SECRET_KEY = "quiver-test-secret-key"
REGION = "us-east-1"
PREFIX = "warehouse"  # the key prefix under which quiver serve keeps its datasets

START_TIMEOUT = 30.0  # seconds until versitygw must answer
STOP_TIMEOUT = 20.0  # seconds it gets to shut down after SIGTERM


class NotInstalled(Exception):
    """versitygw's binary is missing; the message says how to install it."""


def binary(repo_root: Path) -> Path:
    """The versitygw binary, or NotInstalled naming where it was looked for."""
    env = os.environ.get("QUIVER_VERSITYGW")
    path = Path(env) if env else repo_root / "bin" / "versitygw"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    raise NotInstalled(f"versitygw is not installed at {path}: run `bash integration/s3/versitygw.sh`")


def quiver_env(base: dict[str, str], scratch: Path) -> dict[str, str]:
    """base plus the AWS settings under which quiver serve reaches a Gateway:
    its credentials, and no config file or instance metadata to find others in."""
    env = dict(base)
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


@dataclass
class Gateway:
    """A running versitygw: its endpoint and the directory its objects are in."""

    endpoint: str  # http://127.0.0.1:PORT
    data: Path  # the POSIX backend's directory: DATA/BUCKET/KEY
    proc: subprocess.Popen
    log: Path
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, exe: Path, workdir: Path) -> Gateway:
        """Starts versitygw on a free loopback port, keeping its objects under workdir."""
        data = workdir / "s3-data"
        data.mkdir(parents=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = workdir / "versitygw.log"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(data),
            "ROOT_ACCESS_KEY": ACCESS_KEY,
            "ROOT_SECRET_KEY": SECRET_KEY,
            "VGW_REGION": REGION,
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(exe), "--port", f"127.0.0.1:{port}", "--quiet", "posix", str(data)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        gw = cls(f"http://127.0.0.1:{port}", data, proc, log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(gw.endpoint + "/", timeout=1).close()
                return gw
            except urllib.error.HTTPError:
                return gw  # an unsigned request gets 403: it answers
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    gw.stop()
                    raise RuntimeError(f"versitygw did not start; its output:\n{log.read_text(errors='replace')}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

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

    def new_bucket(self, hint: str = "q") -> str:
        """Creates an empty bucket with a name not used before on this server."""
        # S3 bucket names: 3-63 characters of lowercase letters, digits and '-'.
        clean = "".join(c if c.isascii() and c.isalnum() else "-" for c in hint.lower()).strip("-")[:40] or "q"
        name = f"{clean}-{next(self._names)}"
        self.filesystem().create_dir(name)
        return name

    def mirror(self, bucket: str, prefix: str = PREFIX) -> Path:
        """The directory that holds bucket's objects under prefix (it appears
        with the first object)."""
        return self.data / bucket / prefix

    def serve_args(self, bucket: str, cache_dir: Path, cache_size: str = "1GiB") -> list[str]:
        """The `quiver serve` flags that put its root on bucket."""
        return [
            "--root", f"s3://{bucket}/{PREFIX}",
            "--s3-endpoint", self.endpoint, "--s3-path-style",
            "--cache-dir", str(cache_dir), "--cache-size", cache_size,
        ]
