"""
Hostile and malformed traffic at /slack/events: unsigned, stale, oversized, slow,
undecodable, too deep or ill-shaped requests get a 4xx (never a 5xx or a traceback),
refusals log one short line, lone surrogates are repaired, and a replayed request is
not acted on again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.metrics import Metrics
from bot.slack import blocks
from bot.slack.inbound import MAX_BODY, MAX_DEPTH, Refusal, parse
from bot.slack.replay import ReplayGuard
from bot.slack.server import build_web_app
from tests.support.bot import Bot, StartBot, drain_tasks
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import (
    SECRET,
    action_request,
    command_request,
    message_event,
    sign,
)
from tests.support.smtp import smtp_server

HttpClient = TestClient[web.Request, web.Application]


async def serve(bot: Bot, *, replay: ReplayGuard | None = None) -> HttpClient:
    """
    An aiohttp test client (real sockets on 127.0.0.1) on the bot's web front.
    """
    app = build_web_app(
        bot.app,
        store=bot.store,
        metrics=bot.metrics,
        signing_secret=SECRET,
        replay=replay,
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def http(bot: Bot) -> AsyncIterator[HttpClient]:
    """
    HTTP client on the default bot's front.
    """
    client = await serve(bot)
    yield client
    await client.close()


async def raw_exchange(client: HttpClient, head: bytes, body: bytes = b"") -> bytes:
    """
    Send raw HTTP bytes (headers, then perhaps part of a body) and read the status
    line the server answers with, without sending anything more.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """
    Log records that carry a traceback or are errors.
    """
    return [
        r.getMessage()
        for r in caplog.records
        if r.exc_info or r.exc_text or r.levelno >= logging.ERROR
    ]


async def test_oversized_body_is_refused_413_from_its_length_alone(
    http: HttpClient,
) -> None:
    """
    A Content-Length over 1 MiB is answered 413 before any of the body is sent.
    """
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY + 1}\r\n\r\n"
    ).encode()
    status = await raw_exchange(http, head)
    assert status.startswith(b"HTTP/1.1 413")


async def test_unsigned_request_is_refused_before_its_body_arrives(
    http: HttpClient,
) -> None:
    """
    Missing signature headers get 401 without the server waiting for the body.
    """
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 900000\r\n\r\n"
    )
    status = await raw_exchange(http, head, b"{")
    assert status.startswith(b"HTTP/1.1 401")


async def test_chunked_body_over_the_limit_is_refused(http: HttpClient) -> None:
    """
    A body without Content-Length (chunked) is cut off at 1 MiB with a 413.
    """
    body = b"x" * (MAX_BODY + 10)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    headers = {"Content-Type": "application/json", **sign("")}
    response = await http.post("/slack/events", data=chunks(), headers=headers)
    assert response.status == 413


async def test_a_flood_of_refusals_logs_one_short_line(
    http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """
    Twenty large badly signed requests carrying a token and a response_url add one
    short log line that holds none of the body.
    """
    caplog.set_level(logging.DEBUG)
    body = urllib.parse.urlencode(
        {
            "token": "legacy-token-value",
            "response_url": "https://hooks.slack.com/commands/T1/2/secretpath",
            "text": "p" * 900_000,
        }
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(body, secret="wrong"),
    }
    for _ in range(20):
        response = await http.post("/slack/events", data=body, headers=headers)
        assert response.status == 401
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    assert len(lines) == 1 and len(lines[0]) < 100
    logged = caplog.text
    assert "legacy-token-value" not in logged and "secretpath" not in logged
    assert "ppppp" not in logged


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b'{"type": "event_callback", "event": {"text": "\xff\xfe"}}', "json", 400),
        (json.dumps(message_event("x")).encode(), "json; charset=klingon", 415),
        (b"[" * 100_000 + b"]" * 100_000, "json", 400),
        (
            urllib.parse.urlencode(
                {"payload": "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)}
            ).encode(),
            "x-www-form-urlencoded",
            400,
        ),
        (b"{not json", "json", 400),
        (b"[1, 2]", "json", 400),
        (
            json.dumps({"type": "block_actions", "user": {"id": "U1"}}).encode(),
            "json",
            400,
        ),
        (
            json.dumps(
                {"type": "block_actions", "user": {"id": "U1"}, "actions": [{}]}
            ).encode(),
            "json",
            400,
        ),
        (
            json.dumps(
                {
                    "type": "block_actions",
                    "user": "U1",
                    "actions": [{"action_id": 7, "value": ["x"]}],
                }
            ).encode(),
            "json",
            400,
        ),
        (
            urllib.parse.urlencode(
                {
                    "command": "/smtpcheck",
                    "text": "x",
                    "team_id": "T",
                    "channel_id": "C",
                }
            ).encode(),
            "x-www-form-urlencoded",
            400,
        ),
        (
            json.dumps({"type": "event_callback", "event": {"type": 5}}).encode(),
            "json",
            400,
        ),
        (json.dumps({"type": ["event_callback"]}).encode(), "json", 400),
    ],
    ids=[
        "invalid-utf8",
        "unknown-charset",
        "deep-json",
        "deep-payload",
        "bad-json",
        "json-array",
        "actions-missing",
        "action-without-action-id",
        "action-wrong-types",
        "command-without-user",
        "event-type-not-text",
        "type-not-text",
    ],
)
async def test_signed_but_malformed_requests_get_a_4xx_and_no_traceback(
    http: HttpClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    """
    Signed requests that cannot be decoded or have the wrong shape get a 4xx, no
    traceback is logged, and /healthz still answers.
    """
    caplog.set_level(logging.DEBUG)
    headers = {"Content-Type": f"application/{content_type}", **sign_bytes(body)}
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == status
    assert (await http.get("/healthz")).status == 200
    await drain_tasks()
    assert tracebacks(caplog) == []


def sign_bytes(body: bytes) -> dict[str, str]:
    """
    Slack's signature over raw bytes (which need not be UTF-8).
    """
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + mac.hexdigest(),
    }


