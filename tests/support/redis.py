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
from dataclasses import dataclass, field
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


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed (apt-get install redis-server)"
        )
    return binary


def start_redis(
    workdir: Path, port: int, *extra: str, sentinel: Path | None = None
) -> subprocess.Popen[bytes]:
    """
    A redis-server on 127.0.0.1:``port`` without persistence (or, with ``sentinel``,
    a Sentinel on that config file), once it accepts connections.
    """
    if sentinel is not None:
        args = [_binary(), str(sentinel), "--sentinel", "--port", str(port)]
    else:
        args = [
            _binary(),
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
            *extra,
        ]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir
    )
    # Only a server that says it is this process will do: a test that stops or empties
    # "its" Redis must never reach another test run's that holds the port.
    if not _serves(process, port, deadline=time.monotonic() + 10):
        process.kill()
        process.wait(timeout=10)
        raise PortTakenError(f"redis-server did not start on port {port}")
    return process


class PortTakenError(RuntimeError):
    """
    A redis-server this module started did not come up on its port.
    """


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


def stop_redis(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """
    Stop a redis-server this module started (SIGKILL with ``kill``).
    """
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
    process.wait(timeout=10)


# Arguments that make a test redis-server keep every write across a restart.
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")


@contextlib.contextmanager
def redis_server(
    workdir: Path, *, port: int | None = None, persist: bool = False
) -> Iterator[tuple[str, int]]:
    """
    Start a throwaway redis-server (with ``persist``, an append-only file in
    ``workdir`` that a restart on the same port reads back); yields (url, port) and
    stops it afterwards. Without ``port`` a free one is picked, and another if
    something took it before the server could bind it (another test run).
    """
    extra = PERSISTENT if persist else ()
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            chosen = port or free_port()
            process = start_redis(workdir, chosen, *extra)
            break
        except PortTakenError:
            if port is not None or attempt == START_ATTEMPTS:
                raise
    port = chosen
    try:
        yield f"redis://127.0.0.1:{port}/0", port
    finally:
        stop_redis(process)


# The master name the test Sentinel group watches.
MASTER_NAME = "smtpbot"


@dataclass
class SentinelGroup:
    """
    A master, a replica and three sentinels on loopback, all throwaway.
    """

    workdir: Path
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """
        The REDIS_URL that names the group.
        """
        hosts = ",".join(f"127.0.0.1:{self.ports[f's{n}']}" for n in range(3))
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def direct_url(self, node: str) -> str:
        """
        A plain URL for one data node ("a" or "b").
        """
        return f"redis://127.0.0.1:{self.ports[node]}/0"

    def master(self) -> str:
        """
        The node ("a" or "b") the sentinels name as master now.
        """
        reply = subprocess.run(
            [
                shutil.which("redis-cli") or "redis-cli",
                *("-p", str(self.ports["s0"])),
                *("SENTINEL", "get-master-addr-by-name", MASTER_NAME),
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.split()
        port = int(reply[1]) if len(reply) == 2 else -1
        return next((n for n in ("a", "b") if self.ports[n] == port), "?")

    def kill(self, node: str) -> None:
        """
        SIGKILL one node (a data node or a sentinel).
        """
        stop_redis(self.processes.pop(node), kill=True)

    def start(self, node: str) -> None:
        """
        Start a killed data node again, as a replica of the current master.
        """
        master = self.master()
        self.processes[node] = start_redis(
            self.workdir,
            self.ports[node],
            *("--replicaof", "127.0.0.1", str(self.ports[master])),
        )


@contextlib.contextmanager
def sentinel_group(
    workdir: Path, *, down_after_ms: int = 1000
) -> Iterator[SentinelGroup]:
    """
    Master "a", replica "b" and sentinels s0-s2 (quorum 2) on free ports; every
    process is stopped afterwards.
    """
    ports = {name: free_port() for name in ("a", "b", "s0", "s1", "s2")}
    group = SentinelGroup(workdir, ports)
    try:
        group.processes["a"] = start_redis(workdir, ports["a"])
        group.processes["b"] = start_redis(
            workdir, ports["b"], "--replicaof", "127.0.0.1", str(ports["a"])
        )
        for n in range(3):
            config = workdir / f"sentinel-{n}.conf"
            config.write_text(
                f"bind 127.0.0.1\n"
                f"dir {workdir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {ports['a']} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n",
                encoding="utf-8",
            )
            group.processes[f"s{n}"] = start_redis(
                workdir, ports[f"s{n}"], sentinel=config
            )
        wait_for_replica(ports["a"])
        yield group
    finally:
        for process in group.processes.values():
            stop_redis(process, kill=True)


def wait_for_replica(port: int, *, timeout: float = 10) -> None:
    """
    Wait until the master on ``port`` has a replica in sync.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = subprocess.run(
            [
                shutil.which("redis-cli") or "redis-cli",
                "-p",
                str(port),
                "INFO",
                "replication",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        if "connected_slaves:1" in info and "state=online" in info:
            return
        time.sleep(0.05)
    raise RuntimeError(f"no replica came online for the master on {port}")


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
