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

import redis

# A database number of our own on a shared Redis; keys also carry a per-test prefix.
TEST_DB = 11
# Free ports a private redis-server is tried on before giving up (one may be taken
# between picking it and the server binding it).
START_ATTEMPTS = 5


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

    Without ``port`` a free one is picked, and another if something took it before
    the server could bind it (another test run on the machine). Only a server that
    says it is this process is used: a test that stops or empties "its" Redis must
    never reach someone else's.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed (apt-get install redis-server)"
        )
    for attempt in range(1, START_ATTEMPTS + 1):
        chosen = port or free_port()
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(chosen),
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
        if _serves(process, chosen, deadline=time.monotonic() + 10):
            break
        process.kill()
        process.wait(timeout=10)
        if port is not None or attempt == START_ATTEMPTS:
            raise RuntimeError(f"redis-server did not start on port {chosen}")
    try:
        yield f"redis://127.0.0.1:{chosen}/0", chosen
    finally:
        process.terminate()
        process.wait(timeout=10)


def _serves(process: subprocess.Popen[bytes], port: int, *, deadline: float) -> bool:
    """
    Wait until ``process`` answers on ``port``; False once it has exited (its port
    was taken) or the deadline passed.
    """
    while process.poll() is None and time.monotonic() < deadline:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        try:
            if client.info("server").get("process_id") == process.pid:
                return True
        except (redis.RedisError, OSError):
            pass
        finally:
            client.close()
        time.sleep(0.02)
    return False


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
