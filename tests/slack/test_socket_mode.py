"""
Socket Mode against a local websocket server that speaks Slack's envelope protocol:
hello,
events_api and slash_commands envelopes, acks by envelope_id, disconnect and reconnect.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.slack.runtime import serve as serve_bot
from knowledge.matcher import Matcher
from tests.support.bot import delete_prefix, make_settings
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import ADMIN, CHANNEL, TEAM, FakeSlack, message_event
from tests.support.transport import FakeSocketMode, send_envelope
from tests.support.transport import socket_endpoint as local_socket_endpoint


@pytest.fixture
async def socket_endpoint() -> AsyncIterator[FakeSocketMode]:
    """
    The local websocket server.
    """
    async with local_socket_endpoint() as fake:
        yield fake


async def test_socket_mode_acks_envelopes_and_reconnects(
    fake_slack: FakeSlack,
    socket_endpoint: FakeSocketMode,
    redis_url: str,
    prefix: str,
    matcher: Matcher,
) -> None:
    """
    Events are acked by envelope_id and answered; after disconnects the bot reconnects.
    """
    fake_slack.socket_url = socket_endpoint.url
    settings = make_settings(
        fake_slack, redis_url, prefix, SLACK_APP_TOKEN="xapp-1-A0APP-1-x"
    )
    stop = asyncio.Event()
    out = io.StringIO()
    task = asyncio.create_task(
        serve_bot(settings, http=False, host="127.0.0.1", port=None, stop=stop, out=out)
    )
    try:
        first = await socket_endpoint.accept()
        ack = await send_envelope(
            first, "events_api", message_event(STARTTLS_PASTE, ts="1700000300.000100")
        )
        assert set(ack) == {"envelope_id"}
        (reply,) = await fake_slack.wait_for("chat.postMessage")
        assert reply.args["thread_ts"] == "1700000300.000100"
        opened = fake_slack.of("apps.connections.open")
        assert opened[0].headers["Authorization"] == "Bearer xapp-1-A0APP-1-x"

        await first.send(
            json.dumps({"type": "disconnect", "reason": "refresh_requested"})
        )
        second = await socket_endpoint.accept()
        command = {
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": ADMIN,
            "command": "/smtpcheck",
            "text": "help",
            "response_url": "",
            "trigger_id": "1.2.3",
            "api_app_id": "A0APP",
        }
        ack = await send_envelope(second, "slash_commands", command)
        assert "Usage: `/smtpcheck" in json.dumps(ack["payload"])

        await second.close()
        third = await socket_endpoint.accept()
        await send_envelope(
            third, "events_api", message_event(STARTTLS_PASTE, ts="1700000300.000200")
        )
        await fake_slack.wait_for("chat.postMessage", 2)
        assert len(fake_slack.of("apps.connections.open")) >= 3
        assert "Socket Mode" in out.getvalue()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
        await delete_prefix(redis_url, prefix)


async def test_socket_mode_payloads_are_redacted_before_listeners_see_them(
    start_bot: Any,
) -> None:
    """
    A Socket Mode payload (it bypasses the HTTP front) reaches every middleware and
    listener after ours with its texts redacted; identifiers are untouched.
    """
    from slack_bolt.request.async_request import AsyncBoltRequest

    seen: list[dict[str, Any]] = []
    secret = "AUTH PLAIN AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0cGFzcw=="
    async with start_bot() as bot:

        @bot.app.middleware
        async def record(body: dict[str, Any], next_: Any) -> None:
            seen.append(body)
            await next_()

        payload = message_event(f"{STARTTLS_PASTE}\n{secret}", ts="1700000301.000100")
        payload["event"]["attachments"] = [{"text": secret, "fallback": secret}]
        await bot.app.async_dispatch(AsyncBoltRequest(body=payload, mode="socket_mode"))
        await bot.fake.wait_for("chat.postMessage")
    dumped = json.dumps(seen)
    assert "AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0cGFzcw" not in dumped
    assert seen[0]["event"]["ts"] == "1700000301.000100"
    assert seen[0]["event"]["channel"] == CHANNEL