async def test_a_lone_surrogate_is_replaced_and_the_message_answered(
    http: HttpClient, bot: Bot
) -> None:
    """
    A message whose JSON holds an unpaired UTF-16 surrogate (\\ud800) is answered.
    """
    payload = message_event(STARTTLS_PASTE + " SURROGATE_HERE")
    body = json.dumps(payload).replace("SURROGATE_HERE", "\\ud800")
    assert "\\ud800" in body
    headers = {"Content-Type": "application/json", **sign(body)}
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    [reply] = await bot.fake.wait_for("chat.postMessage")
    assert reply.args["thread_ts"] == payload["event"]["ts"]


async def test_a_replayed_smtpcheck_runs_one_probe(
    start_bot: StartBot, tmp_path: Path
) -> None:
    """
    The same signed /smtpcheck sent five times, byte for byte, to two replicas on one
    Redis, runs one probe and reports once; the replays are acked.
    """
    async with (
        smtp_server(tmp_path) as smtp,
        start_bot(PROBE_PORTS=str(smtp.port), PROBE_CAFILE=smtp.cafile) as bot,
    ):
        guards = [
            ReplayGuard(bot.store.client, bot.settings.redis_prefix, metrics=Metrics())
            for _ in range(2)
        ]
        replicas = [await serve(bot, replay=guard) for guard in guards]
        try:
            body, headers = command_request(
                f"127.0.0.1:{smtp.port}", response_url=f"{bot.fake.url}/response/r1"
            )
            statuses = []
            for n in range(5):
                response = await replicas[n % 2].post(
                    "/slack/events", data=body, headers=headers
                )
                statuses.append(response.status)
            assert statuses == [200] * 5
            await bot.fake.wait_for("response_url")
            await drain_tasks()
            await bot.fake.settle(0.5)
            assert len(bot.fake.of("response_url")) == 1
            assert (
                sum(
                    bot.metrics.probes.labels(o)._value.get()
                    for o in ("ok", "warn", "fail")
                )
                == 1
            )
        finally:
            for client in replicas:
                await client.close()


async def test_a_replayed_button_click_is_not_acted_on_again(
    http: HttpClient, bot: Bot
) -> None:
    """
    A "Did this help?" click replayed byte for byte is thanked for once.
    """
    body, headers = action_request(
        blocks.FEEDBACK_YES, blocks.encode_value(t="1700000000.000100")
    )
    for _ in range(3):
        response = await http.post("/slack/events", data=body, headers=headers)
        assert response.status == 200
    await drain_tasks()
    await bot.fake.settle(0.3)
    assert len(bot.fake.of("chat.postEphemeral")) == 1


# --- property tests over the parser ---------------------------------------------------

_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "application/json; charset=latin-1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), _CONTENT_TYPES)
def test_parse_returns_an_object_or_refuses_any_bytes(
    raw: bytes, content_type: str
) -> None:
    """
    Any body gives a JSON object or a 4xx Refusal, never another exception.
    """
    try:
        body, _ = parse(raw, content_type)
    except Refusal as refusal:
        assert 400 <= refusal.status < 500
    else:
        assert isinstance(body, dict)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_JSON, st.integers(min_value=0, max_value=3 * MAX_DEPTH))
