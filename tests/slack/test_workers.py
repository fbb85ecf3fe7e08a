"""
Black-box: HTTP mode with intake workers. ``python -m bot run --http --workers N`` and
``python -m bot work`` as real processes on the fake Web API and a real Redis; the
workers are found, paused and killed through /proc, as an operator would.
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
import pytest

from tests.support.bot import delete_prefix, slack_env
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import run_bot, server_process, wait_healthy
from tests.support.redis import free_port
from tests.support.slack import (
    CHANNEL,
    OTHER_CHANNEL,
    Call,
    FakeSlack,
    message_event,
    sign,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
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
# How long orphaned workers may take to stop. Workers run at SCHED_IDLE, so on a busy
# machine they get only CPU time nobody else wants: killed during start-up, one has
# been seen to need 10 s just to import and notice (under 2 s on an idle machine).
ORPHAN_STOP_SECONDS = 120


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
    env: dict[str, str], tmp_path: Path, *, workers: int, name: str = "front"
) -> Iterator[Front]:
    """
    `python -m bot run --http --workers N` on a free loopback port, stopped with
    SIGTERM afterwards (and any worker it left behind killed).
    """
    port = free_port()
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


async def test_front_with_one_worker_answers_sums_metrics_and_stops_its_worker(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    `run --workers 1`: a paste is acked and answered once, in its thread, by an idle-
    priority `bot work` child; /metrics adds the worker's counters to the front's; on
    SIGTERM the front exits 0 promptly and takes its worker and the metrics directory
    with it.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            (worker,) = await wait_workers(front, 1)
            assert cmdline(worker[0])[4:] == [
                *("--priority", "idle"),
                *("--parent-pid", str(front.process.pid)),
            ]
            shared = Path(environ(worker[0])["PROMETHEUS_MULTIPROC_DIR"])
            assert shared.is_dir()
            async with aiohttp.ClientSession() as session:
                # The paste is queued for the worker; the chatter in a channel the bot
                # does not answer in is acked (and counted) by the front itself.
                paste = message_event(STARTTLS_PASTE, ts="1700000300.000100")
                chatter = message_event("lunch?", channel=OTHER_CHANNEL)
                assert await post_event(session, front.base, paste) == 200
                assert await post_event(session, front.base, chatter) == 200
                (reply,) = await fake_slack.wait_for("chat.postMessage", timeout=20)
                assert reply.args["channel"] == CHANNEL
                assert reply.args["thread_ts"] == "1700000300.000100"
                await fake_slack.settle(1.0)
                assert len(fake_slack.of("chat.postMessage")) == 1
                text = await metrics_text(session, front.base)
            assert sample(text, ANSWERS) == 1, text
            assert sample(text, EVENTS_RECEIVED) == 2, text
            # Waiting for CPU at idle priority must not read as Redis being down.
            assert "worker_ready priority=idle redis_timeout=10.0s" in front.tail()
            assert workers_of(front.process.pid) == {worker}
            # It has answered, so it is past start-up and at its final priority.
            assert os.sched_getscheduler(worker[0]) == os.SCHED_IDLE
            began = time.monotonic()
            assert await stop(front) == 0, front.tail()
            # The worker left on SIGTERM: the front never waited out its kill timer.
            assert time.monotonic() - began < 10, front.tail()
            assert not running(worker), "the worker outlived its front"
            assert not shared.exists(), "the metrics directory was left behind"
    finally:
        await delete_prefix(redis_url, prefix)


async def test_a_killed_worker_is_replaced_after_a_growing_delay_and_answers(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    SIGKILL the only worker: the front starts another after about a second (not at
    once); kill that one too and the next waits about twice as long. The front keeps
    running and the last worker answers the next paste.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            (worker,) = await wait_workers(front, 1)
            dead: set[Worker] = set()
            gaps: list[float] = []
            for _ in range(2):
                os.kill(worker[0], signal.SIGKILL)
                killed = time.monotonic()
                dead.add(worker)
                (worker,) = await wait_workers(front, 1, besides=dead, timeout=10)
                gaps.append(time.monotonic() - killed)
                assert not any(running(w) for w in dead)
            # 1 s, then 2 s (plus the time to notice and spawn; generous for busy CI).
            assert 0.9 <= gaps[0] < 3.0, gaps
            assert 1.9 <= gaps[1] < 6.0 and gaps[1] > gaps[0] + 0.5, gaps
            assert front.process.poll() is None
            async with aiohttp.ClientSession() as session:
                paste = message_event(STARTTLS_PASTE, ts="1700000400.000100")
                assert await post_event(session, front.base, paste) == 200
                (reply,) = await fake_slack.wait_for("chat.postMessage", timeout=20)
                assert reply.args["thread_ts"] == "1700000400.000100"
                await fake_slack.settle(0.5)
                assert len(fake_slack.of("chat.postMessage")) == 1
                text = await metrics_text(session, front.base)
            assert sample(text, ANSWERS) == 1, text
            assert workers_of(front.process.pid) == {worker}
            assert await stop(front) == 0, front.tail()
            assert not running(worker)
    finally:
        await delete_prefix(redis_url, prefix)


async def test_workers_of_a_killed_front_stop_by_themselves(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    A front SIGKILLed (no chance to stop its workers) leaves no worker running: each
    notices it was orphaned and exits by itself.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    try:
        with front_process(env, tmp_path, workers=2) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            workers = await wait_workers(front, 2)
            front.process.kill()
            await asyncio.to_thread(front.process.wait, 10)
            killed = time.monotonic()
            while any(running(w) for w in workers):
                waited = time.monotonic() - killed
                assert waited < ORPHAN_STOP_SECONDS, (
                    f"workers still running {waited:.0f} s after the front died:\n"
                    f"{front.tail()}"
                )
                await asyncio.sleep(0.1)
    finally:
        await delete_prefix(redis_url, prefix)


async def test_messages_queued_while_the_worker_is_paused_are_answered_once_later(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    With the worker SIGSTOPped the front still acks every paste and nothing is
    answered; once it resumes, every queued paste is answered exactly once.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    queued = stamps(5, 1700000500)
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            (worker,) = await wait_workers(front, 1)
            async with aiohttp.ClientSession() as session:
                # A first paste proves the worker is up and reading the stream.
                first = message_event(STARTTLS_PASTE, ts="1700000499.000100")
                assert await post_event(session, front.base, first) == 200
                await fake_slack.wait_for("chat.postMessage", timeout=20)
                os.kill(worker[0], signal.SIGSTOP)
                try:
                    # Let the read it was blocked in run out empty on the server.
                    await asyncio.sleep(1.0)
                    statuses = await asyncio.gather(
                        *(
                            post_event(
                                session, front.base, message_event(STARTTLS_PASTE, ts=t)
                            )
                            for t in queued
                        )
                    )
                    assert statuses == [200] * len(queued)
                    await fake_slack.settle(1.0)
                    assert len(fake_slack.of("chat.postMessage")) == 1
                finally:
                    os.kill(worker[0], signal.SIGCONT)
                await fake_slack.wait_for(
                    "chat.postMessage", 1 + len(queued), timeout=20
                )
                await fake_slack.settle(1.0)
            replies = fake_slack.of("chat.postMessage")
            assert threads(replies) == ["1700000499.000100", *queued]
            assert workers_of(front.process.pid) == {worker}, "no restart needed"
            assert await stop(front) == 0, front.tail()
    finally:
        await delete_prefix(redis_url, prefix)


async def pending_entries(redis_url: str, prefix: str) -> int:
    """
    Intake entries a worker has taken and not acknowledged (all groups).
    """
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        groups = await client.xinfo_groups(f"{prefix}intake")
        return sum(int(group["pending"]) for group in groups)
    finally:
        await client.aclose()


async def test_a_batch_taken_just_before_a_pause_is_answered_when_it_resumes(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    A worker that stalls (SIGSTOP here; in production CPU starvation at idle priority
    or a VM pause) right after Redis handed its blocked read a paste answers that paste
    within seconds of resuming, not only once the entry is reclaimed a minute later.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            (worker,) = await wait_workers(front, 1)
            async with aiohttp.ClientSession() as session:
                first = message_event(STARTTLS_PASTE, ts="1700000699.000100")
                assert await post_event(session, front.base, first) == 200
                await fake_slack.wait_for("chat.postMessage", timeout=20)
                await asyncio.sleep(0.2)  # acked; blocked in its next read
                os.kill(worker[0], signal.SIGSTOP)
                try:
                    paste = message_event(STARTTLS_PASTE, ts="1700000700.000100")
                    assert await post_event(session, front.base, paste) == 200
                    await asyncio.sleep(1.5)  # longer than the Redis socket timeout
                    # Usually Redis has handed the stopped worker's read the paste by
                    # now; either way it must be answered soon after the worker resumes.
                    assert await pending_entries(redis_url, prefix) in (0, 1)
                finally:
                    os.kill(worker[0], signal.SIGCONT)
                await fake_slack.wait_for("chat.postMessage", 2, timeout=5)
            assert await stop(front) == 0, front.tail()
    finally:
        await delete_prefix(redis_url, prefix)


async def test_two_fronts_share_one_queue_and_answer_a_shared_event_once(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    Two `--workers 0` fronts on one Redis: an event delivered to both is answered once
    (the other copy is deduplicated), each front's own event is answered, and each
    queued copy is handled by exactly one of them (one consumer group, not one each).
    """
    env = bot_env(fake_slack, redis_url, prefix)
    try:
        with (
            front_process(env, tmp_path, workers=0, name="one") as one,
            front_process(env, tmp_path, workers=0, name="two") as two,
        ):
            await wait_healthy(one.base, one.process, timeout=30)
            await wait_healthy(two.base, two.process, timeout=30)
            assert workers_of(one.process.pid) == set()
            async with aiohttp.ClientSession() as session:
                shared = message_event(STARTTLS_PASTE, ts="1700000600.000100")
                statuses = await asyncio.gather(
                    post_event(session, one.base, shared),
                    post_event(session, two.base, shared, retry=1),
                )
                assert list(statuses) == [200, 200]
                only_one = message_event(STARTTLS_PASTE, ts="1700000601.000100")
                only_two = message_event(STARTTLS_PASTE, ts="1700000602.000100")
                assert await post_event(session, one.base, only_one) == 200
                assert await post_event(session, two.base, only_two) == 200
                await fake_slack.wait_for("chat.postMessage", 3, timeout=20)
                await fake_slack.settle(1.0)
                texts = [await metrics_text(session, f.base) for f in (one, two)]
            assert threads(fake_slack.of("chat.postMessage")) == [
                "1700000600.000100",
                "1700000601.000100",
                "1700000602.000100",
            ]
            assert sum(sample(t, EVENTS_RECEIVED) for t in texts) == 4, texts
            assert sum(sample(t, DEDUPLICATED) for t in texts) == 1, texts
            assert sum(sample(t, ANSWERS) for t in texts) == 3, texts
            assert await stop(one) == 0, one.tail()
            assert await stop(two) == 0, two.tail()
    finally:
        await delete_prefix(redis_url, prefix)


def test_work_without_a_bot_token_exits_2_naming_it(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    `smtpbot work` with no SLACK_BOT_TOKEN refuses to start: exit 2, naming the
    variable.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        {"PYTHONPATH": str(ROOT), "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix}
    )
    result = run_bot(["work"], env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["work", "--help"], "--priority"),
        (["run", "--help"], "--workers"),
    ],
)
def test_help_documents_the_worker_options(
    args: list[str], shown: str, tmp_path: Path
) -> None:
    """
    `work --help` documents --priority and `run --help` documents --workers.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = run_bot(args, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["work", "--priority", "realtime"],
        ["run", "--http", "--workers", "65"],
        ["run", "--workers", "2"],
    ],
)
def test_out_of_range_worker_options_are_usage_errors(
    args: list[str], tmp_path: Path
) -> None:
    """
    An unknown --priority, a --workers beyond 64, or --workers without --http is
    refused with exit 2, naming the option.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = run_bot(args, env, tmp_path)
    assert result.returncode == 2
    assert args[-2] in result.stderr
