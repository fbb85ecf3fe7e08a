"""
Fixtures for the Slack tests: the test knowledge base, a real Redis, the recording fake
of
Slack's Web API, and the real Bolt app wired to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.metrics import Metrics
from bot.slack.app import build_app, make_web_client
from bot.slack.probing import make_prober
from bot.slack.runtime import drain
from bot.state.redis_store import RedisStore
from knowledge.matcher import Matcher
from tests.support.kb import write_kb
from tests.support.redis import test_redis_url
from tests.support.slack import ADMIN, CHANNEL, SECRET, FakeSlack


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """
    The real Redis the suite uses.
    """
    with test_redis_url(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """
    A matcher over the small test knowledge base.
    """
    return Matcher(write_kb(tmp_path_factory.mktemp("kb")))


@pytest.fixture
def prefix() -> str:
    """
    A Redis key prefix of this test's own.
    """
    return f"smtpbot-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """
    The recording fake of Slack's Web API.
    """
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


def make_settings(
    fake: FakeSlack, redis_url: str, prefix: str, **extra: str
) -> Settings:
    """
    Settings for a test app: fake Web API, real Redis, one support channel, one admin.
    """
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SUPPORT_CHANNELS": CHANNEL,
        "ADMIN_USERS": ADMIN,
        "PROBE_ALLOW_CIDRS": "127.0.0.0/8",
        **extra,
    }
    return Settings.from_env(env)


async def delete_prefix(url: str, prefix: str) -> None:
    """
    Remove this test's keys (and only them) from the shared Redis.
    """
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    except RedisConnectionError:
        pass  # the test pointed the bot at a Redis that is down: nothing was written
    finally:
        await client.aclose()


async def drain_tasks() -> None:
    """
    Wait for listener tasks Bolt started after acking (they outlive dispatch).
    """
    for _ in range(3):
        await drain(timeout=10)
        await asyncio.sleep(0)


@dataclass
class Bot:
    """
    The app under test and what it talks to.
    """

    app: AsyncApp
    fake: FakeSlack
    store: RedisStore
    metrics: Metrics
    settings: Settings

    async def dispatch(self, body: str, headers: dict[str, Any]) -> BoltResponse:
        """
        Feed one signed request to the app, as the HTTP adapter would.
        """
        return await self.app.async_dispatch(
            AsyncBoltRequest(body=body, headers=headers)
        )


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeSlack, redis_url: str, prefix: str, matcher: Matcher, **env: str
) -> AsyncIterator[Bot]:
    """
    The real app on the fake Web API and Redis; closes and cleans up afterwards.
    """
    settings = make_settings(fake, redis_url, prefix, **env)
    store = RedisStore.from_url(
        settings.redis_url or redis_url, prefix=prefix, timeout=settings.redis_timeout
    )
    metrics = Metrics()
    app = build_app(
        settings,
        matcher=matcher,
        store=store,
        prober=make_prober(settings),
        client=make_web_client(settings),
        metrics=metrics,
    )
    try:
        yield Bot(app, fake, store, metrics, settings)
    finally:
        await drain_tasks()
        await store.close()
        await delete_prefix(redis_url, prefix)


@pytest.fixture
async def bot(
    fake_slack: FakeSlack, redis_url: str, prefix: str, matcher: Matcher
) -> AsyncIterator[Bot]:
    """
    The app with default test settings.
    """
    async with running_bot(fake_slack, redis_url, prefix, matcher) as running:
        yield running
