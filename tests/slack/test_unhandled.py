"""
Requests the bot has no listener for, over both transports: every signed one is acked
(HTTP 200, or the Socket Mode envelope ack) so that Slack neither retries it nor
disables the event subscription, logged once at DEBUG without its text, and counted;
an unsigned or badly signed one is still refused.

Payload shapes: api.slack.com/events/reaction_removed, /events/channel_rename,
/reference/interaction-payloads/block-actions-payload, /shortcuts-payload,
/views-payload (``view_submission``), /block-suggestion-payload, and
/interactivity/slash-commands.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.slack import CHANNEL, TEAM, USER, FakeSlack, message_event, sign
from tests.support.transport import TRANSPORTS, Transport, get, running

# Slack's limit for acknowledging a request.
SLACK_ACK_SECONDS = 3.0
# Text inside every payload below that must never reach a log line.
SECRET_TEXT = "never-logged-4b1d"
TRIGGER = "13345224609.738474920.8088930838d88f008e0"
USER_OBJECT = {"id": USER, "username": "alice", "name": "alice", "team_id": TEAM}
TEAM_OBJECT = {"id": TEAM, "domain": "test"}


def event(inner: dict[str, Any]) -> dict[str, Any]:
    """
    An Events API ``event_callback`` around an event the app is not subscribed to.
    """
    body = message_event("")
    body["event"] = inner
    return body


def reaction_removed() -> dict[str, Any]:
    """
    ``reaction_removed`` on a message.
    """
    return event(
        {
            "type": "reaction_removed",
            "user": USER,
            "reaction": SECRET_TEXT,
            "item_user": "U0G9QF9C6",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1360782400.498405"},
            "event_ts": f"{time.time():.6f}",
        }
    )


def channel_rename() -> dict[str, Any]:
    """
    ``channel_rename``.
    """
    return event(
        {
            "type": "channel_rename",
            "channel": {"id": CHANNEL, "name": SECRET_TEXT, "created": 1360782804},
            "event_ts": f"{time.time():.6f}",
        }
    )


def unknown_button() -> dict[str, Any]:
    """
    ``block_actions`` for a button whose action_id the bot never sent.
    """
    return {
        "type": "block_actions",
        "team": TEAM_OBJECT,
        "user": USER_OBJECT,
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": TRIGGER,
        "container": {
            "type": "message",
            "message_ts": "1548261231.000200",
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "channel": {"id": CHANNEL, "name": "support"},
        "message": {"type": "message", "ts": "1548261231.000200", "text": SECRET_TEXT},
        "response_url": "",
        "actions": [
            {
                "type": "button",
                "action_id": "some_old_button",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": SECRET_TEXT},
                "value": SECRET_TEXT,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def global_shortcut() -> dict[str, Any]:
    """
    A global ``shortcut`` the app does not define.
    """
    return {
        "type": "shortcut",
        "token": "legacy",
        "action_ts": f"{time.time():.6f}",
        "team": TEAM_OBJECT,
        "user": USER_OBJECT,
        "callback_id": f"shortcut_{SECRET_TEXT}",
        "trigger_id": TRIGGER,
    }


def view_submission() -> dict[str, Any]:
    """
    ``view_submission`` of a modal the bot does not own.
    """
    return {
        "type": "view_submission",
        "team": TEAM_OBJECT,
        "user": USER_OBJECT,
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": TRIGGER,
        "view": {
            "id": "VNHU13V36",
            "type": "modal",
            "team_id": TEAM,
            "callback_id": "someone_elses_modal",
            "private_metadata": SECRET_TEXT,
            "title": {"type": "plain_text", "text": "Other"},
            "blocks": [],
            "state": {
                "values": {"b": {"a": {"type": "plain_text_input", "value": ""}}}
            },
            "hash": "156663117.cd33ad1f",
            "app_id": "A0APP",
            "bot_id": "BBOT",
        },
        "response_urls": [],
    }


def options_request() -> dict[str, Any]:
    """
    ``block_suggestion``: an external select asking for its options.
    """
    return {
        "type": "block_suggestion",
        "user": USER_OBJECT,
        "container": {"type": "view", "view_id": "VNHU13V36"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "action_id": "external_menu",
        "block_id": "b2",
        "value": SECRET_TEXT,
        "team": TEAM_OBJECT,
    }


# (what Slack sends, how it is delivered, the kind it is counted as)
UNHANDLED = [
    pytest.param(
        reaction_removed, "event", "event:reaction_removed", id="reaction_removed"
    ),
    pytest.param(channel_rename, "event", "event:channel_rename", id="channel_rename"),
    pytest.param(unknown_button, "interact", "block_actions", id="block_actions"),
    pytest.param(global_shortcut, "interact", "shortcut", id="shortcut"),
    pytest.param(view_submission, "interact", "view_submission", id="view_submission"),
    pytest.param(options_request, "interact", "block_suggestion", id="options"),
]


@pytest.fixture(params=TRANSPORTS)
async def transport(
    request: pytest.FixtureRequest, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Transport]:
    """
    The whole bot behind one of Slack's transports.
    """
    async with running(request.param, fake_slack, redis_url, prefix) as bot:
        yield bot


async def unhandled_count(transport: Transport, kind: str) -> float:
    """
    ``smtpbot_unhandled_requests_total`` for one kind of request (0 when absent).
    """
    _, text = await get(transport, "/metrics")
    sample = f'smtpbot_unhandled_requests_total{{kind="{kind}"}}'
    found = re.search(rf"^{re.escape(sample)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def our_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """
    The bot's own log records about unhandled requests.
    """
    return [r for r in caplog.records if r.getMessage().startswith("unhandled_request")]


@pytest.mark.parametrize(("payload", "via", "kind"), UNHANDLED)
async def test_a_request_without_a_listener_is_acked_logged_once_and_counted(
    transport: Transport,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    payload: Any,
    via: str,
    kind: str,
) -> None:
    """
    A signed request nothing listens for is acked in time, logged once at DEBUG
    without its text, counted, and causes no Web API call.
    """
    caplog.set_level(logging.DEBUG, logger="bot")
    before = await unhandled_count(transport, kind)
    body = payload()
    send = transport.send if via == "event" else transport.interact
    ack = await send(body)
    assert ack.ok, ack.detail
    assert ack.seconds < SLACK_ACK_SECONDS
    if transport.kind == "http":
        assert ack.detail == 200
    else:
        # An empty ack: no text to show, no options, the modal closes.
        assert "payload" not in ack.detail or not ack.detail["payload"]
    assert await unhandled_count(transport, kind) == before + 1
    (line,) = our_lines(caplog)
    assert line.levelno == logging.DEBUG
    assert kind in line.getMessage()
    assert not [r for r in caplog.records if SECRET_TEXT in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not fake_slack.of("chat.postMessage")
    assert not fake_slack.of("chat.postEphemeral")


async def test_an_unknown_slash_command_is_acked_and_counted(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    """
    A slash command the bot does not implement is acked (nothing shown) and counted.
    """
    caplog.set_level(logging.DEBUG, logger="bot")
    fields = {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": CHANNEL,
        "channel_name": "support",
        "user_id": USER,
        "user_name": "alice",
        "command": "/weather",
        "text": SECRET_TEXT,
        "api_app_id": "A0APP",
        "response_url": "",
        "trigger_id": TRIGGER,
    }
    ack = await transport.command(fields)
    assert ack.ok
    assert SECRET_TEXT not in str(ack.detail)
    assert await unhandled_count(transport, "command") == 1
    (line,) = our_lines(caplog)
    assert line.levelno == logging.DEBUG
    assert not [r for r in caplog.records if SECRET_TEXT in r.getMessage()]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="unsigned"),
        pytest.param(
            {
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": "v0=" + "0" * 64,
            },
            id="bad-signature",
        ),
        pytest.param({"stale": "yes"}, id="stale-timestamp"),
    ],
)
@pytest.mark.parametrize(
    ("payload", "form"), [(reaction_removed, False), (unknown_button, True)]
)
async def test_an_unverified_request_without_a_listener_is_still_refused(
    fake_slack: FakeSlack,
    redis_url: str,
    prefix: str,
    headers: dict[str, str],
    payload: Any,
    form: bool,
) -> None:
    """
    Acking what nothing listens for does not extend to requests Slack did not sign:
    they get 401 and are not counted.
    """
    raw = json.dumps(payload())
    content_type = "application/json"
    if form:
        raw = urllib.parse.urlencode({"payload": raw})
        content_type = "application/x-www-form-urlencoded"
    if "stale" in headers:
        # Signed correctly, but ten minutes ago (Slack's limit is five).
        headers = sign(raw, timestamp=int(time.time()) - 600)
    async with running("http", fake_slack, redis_url, prefix) as bot:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{bot.url}/slack/events",
                data=raw,
                headers={"Content-Type": content_type, **headers},
            ) as response,
        ):
            assert response.status == 401
        kind = "event:reaction_removed" if not form else "block_actions"
        assert await unhandled_count(bot, kind) == 0
