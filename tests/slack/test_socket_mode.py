"""
Socket Mode against a local websocket server that speaks Slack's envelope protocol:
hello,
events_api and slash_commands envelopes, acks by envelope_id, disconnect and reconnect.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from bot.slack.runtime import serve as serve_bot
from knowledge.matcher import Matcher
from tests.support.bot import delete_prefix, make_settings
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import ADMIN, CHANNEL, TEAM, FakeSlack, message_event


class FakeSocketMode:
    """
    Slack's Socket Mode endpoint: hands each new connection to the test.
    """

    def __init__(self) -> None:
        self.connections: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.url = ""

    async def handler(self, connection: ServerConnection) -> None:
        await self.connections.put(connection)
        await connection.wait_closed()

    async def accept(self) -> ServerConnection:
        """
        The next connection, greeted with hello as Slack does.
        """
        connection = await asyncio.wait_for(self.connections.get(), timeout=15)
        await connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0APP"},
                    "debug_info": {"host": "local"},
                }
            )
        )
        return connection


async def send_envelope(
    connection: ServerConnection, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """
    Send one envelope and return the client's ack (matched by envelope_id).
    """
    envelope_id = str(uuid.uuid4())
    await connection.send(
        json.dumps(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
    )
    while True:
        ack = json.loads(await asyncio.wait_for(connection.recv(), timeout=15))
        if ack.get("envelope_id") == envelope_id:
            return dict(ack)


@pytest.fixture
async def socket_endpoint() -> AsyncIterator[FakeSocketMode]:
    """
    The local websocket server.
    """
    fake = FakeSocketMode()
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/link/?ticket=test"
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
