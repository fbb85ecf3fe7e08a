"""
The HTTP layer in process: signatures, Slack's handshake requests, malformed payloads,
health, readiness (Redis down and back) and metrics.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.slack.server import build_web_app
from bot.state import ThreadKey
from knowledge.matcher import Matcher
from tests.support.bot import Bot, drain_tasks, running_bot
from tests.support.kb import STARTTLS_PASTE
from tests.support.redis import free_port, redis_server
from tests.support.slack import (
    CHANNEL,
    SECRET,
    TEAM,
    FakeSlack,
    event_request,
    message_event,
    sign,
)

HttpClient = TestClient[web.Request, web.Application]


async def client_for(bot: Bot) -> HttpClient:
    """
    An aiohttp test client on the bot's web app (real sockets on 127.0.0.1).
    """
    app = build_web_app(
        bot.app, store=bot.store, metrics=bot.metrics, signing_secret=SECRET
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def http(bot: Bot) -> AsyncIterator[HttpClient]:
    """
    HTTP client for the default bot.
    """
    client = await client_for(bot)
    yield client
    await client.close()


async def test_url_verification_echoes_the_challenge(http: HttpClient) -> None:
    """
    Slack's url_verification handshake gets its challenge back.
    """
    body = json.dumps({"type": "url_verification", "token": "t", "challenge": "abc123"})
    response = await http.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/json", **sign(body)},
    )
    assert response.status == 200
    assert (await response.json())["challenge"] == "abc123"


async def test_ssl_check_is_acknowledged(http: HttpClient) -> None:
    """
    Slack's ssl_check ping gets a 200 without doing anything.
    """
    body = urllib.parse.urlencode({"ssl_check": "1", "token": "t"})
    response = await http.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)},
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time()) - 3600)},
        {"X-Slack-Signature": ""},
    ],
    ids=["wrong-signature", "stale-timestamp", "missing-signature"],
)
async def test_badly_signed_requests_are_rejected(
    http: HttpClient, bot: Bot, headers: dict[str, str]
) -> None:
    """
    Wrong, stale or missing signatures get 401 and no reply.
    """
    body, signed = event_request(message_event(STARTTLS_PASTE))
    if "X-Slack-Request-Timestamp" in headers:
        signed = {
            "Content-Type": "application/json",
            **sign(body, timestamp=int(headers["X-Slack-Request-Timestamp"])),
        }
    else:
        signed.update(headers)
    response = await http.post("/slack/events", data=body, headers=signed)
    assert response.status == 401
    await bot.fake.settle()
    assert bot.fake.of("chat.postMessage") == []


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("{not json", "application/json"),
        ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        ("[1, 2, 3]", "application/json"),
        ('{"type": "event_callback", "event": "nope"}', "application/json"),
        (
            "payload=" + urllib.parse.quote('{"type": "block_actions"}'),
            "application/x-www-form-urlencoded",
        ),
    ],
    ids=[
        "bad-json",
        "bad-payload",
        "json-array",
        "event-not-object",
        "action-without-actions",
    ],
)
async def test_malformed_signed_payloads_get_a_clear_4xx(
    http: HttpClient, body: str, content_type: str
) -> None:
    """
    Signed but malformed bodies are answered 4xx with a reason, and the app keeps going.
    """
    response = await http.post(
        "/slack/events", data=body, headers={"Content-Type": content_type, **sign(body)}
    )
    assert 400 <= response.status < 500
    assert await response.text()
    health = await http.get("/healthz")
    assert health.status == 200


async def test_unsigned_garbage_gets_401(http: HttpClient) -> None:
    """
    An unparseable body without a valid signature is 401, not 400 (no oracle).
    """
    response = await http.post(
        "/slack/events", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status == 401


async def test_signed_event_over_http_is_answered(http: HttpClient, bot: Bot) -> None:
    """
    A signed JSON event through aiohttp acks 200 and the answer is posted.
    """
    body, headers = event_request(message_event(STARTTLS_PASTE))
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    await bot.fake.wait_for("chat.postMessage")


async def test_health_ready_and_metrics(http: HttpClient, bot: Bot) -> None:
    """
    healthz and readyz answer 200 with Redis up; metrics count events and matches.
    """
    assert (await http.get("/healthz")).status == 200
    ready = await http.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    body, headers = event_request(message_event(STARTTLS_PASTE))
    await http.post("/slack/events", data=body, headers=headers)
    await bot.fake.wait_for("chat.postMessage")
    page = await (await http.get("/metrics")).text()
    assert 'smtpbot_events_received_total{kind="event:message"} 1.0' in page
    assert (
        'smtpbot_matches_total{category="starttls-required",decision="confident"} 1.0'
        in page
    )
    assert 'smtpbot_replies_total{kind="answer"} 1.0' in page
    assert (await http.get("/nope")).status == 404


async def test_redis_down_still_answers_and_readyz_fails(
    fake_slack: FakeSlack, prefix: str, matcher: Matcher
) -> None:
    """
    With Redis unreachable the answer still goes out, once, and /readyz says 503.
    """
    closed = f"redis://127.0.0.1:{free_port()}/0"
    async with running_bot(
        fake_slack, closed, prefix, matcher, REDIS_TIMEOUT="0.2"
    ) as bot:
        client = await client_for(bot)
        try:
            assert (await client.get("/readyz")).status == 503
            body, headers = event_request(message_event(STARTTLS_PASTE))
            for retry in ("0", "1"):
                response = await client.post(
                    "/slack/events",
                    data=body,
                    headers={**headers, "X-Slack-Retry-Num": retry},
                )
                assert response.status == 200
            await fake_slack.wait_for("chat.postMessage")
            await fake_slack.settle()
            assert len(fake_slack.of("chat.postMessage")) == 1
            assert bot.metrics.redis_errors._value.get() >= 1
        finally:
            await client.close()


async def test_readiness_recovers_when_redis_returns(
    fake_slack: FakeSlack, prefix: str, matcher: Matcher, tmp_path: Path
) -> None:
    """
    /readyz goes 200, 503, 200 as Redis stops and starts again, without a bot restart.
    """
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    first = contextlib.ExitStack()
    first.enter_context(redis_server(tmp_path, port=port))
    try:
        async with running_bot(
            fake_slack, url, prefix, matcher, REDIS_TIMEOUT="0.3"
        ) as bot:
            client = await client_for(bot)
            try:
                assert (await client.get("/readyz")).status == 200
                first.close()
                assert (await client.get("/readyz")).status == 503
                with redis_server(tmp_path, port=port):
                    assert (await client.get("/readyz")).status == 200
                    root = "1700000100.000100"
                    body, headers = event_request(
                        message_event(STARTTLS_PASTE, ts=root)
                    )
                    await client.post("/slack/events", data=body, headers=headers)
                    await fake_slack.wait_for("chat.postMessage")
                    await drain_tasks()
                    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
                    assert len(conversation.messages) == 1
            finally:
                await client.close()
    finally:
        first.close()
