"""
The app's life in a workspace, over both transports: Slack's lifecycle events are acked
at once, a revoked bot token is never used again (not even after a restart), an
uninstall leaves nothing pasted in that workspace in Redis, and Slack's rate limiting of
event delivery is logged and counted.

Payload shapes: api.slack.com/events/tokens_revoked, /events/app_uninstalled,
/events-api#rate_limiting (``app_rate_limited``), and bolt-python's fixtures of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.slack.lifecycle import forget_queued
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import (
    ADMIN,
    BOT_USER,
    CHANNEL,
    TEAM,
    FakeSlack,
    message_event,
)
from tests.support.transport import TRANSPORTS, Transport, get, metric, running

BOT_TOKEN = "Bearer xoxb-test-token"
ESCALATIONS = "C0ESCALATE"
# Slack's limit for acknowledging a request.
SLACK_ACK_SECONDS = 3.0
# How soon an uninstalled workspace's pastes must be gone.
FORGET_SECONDS = 5.0
MARKER = "mx-forget-me.example.org"


def callback(event: dict[str, Any], *, team: str = TEAM) -> dict[str, Any]:
    """
    An Events API envelope around a lifecycle event.
    """
    body = message_event("")
    body["team_id"] = team
    body["event"] = event
    body["authorizations"] = [{"team_id": team, "user_id": BOT_USER, "is_bot": True}]
    return body


def tokens_revoked(*, bot: list[str], oauth: list[str] | None = None) -> dict[str, Any]:
    """
    ``tokens_revoked`` naming the revoked user (OAuth) and bot tokens by user id.
    """
    tokens = {"oauth": oauth or [], "bot": bot}
    return callback({"type": "tokens_revoked", "tokens": tokens})


def app_uninstalled() -> dict[str, Any]:
    """
    ``app_uninstalled`` for the test workspace.
    """
    return callback({"type": "app_uninstalled"})


def app_rate_limited() -> dict[str, Any]:
    """
    Slack's notice that it is dropping the workspace's events for a minute.
    """
    return {
        "token": "legacy",
        "type": "app_rate_limited",
        "team_id": TEAM,
        "minute_rate_limited": int(time.time()) // 60 * 60,
        "api_app_id": "A0APP",
    }


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    """
    Which of Slack's transports the bot is reached by.
    """
    return str(request.param)


@pytest.fixture
async def transport(
    kind: str, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Transport]:
    """
    The whole bot behind the transport, with an escalation channel.
    """
    async with running(
        kind, fake_slack, redis_url, prefix, ESCALATION_CHANNEL=ESCALATIONS
    ) as bot:
        yield bot


async def everything(redis_url: str, prefix: str) -> str:
    """
    Every key and value under the prefix, as one text to search.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    out: list[str] = []
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            kind = await client.type(key)
            if kind == "string":
                value: Any = await client.get(key)
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "hash":
                value = await client.hgetall(key)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1)
            elif kind == "set":
                value = sorted(await client.smembers(key))
            elif kind == "stream":
                value = await client.xrange(key)
            else:
                value = kind
            out.append(f"{key} {json.dumps(value, default=str)}")
    finally:
        await client.aclose()
    return "\n".join(out)


