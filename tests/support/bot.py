"""
The real Bolt app for tests, on the recording fake of Slack's Web API and a real Redis:
its settings, starting and closing it, and removing the keys a test wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.metrics import Metrics
from bot.slack.app import build_app, make_web_client
from bot.slack.escalation.desk import Desk
from bot.slack.probing import make_prober
from bot.slack.runtime import drain
from bot.state.redis_store import RedisStore
from knowledge.matcher import Matcher
from tests.support.slack import ADMIN, CHANNEL, SECRET, FakeSlack


def slack_env(fake: FakeSlack, redis_url: str, prefix: str) -> dict[str, str]:
    """
    The variables that point a bot at the fake Web API and Redis, with the test
    signing secret, one support channel and one admin.
    """
    return {
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SUPPORT_CHANNELS": CHANNEL,
        "ADMIN_USERS": ADMIN,
    }


def make_settings(
    fake: FakeSlack, redis_url: str, prefix: str, **extra: str
) -> Settings:
    """
    Settings for a test app: fake Web API, real Redis, one support channel, one admin.
    """
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        **slack_env(fake, redis_url, prefix),
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


def make_app(
    settings: Settings,
    matcher: Matcher,
    store: RedisStore,
    metrics: Metrics,
    *,
    desk: Desk | None = None,
) -> AsyncApp:
    """
    The real app with the settings' Web API client and probe policy.
    """
    return build_app(
        settings,
        matcher=matcher,
        store=store,
        prober=make_prober(settings),
        client=make_web_client(settings, metrics=metrics),
        metrics=metrics,
        desk=desk,
    )


async def close_app(
    store: RedisStore, redis_url: str, prefix: str, *, cleanup: bool = True
) -> None:
    """
    Let the app's listener tasks finish, close its store and (unless ``cleanup`` is
    false) remove its keys.
    """
    await drain_tasks()
    await store.close()
    if cleanup:
        await delete_prefix(redis_url, prefix)


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
    app = make_app(settings, matcher, store, metrics)
    try:
        yield Bot(app, fake, store, metrics, settings)
    finally:
        await close_app(store, redis_url, prefix)


# ``running_bot`` with the test's fake Web API, Redis, key prefix and matcher bound:
# call it with extra settings (the Slack suite's ``start_bot`` fixture).
StartBot = Callable[..., contextlib.AbstractAsyncContextManager[Bot]]
