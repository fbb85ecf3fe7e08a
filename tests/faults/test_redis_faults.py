"""
Fault tests, black-box: ``run --http --workers 1`` on a redis-server of the test's
own that loses its data (FLUSHALL, a restart without persistence) or goes away for
five seconds. Answers and hand-offs resume by themselves within seconds, /readyz tells
the truth meanwhile, and an outage never doubles an answer, never puts the bot in a
thread a human has claimed, and never leaves a card that cannot be claimed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

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
    notices_in,
)
from tests.support.front import (
    Front,
    front_process,
    post_body,
    signed,
    until,
    wait_ready,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.redis import (
    PERSISTENT,
    free_port,
    redis_server,
    start_redis,
    stop_redis,
)
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


async def readyz(session: aiohttp.ClientSession, front: Front) -> tuple[int, Any]:
    """
    /readyz's status and body.
    """
    async with session.get(f"{front.base}/readyz") as response:
        return response.status, await response.json()


async def escalated(
    session: aiohttp.ClientSession, front: Front, fake: FakeSlack, ts: str
) -> float:
    """
    Press "Talk to a human" in thread ``ts``; the seconds until its card and notice
    are both out.
    """
    began = time.monotonic()
    assert await click(session, front, blocks.HUMAN, blocks.encode_value(t=ts)) == 200
    await until(
        lambda: cards_of(fake).get(f"{TEAM}:{CHANNEL}:{ts}") and notices_in(fake, ts),
        timeout=15,
        what=f"the hand-off of {ts}",
    )
    return time.monotonic() - began


async def test_after_flushall_answers_and_hand_offs_resume_and_readyz_tells(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    FLUSHALL under a running bot: the first /readyz after it is 503 naming the
    missing consumer group (recreated), the next 200; a new paste is answered and a
    new escalation gets its card within seconds, without a restart.
    """
    with redis_server(tmp_path) as (url, _):
        # A long tick: the escalation desk would not look at its group for a while.
        env = {**desk_env(fake_slack, url, PREFIX), "ESCALATION_TICK_SECONDS": "60"}
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base)
                await answered(session, front, fake_slack, "1700004000.000100")
                await escalated(session, front, fake_slack, "1700004000.000100")
                client = aioredis.Redis.from_url(url)
                try:
                    await client.flushall()
                finally:
                    await client.aclose()
                status, body = await readyz(session, front)
                assert status == 503, body
                assert "consumer group was missing" in body["error"]
                assert await wait_ready(session, front.base, timeout=5) < 5
                began = time.monotonic()
                await answered(session, front, fake_slack, "1700004001.000100")
                assert time.monotonic() - began < 10
                assert (
                    await escalated(session, front, fake_slack, "1700004001.000100")
                    < 10
                )
                assert len(cards_of(fake_slack)) == 2


