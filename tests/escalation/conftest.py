"""
Fixtures for the escalation tests: the real app with its escalation desk on the fake
Web API and a real Redis, a settable clock, and helpers that drive a thread.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.escalation.learning import Learning
from bot.escalation.store import EscalationStore
from bot.metrics import Metrics
from bot.slack import blocks
from bot.slack.escalation.desk import Desk
from bot.state.redis_store import RedisStore
from knowledge.matcher import Matcher
from tests.support.bot import close_app, drain_tasks, make_app, make_settings
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import (
    USER,
    Call,
    FakeSlack,
    action_request,
    event_request,
    message_event,
)

ESC_CHANNEL = "C0ESCALATE"
MENTION = "<!subteam^S0SUPPORT>"
HELPER = "U0BOB"
OTHER_HELPER = "U0CAROL"
# The test knowledge base's answer to STARTTLS_PASTE.
ENTRY = "starttls-530-must-issue"
# Now, so that weekly counters land in the week `smtpbot report` reads.
T0 = float(int(time.time()))


class Clock:
    """
    A settable clock for the desk (SLA timers, ages).
    """

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class DeskBot:
    """
    One replica under test: the app, its desk, and what they talk to.
    """

    app: AsyncApp
    fake: FakeSlack
    store: RedisStore
    desk: Desk
    settings: Settings
    clock: Clock

    async def dispatch(self, body: str, headers: dict[str, Any]) -> BoltResponse:
        """
        Feed one signed request to the app.
        """
        return await self.app.async_dispatch(
            AsyncBoltRequest(body=body, headers=headers)
        )

    async def send(self, payload: dict[str, Any], **headers: str) -> int:
        """
        Dispatch one signed event; the ack's status.
        """
        body, signed = event_request(payload)
        return (await self.dispatch(body, {**signed, **headers})).status

    async def click(
        self, action_id: str, value: str, *, user: str = USER, channel: str = ""
    ) -> int:
        """
        Dispatch one signed button click; the ack's status.
        """
        body, signed = action_request(
            action_id, value, user=user, channel=channel or self.settings_channel()
        )
        return (await self.dispatch(body, signed)).status

    def settings_channel(self) -> str:
        return next(iter(self.settings.support_channels))

    async def settle(self) -> None:
        """
        Wait for the listener tasks Bolt started after acking.
        """
        await drain_tasks()


def desk_settings(fake: FakeSlack, redis_url: str, prefix: str, **env: str) -> Settings:
    """
    Test settings with an escalation channel, a mention and a fast reclaim.
    """
    extra = {
        "ESCALATION_CHANNEL": ESC_CHANNEL,
        "ESCALATION_MENTION": MENTION,
        "ESCALATION_SLA_MINUTES": "15",
        "ESCALATION_RECLAIM_SECONDS": "0.2",
        **env,
    }
    return make_settings(fake, redis_url, prefix, **extra)


@contextlib.asynccontextmanager
async def running_desk(
    fake: FakeSlack,
    redis_url: str,
    prefix: str,
    matcher: Matcher,
    *,
    clock: Clock | None = None,
    consumer: str | None = None,
    cleanup: bool = True,
    **env: str,
) -> AsyncIterator[DeskBot]:
    """
    One replica: the real app with its desk; closed (and its keys removed) afterwards.
    """
    settings = desk_settings(fake, redis_url, prefix, **env)
    clock = clock or Clock()
    store = RedisStore.from_url(redis_url, prefix=prefix, timeout=2.0)
    metrics = Metrics()
    desk = Desk(
        settings,
        escalations=EscalationStore(
            store.client, prefix=prefix, retention_seconds=3600
        ),
        learning=Learning(store.client, prefix=prefix, clock=clock),
        store=store,
        metrics=metrics,
        clock=clock,
        consumer=consumer,
    )
    app = make_app(settings, matcher, store, metrics, desk=desk)
    try:
        yield DeskBot(app, fake, store, desk, settings, clock)
    finally:
        await close_app(store, redis_url, prefix, cleanup=cleanup)


@pytest.fixture
async def desk_bot(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> AsyncIterator[DeskBot]:
    """
    One replica with default escalation settings.
    """
    async with running_desk(fake_slack, redis_url, prefix, matcher) as running:
        yield running


def cards(fake: FakeSlack) -> list[Call]:
    """
    Cards posted in the escalation channel (not reminders, not refused calls).
    """
    return [
        c
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == ESC_CHANNEL
        and not c.args.get("thread_ts")
        and not c.refused
    ]


def thread_posts(fake: FakeSlack, thread_ts: str) -> list[str]:
    """
    Texts the bot posted in a support thread.
    """
    return [
        str(c.args.get("text"))
        for c in fake.of("chat.postMessage")
        if c.args.get("thread_ts") == thread_ts and c.args.get("channel") != ESC_CHANNEL
    ]


def shown(call: Call) -> str:
    """
    Everything a message shows (text and blocks) as one string.
    """
    return json.dumps(call.args.get("blocks", [])) + str(call.args.get("text"))


async def answered_thread(bot: DeskBot, ts: str, text: str = STARTTLS_PASTE) -> None:
    """
    Paste an error as a new thread and wait for the bot's answer.
    """
    before = len(bot.fake.of("chat.postMessage"))
    assert await bot.send(message_event(text, ts=ts)) == 200
    await bot.fake.wait_for("chat.postMessage", before + 1)
    await bot.settle()  # the turn is recorded once its answer is out


def thread_value(ts: str, entry: str | None = None) -> str:
    """
    A support-thread button value.
    """
    return blocks.encode_value(t=ts, e=entry)


def card_value(ts: str) -> str:
    """
    The value of a card button for the thread ``ts`` in the support channel.
    """
    from tests.support.slack import CHANNEL, TEAM

    return blocks.encode_value(k=f"{TEAM}:{CHANNEL}:{ts}")
