"""
The bot as real processes for black-box tests: ``python -m bot run --http --workers N``
on a free loopback port, its ``bot work`` children found (and paused, killed) through
/proc as an operator would, and signed events posted to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.bot import slack_env
from tests.support.process import server_process
from tests.support.redis import free_port
from tests.support.slack import Call, FakeSlack, sign

ROOT = Path(__file__).resolve().parents[2]
# Variables of the developer's shell that would leak into the processes under test.
FOREIGN = (
    "SLACK_",
    "REDIS_",
    "PROBE_",
    "SUPPORT_",
    "ADMIN_",
    "ESCALATION_",
    "LOG_",
    "PROMETHEUS_",
)
# A worker process: `python -m bot work --priority idle` (a pid and its start time, so
# that a recycled pid is never mistaken for it).
Worker = tuple[int, int]
EVENTS_RECEIVED = 'smtpbot_events_received_total{kind="event:message"}'
ANSWERS = 'smtpbot_replies_total{kind="answer"}'
DEDUPLICATED = "smtpbot_events_deduplicated_total"


def bot_env(fake: FakeSlack, redis_url: str, prefix: str) -> dict[str, str]:
    """
    The environment of a bot process: fake Web API, real Redis, test credentials.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": "xoxb-workers",
            **slack_env(fake, redis_url, prefix),
            "LOG_LEVEL": "INFO",
        }
    )
    return env


@dataclass
class Front:
    """
    A running `run --http` process: its process, base URL and log.
    """

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def tail(self) -> str:
        """
        The end of its log (stderr, with its workers'), for failure messages.
        """
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def _stat(pid: int) -> list[str] | None:
    """
    The fields of /proc/PID/stat after the command name, or None without the process.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def running(worker: Worker) -> bool:
    """
    True while the worker process exists (a zombie does not count).
    """
    fields = _stat(worker[0])
    return fields is not None and int(fields[19]) == worker[1] and fields[0] != "Z"


def cmdline(pid: int) -> list[str]:
    """
    A process's arguments ([] once it is gone).
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode() for part in raw.split(b"\0") if part]


def environ(pid: int) -> dict[str, str]:
    """
    The environment a process was started with.
    """
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def workers_of(pid: int) -> set[Worker]:
    """
    The live `bot work` children of process PID.
    """
    children: set[int] = set()
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children.update(int(p) for p in path.read_text().split())
    found: set[Worker] = set()
    for child in children:
        args = cmdline(child)
        fields = _stat(child)
        if fields is not None and args[1:4] == ["-m", "bot", "work"]:
            worker = (child, int(fields[19]))
            if running(worker):
                found.add(worker)
    return found


async def wait_workers(
    front: Front,
    count: int,
    *,
    besides: set[Worker] | None = None,
    timeout: float = 10,
) -> set[Worker]:
    """
    Wait until the front has ``count`` live workers not in ``besides``; returns them.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = workers_of(front.process.pid) - (besides or set())
        if len(found) == count:
            return found
        assert front.process.poll() is None, f"front exited:\n{front.tail()}"
        assert time.monotonic() < deadline, (
            f"{len(found)} new worker(s), wanted {count}:\n{front.tail()}"
        )
        await asyncio.sleep(0.05)


def kill_leftovers(workers: set[Worker]) -> None:
    """
    SIGKILL these workers if a failed test left them running (by pid, checked first).
    """
    for worker in workers:
        if running(worker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker[0], signal.SIGKILL)


@contextlib.contextmanager
def front_process(
    env: dict[str, str],
    tmp_path: Path,
    *,
    workers: int,
    name: str = "front",
    port: int | None = None,
) -> Iterator[Front]:
    """
    `python -m bot run --http --workers N` on a free loopback port, stopped with
    SIGTERM afterwards (and any worker it left behind killed).
    """
    port = port or free_port()
    args = [
        sys.executable,
        *("-m", "bot", "run", "--http", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", str(workers)),
    ]
    log = tmp_path / f"{name}.log"
    seen: set[Worker] = set()
    with log.open("wb") as stderr:
        try:
            with server_process(
                args, env=env, cwd=tmp_path, stderr=stderr, stop_timeout=20
            ) as process:
                front = Front(process, f"http://127.0.0.1:{port}", log)
                try:
                    yield front
                finally:
                    seen |= workers_of(process.pid)
        finally:
            kill_leftovers(seen)


async def stop(front: Front, *, timeout: float = 20) -> int:
    """
    SIGTERM the front and wait for it (the event loop keeps serving the fake Slack).
    """
    front.process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(front.process.wait, timeout)


async def post_event(
    session: aiohttp.ClientSession, base: str, payload: dict[str, Any], retry: int = 0
) -> int:
    """
    POST a signed Events API payload to /slack/events; the status. A ``retry`` is a
    new delivery of the same event, as Slack sends it: signed at another time.
    """
    body = json.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        **sign(body, timestamp=int(time.time()) - retry),
    }
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
    async with session.post(f"{base}/slack/events", data=body, headers=headers) as r:
        return r.status


async def metrics_text(session: aiohttp.ClientSession, base: str) -> str:
    """
    The front's /metrics page.
    """
    async with session.get(f"{base}/metrics") as response:
        assert response.status == 200
        return await response.text()


def sample(text: str, series: str) -> float:
    """
    The value of one series (name and labels exactly as exposed), 0 when absent.
    """
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == series:
            return float(value)
    return 0.0


def threads(calls: list[Call]) -> list[str]:
    """
    The thread each chat.postMessage call replied in, sorted.
    """
    return sorted(str(call.args.get("thread_ts")) for call in calls)


def stamps(count: int, base: int) -> list[str]:
    """
    ``count`` distinct message timestamps.
    """
    return [f"{base + i}.000100" for i in range(count)]


async def post_body(
    session: aiohttp.ClientSession,
    base: str,
    body: str,
    headers: dict[str, str],
    *,
    timeout: float = 10,
) -> int:
    """
    POST a signed body to /slack/events; the status, or 0 when the process died
    before answering.
    """
    try:
        async with session.post(
            f"{base}/slack/events",
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def wait_ready(
    session: aiohttp.ClientSession, base: str, *, timeout: float = 30
) -> float:
    """
    Poll /readyz until it answers 200; the seconds it took.
    """
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return time.monotonic() - began
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base}/readyz never answered 200")


async def until(condition: Any, *, timeout: float, what: str = "condition") -> None:
    """
    Poll ``condition()`` every 50 ms until it is true.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        await asyncio.sleep(0.05)


def signed(payload: dict[str, Any], *, retry: int = 0) -> tuple[str, dict[str, str]]:
    """
    A signed Events API body and headers; a ``retry`` is Slack's redelivery of the
    same event: X-Slack-Retry-Num set, signed at another time (so it is not a replay).
    """
    body = json.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        **sign(body, timestamp=int(time.time()) - 2 * retry),
    }
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
    return body, headers
