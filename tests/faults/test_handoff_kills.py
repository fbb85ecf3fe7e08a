"""
Fault tests, black-box: the front (``run --http``) or a worker SIGKILLed at every step
of a hand-off, while the fake Slack holds the call of that step open. Every escalated
thread must end with exactly one card whose Claim works and exactly one notice telling
the asker; asking again after a crash never adds a card.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.slack import blocks
from bot.slack.escalation import cards as card_ids
from tests.support.bot import delete_prefix
from tests.support.front import (
    Front,
    bot_env,
    front_process,
    kill_leftovers,
    post_body,
    post_event,
    until,
    wait_workers,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.slack import (
    BOT_USER,
    CHANNEL,
    TEAM,
    FakeSlack,
    action_request,
    message_event,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
ESC = "C0ESCALATE"
HELPER = "U0BOB"
# Each step of a hand-off that talks to Slack, in order: (method, channel, whether
# the call takes effect before the caller dies).
STEPS = [
    ("conversations.replies", None, False),  # looking for a notice already posted
    ("chat.postMessage", CHANNEL, False),  # the notice never posted
    ("chat.postMessage", CHANNEL, True),  # the notice posted, not noted
    ("chat.getPermalink", None, False),
    ("conversations.history", None, False),  # looking for a card already posted
    ("chat.postMessage", ESC, False),  # the card never posted
    ("chat.postMessage", ESC, True),  # the card posted, not noted
]


def desk_env(fake: FakeSlack, redis_url: str, prefix: str) -> dict[str, str]:
    """
    A bot process with an escalation channel and quick takeover of stale hand-offs.
    """
    return {
        **bot_env(fake, redis_url, prefix),
        "ESCALATION_CHANNEL": ESC,
        "ESCALATION_RECLAIM_SECONDS": "1",
        "ESCALATION_TICK_SECONDS": "0.5",
        "INTAKE_RECLAIM_SECONDS": "2",
    }


def cards_of(fake: FakeSlack) -> dict[str, list[dict[str, Any]]]:
    """
    The cards in the escalation channel, by the escalation their metadata names.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for message in fake.posted:
        metadata = message.get("metadata") or {}
        if message.get("channel") == ESC and not message.get("thread_ts"):
            name = metadata.get("event_payload", {}).get("escalation", "?")
            found.setdefault(name, []).append(message)
    return found


def notices_in(fake: FakeSlack, ts: str) -> list[dict[str, Any]]:
    """
    The hand-off notices posted in the thread ``ts``.
    """
    return [
        m
        for m in fake.in_thread(CHANNEL, ts)
        if (m.get("metadata") or {}).get("event_type") == card_ids.NOTICE_EVENT
    ]


def answers_in(fake: FakeSlack, ts: str) -> list[dict[str, Any]]:
    """
    The bot's answers in the thread ``ts``.
    """
    return [
        m
        for m in fake.in_thread(CHANNEL, ts)
        if (m.get("metadata") or {}).get("event_type") == blocks.REPLY_EVENT
    ]


async def answered(
    session: aiohttp.ClientSession, front: Front, fake: FakeSlack, ts: str
) -> None:
    """
    Paste an error as a new thread and wait until the bot has answered it.
    """
    assert await post_event(session, front.base, message_event(STARTTLS_PASTE, ts=ts))
    await until(lambda: answers_in(fake, ts), timeout=20, what=f"answer in {ts}")


async def click(
    session: aiohttp.ClientSession,
    front: Front,
    action: str,
    value: str,
    *,
    user: str = "U0ALICE",
    channel: str = CHANNEL,
) -> int:
    """
    A signed button click sent to the front; its status (0 if it died first).
    """
    body, headers = action_request(action, value, user=user, channel=channel)
    return await post_body(session, front.base, body, headers)


