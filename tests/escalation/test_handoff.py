"""
Never lost, never doubled: replicas dying mid-hand-off, idempotent posting, and SLA
reminders fired by one replica on an injected clock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from bot.slack import blocks
from bot.slack.escalation import cards as card_ids
from bot.state import ThreadKey
from knowledge.matcher import Matcher
from tests.escalation.conftest import (
    ESC_CHANNEL,
    HELPER,
    MENTION,
    Clock,
    DeskBot,
    answered_thread,
    card_value,
    cards,
    running_desk,
    thread_value,
)
from tests.support.slack import CHANNEL, TEAM, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60.0


def reminders(fake: FakeSlack) -> list[str]:
    """
    Texts of the reminders posted under cards.
    """
    return [
        str(c.args["text"])
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == ESC_CHANNEL and c.args.get("thread_ts")
    ]


async def escalate_without_card(replica: DeskBot, ts: str) -> None:
    """
    Answer a thread and ask for a human while posting the card fails: the entry waits.
    """
    await answered_thread(replica, ts)
    replica.fake.refuse_next("chat.postMessage", channel=ESC_CHANNEL)
    await replica.click(blocks.HUMAN, thread_value(ts))
    await replica.settle()
    assert cards(replica.fake) == []


async def test_replica_dying_before_posting_is_taken_over_once(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    Replica A accepts but fails and dies before the card is posted; B reclaims the
    entry (XAUTOCLAIM) and posts the card exactly once.
    """
    ts = "1700000200.000100"
    async with running_desk(
        fake_slack, redis_url, prefix, matcher, consumer="replica-b"
    ) as b:
        async with running_desk(
            fake_slack, redis_url, prefix, matcher, consumer="replica-a", cleanup=False
        ) as a:
            await escalate_without_card(a, ts)
            assert await a.desk.escalations.pending() == 1
        # A is gone. B's first pump comes too early to take over; later it does.
        assert await b.desk.pump(b.app.client) == 0
        await asyncio.sleep(0.3)
        assert await b.desk.pump(b.app.client) == 1
        assert await b.desk.pump(b.app.client) == 0
        assert len(cards(fake_slack)) == 1
        assert await b.desk.escalations.pending() == 0


async def test_card_posted_by_a_replica_that_died_unrecorded_is_adopted(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    A card that reached Slack but not Redis is found by its metadata, not posted again.
    """
    ts = "1700000250.000100"
    async with running_desk(
        fake_slack, redis_url, prefix, matcher, consumer="replica-b"
    ) as b:
        async with running_desk(
            fake_slack, redis_url, prefix, matcher, consumer="replica-a", cleanup=False
        ) as a:
            await escalate_without_card(a, ts)
            # A's card did reach Slack; A died before recording its ts in Redis.
            key = f"{TEAM}:{CHANNEL}:{ts}"
            await a.app.client.api_call(
                "chat.postMessage",
                json={
                    "channel": ESC_CHANNEL,
                    "text": "needs a human",
                    "metadata": {
                        "event_type": card_ids.CARD_EVENT,
                        "event_payload": {"escalation": key},
                    },
                },
            )
        await asyncio.sleep(0.3)
        assert await b.desk.pump(b.app.client) == 0
        assert len(cards(fake_slack)) == 1
        assert await b.desk.escalations.pending() == 0
        adopted = await b.desk.escalations.get(key)
        assert adopted is not None and adopted.card_ts == fake_slack.posted[-1]["ts"]


async def test_replica_killed_after_reading_the_entry_is_taken_over(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    A process that accepted an escalation and read its entry is SIGKILLed before
    posting; the surviving replica posts the card exactly once.
    """
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from bot.escalation.model import Escalation, Reason, Summary
        from bot.escalation.store import EscalationStore
        from bot.state import ThreadKey
        from bot.state.redis_store import RedisStore

        async def main():
            store = RedisStore.from_url({redis_url!r}, prefix={prefix!r})
            desk = EscalationStore(store.client, prefix={prefix!r})
            key = ThreadKey({TEAM!r}, {CHANNEL!r}, "1700000201.000100")
            escalation = Escalation(key, "U0ALICE", "U0ALICE", Reason.BUTTON,
                                    1700000201.0, Summary(error="550 doomed"))
            assert await desk.accept(escalation, due=1700000201.0 + 900)
            assert await desk.read("doomed-replica")
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env=env, cwd=str(ROOT)
    )
    assert await process.wait() == -signal.SIGKILL
    async with running_desk(fake_slack, redis_url, prefix, matcher) as survivor:
        assert await survivor.desk.escalations.pending() == 1
        await asyncio.sleep(0.3)
        assert await survivor.desk.pump(survivor.app.client) == 1
        await survivor.desk.pump(survivor.app.client)
        (card,) = cards(fake_slack)
        assert "550 doomed" in str(card.args["blocks"])
        assert await survivor.desk.escalations.pending() == 0


async def test_a_recorded_card_is_never_posted_again(desk_bot: DeskBot) -> None:
    """
    A stream entry delivered again after its card was posted (ack lost) posts nothing.
    """
    ts = "1700000202.000100"
    await answered_thread(desk_bot, ts)
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    escalations = desk_bot.desk.escalations
    thread = str(ThreadKey(TEAM, CHANNEL, ts))
    await desk_bot.store.client.xadd(escalations.stream, {"key": thread})
    assert await desk_bot.desk.pump(desk_bot.app.client) == 0
    assert len(cards(desk_bot.fake)) == 1
    assert await escalations.pending() == 0


