"""
A real Redis for tests: REDIS_URL-like override, the machine's Redis on 6379 (DB 11), or
a
private ``redis-server`` started on a free port (CI starts nothing else).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

# A database number of our own on a shared Redis; keys also carry a per-test prefix.
TEST_DB = 11


def new_prefix() -> str:
    """
    A fresh Redis key prefix, so that a test's keys are its own.
    """
    return f"smtpbot-test:{uuid.uuid4().hex[:12]}:"


def free_port() -> int:
    """
    An unused TCP port on 127.0.0.1.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    """
    True when something accepts TCP connections there.
    """
    with (
        contextlib.suppress(OSError),
        socket.create_connection((host, port), timeout=0.5),
    ):
        return True
    return False


@contextlib.contextmanager
def redis_server(
    workdir: Path, *, port: int | None = None
) -> Iterator[tuple[str, int]]:
    """
    Start a throwaway redis-server; yields (url, port) and stops it afterwards.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed (apt-get install redis-server)"
        )
    port = port or free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0", port
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def test_redis_url(workdir: Path) -> Iterator[str]:
    """
    The Redis the suite uses (see module docstring).
    """
    override = os.environ.get("SMTPBOT_TEST_REDIS_URL")
    if override:
        yield override
    elif reachable("127.0.0.1", 6379):
        yield f"redis://127.0.0.1:6379/{TEST_DB}"
    else:
        with redis_server(workdir) as (url, _):
            yield url