async def claim_every_card(
    session: aiohttp.ClientSession, front: Front, fake: FakeSlack, stamps: list[str]
) -> None:
    """
    Claim each thread's card: the card is edited to say who has it and the thread is
    told (the card works).
    """
    for ts in stamps:
        value = blocks.encode_value(k=f"{TEAM}:{CHANNEL}:{ts}")
        status = await click(
            session, front, card_ids.CLAIM, value, user=HELPER, channel=ESC
        )
        assert status == 200
    await until(
        lambda: all(
            any(
                "has taken this" in str(m.get("text"))
                for m in fake.in_thread(CHANNEL, t)
            )
            for t in stamps
        ),
        timeout=20,
        what="every thread told who took it",
    )
    edited = {c.args.get("ts") for c in fake.of("chat.update")}
    for ts in stamps:
        (card,) = cards_of(fake)[f"{TEAM}:{CHANNEL}:{ts}"]
        assert card["ts"] in edited, f"the card of {ts} was not edited on Claim"


async def test_front_killed_at_every_step_of_a_hand_off_ends_with_one_working_card(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    For each Slack call of a hand-off (looking for the notice, posting it, the
    permalink, looking for the card, posting it; the posts both before and after they
    take effect), the front is SIGKILLed while that call is held: a new front finishes
    the hand-off, and every thread ends with one notice and one card whose Claim
    works. Pressing the button again after a crash adds nothing.
    """
    env = desk_env(fake_slack, redis_url, prefix)
    stamps = [f"17000020{n:02d}.000100" for n in range(len(STEPS))]
    try:
        async with aiohttp.ClientSession() as session:
            for n, (method, channel, commit) in enumerate(STEPS):
                with front_process(env, tmp_path, workers=0, name=f"front{n}") as front:
                    await wait_healthy(front.base, front.process, timeout=30)
                    await answered(session, front, fake_slack, stamps[n])
                    held = fake_slack.hold(method, channel=channel, commit=commit)
                    value = blocks.encode_value(t=stamps[n])
                    # The click is acked once the request is recorded.
                    assert await click(session, front, blocks.HUMAN, value) == 200
                    await until(held.arrived.is_set, timeout=20, what=f"{method} held")
                    front.process.kill()
                    front.process.wait(10)
                    held.release()
            with front_process(env, tmp_path, workers=0, name="last") as front:
                await wait_healthy(front.base, front.process, timeout=30)

                def settled() -> bool:
                    found = cards_of(fake_slack)
                    return all(
                        notices_in(fake_slack, ts)
                        and found.get(f"{TEAM}:{CHANNEL}:{ts}")
                        for ts in stamps
                    )

                await until(settled, timeout=30, what="every hand-off delivered")
                # Asked again after the crash: told privately, no second card.
                again = blocks.encode_value(t=stamps[0])
                assert await click(session, front, blocks.HUMAN, again) == 200
                await fake_slack.settle(1.5)
                found = cards_of(fake_slack)
                for ts in stamps:
                    assert len(found[f"{TEAM}:{CHANNEL}:{ts}"]) == 1, (ts, found)
                    assert len(notices_in(fake_slack, ts)) == 1, ts
                    assert len(answers_in(fake_slack, ts)) == 1, ts
                assert len(found) == len(stamps)
                assert any(
                    "already been asked" in str(c.args.get("text"))
                    for c in fake_slack.of("chat.postEphemeral")
                )
                await claim_every_card(session, front, fake_slack, stamps)
    finally:
        await delete_prefix(redis_url, prefix)


async def test_worker_killed_during_a_mention_hand_off_ends_with_one_card(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    "@bot human" is handled by a worker: SIGKILL it while the notice post is held
    (after it took effect) and again while the card post is held (before it took
    effect). The replacement workers finish the hand-off: one notice, one card.
    """
    env = desk_env(fake_slack, redis_url, prefix)
    ts = "1700002100.000100"
    try:
        with front_process(env, tmp_path, workers=1) as front:
            await wait_healthy(front.base, front.process, timeout=30)
            (worker,) = await wait_workers(front, 1, timeout=20)
            dead = {worker}
            async with aiohttp.ClientSession() as session:
                await answered(session, front, fake_slack, ts)
                notice = fake_slack.hold(
                    "chat.postMessage", channel=CHANNEL, commit=True
                )
                mention = message_event(
                    f"<@{BOT_USER}> a human please",
                    ts="1700002100.000200",
                    thread_ts=ts,
                )
                assert await post_event(session, front.base, mention) == 200
                await until(notice.arrived.is_set, timeout=20, what="notice held")
                card = fake_slack.hold("chat.postMessage", channel=ESC)
                os.kill(worker[0], signal.SIGKILL)
                notice.release()
                (worker,) = await wait_workers(front, 1, besides=dead, timeout=20)
                dead.add(worker)
                await until(card.arrived.is_set, timeout=20, what="card held")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker[0], signal.SIGKILL)
                card.release()
                await until(
                    lambda: cards_of(fake_slack), timeout=30, what="the card posted"
                )
                await fake_slack.settle(2.0)
                assert len(cards_of(fake_slack)[f"{TEAM}:{CHANNEL}:{ts}"]) == 1
                assert len(notices_in(fake_slack, ts)) == 1
                assert len(answers_in(fake_slack, ts)) == 1
                await claim_every_card(session, front, fake_slack, [ts])
    finally:
        await delete_prefix(redis_url, prefix)


