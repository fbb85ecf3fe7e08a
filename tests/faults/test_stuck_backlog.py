"""
Fault test, black-box: ``run --http --workers 1`` whose worker still runs (its process
exists, so the front sees a worker) but does no work: SIGSTOPped, as a worker hung on
a lock or a dead socket would be. /readyz must say the queue is stuck once the oldest
queued message has waited longer than INTAKE_STUCK_SECONDS with nothing finished, and
be ready again once the worker moves.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.bot import delete_prefix
from tests.support.front import (
    bot_env,
    front_process,
    kill_leftovers,
    post_event,
    until,
    wait_ready,
    wait_workers,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.slack import CHANNEL, FakeSlack, message_event

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]


async def test_readyz_names_a_stuck_queue_while_its_worker_runs_and_recovers(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    The only worker is paused (alive, doing nothing) and a paste waits: /readyz turns
    503 naming the stuck queue and the setting, while /healthz stays 200; resumed, the
    worker answers the paste and /readyz is 200 again.
    """
    env = {**bot_env(fake_slack, redis_url, prefix), "INTAKE_STUCK_SECONDS": "2"}
    ts = "1700002400.000100"
    workers: set[tuple[int, int]] = set()
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            workers = await wait_workers(front, 1, timeout=20)
            ((pid, _),) = workers
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base)
                os.kill(pid, signal.SIGSTOP)
                assert (
                    await post_event(
                        session, front.base, message_event(STARTTLS_PASTE, ts=ts)
                    )
                    == 200
                )
                body: Any = None
                for _ in range(300):
                    async with session.get(f"{front.base}/readyz") as response:
                        if response.status == 503:
                            body = await response.json()
                            break
                    await fake_slack.settle(0.1)
                assert body is not None, "/readyz never said the queue was stuck"
                assert "stuck" in body["error"], body
                assert "INTAKE_STUCK_SECONDS=2" in body["error"], body
                async with session.get(f"{front.base}/healthz") as response:
                    assert response.status == 200
                assert fake_slack.answered_at(CHANNEL, ts) is None
                os.kill(pid, signal.SIGCONT)
                await until(
                    lambda: fake_slack.answered_at(CHANNEL, ts) is not None,
                    timeout=20,
                    what="the paste answered",
                )
                await wait_ready(session, front.base, timeout=10)
    finally:
        for pid, _ in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        kill_leftovers(workers)
        await delete_prefix(redis_url, prefix)
