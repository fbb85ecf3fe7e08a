"""
Fault tests, black-box: bursts of pastes into ``run --http --workers 2`` while the
workers are SIGKILLed again and again (some while the fake Slack holds a reply open,
before or after it took effect) and the front itself is killed mid-burst. Every thread
is answered; a kill may cost at most one duplicate answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.bot import delete_prefix
from tests.support.front import (
    Front,
    Worker,
    bot_env,
    front_process,
    post_body,
    signed,
    until,
    wait_workers,
    workers_of,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.slack import (
    CHANNEL,
    FakeSlack,
    answer_counts,
    event_request,
    message_event,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
WAVE = 30


async def send_wave(
    session: aiohttp.ClientSession, front: Front, payloads: list[dict[str, Any]]
) -> list[int]:
    """
    Post a wave of events at once; their statuses (0: the front died first).
    """
    requests = [event_request(p) for p in payloads]
    return list(
        await asyncio.gather(
            *(post_body(session, front.base, body, head) for body, head in requests)
        )
    )


def kill_all(workers: set[Worker]) -> int:
    """
    SIGKILL every worker; how many were killed.
    """
    for pid, _ in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(workers)


async def test_repeated_worker_and_front_kills_leave_every_thread_answered(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    Waves of pastes; during each, both workers are SIGKILLed while a reply is held
    (once after it reached the thread, once before it did); then the front is killed
    mid-wave and events it never acked are delivered again as Slack retries. Every
    paste is answered, with at most one duplicate per kill.
    """
    env = {**bot_env(fake_slack, redis_url, prefix), "INTAKE_RECLAIM_SECONDS": "2"}
    payloads = [
        message_event(STARTTLS_PASTE, ts=f"17000030{n:02d}.000100") for n in range(90)
    ]
    waves = [payloads[i : i + WAVE] for i in range(0, len(payloads), WAVE)]
    kills = 0
    unacked: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as session:
            with front_process(env, tmp_path, workers=2, name="first") as front:
                await wait_healthy(front.base, front.process, timeout=30)
                dead: set[Worker] = set()
                live = await wait_workers(front, 2, timeout=20)
                for n, wave in enumerate(waves[:-1]):
                    held = fake_slack.hold(
                        "chat.postMessage", channel=CHANNEL, commit=n % 2 == 0
                    )
                    statuses = await send_wave(session, front, wave)
                    assert statuses == [200] * len(wave)
                    await until(held.arrived.is_set, timeout=20, what="a reply held")
                    kills += kill_all(live)
                    held.release()
                    dead |= live
                    live = await wait_workers(front, 2, besides=dead, timeout=30)
                # The front dies while a wave is coming in: what it acked is in Redis;
                # what it did not, Slack sends again.
                wave = waves[-1]
                sending = asyncio.create_task(send_wave(session, front, wave))
                await asyncio.sleep(0.05)
                children = workers_of(front.process.pid)
                front.process.kill()
                kills += 1 + kill_all(children)
                statuses = await sending
                unacked = [p for p, s in zip(wave, statuses, strict=True) if s != 200]
            with front_process(env, tmp_path, workers=2, name="second") as front:
                await wait_healthy(front.base, front.process, timeout=30)
                for payload in unacked:
                    body, retry = signed(payload, retry=1)
                    assert await post_body(session, front.base, body, retry) == 200
                expected = {p["event"]["ts"] for p in payloads}
                await until(
                    lambda: expected <= set(answer_counts(fake_slack)),
                    timeout=60,
                    what="every paste answered",
                )
                await fake_slack.settle(2.0)
        counts = answer_counts(fake_slack)
        duplicates = sum(c - 1 for c in counts.values())
        assert set(counts) == expected
        assert duplicates <= kills, (duplicates, kills)
    finally:
        await delete_prefix(redis_url, prefix)