async def test_lifecycle_requests_are_acked_at_once(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    """
    tokens_revoked, app_uninstalled (of another workspace) and app_rate_limited are all
    acked well within Slack's 3 s; the rate limiting is logged and counted.
    """
    caplog.set_level(logging.WARNING)
    rate = app_rate_limited()
    sent = [
        await transport.send(tokens_revoked(bot=[], oauth=["U0SOMEONE"])),
        await transport.send(callback({"type": "app_uninstalled"}, team="T0GONE")),
        await transport.send(rate, envelope="app_rate_limited"),
    ]
    if transport.kind == "socket":
        # Also as an events_api envelope, however Slack wraps it.
        sent.append(await transport.send(rate))
    for ack in sent:
        assert ack.ok, ack.detail
        assert ack.seconds < SLACK_ACK_SECONDS
    assert await metric(transport, "smtpbot_app_rate_limited_total") == len(sent) - 2
    assert any("app_rate_limited" in r.getMessage() for r in caplog.records)


async def test_a_revoked_bot_token_is_never_used_again(
    transport: Transport, kind: str, redis_url: str, prefix: str
) -> None:
    """
    After tokens_revoked names the bot user, nothing calls the Web API with its token,
    in this process or in one started afterwards; requests are still acked, and a
    slash command is told to have the app reinstalled.
    """
    fake = transport.fake
    await transport.send(message_event(STARTTLS_PASTE, ts="1700000800.000100"))
    await fake.wait_for("chat.postMessage")
    revoked = await transport.send(tokens_revoked(bot=[BOT_USER]))
    assert revoked.ok
    await fake.settle(0.5)
    seen = len(fake.calls)
    for n in (2, 3):
        paste = message_event(STARTTLS_PASTE, ts=f"1700000800.00{n}000")
        assert (await transport.send(paste)).ok
    check = await transport.command(
        {
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": ADMIN,
            "command": "/smtpcheck",
            "text": "smtp.example.com",
            "response_url": f"{fake.url}/response/x",
            "trigger_id": "1.2.3",
            "api_app_id": "A0APP",
        }
    )
    assert check.ok and "reinstall" in str(check.detail)
    async with running(kind, fake, redis_url, prefix) as restarted:
        paste = message_event(STARTTLS_PASTE, ts="1700000800.000400")
        assert (await restarted.send(paste)).ok
        await fake.settle(1.5)
    late = fake.calls[seen:]
    assert [c for c in late if c.headers.get("Authorization") == BOT_TOKEN] == []


async def test_revoking_only_user_tokens_changes_nothing(transport: Transport) -> None:
    """
    tokens_revoked that names only user (OAuth) tokens leaves the bot answering.
    """
    fake = transport.fake
    assert (await transport.send(tokens_revoked(bot=[], oauth=[BOT_USER]))).ok
    await transport.send(message_event(STARTTLS_PASTE, ts="1700000810.000100"))
    (reply,) = await fake.wait_for("chat.postMessage")
    assert reply.headers["Authorization"] == BOT_TOKEN


async def test_an_uninstall_leaves_nothing_pasted_in_redis(
    transport: Transport, redis_url: str, prefix: str
) -> None:
    """
    Within 5 s of app_uninstalled, no conversation, escalation, queue entry or
    unmatched error of the workspace is left; another workspace's data stays.
    """
    fake = transport.fake
    answered = f"{STARTTLS_PASTE} via {MARKER}"
    await transport.send(message_event(answered, ts="1700000900.000100"))
    await fake.wait_for("chat.postMessage")
    unknown = f"Error: quux frobnicator refused the widget at {MARKER}"
    await transport.send(message_event(unknown, ts="1700000901.000100"))
    human = message_event(
        f"<@{BOT_USER}> human please, {MARKER} is down",
        ts="1700000900.000200",
        thread_ts="1700000900.000100",
    )
    await transport.send(human)
    await fake.wait_for_post(channel=ESCALATIONS)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    other = f"{prefix}conv:T0OTHER:{CHANNEL}:1700000000.000001"
    try:
        await client.rpush(other, json.dumps({"k": "msg", "text": "other workspace"}))
        stored = await everything(redis_url, prefix)
        assert MARKER in stored
        for kind in ("conv:", "esc:rec:", "esc:stream", "learn:gaps"):
            assert f"{prefix}{kind}" in stored
        started = time.monotonic()
        ack = await transport.send(app_uninstalled())
        assert ack.ok and ack.seconds < SLACK_ACK_SECONDS
        while MARKER in await everything(redis_url, prefix):
            assert time.monotonic() - started < FORGET_SECONDS
            await asyncio.sleep(0.1)
        assert await client.lrange(other, 0, -1)
    finally:
        await client.delete(other)
        await client.aclose()


async def test_queued_messages_of_the_workspace_leave_the_intake_stream(
    redis_url: str, prefix: str
) -> None:
    """
    Messages still queued for workers are deleted by workspace (by installation or,
    for entries without one, by team), others stay.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    stream = f"{prefix}intake"
    mine = {"team_id": "T0PARTNER", "authorizations": [{"team_id": TEAM}]}
    bodies = [mine, {"team_id": TEAM}, {"team_id": "T0OTHER"}, "not json"]
    try:
        for body in bodies * 300:
            raw = body if isinstance(body, str) else json.dumps(body)
            await client.xadd(stream, {"body": raw})
        gone = await forget_queued(client, stream, TEAM, batch=100)
        assert gone == 600
        left = [
            json.loads(f["body"])
            for _, f in await client.xrange(stream)
            if f["body"].startswith("{")
        ]
        assert left and all(b["team_id"] == "T0OTHER" for b in left)
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_socket_mode_with_a_port_needs_no_signing_secret(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    ``smtpbot run --port P`` in Socket Mode without SLACK_SIGNING_SECRET starts,
    serves health and metrics, and takes no unverifiable HTTP events.
    """
    async with running("socket", fake_slack, redis_url, prefix) as bot:
        assert bot.settings.slack_signing_secret is None
        assert (await get(bot, "/healthz"))[0] == 200
        assert (await get(bot, "/metrics"))[0] == 200
        assert (await bot.send(app_rate_limited(), envelope="app_rate_limited")).ok
        assert bot._session is not None
        async with bot._session.post(
            f"{bot.url}/slack/events", data=json.dumps(app_rate_limited())
        ) as response:
            assert response.status == 404