async def test_sla_reminders_repeat_until_claimed(desk_bot: DeskBot) -> None:
    """
    Unclaimed after 15 minutes: a reply under the card repeating the mention, again
    every 15 minutes, and none once claimed.
    """
    ts = "1700000203.000100"
    await answered_thread(desk_bot, ts)
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    client = desk_bot.app.client
    desk_bot.clock.advance(14 * MINUTE)
    assert await desk_bot.desk.tick(client) == 0
    desk_bot.clock.advance(1 * MINUTE)
    assert await desk_bot.desk.tick(client) == 1
    assert await desk_bot.desk.tick(client) == 0
    (first,) = reminders(desk_bot.fake)
    assert first.startswith(MENTION) and "15 min" in first
    record = await desk_bot.desk.escalations.get(str(ThreadKey(TEAM, CHANNEL, ts)))
    assert record is not None
    under = [c for c in desk_bot.fake.of("chat.postMessage") if c.args.get("thread_ts")]
    assert under[-1].args["thread_ts"] == record.card_ts
    desk_bot.clock.advance(15 * MINUTE)
    assert await desk_bot.desk.tick(client) == 1
    assert "30 min" in reminders(desk_bot.fake)[-1]
    await desk_bot.click(
        card_ids.CLAIM, card_value(ts), user=HELPER, channel=ESC_CHANNEL
    )
    await desk_bot.settle()
    desk_bot.clock.advance(60 * MINUTE)
    assert await desk_bot.desk.tick(client) == 0
    assert len(reminders(desk_bot.fake)) == 2


async def test_two_replicas_ticking_send_one_reminder(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    Replicas ticking at the same moment send each due reminder once (SLA lease).
    """
    clock = Clock()
    async with (
        running_desk(fake_slack, redis_url, prefix, matcher, clock=clock) as one,
        running_desk(fake_slack, redis_url, prefix, matcher, clock=clock) as two,
    ):
        ts = "1700000204.000100"
        await answered_thread(one, ts)
        await one.click(blocks.HUMAN, thread_value(ts))
        await one.settle()
        clock.advance(16 * MINUTE)
        sent = await asyncio.gather(
            one.desk.tick(one.app.client), two.desk.tick(two.app.client)
        )
        assert sorted(sent) == [0, 1]
        assert len(reminders(fake_slack)) == 1


async def test_timers_survive_a_restart(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    A reminder set by a replica that stopped is sent by one started later.
    """
    clock = Clock()
    ts = "1700000205.000100"
    async with running_desk(
        fake_slack, redis_url, prefix, matcher, clock=clock, cleanup=False
    ) as before:
        await answered_thread(before, ts)
        await before.click(blocks.HUMAN, thread_value(ts))
        await before.settle()
    clock.advance(15 * MINUTE)
    async with running_desk(
        fake_slack, redis_url, prefix, matcher, clock=clock
    ) as after:
        assert await after.desk.tick(after.app.client) == 1
    assert len(reminders(fake_slack)) == 1


async def test_background_loop_delivers_and_reminds(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    The runtime's background task takes over stale hand-offs and sends reminders.
    """
    clock = Clock()
    ts = "1700000206.000100"
    async with running_desk(fake_slack, redis_url, prefix, matcher, clock=clock) as bot:
        await answered_thread(bot, ts)
        fake_slack.refuse_next("chat.postMessage", channel=ESC_CHANNEL)
        await bot.click(blocks.HUMAN, thread_value(ts))
        await bot.settle()
        clock.advance(15 * MINUTE)
        stop = asyncio.Event()
        loop = asyncio.create_task(bot.desk.run(bot.app.client, stop, period=0.1))
        await fake_slack.wait_for("chat.postMessage", 5, timeout=10)
        stop.set()
        await loop
    assert len(cards(fake_slack)) == 1
    assert len(reminders(fake_slack)) == 1


async def test_redis_down_at_hand_off_posts_nothing_and_asks_to_try_again(
    fake_slack: FakeSlack, matcher: Matcher
) -> None:
    """
    With Redis unreachable nothing can be recorded, so no card is posted (its Claim
    would find nothing) and the clicker is told privately to ask again in a minute.
    """
    from tests.support.redis import free_port

    down = f"redis://127.0.0.1:{free_port()}/0"
    async with running_desk(fake_slack, down, "down:", matcher) as bot:
        assert await bot.click(blocks.HUMAN, thread_value("1700000077.000100")) == 200
        await bot.settle()
    assert cards(fake_slack) == []
    (told,) = fake_slack.of("chat.postEphemeral")
    assert "ask again in a minute" in told.args["text"]
    assert fake_slack.of("chat.postMessage") == []


async def test_a_card_lookup_slack_refuses_for_good_still_posts_the_card(
    desk_bot: DeskBot,
) -> None:
    """
    When looking for an already-posted card is refused for good (a missing scope),
    the card is posted anyway rather than never.
    """
    ts = "1700000290.000100"
    await answered_thread(desk_bot, ts)
    desk_bot.fake.refuse_next("conversations.history", error="missing_scope")
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    assert len(cards(desk_bot.fake)) == 1


async def test_a_card_lookup_that_fails_for_now_waits_and_posts_once_later(
    desk_bot: DeskBot,
) -> None:
    """
    When Slack cannot be asked whether the card is out (server errors), nothing is
    posted blind; the next delivery posts it once.
    """
    ts = "1700000291.000100"
    await answered_thread(desk_bot, ts)
    for _ in range(3):  # the first try and the Web client's two retries
        desk_bot.fake.fail_next("conversations.history", status=500)
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    assert cards(desk_bot.fake) == []
    await asyncio.sleep(0.3)  # past ESCALATION_RECLAIM_SECONDS
    assert await desk_bot.desk.pump(desk_bot.app.client) == 1
    assert len(cards(desk_bot.fake)) == 1