def sos_reaction(ts: str) -> dict[str, Any]:
    """
    The escalation reaction on the thread's first message (reaction_added as Slack
    sends it: api.slack.com/events/reaction_added).
    """
    payload = message_event("", ts=ts)
    payload["event"] = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "sos",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "item_user": "U0ALICE",
        "event_ts": f"{float(ts) + 5:.6f}",
    }
    return payload


async def test_front_killed_right_after_acking_a_reaction_still_hands_off(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    The escalation reaction is acked only once it is queued: with the worker paused,
    the front is SIGKILLed the moment Slack has its 200 (nothing of the hand-off has
    run). A new front's worker finishes it: one card saying the person reacted, one
    notice in the thread; the same reaction delivered again by Slack adds nothing.
    """
    env = desk_env(fake_slack, redis_url, prefix)
    ts = "1700002200.000100"
    leftovers: set[tuple[int, int]] = set()
    try:
        async with aiohttp.ClientSession() as session:
            with front_process(env, tmp_path, workers=1, name="first") as front:
                await wait_healthy(front.base, front.process, timeout=30)
                (worker,) = await wait_workers(front, 1, timeout=20)
                leftovers.add(worker)
                await answered(session, front, fake_slack, ts)
                os.kill(worker[0], signal.SIGSTOP)
                status = await post_event(session, front.base, sos_reaction(ts))
                front.process.kill()
                front.process.wait(10)
                os.kill(worker[0], signal.SIGKILL)
                assert status == 200
            await fake_slack.settle(0.5)
            assert cards_of(fake_slack) == {}
            assert notices_in(fake_slack, ts) == []
            with front_process(env, tmp_path, workers=1, name="second") as front:
                await wait_healthy(front.base, front.process, timeout=30)
                leftovers |= await wait_workers(front, 1, timeout=20)
                await until(
                    lambda: cards_of(fake_slack) and notices_in(fake_slack, ts),
                    timeout=30,
                    what="the hand-off delivered",
                )
                assert await post_event(session, front.base, sos_reaction(ts), 1)
                await fake_slack.settle(2.0)
                (card,) = cards_of(fake_slack)[f"{TEAM}:{CHANNEL}:{ts}"]
                assert "reacted to the original message" in json.dumps(card)
                assert len(notices_in(fake_slack, ts)) == 1
                await claim_every_card(session, front, fake_slack, [ts])
    finally:
        kill_leftovers(leftovers)
        await delete_prefix(redis_url, prefix)


# Each step of a Claim, Hand back or Resolve that talks to Slack: (the button, the
# held method, its channel, whether the call takes effect before the caller dies).
LIFECYCLE = [
    (card_ids.CLAIM, "chat.update", ESC, False),  # the card never edited
    (card_ids.CLAIM, "chat.postMessage", CHANNEL, True),  # thread told, not noted
    (card_ids.HANDBACK, "chat.update", ESC, False),
    (card_ids.HANDBACK, "chat.postMessage", CHANNEL, True),
    (card_ids.RESOLVE, "chat.update", ESC, True),  # edited, not noted
]
# What the card says once each button's click is drawn on it, and what the thread is
# told (None: nothing).
SHOWN = {
    card_ids.CLAIM: ("*Claimed* by", "has taken this"),
    card_ids.HANDBACK: ("*Handed back to the bot*", "handed this thread back"),
    card_ids.RESOLVE: ("*Resolved*", None),
}


def card_edits(fake: FakeSlack, card_ts: str) -> list[str]:
    """
    The blocks of each chat.update of the card ``card_ts``, as JSON text, in order.
    """
    return [
        json.dumps(call.args.get("blocks"))
        for call in fake.of("chat.update")
        if call.args.get("ts") == card_ts and not call.refused
    ]


async def test_process_killed_during_claim_resolve_or_hand_back_ends_applied(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    Claim, Hand back and Resolve are recorded before Slack is touched: the front is
    SIGKILLed while the fake holds the card edit (before or after it takes effect) or
    the thread message (after it is posted). A new front finishes each: the card
    shows who claimed, resolved or handed back; the thread is told exactly once; a
    thread handed back is answered by the bot again.
    """
    env = desk_env(fake_slack, redis_url, prefix)
    stamps = [f"17000023{n:02d}.000100" for n in range(len(LIFECYCLE))]
    try:
        async with aiohttp.ClientSession() as session:
            for n, (action, method, channel, commit) in enumerate(LIFECYCLE):
                ts = stamps[n]
                name = f"{TEAM}:{CHANNEL}:{ts}"
                with front_process(env, tmp_path, workers=0, name=f"front{n}") as front:
                    await wait_healthy(front.base, front.process, timeout=30)
                    await answered(session, front, fake_slack, ts)
                    human = blocks.encode_value(t=ts)
                    assert await click(session, front, blocks.HUMAN, human) == 200
                    await until(
                        lambda name=name, ts=ts: (
                            name in cards_of(fake_slack) and notices_in(fake_slack, ts)
                        ),
                        timeout=20,
                        what=f"the hand-off of {ts}",
                    )
                    held = fake_slack.hold(method, channel=channel, commit=commit)
                    value = blocks.encode_value(k=name)
                    status = await click(
                        session, front, action, value, user=HELPER, channel=ESC
                    )
                    assert status == 200
                    await until(held.arrived.is_set, timeout=20, what=f"{method} held")
                    front.process.kill()
                    front.process.wait(10)
                    held.release()
            with front_process(env, tmp_path, workers=0, name="last") as front:
                await wait_healthy(front.base, front.process, timeout=30)

                def applied() -> bool:
                    found = cards_of(fake_slack)
                    for (action, *_), ts in zip(LIFECYCLE, stamps, strict=True):
                        (card,) = found[f"{TEAM}:{CHANNEL}:{ts}"]
                        drawn, told = SHOWN[action]
                        edits = card_edits(fake_slack, card["ts"])
                        if not edits or drawn not in edits[-1]:
                            return False
                        texts = [
                            str(m.get("text"))
                            for m in fake_slack.in_thread(CHANNEL, ts)
                        ]
                        if told is not None and not any(told in t for t in texts):
                            return False
                    return True

                await until(applied, timeout=30, what="every click applied")
                await fake_slack.settle(2.0)
                for (action, *_), ts in zip(LIFECYCLE, stamps, strict=True):
                    drawn, told = SHOWN[action]
                    texts = [
                        str(m.get("text")) for m in fake_slack.in_thread(CHANNEL, ts)
                    ]
                    if told is not None:
                        assert sum(told in t for t in texts) == 1, (ts, texts)
                    assert len(cards_of(fake_slack)[f"{TEAM}:{CHANNEL}:{ts}"]) == 1
                    assert len(notices_in(fake_slack, ts)) == 1
                # Handed back: the bot answers in the thread again.
                back = stamps[2]
                again = message_event(
                    STARTTLS_PASTE, ts=f"{float(back) + 50:.6f}", thread_ts=back
                )
                assert await post_event(session, front.base, again) == 200
                await until(
                    lambda: len(answers_in(fake_slack, back)) == 2,
                    timeout=20,
                    what="an answer after the hand back",
                )
    finally:
        await delete_prefix(redis_url, prefix)
