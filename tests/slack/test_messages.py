"""
Support-channel messages through the real Bolt app: signed requests in, Web API calls
out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack import blocks
from bot.state import ThreadKey
from knowledge.matcher import Matcher
from tests.support.bot import Bot, drain_tasks, running_bot
from tests.support.kb import AMBIGUOUS_PASTE, CHATTER, STARTTLS_PASTE
from tests.support.slack import (
    BOT_ID,
    BOT_USER,
    CHANNEL,
    OTHER_CHANNEL,
    TEAM,
    USER,
    FakeSlack,
    action_request,
    event_request,
    message_event,
)


def texts(blocks_json: list[dict[str, Any]]) -> str:
    """
    All visible text of a message's blocks, joined.
    """
    return json.dumps(blocks_json)


def buttons(blocks_json: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """
    The message's buttons by action_id.
    """
    return {
        e["action_id"]: e
        for b in blocks_json
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def send(bot: Bot, payload: dict[str, Any], **headers: str) -> int:
    """
    Dispatch one signed event; returns the HTTP status of the ack.
    """
    body, signed = event_request(payload)
    response = await bot.dispatch(body, {**signed, **headers})
    return response.status


async def test_confident_paste_gets_one_threaded_answer(bot: Bot) -> None:
    """
    A matching paste is answered once, in its thread, with title, steps, source,
    buttons.
    """
    event = message_event(STARTTLS_PASTE, ts="1700000000.000100")
    assert await send(bot, event) == 200
    (call,) = await bot.fake.wait_for("chat.postMessage")
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert call.args["channel"] == CHANNEL
    assert call.args["thread_ts"] == "1700000000.000100"
    shown = texts(call.args["blocks"])
    assert "530 5.7.0 Must issue a STARTTLS command first" in shown
    assert "1. Turn on STARTTLS in the mail client." in shown
    assert "2. Use port 587 with STARTTLS." in shown
    assert "&lt;and&gt; logins &amp; passwords" in shown
    assert "https://www.rfc-editor.org/rfc/rfc3207" in shown
    found = buttons(call.args["blocks"])
    assert (
        found[blocks.PROBE]["text"]["text"]
        == "Run STARTTLS check on smtp.example.com:587"
    )
    assert set(found) == {
        blocks.PROBE,
        blocks.FEEDBACK_YES,
        blocks.FEEDBACK_NO,
        blocks.HUMAN,
    }
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"


async def test_slack_retry_of_an_event_is_not_answered_twice(bot: Bot) -> None:
    """
    The same event delivered again with X-Slack-Retry-Num gets no second reply.
    """
    event = message_event(STARTTLS_PASTE)
    assert await send(bot, event) == 200
    await bot.fake.wait_for("chat.postMessage")
    assert (
        await send(
            bot,
            event,
            **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
        )
        == 200
    )
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert bot.metrics.deduplicated._value.get() >= 1


async def test_message_and_mention_of_one_message_get_one_reply(bot: Bot) -> None:
    """
    Slack sends a mention as message and app_mention events; only one is answered.
    """
    ts = "1700000001.000100"
    text = f"<@{BOT_USER}> {STARTTLS_PASTE}"
    await send(bot, message_event(text, ts=ts))
    await send(bot, message_event(text, ts=ts, event_type="app_mention"))
    await bot.fake.wait_for("chat.postMessage")
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1


async def test_replicas_sharing_redis_answer_once(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> None:
    """
    Two app instances on one Redis receiving the same event post one reply.
    """
    event = message_event(STARTTLS_PASTE)
    async with (
        running_bot(fake_slack, redis_url, prefix, matcher) as one,
        running_bot(fake_slack, redis_url, prefix, matcher) as two,
    ):
        await send(one, event)
        await send(two, event)
        await fake_slack.wait_for("chat.postMessage")
        await fake_slack.settle()
    assert len(fake_slack.of("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"bot_id": BOT_ID},
        {"user": BOT_USER},
        {"subtype": "bot_message", "bot_id": "B0OTHER"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"user": None},
    ],
    ids=["bot-id", "own-user", "bot-message", "edited", "deleted", "join", "no-user"],
)
async def test_bots_own_messages_and_edits_are_ignored(
    bot: Bot, extra: dict[str, Any]
) -> None:
    """
    Bots, the bot itself, edits, deletions and joins never get an answer.
    """
    user = extra.pop("user", USER)
    assert await send(bot, message_event(STARTTLS_PASTE, user=user, **extra)) == 200
    await bot.fake.settle()
    assert bot.fake.of("chat.postMessage") == []


async def test_other_channels_are_ignored_but_mentions_answered(bot: Bot) -> None:
    """
    Outside SUPPORT_CHANNELS only an @mention gets the answer.
    """
    await send(bot, message_event(STARTTLS_PASTE, channel=OTHER_CHANNEL))
    await bot.fake.settle()
    assert bot.fake.of("chat.postMessage") == []
    await send(
        bot,
        message_event(
            f"<@{BOT_USER}> {STARTTLS_PASTE}",
            channel=OTHER_CHANNEL,
            event_type="app_mention",
        ),
    )
    (call,) = await bot.fake.wait_for("chat.postMessage")
    assert call.args["channel"] == OTHER_CHANNEL


async def test_chatter_gets_no_reply(bot: Bot) -> None:
    """
    A message with nothing error-like in it is left alone.
    """
    await send(bot, message_event(CHATTER))
    await bot.fake.settle()
    assert bot.fake.of("chat.postMessage") == []


async def test_ambiguous_paste_offers_choices_and_a_choice_gets_the_answer(
    bot: Bot,
) -> None:
    """
    Low confidence asks "is it one of these?"; clicking one posts that entry's answer.
    """
    await send(bot, message_event(AMBIGUOUS_PASTE, ts="1700000002.000100"))
    (call,) = await bot.fake.wait_for("chat.postMessage")
    assert "Is it one of these?" in texts(call.args["blocks"])
    choices = {
        k: v
        for k, v in buttons(call.args["blocks"]).items()
        if k.startswith(blocks.CHOOSE_PREFIX)
    }
    assert len(choices) == 2
    assert blocks.HUMAN in buttons(call.args["blocks"])
    picked = next(b for b in choices.values() if "refused" in b["text"]["text"])
    body, headers = action_request(picked["action_id"], picked["value"])
    assert (await bot.dispatch(body, headers)).status == 200
    calls = await bot.fake.wait_for("chat.postMessage", 2)
    answer = calls[1].args
    assert answer["thread_ts"] == "1700000002.000100"
    assert "Check the port number." in texts(answer["blocks"])


async def test_follow_up_naming_a_server_offers_the_check(bot: Bot) -> None:
    """
    A server named later in the thread is offered for the STARTTLS check.
    """
    root = "1700000003.000100"
    await send(
        bot, message_event("530 5.7.0 Must issue a STARTTLS command first", ts=root)
    )
    (first,) = await bot.fake.wait_for("chat.postMessage")
    assert blocks.PROBE not in buttons(first.args["blocks"])
    await drain_tasks()  # the turn is recorded once its answer is out
    await send(
        bot,
        message_event(
            "the server is smtp.other.org port 587",
            ts="1700000003.000200",
            thread_ts=root,
        ),
    )
    calls = await bot.fake.wait_for("chat.postMessage", 2)
    offer = buttons(calls[1].args["blocks"])[blocks.PROBE]
    assert offer["text"]["text"] == "Run STARTTLS check on smtp.other.org:587"
    assert calls[1].args["thread_ts"] == root
    await send(bot, message_event("any news?", ts="1700000003.000300", thread_ts=root))
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 2


async def test_feedback_is_stored_and_acknowledged_privately(bot: Bot) -> None:
    """
    "Did this help?" clicks are recorded in the thread state and thanked ephemerally.
    """
    root = "1700000004.000100"
    await send(bot, message_event(STARTTLS_PASTE, ts=root))
    (call,) = await bot.fake.wait_for("chat.postMessage")
    no = buttons(call.args["blocks"])[blocks.FEEDBACK_NO]
    body, headers = action_request(no["action_id"], no["value"])
    assert (await bot.dispatch(body, headers)).status == 200
    (ephemeral,) = await bot.fake.wait_for("chat.postEphemeral")
    assert ephemeral.args["user"] == USER
    assert "Talk to a human" in ephemeral.args["text"]
    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
    (feedback,) = conversation.feedback
    assert (feedback.user_id, feedback.helpful) == (USER, False)
    assert feedback.entry_id == "starttls-530-must-issue"


async def test_talk_to_a_human_is_recorded_once_and_the_bot_goes_quiet(
    bot: Bot,
) -> None:
    """
    The request is told in the thread once; later messages there get no bot answer.
    """
    root = "1700000005.000100"
    await send(bot, message_event(STARTTLS_PASTE, ts=root))
    (call,) = await bot.fake.wait_for("chat.postMessage")
    human = buttons(call.args["blocks"])[blocks.HUMAN]
    for _ in range(2):
        body, headers = action_request(human["action_id"], human["value"])
        assert (await bot.dispatch(body, headers)).status == 200
    calls = await bot.fake.wait_for("chat.postMessage", 2)
    assert "asked for a human" in calls[1].args["text"]
    (again,) = await bot.fake.wait_for("chat.postEphemeral")
    assert "already" in again.args["text"]
    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
    assert conversation.escalated and conversation.escalated_by == USER
    await send(
        bot,
        message_event(
            "535-5.7.8 Username and Password not accepted",
            ts="1700000005.000200",
            thread_ts=root,
        ),
    )
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 2
    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
    assert len(conversation.messages) == 2


async def test_secrets_in_a_paste_are_stored_redacted(bot: Bot) -> None:
    """
    AUTH PLAIN base64 and passwords never reach Redis or Slack in clear.
    """
    secret_b64 = "AGpvaG5AZXhhbXBsZS5jb20Ac2VjcmV0cGFzcw=="
    paste = (
        f"C: AUTH PLAIN {secret_b64}\n"
        "S: 530 5.7.0 Must issue a STARTTLS command first\n"
        "smtp_password=hunter22 host smtp.example.com:587"
    )
    root = "1700000006.000100"
    await send(bot, message_event(paste, ts=root))
    await bot.fake.wait_for("chat.postMessage")
    await drain_tasks()  # recorded once the answer is out
    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
    (message,) = conversation.messages
    assert secret_b64 not in message.text and "hunter22" not in message.text
    assert "AUTH PLAIN [redacted]" in message.text
    assert "smtp_password=[redacted]" in message.text
    assert all(secret_b64 not in json.dumps(c.args) for c in bot.fake.calls)


async def test_rate_limited_web_api_call_is_retried(bot: Bot) -> None:
    """
    A 429 with Retry-After from chat.postMessage is retried and the reply still lands.
    """
    bot.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    await send(bot, message_event(STARTTLS_PASTE))
    calls = await bot.fake.wait_for("chat.postMessage", 2)
    assert calls[0].args == calls[1].args
    assert bot.metrics.slack_errors.labels("chat.postMessage")._value.get() == 0
    assert bot.metrics.slack_retries.labels("rate_limited")._value.get() == 1


async def test_log_lines_of_a_request_carry_its_event_id(bot: Bot) -> None:
    """
    A warning logged while handling an event names that event's id (JSON logs).
    """
    import io
    import logging

    from bot.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bot.slack.handlers")
    logger.addHandler(handler)
    try:
        bot.fake.refuse_next("chat.postMessage")
        await send(bot, message_event(STARTTLS_PASTE, event_id="Ev0LOGGED"))
        await bot.fake.wait_for("chat.postMessage")
        await drain_tasks()
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [line for line in lines if line.get("event") == "slack_call_failed"]
    assert failed and all(line["request_id"] == "Ev0LOGGED" for line in failed)
