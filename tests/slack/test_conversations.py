"""
Threads as people use them, over both of Slack's transports (signed HTTP requests to the
front and its worker, and Socket Mode envelopes): a Slack Connect thread is one
conversation, the same error twice points back to the answer, a bare mention gets a
how-to, and direct messages are answered.

Payloads follow Slack's documented shapes (api.slack.com/events/message, the Slack
Connect fixtures of bolt-python: the partner's ``team_id`` outside, the installation in
``authorizations``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.slack import blocks
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import (
    BOT_USER,
    CHANNEL,
    OTHER_CHANNEL,
    TEAM,
    FakeSlack,
    message_event,
)
from tests.support.transport import TRANSPORTS, Transport, running

PARTNER_TEAM = "T0PARTNER"
PARTNER_USER = "U0BOBPARTNER"
DM_CHANNEL = "D0ALICE"
ESCALATIONS = "C0ESCALATE"
THREAD = "1700000500.000100"


@pytest.fixture(params=TRANSPORTS)
async def transport(
    request: pytest.FixtureRequest, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Transport]:
    """
    The whole bot behind one of Slack's transports, with an escalation channel.
    """
    async with running(
        request.param,
        fake_slack,
        redis_url,
        prefix,
        ESCALATION_CHANNEL=ESCALATIONS,
    ) as running_bot:
        yield running_bot


def from_partner(text: str, **fields: Any) -> dict[str, Any]:
    """
    A message written in a Slack Connect channel by the partner organisation's user:
    their team outside and in the event, the installation in ``authorizations``.
    """
    body = message_event(text, user=PARTNER_USER, **fields)
    body["team_id"] = PARTNER_TEAM
    body["context_team_id"] = PARTNER_TEAM
    body["is_ext_shared_channel"] = True
    body["event"].update(
        team=PARTNER_TEAM, user_team=PARTNER_TEAM, source_team=PARTNER_TEAM
    )
    return body


def thread_posts(fake: FakeSlack, thread: str) -> list[str]:
    """
    The texts the bot posted in a thread.
    """
    return [
        str(c.args.get("text"))
        for c in fake.of("chat.postMessage")
        if c.args.get("thread_ts") == thread
    ]


def answers(fake: FakeSlack, thread: str) -> list[dict[str, Any]]:
    """
    The full answers (with fix steps) posted in a thread.
    """
    return [
        c.args
        for c in fake.of("chat.postMessage")
        if c.args.get("thread_ts") == thread
        and "How to fix it" in str(c.args.get("blocks"))
    ]


async def conversation_keys(redis_url: str, prefix: str) -> list[str]:
    """
    The conversation keys in Redis.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return [k async for k in client.scan_iter(match=f"{prefix}conv:*")]
    finally:
        await client.aclose()


async def test_a_slack_connect_thread_is_one_conversation(
    transport: Transport, redis_url: str, prefix: str
) -> None:
    """
    The partner's messages join the thread's conversation: no second answer, their
    request for a human escalates it, and then the bot is quiet for everyone.
    """
    fake = transport.fake
    assert (await transport.send(message_event(STARTTLS_PASTE, ts=THREAD))).ok
    await fake.wait_for("chat.postMessage")
    again = from_partner(STARTTLS_PASTE, ts="1700000500.000200", thread_ts=THREAD)
    assert (await transport.send(again)).ok
    await fake.wait_for("chat.postMessage", 2)
    assert len(answers(fake, THREAD)) == 1
    assert "same error" in thread_posts(fake, THREAD)[-1]
    assert await conversation_keys(redis_url, prefix) == [
        f"{prefix}conv:{TEAM}:{CHANNEL}:{THREAD}"
    ]

    ask = from_partner(
        f"<@{BOT_USER}> can a human look at this?",
        ts="1700000500.000300",
        thread_ts=THREAD,
    )
    assert (await transport.send(ask)).ok
    (card,) = await fake.wait_for_post(channel=ESCALATIONS)
    assert PARTNER_USER in str(card.args)
    assert any("asked for a human" in t for t in thread_posts(fake, THREAD))
    before = len(fake.of("chat.postMessage"))
    ours = message_event(
        "535 5.7.8 Username and Password not accepted",
        ts="1700000500.000400",
        thread_ts=THREAD,
    )
    theirs = from_partner(
        "554 5.7.1 Relay access denied", ts="1700000500.000500", thread_ts=THREAD
    )
    hello = from_partner(
        f"<@{BOT_USER}> hello?",
        ts="1700000500.000600",
        thread_ts=THREAD,
        event_type="app_mention",
    )
    for body in (ours, theirs, hello):
        assert (await transport.send(body)).ok
    await fake.settle(1.0)
    assert len(fake.of("chat.postMessage")) == before


async def test_the_same_error_again_points_back_then_hands_over(
    transport: Transport,
) -> None:
    """
    The same error again is pointed back to the answer; a third time the thread is
    handed over saying the fix did not help, never that it is unrecognised.
    """
    fake = transport.fake
    await transport.send(message_event(STARTTLS_PASTE, ts=THREAD))
    await fake.wait_for("chat.postMessage")
    for n in (2, 3):
        follow = message_event(
            STARTTLS_PASTE, ts=f"1700000500.00{n}000", thread_ts=THREAD
        )
        assert (await transport.send(follow)).ok
        await fake.wait_for("chat.postMessage", n)
    first, pointer, handover = thread_posts(fake, THREAD)
    assert "same error" in pointer and "Talk to a human" in pointer
    assert "didn't help" in handover and "asked a human" in handover
    assert not any("recognise" in t for t in thread_posts(fake, THREAD))
    assert len(answers(fake, THREAD)) == 1
    await fake.wait_for_post(channel=ESCALATIONS)