def test_parsed_payloads_are_encodable_and_bounded_in_depth(
    value: Any, depth: int
) -> None:
    """
    A parsed payload (here wrapped ``depth`` lists deep) is refused past MAX_DEPTH,
    and otherwise every string in it encodes as UTF-8 (surrogates replaced).
    """
    wrapped = {"v": json.loads("[" * depth + json.dumps(value) + "]" * depth)}
    raw = json.dumps(wrapped).encode()
    try:
        body, _ = parse(raw, "application/json")
    except Refusal as refusal:
        assert refusal.status == 400 and depth + 1 >= MAX_DEPTH - 40
        return
    json.dumps(body, ensure_ascii=False).encode("utf-8")


# Pieces of Slack payloads of every kind, with fields of the wrong type mixed in.
_TEXT = st.text(max_size=30)
_ANY = st.one_of(
    _TEXT, st.integers(), st.none(), st.lists(_TEXT, max_size=2), st.booleans()
)
_MAYBE = st.one_of(_TEXT, _ANY)
_EVENT = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["message", "app_mention", "reaction_added", "app_home_opened"]
        )
        | _ANY,
        "subtype": _MAYBE,
        "user": _MAYBE,
        "text": _MAYBE,
        "channel": st.sampled_from(["C0SUPPORT"]) | _ANY,
        "ts": st.sampled_from(["1700000000.000100"]) | _ANY,
        "thread_ts": _MAYBE,
        "item": st.dictionaries(st.sampled_from(["type", "channel", "ts"]), _MAYBE)
        | _ANY,
        "reaction": _MAYBE,
        "bot_id": _MAYBE,
        "tab": _MAYBE,
    },
)
_ACTION = st.fixed_dictionaries(
    {},
    optional={
        "action_id": st.sampled_from(
            [blocks.PROBE, blocks.FEEDBACK_YES, blocks.FEEDBACK_NO, blocks.HUMAN, "x"]
        )
        | _ANY,
        "value": st.sampled_from(['{"t":"1.2"}', "{", '{"t":"1.2","s":"h:1"}']) | _ANY,
        "block_id": _MAYBE,
    },
)
_PAYLOAD = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("event_callback")},
        optional={"event": _EVENT | _ANY, "team_id": _MAYBE, "event_id": _MAYBE},
    ),
    st.fixed_dictionaries(
        {"type": st.just("block_actions")},
        optional={
            "user": st.fixed_dictionaries(
                {}, optional={"id": _MAYBE, "team_id": _MAYBE}
            )
            | _ANY,
            "actions": st.lists(_ACTION | _ANY, max_size=2) | _ANY,
            "channel": st.fixed_dictionaries({}, optional={"id": _MAYBE}) | _ANY,
            "container": st.fixed_dictionaries({}, optional={"channel_id": _MAYBE})
            | _ANY,
            "team": _MAYBE | st.fixed_dictionaries({}, optional={"id": _MAYBE}),
            "response_url": _MAYBE,
        },
    ),
    st.fixed_dictionaries(
        {"command": st.sampled_from(["/smtpcheck", "/other"]) | _ANY},
        optional={
            "user_id": _MAYBE,
            "team_id": _MAYBE,
            "channel_id": _MAYBE,
            "text": _MAYBE,
        },
    ),
    st.dictionaries(st.text(max_size=10), _ANY, max_size=5),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=_PAYLOAD, form=st.booleans())
@example(
    payload={"type": "event_callback", "event": {"type": "", "user": 0}}, form=False
)
@example(
    payload={"type": "event_callback", "event": {"type": "x", "channel": ["C"]}},
    form=False,
)
async def test_signed_payloads_of_any_shape_never_get_a_5xx_or_a_traceback(
    http: HttpClient,
    caplog: pytest.LogCaptureFixture,
    payload: dict[str, Any],
    form: bool,
) -> None:
    """
    Signed payloads of Slack's kinds with fields missing or of the wrong type are
    acked or refused 4xx, and nothing logs a traceback (listeners included).
    """
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    if form and "command" in payload:
        body = urllib.parse.urlencode(
            {
                k: json.dumps(v) if not isinstance(v, str) else v
                for k, v in payload.items()
            }
        )
    elif form:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    else:
        body = json.dumps(payload)
    kind = "x-www-form-urlencoded" if form else "json"
    headers = {"Content-Type": f"application/{kind}", **sign(body)}
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status < 500
    await drain_tasks()
    assert tracebacks(caplog) == []
