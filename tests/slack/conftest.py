"""
Fixtures for the Slack tests: the real Bolt app on the recording fake of Slack's Web
API and a real Redis (the shared fixtures are in tests/conftest.py).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from knowledge.matcher import Matcher
from tests.support.bot import Bot, StartBot, running_bot
from tests.support.slack import FakeSlack


@pytest.fixture
def start_bot(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> StartBot:
    """
    ``start_bot(**env)``: the app on this test's fake Web API, Redis and key prefix,
    with extra settings.
    """
    return functools.partial(running_bot, fake_slack, redis_url, prefix, matcher)


@pytest.fixture
async def bot(start_bot: StartBot) -> AsyncIterator[Bot]:
    """
    The app with default test settings.
    """
    async with start_bot() as running:
        yield running