@pytest.mark.parametrize("both", [False, True], ids=["mention", "mention+message"])
async def test_a_bare_mention_gets_exactly_one_how_to(
    transport: Transport, both: bool
) -> None:
    """
    "@smtpbot hi" gets one short how-to in its thread, even when Slack sends the
    message and the app_mention for it; a mention with an error gets the answer.
    """
    fake = transport.fake
    channel = CHANNEL if both else OTHER_CHANNEL
    ts = "1700000600.000100"
    text = f"<@{BOT_USER}> hi"
    events = [message_event(text, ts=ts, channel=channel, event_type="app_mention")]
    if both:
        events.append(message_event(text, ts=ts, channel=channel))
    for body in events:
        assert (await transport.send(body)).ok
    (how,) = await fake.wait_for("chat.postMessage")
    await fake.settle(1.0)
    assert len(fake.of("chat.postMessage")) == 1
    assert how.args["thread_ts"] == ts and how.args["channel"] == channel
    for words in ("Paste the exact error", "/smtpcheck", "human"):
        assert words in how.args["text"]
    assert len(how.args["text"]) < 500

    paste = message_event(
        f"<@{BOT_USER}> {STARTTLS_PASTE}",
        ts="1700000600.000200",
        channel=OTHER_CHANNEL,
        event_type="app_mention",
    )
    await transport.send(paste)
    await fake.wait_for("chat.postMessage", 2)
    assert len(answers(fake, "1700000600.000200")) == 1


async def test_direct_messages_are_answered_whatever_the_support_channels(
    transport: Transport,
) -> None:
    """
    A paste in a DM is answered there although SUPPORT_CHANNELS names another channel;
    a greeting gets the how-to.
    """
    fake = transport.fake
    assert transport.settings.support_channels == frozenset({CHANNEL})
    dm = message_event(
        STARTTLS_PASTE, ts="1700000700.000100", channel=DM_CHANNEL, channel_type="im"
    )
    assert (await transport.send(dm)).ok
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["channel"] == DM_CHANNEL
    assert answer.args["thread_ts"] == "1700000700.000100"
    hello = message_event(
        "hello!", ts="1700000700.000200", channel=DM_CHANNEL, channel_type="im"
    )
    assert (await transport.send(hello)).ok
    (_, how) = await fake.wait_for("chat.postMessage", 2)
    assert "Paste the exact error" in how.args["text"]


async def test_a_direct_message_can_ask_for_a_human(transport: Transport) -> None:
    """
    "human" in a DM hands it over; the person is told they will be contacted (nobody
    else can write in their DM with the bot) and the card says where it came from.
    """
    fake = transport.fake
    ask = message_event(
        "can I talk to a human please?",
        ts="1700000710.000100",
        channel=DM_CHANNEL,
        channel_type="im",
    )
    assert (await transport.send(ask)).ok
    (card,) = await fake.wait_for_post(channel=ESCALATIONS)
    assert "direct message" in str(card.args["blocks"])
    (told,) = [
        c for c in fake.of("chat.postMessage") if c.args["channel"] == DM_CHANNEL
    ]
    assert "contact you directly" in told.args["text"]


async def test_the_partners_button_escalates_the_shared_thread(
    transport: Transport,
) -> None:
    """
    *Talk to a human* pressed by the partner's user (their team in the payload)
    escalates the one conversation, and the bot is then quiet there for everyone.
    """
    fake = transport.fake
    await transport.send(message_event(STARTTLS_PASTE, ts=THREAD))
    (answer,) = await fake.wait_for("chat.postMessage")
    human = next(
        e
        for block in answer.args["blocks"]
        if block["type"] == "actions"
        for e in block["elements"]
        if e["action_id"] == blocks.HUMAN
    )
    click = {
        "type": "block_actions",
        "team": {"id": PARTNER_TEAM, "domain": "partner"},
        "user": {"id": PARTNER_USER, "username": "bob", "team_id": PARTNER_TEAM},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {
            "type": "message",
            "message_ts": "1700000500.000900",
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "channel": {"id": CHANNEL, "name": "shared-support"},
        "message": {"type": "message", "ts": "1700000500.000900", "text": "answer"},
        "response_url": f"{fake.url}/response/click",
        "actions": [
            {
                "type": "button",
                "action_id": blocks.HUMAN,
                "block_id": "smtpbot_actions",
                "value": human["value"],
                "action_ts": "1700000501.000100",
            }
        ],
        "is_enterprise_install": False,
    }
    assert (await transport.interact(click)).ok
    (card,) = await fake.wait_for_post(channel=ESCALATIONS)
    assert PARTNER_USER in str(card.args)
    before = len(fake.of("chat.postMessage"))
    ours = message_event(
        "554 5.7.1 Relay access denied", ts="1700000500.000600", thread_ts=THREAD
    )
    assert (await transport.send(ours)).ok
    await fake.settle(1.0)
    assert len(fake.of("chat.postMessage")) == before
