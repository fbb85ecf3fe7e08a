"""
Fault tests, black-box: the bot on a Sentinel group of its own (a master, a replica
and three sentinels on loopback), ``REDIS_URL=redis+sentinel://...``, while the master
is SIGKILLed in the middle of a stream of pastes and the sentinels promote the replica.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bot.slack import blocks
from bot.slack.escalation import cards as card_ids
from tests.faults.test_handoff_kills import (
    ESC,
    HELPER,
    answered,
    answers_in,
    cards_of,
    click,
    desk_env,
)
from tests.support.front import (
    front_process,
    post_body,
    signed,
    until,
    wait_ready,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.redis import sentinel_group
from tests.support.slack import (
    CHANNEL,
    TEAM,
    FakeSlack,
    event_request,
    message_event,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
PREFIX = "smtpbot:"


async def test_a_failover_loses_no_acked_event_and_answers_resume_within_15s(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    Pastes arrive every 50 ms; the master is killed. Every paste the front acked with
    200 (up to the instant the master died) is answered exactly once, and the rest
    got a non-200 and are answered once when Slack sends them again; /readyz is 503
    while there is no master; answers flow again within 15 s; an escalation and a
    thread's history from before the failover are intact after it.
    """
    with sentinel_group(tmp_path) as group:
        env = desk_env(fake_slack, group.url, PREFIX)
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base)
                before = "1700005000.000100"
                await answered(session, front, fake_slack, before)
                value = blocks.encode_value(t=before)
                assert await click(session, front, blocks.HUMAN, value) == 200
                await until(lambda: cards_of(fake_slack), timeout=15, what="card")

                statuses: dict[str, int] = {}
                sent_at: dict[str, float] = {}
                killed_at = 0.0
                not_ready = 0

                async def send(n: int) -> None:
                    ts = f"1700005{100 + n:03d}.000100"
                    body, head = event_request(message_event(STARTTLS_PASTE, ts=ts))
                    sent_at[ts] = time.monotonic()
                    statuses[ts] = await post_body(
                        session, front.base, body, head, timeout=10
                    )

                async def watch_readiness() -> None:
                    nonlocal not_ready
                    while time.monotonic() - killed_at < 12:
                        async with session.get(f"{front.base}/readyz") as response:
                            not_ready += response.status != 200
                        await asyncio.sleep(0.2)

                tasks: list[asyncio.Task[None]] = []
                # 20 before the kill, then 8 s more: the failover happens meanwhile.
                for n in range(180):
                    tasks.append(asyncio.create_task(send(n)))
                    if n == 20:
                        group.kill("a")
                        killed_at = time.monotonic()
                        watcher = asyncio.create_task(watch_readiness())
                    await asyncio.sleep(0.05)
                await asyncio.gather(*tasks)
                acked = {ts for ts, status in statuses.items() if status == 200}
                after_kill = {ts for ts in acked if sent_at[ts] > killed_at}

                def first_answer_after_kill() -> float | None:
                    times = [
                        at
                        for ts in after_kill
                        if (at := fake_slack.answered_at(CHANNEL, ts)) is not None
                    ]
                    return min(times) - killed_at if times else None

                assert after_kill, statuses
                await until(
                    lambda: first_answer_after_kill() is not None,
                    timeout=20,
                    what="answers after the failover",
                )
                recovery = first_answer_after_kill()
                assert recovery is not None and recovery < 15, recovery
                await watcher
                assert not_ready > 0, "/readyz never said the master was gone"
                assert group.master() == "b"
                # Slack sends the refused ones again.
                for ts, status in statuses.items():
                    if status != 200:
                        paste = message_event(STARTTLS_PASTE, ts=ts)
                        body, retry = signed(paste, retry=1)
                        assert await post_body(session, front.base, body, retry) == 200
                await until(
                    lambda: all(answers_in(fake_slack, ts) for ts in statuses),
                    timeout=30,
                    what="every paste answered",
                )
                await fake_slack.settle(2.0)
                for ts in statuses:
                    assert len(answers_in(fake_slack, ts)) == 1, (ts, statuses[ts])

                # State from before the failover: the thread remembers its answer
                # (the same error again gets no second copy), the card can be claimed.
                again = message_event(
                    STARTTLS_PASTE, ts="1700005000.000200", thread_ts=before
                )
                body, head = event_request(again)
                assert await post_body(session, front.base, body, head) == 200
                card = blocks.encode_value(k=f"{TEAM}:{CHANNEL}:{before}")
                assert (
                    await click(
                        session, front, card_ids.CLAIM, card, user=HELPER, channel=ESC
                    )
                    == 200
                )
                await until(
                    lambda: any(
                        "has taken this" in str(m.get("text"))
                        for m in fake_slack.in_thread(CHANNEL, before)
                    ),
                    timeout=10,
                    what="the old card claimed",
                )
                await fake_slack.settle(1.0)
                assert len(answers_in(fake_slack, before)) == 1