async def test_after_a_restart_without_persistence_the_bot_resumes_by_itself(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    Redis stopped and started empty on the same port: /readyz is 503 while it is
    down and 200 again after; pastes and escalations work again without a restart.
    """
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(tmp_path, port)
    try:
        with front_process(
            desk_env(fake_slack, url, PREFIX), tmp_path, workers=1
        ) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base)
                await answered(session, front, fake_slack, "1700004100.000100")
                stop_redis(redis)
                status, body = await readyz(session, front)
                assert status == 503, body
                redis = start_redis(tmp_path, port)
                assert await wait_ready(session, front.base, timeout=10) < 10
                await answered(session, front, fake_slack, "1700004101.000100")
                await escalated(session, front, fake_slack, "1700004101.000100")
    finally:
        stop_redis(redis)


async def test_a_five_second_outage_doubles_nothing_and_respects_claimed_threads(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    Redis (with its append-only file) down for 5 s. Meanwhile new pastes, a follow-up
    in a thread a human claimed, and a Slack retry of an answered message are refused
    with 503 (Slack delivers them again); "Talk to a human" tells the user to try
    again and posts no card; a probe click in the claimed thread does nothing. After
    recovery the retries are answered once each, the claimed thread gets no bot post,
    and asking for a human again gives exactly one card, which can be claimed.
    """
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(tmp_path, port, *PERSISTENT)
    answered_ts, claimed_ts, asks_ts, new_ts = (
        f"17000042{n:02d}.000100" for n in range(4)
    )
    first = message_event(STARTTLS_PASTE, ts=answered_ts)
    try:
        with front_process(
            desk_env(fake_slack, url, PREFIX), tmp_path, workers=1
        ) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base)
                assert (
                    await post_body(session, front.base, *event_request(first)) == 200
                )
                await until(lambda: answers_in(fake_slack, answered_ts), timeout=20)
                await answered(session, front, fake_slack, claimed_ts)
                await escalated(session, front, fake_slack, claimed_ts)
                card = blocks.encode_value(k=f"{TEAM}:{CHANNEL}:{claimed_ts}")
                assert (
                    await click(
                        session, front, card_ids.CLAIM, card, user=HELPER, channel=ESC
                    )
                    == 200
                )
                await until(lambda: fake_slack.of("chat.update"), timeout=10)
                await answered(session, front, fake_slack, asks_ts)
                await asyncio.sleep(0.5)
                posts_before = len(fake_slack.posted)

                stop_redis(redis)
                down_at = time.monotonic()
                follow_up = message_event(
                    STARTTLS_PASTE, ts=f"{claimed_ts[:-3]}200", thread_ts=claimed_ts
                )
                fresh = message_event(STARTTLS_PASTE, ts=new_ts)
                for payload, again in ((fresh, 0), (follow_up, 0), (first, 1)):
                    body, head = signed(payload, retry=again)
                    assert await post_body(session, front.base, body, head) == 503
                assert (
                    await click(
                        session, front, blocks.HUMAN, blocks.encode_value(t=asks_ts)
                    )
                    == 200
                )
                probe = blocks.encode_value(t=claimed_ts, s="smtp.example.com:587")
                assert await click(session, front, blocks.PROBE, probe) == 200
                assert (await readyz(session, front))[0] == 503
                await until(
                    lambda: any(
                        "ask again in a minute" in str(c.args.get("text"))
                        for c in fake_slack.of("chat.postEphemeral")
                    ),
                    timeout=10,
                    what="the asker told to try again",
                )
                await asyncio.sleep(max(0.0, 5 - (time.monotonic() - down_at)))
                assert len(fake_slack.posted) == posts_before, "posted during outage"

                redis = start_redis(tmp_path, port, *PERSISTENT)
                await wait_ready(session, front.base, timeout=15)
                for payload in (fresh, follow_up, first):
                    body, retry = signed(payload, retry=2)
                    assert await post_body(session, front.base, body, retry) == 200
                await until(lambda: answers_in(fake_slack, new_ts), timeout=20)
                await escalated(session, front, fake_slack, asks_ts)
                await fake_slack.settle(2.0)

                for ts in (answered_ts, claimed_ts, asks_ts, new_ts):
                    assert len(answers_in(fake_slack, ts)) == 1, ts
                after_claim = [
                    m
                    for m in fake_slack.in_thread(CHANNEL, claimed_ts)
                    if "has taken this" not in str(m.get("text"))
                    and (m.get("metadata") or {}).get("event_type")
                    != card_ids.NOTICE_EVENT
                    and not blocks.answers(m, claimed_ts)
                ]
                assert after_claim == [], "the bot posted in a claimed thread"
                found = cards_of(fake_slack)
                assert sorted(found) == sorted(
                    f"{TEAM}:{CHANNEL}:{ts}" for ts in (claimed_ts, asks_ts)
                )
                assert all(len(posted) == 1 for posted in found.values())
                value = blocks.encode_value(k=f"{TEAM}:{CHANNEL}:{asks_ts}")
                assert (
                    await click(
                        session, front, card_ids.CLAIM, value, user=HELPER, channel=ESC
                    )
                    == 200
                )
                await until(
                    lambda: any(
                        "has taken this" in str(m.get("text"))
                        for m in fake_slack.in_thread(CHANNEL, asks_ts)
                    ),
                    timeout=10,
                    what="the new card claimed",
                )
    finally:
        stop_redis(redis)
