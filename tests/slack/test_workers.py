"""
Black-box: HTTP mode with intake workers. ``python -m bot run --http --workers N`` and
``python -m bot work`` as real processes on the fake Web API and a real Redis; the
workers are found, paused and killed through /proc, as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.bot import delete_prefix
from tests.support.front import (
    ANSWERS,
    DEDUPLICATED,
    EVENTS_RECEIVED,
    FOREIGN,
    ROOT,
    Worker,
    bot_env,
    cmdline,
    environ,
    front_process,
    metrics_text,
    post_event,
    running,
    sample,
    stamps,
    stop,
    threads,
    wait_workers,
    workers_of,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import run_bot, wait_healthy
from tests.support.slack import (
    CHANNEL,
    OTHER_CHANNEL,
    FakeSlack,
    message_event,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
# How long orphaned workers may take to stop. Workers run at SCHED_IDLE, so on a busy
# machine they get only CPU time nobody else wants: killed during start-up, one has
# been seen to need 10 s just to import and notice (under 2 s on an idle machine).
ORPHAN_STOP_SECONDS = 120


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
