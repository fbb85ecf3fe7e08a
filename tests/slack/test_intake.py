"""
The HTTP front's intake: Events API messages are verified, slimmed, redacted and queued
to the Redis Stream (or acked without queuing when the bot would ignore them); every
other request, and every message while Redis cannot take it, still goes to Bolt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.metrics import Metrics
from bot.slack import blocks
from bot.slack.intake import (
    BODY_FIELDS,
    EVENT_FIELDS,
    Intake,
    StreamWriter,
    slim_event,
    stream_key,
)
from bot.slack.server import build_web_app
from bot.state.redis_store import RedisStore
from tests.support.bot import Bot, drain_tasks
from tests.support.kb import STARTTLS_PASTE
from tests.support.redis import free_port, redis_server
from tests.support.slack import (
    ADMIN,
    BOT_USER,
    CHANNEL,
    OTHER_CHANNEL,
    action_request,
    command_request,
    event_request,
    message_event,
    sign,
)
from tests.support.slack import verified as inbound

HttpClient = TestClient[web.Request, web.Application]

# A paste with credentials in it: an AUTH PLAIN initial response (user:password in
# base64) and a configuration line.
SECRET_B64 = "dXNlcjpwYXNzd29yZA=="
SECRET_PASTE = (
    f"{STARTTLS_PASTE}\nC: AUTH PLAIN {SECRET_B64}\nsmtp_config: password=hunter2"
)


def rich_text(text: str) -> list[dict[str, Any]]:
    """
    The ``blocks`` Slack sends with a message: the text again, unredacted.
    """
    return [
        {
            "type": "rich_text",
            "block_id": "b1",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "text", "text": text}],
                }
            ],
        }
    ]


async def stream_entries(
    client: aioredis.Redis, stream: str
) -> list[tuple[str, dict[str, str]]]:
    """
    A stream's entries, oldest first, as (id, fields) strings.
    """
    raw: Any = await client.xrange(stream)
    return [(str(i), {str(k): str(v) for k, v in f.items()}) for i, f in raw]


async def queued(bot: Bot) -> list[tuple[str, dict[str, Any]]]:
    """
    The entries in the intake stream, oldest first, with their bodies parsed.
    """
    stream = stream_key(bot.settings.redis_prefix)
    entries = await stream_entries(bot.store.client, stream)
    return [(entry_id, json.loads(fields["body"])) for entry_id, fields in entries]


def intake_for(bot: Bot, client: aioredis.Redis | None = None) -> Intake:
    """
    The front's intake on the bot's Redis client (or on ``client``).
    """
    return Intake(
        bot.settings,
        client if client is not None else bot.store.client,
        metrics=bot.metrics,
    )


@contextlib.asynccontextmanager
async def web_client(bot: Bot, intake: Intake) -> AsyncIterator[HttpClient]:
    """
    An aiohttp test client (real sockets on 127.0.0.1) on the web app with ``intake``.
    """
    app = build_web_app(
        bot.app,
        store=bot.store,
        metrics=bot.metrics,
        signing_secret=bot.settings.slack_signing_secret or "",
        intake=intake,
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http(bot: Bot) -> AsyncIterator[HttpClient]:
    """
    HTTP client on the default bot's web app with an intake on its Redis.
    """
    async with web_client(bot, intake_for(bot)) as client:
        yield client


def events_counted(metrics: Metrics, kind: str) -> float:
    """
    The events counter for one kind of payload.
    """
    return float(metrics.events.labels(kind)._value.get())


# --- slim_event ---------------------------------------------------------------------


def test_slim_event_keeps_only_the_fields_the_bot_reads(bot: Bot) -> None:
    """
    The queued payload has only BODY_FIELDS and EVENT_FIELDS and the installation's
    ids from authorizations: no blocks, no token, no unknown event keys; the text is
    redacted.
    """
    body = message_event(
        SECRET_PASTE,
        thread_ts="1700000000.000100",
        blocks=rich_text(SECRET_PASTE),
        client_msg_id="abc",
        team="T0TEST",
    )
    body["enterprise_id"] = "E0ENT"
    slim = slim_event(body, bot.settings)
    assert slim is not None
    assert set(slim) == {"type", "team_id", "enterprise_id", "api_app_id"} | {
        "event_id",
        "event_time",
        "event",
        "authorizations",
    }
    assert set(slim) - {"event", "authorizations"} <= set(BODY_FIELDS)
    assert slim["authorizations"] == [{"team_id": "T0TEST"}]
    event = slim["event"]
    assert set(event) <= set(EVENT_FIELDS)
    assert event["thread_ts"] == "1700000000.000100"
    assert event["channel"] == CHANNEL and event["team"] == "T0TEST"
    assert "blocks" not in event and "client_msg_id" not in event
    assert SECRET_B64 not in event["text"] and "hunter2" not in event["text"]
    assert "[redacted]" in event["text"]
    assert "530 5.7.0 Must issue a STARTTLS command first" in event["text"]


@pytest.mark.parametrize(
    "extra,channel,event_type,expected",
    [
        ({}, CHANNEL, "message", True),
        ({"subtype": "thread_broadcast"}, CHANNEL, "message", True),
        ({"bot_id": "B0OTHER"}, CHANNEL, "message", False),
        ({"bot_profile": {"id": "B0OTHER"}}, CHANNEL, "message", False),
        ({"subtype": "message_changed"}, CHANNEL, "message", False),
        ({"subtype": "message_deleted"}, CHANNEL, "message", False),
        ({}, OTHER_CHANNEL, "message", False),
        ({"text": f"<@{BOT_USER}> {STARTTLS_PASTE}"}, OTHER_CHANNEL, "message", True),
        ({}, OTHER_CHANNEL, "app_mention", True),
    ],
    ids=[
        "support-channel",
        "thread-broadcast",
        "bot-id",
        "bot-profile",
        "edit",
        "deletion",
        "other-channel",
        "other-channel-mention-text",
        "other-channel-app-mention",
    ],
)
def test_slim_event_decides_what_to_queue(
    bot: Bot, extra: dict[str, Any], channel: str, event_type: str, expected: bool
) -> None:
    """
    Bots, edits, deletions and plain messages outside the support channels are not
    queued; people's messages there, and mentions anywhere, are.
    """
    fields = {k: v for k, v in extra.items() if k != "text"}
    text = extra.get("text", STARTTLS_PASTE)
    body = message_event(text, channel=channel, event_type=event_type, **fields)
    assert (slim_event(body, bot.settings) is not None) is expected


# --- Intake.offer through the web app -----------------------------------------------


async def test_support_paste_is_queued_once_redacted_and_not_answered_in_front(
    http: HttpClient, bot: Bot
) -> None:
    """
    A signed support-channel paste gets 200 and lands in the stream exactly once,
    redacted and without blocks; nothing is posted to Slack (no worker ran).
    """
    payload = message_event(SECRET_PASTE, blocks=rich_text(SECRET_PASTE))
    body, headers = event_request(payload)
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    entries = await queued(bot)
    assert len(entries) == 1
    _, stored = entries[0]
    assert stored["event_id"] == payload["event_id"]
    assert stored["event"]["ts"] == payload["event"]["ts"]
    assert "blocks" not in stored["event"]
    assert stored["authorizations"] == [{"team_id": stored["team_id"]}]
    text = stored["event"]["text"]
    assert SECRET_B64 not in text and "hunter2" not in text
    assert text.count("[redacted]") >= 2
    raw = await stream_entries(bot.store.client, stream_key(bot.settings.redis_prefix))
    assert SECRET_B64 not in json.dumps(raw) and "hunter2" not in json.dumps(raw)
    await drain_tasks()
    await bot.fake.settle()
    assert bot.fake.of("chat.postMessage") == []


async def test_offer_queues_a_paste_and_acks_200(bot: Bot) -> None:
    """
    offer() itself answers 200 for a queued message (it does not hand it to Bolt).
    """
    intake = intake_for(bot)
    body, headers = event_request(message_event(STARTTLS_PASTE))
    response = await intake.offer(inbound(body, headers))
    assert response is not None and response.status == 200
    assert len(await queued(bot)) == 1
    assert events_counted(bot.metrics, "event:message") == 0


@pytest.mark.parametrize(
    "extra,channel",
    [
        ({"bot_id": "B0OTHER"}, CHANNEL),
        ({"subtype": "message_changed"}, CHANNEL),
        ({}, OTHER_CHANNEL),
    ],
    ids=["bot-message", "edit", "other-channel"],
)
async def test_ignored_messages_are_acked_without_queuing(
    http: HttpClient, bot: Bot, extra: dict[str, Any], channel: str
) -> None:
    """
    Bot messages, edits and plain messages outside the support channels get 200 from
    the front itself (not from Bolt) and queue nothing.
    """
    body, headers = event_request(
        message_event(STARTTLS_PASTE, channel=channel, **extra)
    )
    taken = await intake_for(bot).offer(inbound(body, headers))
    assert taken is not None and taken.status == 200
    assert events_counted(bot.metrics, "event:message") == 1
    body, headers = event_request(
        message_event(STARTTLS_PASTE, channel=channel, **extra)
    )
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    assert await queued(bot) == []
    await bot.fake.settle(0.1)
    assert bot.fake.of("chat.postMessage") == []


async def test_app_mention_in_another_channel_is_queued(
    http: HttpClient, bot: Bot
) -> None:
    """
    An app_mention outside the support channels is queued (mentions are answered
    anywhere).
    """
    payload = message_event(
        f"<@{BOT_USER}> {STARTTLS_PASTE}",
        channel=OTHER_CHANNEL,
        event_type="app_mention",
    )
    body, headers = event_request(payload)
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    entries = await queued(bot)
    assert len(entries) == 1
    event = entries[0][1]["event"]
    assert event["type"] == "app_mention" and event["channel"] == OTHER_CHANNEL


@pytest.mark.parametrize("kind", ["wrong-signature", "stale-timestamp", "unsigned"])
async def test_badly_signed_messages_get_401_and_queue_nothing(
    http: HttpClient, bot: Bot, kind: str
) -> None:
    """
    A message with a wrong signature, a stale timestamp or no signature is refused
    401 by the front and queues nothing (also when it would be ignored anyway).
    """
    for extra in ({}, {"bot_id": "B0OTHER"}):
        body = json.dumps(message_event(SECRET_PASTE, **extra))
        headers = {"Content-Type": "application/json"}
        if kind == "wrong-signature":
            headers.update(sign(body, secret="not-the-secret"))
        elif kind == "stale-timestamp":
            headers.update(sign(body, timestamp=int(time.time()) - 3600))
        response = await http.post("/slack/events", data=body, headers=headers)
        assert response.status == 401
    assert await queued(bot) == []
    await bot.fake.settle(0.1)
    assert bot.fake.of("chat.postMessage") == []


def url_verification() -> tuple[str, dict[str, str]]:
    """
    Slack's url_verification handshake, signed.
    """
    body = json.dumps({"type": "url_verification", "token": "t", "challenge": "c-42"})
    return body, {"Content-Type": "application/json", **sign(body)}


def reaction_added() -> tuple[str, dict[str, str]]:
    """
    A reaction_added event_callback, signed.
    """
    payload = message_event("")
    payload["event"] = {
        "type": "reaction_added",
        "user": ADMIN,
        "reaction": "thumbsup",
        "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000100"},
        "event_ts": f"{time.time():.6f}",
    }
    return event_request(payload)


def slash_command() -> tuple[str, dict[str, str]]:
    """
    ``/smtpcheck help`` from an admin.
    """
    return command_request("help", response_url="http://127.0.0.1:9/none")


def block_action() -> tuple[str, dict[str, str]]:
    """
    A "Did this help? yes" click.
    """
    return action_request(
        blocks.FEEDBACK_YES, blocks.encode_value(t="1700000000.000100")
    )


@pytest.mark.parametrize(
    "build,kind",
    [
        (url_verification, None),
        (reaction_added, "event:reaction_added"),
        (slash_command, "command"),
        (block_action, "block_actions"),
    ],
    ids=["url-verification", "reaction-added", "slash-command", "interactivity"],
)
async def test_other_requests_go_to_bolt(
    http: HttpClient,
    bot: Bot,
    build: Callable[[], tuple[str, dict[str, str]]],
    kind: str | None,
) -> None:
    """
    url_verification, other event types, slash commands and interactivity are not
    taken by the intake (offer() returns None) and Bolt answers them as before.
    """
    body, headers = build()
    assert await intake_for(bot).offer(inbound(body, headers)) is None
    response = await http.post("/slack/events", data=body, headers=headers)
    assert response.status == 200
    text = await response.text()
    if build is url_verification:
        assert json.loads(text)["challenge"] == "c-42"
    if build is slash_command:
        assert "/smtpcheck" in text
    if kind is not None:
        assert events_counted(bot.metrics, kind) == 1
    await drain_tasks()
    assert await queued(bot) == []


def escalation_reaction(
    name: str = "sos", *, channel: str = CHANNEL, item_type: str = "message"
) -> tuple[str, dict[str, str]]:
    """
    A signed reaction_added on a thread's first message, as Slack sends it
    (api.slack.com/events/reaction_added), with an authorizations block.
    """
    payload = message_event("")
    payload["authorizations"] = [
        {"team_id": "T0TEST", "user_id": BOT_USER, "is_bot": True, "extra": "x"}
    ]
    payload["event"] = {
        "type": "reaction_added",
        "user": ADMIN,
        "reaction": name,
        "item": {"type": item_type, "channel": channel, "ts": "1700000000.000100"},
        "item_user": "U0ALICE",
        "event_ts": "1700000099.000200",
        "unknown_field": "dropped",
    }
    return event_request(payload)


async def test_escalation_reaction_is_queued_before_the_ack(bot: Bot) -> None:
    """
    The escalation reaction is in the intake stream when offer() answers 200 (a front
    dying right after the ack loses no request for a human), slimmed to the fields
    the bot reads, and Bolt in the front does not handle it.
    """
    body, headers = escalation_reaction()
    response = await intake_for(bot).offer(inbound(body, headers))
    assert response is not None and response.status == 200
    ((_, entry),) = await queued(bot)
    assert entry["event"] == {
        "type": "reaction_added",
        "user": ADMIN,
        "reaction": "sos",
        "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000100"},
        "item_user": "U0ALICE",
        "event_ts": "1700000099.000200",
    }
    assert entry["authorizations"] == [{"team_id": "T0TEST"}]
    assert events_counted(bot.metrics, "event:reaction_added") == 0


@pytest.mark.parametrize(
    "name,channel,item_type",
    [
        ("thumbsup", CHANNEL, "message"),
        ("sos", OTHER_CHANNEL, "message"),
        ("sos", CHANNEL, "file"),
    ],
    ids=["other-reaction", "other-channel", "not-a-message"],
)
async def test_other_reactions_are_not_queued(
    bot: Bot, name: str, channel: str, item_type: str
) -> None:
    """
    Other reactions, and the escalation reaction outside the support channels or on
    something else than a message, go to Bolt in the front (which ignores them).
    """
    body, headers = escalation_reaction(name, channel=channel, item_type=item_type)
    assert await intake_for(bot).offer(inbound(body, headers)) is None
    assert await queued(bot) == []


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"type": "event_callback", "event": "nope"}),
        json.dumps({**message_event(STARTTLS_PASTE), "type": "app_rate_limited"}),
        urllib.parse.urlencode({"payload": json.dumps({"type": "block_actions"})}),
    ],
    ids=[
        "event-not-object",
        "not-event-callback",
        "form",
    ],
)
async def test_offer_returns_none_for_anything_but_event_messages(
    bot: Bot, raw: str
) -> None:
    """
    Bodies that are not JSON event_callback messages are handed to Bolt untouched.
    """
    kind = "json" if raw.startswith("{") else "x-www-form-urlencoded"
    headers = {"Content-Type": f"application/{kind}", **sign(raw)}
    assert await intake_for(bot).offer(inbound(raw, headers)) is None
    assert await queued(bot) == []


async def test_redis_down_answers_503_so_slack_retries(bot: Bot) -> None:
    """
    When the intake's Redis cannot take a message it is not acked: 503 (each time,
    quickly: the writer recovers from the failure), counted, and nothing is posted
    without state; Slack delivers it again later.
    """
    dead = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0",
        prefix=bot.settings.redis_prefix,
        timeout=0.2,
    )
    try:
        intake = intake_for(bot, dead.client)
        for _ in range(2):
            body, headers = event_request(message_event(STARTTLS_PASTE))
            started = time.monotonic()
            response = await intake.offer(inbound(body, headers))
            assert response is not None and response.status == 503
            assert time.monotonic() - started < 2
        assert bot.metrics.redis_errors._value.get() == 2
        async with web_client(bot, intake) as http:
            body, headers = event_request(message_event(STARTTLS_PASTE))
            response = await http.post("/slack/events", data=body, headers=headers)
            assert response.status == 503
        await bot.fake.settle()
        assert bot.fake.of("chat.postMessage") == []
    finally:
        await dead.close()


async def test_a_full_backlog_answers_503_and_drops_nothing_acked(bot: Bot) -> None:
    """
    Once the stream holds ``maxlen`` messages the next is not acked (503, counted)
    and nothing queued before it is dropped; its redelivery is taken (not a replay)
    once the workers have made room.
    """
    intake = Intake(bot.settings, bot.store.client, metrics=bot.metrics, maxlen=3)
    requests = [
        event_request(message_event(STARTTLS_PASTE, ts=f"1700000100.00000{n}"))
        for n in range(4)
    ]
    statuses = []
    for body, headers in requests:
        response = await intake.offer(inbound(body, headers))
        assert response is not None
        statuses.append(response.status)
    assert statuses == [200, 200, 200, 503]
    entries = await queued(bot)
    assert [e["event"]["ts"] for _, e in entries] == [
        f"1700000100.00000{n}" for n in range(3)
    ]
    refused = bot.metrics.requests_refused.labels("backlog_full")._value.get()
    assert refused == 1
    stream = stream_key(bot.settings.redis_prefix)
    await bot.store.client.xdel(stream, entries[0][0])
    body, headers = requests[3]
    response = await intake.offer(inbound(body, headers))
    assert response is not None and response.status == 200
    assert len(await queued(bot)) == 3


async def test_a_slack_retry_is_queued_marked_as_one(bot: Bot) -> None:
    """
    A delivery carrying X-Slack-Retry-Num is queued with its retry number, so the
    worker looks in the thread before answering it.
    """
    body, headers = event_request(message_event(STARTTLS_PASTE))
    response = await intake_for(bot).offer(inbound(body, headers), retry=2)
    assert response is not None and response.status == 200
    [(_, entry)] = await queued(bot)
    assert entry["_delivery"] == {"retry": 2}


# --- StreamWriter -------------------------------------------------------------------


async def test_concurrent_adds_share_round_trips(bot: Bot) -> None:
    """
    50 concurrent add() calls get 50 distinct ids, in stream order, in far fewer than
    50 round trips.
    """
    metrics = Metrics()
    stream = stream_key(bot.settings.redis_prefix)
    writer = StreamWriter(bot.store.client, stream, metrics=metrics)
    payloads = [f"payload-{n}" for n in range(50)]
    replay = f"{bot.settings.redis_prefix}replay"
    ids = await asyncio.gather(*(writer.add(p, f"{replay}:{p}") for p in payloads))
    assert len(set(ids)) == 50
    assert metrics.redis_round_trips._value.get() <= 2
    entries = await stream_entries(bot.store.client, stream)
    assert [entry_id for entry_id, _ in entries] == ids
    assert [fields["body"] for _, fields in entries] == payloads


async def test_adds_during_a_flight_go_in_the_next_pipeline(tmp_path: Path) -> None:
    """
    Adds made while a pipeline is in flight (Redis paused) wait for it and then go
    together in one more pipeline: two round trips for 1 + 20 entries, in order.
    """
    with redis_server(tmp_path) as (url, _):
        client = aioredis.Redis.from_url(url, decode_responses=True)
        pauser = aioredis.Redis.from_url(url)
        try:
            metrics = Metrics()
            writer = StreamWriter(client, "s", metrics=metrics)
            await client.ping()  # connected before the pause
            await pauser.client_pause(500, all=False)
            first = asyncio.create_task(writer.add("first", "r:first"))
            await asyncio.sleep(0.05)
            assert not first.done()
            assert metrics.redis_round_trips._value.get() == 1
            rest = [
                asyncio.create_task(writer.add(f"next-{n}", f"r:{n}"))
                for n in range(20)
            ]
            ids = [await first, *await asyncio.gather(*rest)]
            assert metrics.redis_round_trips._value.get() == 2
            assert len(set(ids)) == 21
            entries = await stream_entries(client, "s")
            assert [i for i, _ in entries] == ids
            assert [f["body"] for _, f in entries] == ["first"] + [
                f"next-{n}" for n in range(20)
            ]
        finally:
            await client.aclose()
            await pauser.aclose()


async def test_metrics_page_shows_the_queue_backlog(http: HttpClient, bot: Bot) -> None:
    """
    GET /metrics on the front reads the backlog from Redis at each scrape: two queued
    pastes no worker has taken show as a lag of 2.
    """
    for ts in ("1700000980.000100", "1700000981.000100"):
        body, headers = event_request(message_event(STARTTLS_PASTE, ts=ts))
        response = await http.post("/slack/events", data=body, headers=headers)
        assert response.status == 200
    page = await http.get("/metrics")
    text = await page.text()
    assert "smtpbot_intake_lag 2.0" in text
    assert "smtpbot_intake_pending 0.0" in text


async def test_stuck_backlog_is_one_that_waits_without_progress(bot: Bot) -> None:
    """
    The queue is stuck only when its oldest message has waited past the bound and no
    message was finished within it: an old backlog that workers are draining is not
    stuck, an empty or young one never is, and the cause names the wait and setting.
    """
    intake = intake_for(bot)
    client = bot.store.client
    stream = stream_key(bot.settings.redis_prefix)
    finished = f"{stream}:finished"
    assert await intake.stuck(120) is None
    now = int((await client.time())[0])
    await client.xadd(stream, {"body": "{}"}, id=f"{(now - 300) * 1000}-0")
    assert "has waited 3" in (await intake.stuck(120) or "")
    assert "no worker has finished one" in (await intake.stuck(120) or "")
    await client.set(finished, now - 10)
    assert await intake.stuck(120) is None  # draining: finished 10 s ago
    await client.set(finished, now - 200)
    problem = await intake.stuck(120)
    assert problem is not None and "INTAKE_STUCK_SECONDS=120" in problem
    assert "none was finished for 20" in problem
    assert await intake.stuck(600) is None  # under the bound
    await client.delete(stream, finished)
    await client.xadd(stream, {"body": "{}"})
    assert await intake.stuck(1) is None  # young
