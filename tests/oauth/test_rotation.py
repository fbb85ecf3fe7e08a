"""
Slack's token rotation (refresh tokens): a workspace installed with a rotating token
is answered, and its escalations posted, with a fresh token once the first is about to
expire; the refreshed token replaces the old one in Redis, and later work uses it
without refreshing again. A refresh token works once (Slack revokes it when it hands
out the next), so replicas refresh one workspace one at a time: the others use the
winner's token.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack.oauth.clients import InstalledClients
from bot.slack.oauth.refresh import Refresher, RefreshLocks
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    event_for,
    home_opened,
    install,
    oauth_env,
    post_event,
    running_front,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import FakeSlack

# A rotating token's first life in these tests: well inside the refresh window (two
# hours), and long enough to be still usable while another replica refreshes it.
EXPIRES_IN = 600


@pytest.fixture
def settings(fake_slack: FakeSlack, redis_url: str, prefix: str) -> Settings:
    """
    Serving installed workspaces; the fake refuses tokens it did not issue.
    """
    fake_slack.strict_tokens = True
    return Settings.from_env(oauth_env(fake_slack, redis_url, prefix))


@pytest.fixture
async def front(
    settings: Settings, redis_url: str, prefix: str
) -> AsyncIterator[Front]:
    """
    One replica serving installed workspaces.
    """
    async with running_front(settings) as running:
        yield running
    await delete_prefix(redis_url, prefix)


def refresher(
    front: Front, fake: FakeSlack, redis: aioredis.Redis, prefix: str
) -> Refresher:
    """
    A refresher of its own (another replica's), on its own Redis connection and Web
    API client.
    """
    return Refresher(
        front.installations,
        locks=RefreshLocks(redis, prefix=prefix),
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        client=AsyncWebClient(base_url=fake.api_url),
    )


def refreshes(fake: FakeSlack) -> list[str]:
    """
    The refresh tokens sent to oauth.v2.access, in order.
    """
    return [
        str(c.args["refresh_token"])
        for c in fake.of("oauth.v2.access")
        if c.args.get("grant_type") == "refresh_token"
    ]


async def metric(front: Front, name: str, **labels: str) -> float:
    """
    One sample of the replica's /metrics (0 when absent).
    """
    page = await (await front.http.get("/metrics")).text()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$"
    found = re.search(pattern, page, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_an_expiring_token_is_refreshed_and_the_new_one_stored(
    front: Front, fake_slack: FakeSlack
) -> None:
    """
    A token with a minute left is refreshed with the refresh token and the client
    secret before the reply; the reply and the next one use the new token, and only
    the new token and the new refresh token are stored.
    """
    alpha = await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", expires_in=60
    )
    stored = await front.installations.async_find_bot(
        enterprise_id=None, team_id="T0ALPHA"
    )
    assert stored is not None and stored.bot_refresh_token == alpha.refresh_token
    await post_event(front.http, event_for(alpha, STARTTLS_PASTE, ts="1.000100"))
    (first,) = await fake_slack.wait_for("chat.postMessage")
    (fresh,) = fake_slack.refreshed
    assert first.token == fresh != alpha.token
    assert refreshes(fake_slack) == [alpha.refresh_token]
    stored = await front.installations.async_find_bot(
        enterprise_id=None, team_id="T0ALPHA"
    )
    assert stored is not None and stored.bot_token == fresh
    assert stored.bot_refresh_token in fake_slack.refreshable
    assert alpha.refresh_token not in fake_slack.refreshable
    await post_event(front.http, event_for(alpha, STARTTLS_PASTE, ts="2.000100"))
    posts = await fake_slack.wait_for("chat.postMessage", 2)
    assert posts[1].token == fresh
    assert len(fake_slack.refreshed) == 1
    assert await metric(front, "smtpbot_token_refreshes_total", outcome="refreshed")


async def test_background_work_refreshes_an_expiring_token_too(
    front: Front, fake_slack: FakeSlack, redis: aioredis.Redis, prefix: str
) -> None:
    """
    A workspace's client for cards and reminders carries a refreshed token when the
    stored one is about to expire, and stores it.
    """
    alpha = await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", expires_in=60
    )
    base = AsyncWebClient(base_url=fake_slack.api_url)
    clients = InstalledClients(
        front.installations,
        base=base,
        refresher=refresher(front, fake_slack, redis, prefix),
    )
    client = await clients("T0ALPHA")
    (fresh,) = fake_slack.refreshed
    assert client is not None and client.token == fresh != alpha.token
    again = await clients("T0ALPHA")
    assert again is not None and again.token == fresh
    assert len(fake_slack.refreshed) == 1
    assert await clients("T0NOBODY") is None


async def test_two_replicas_refreshing_at_once_refresh_once_and_share_the_token(
    settings: Settings, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    Two replicas each open a workspace's App Home while its token is expiring: one
    refreshes it (held in flight at Slack meanwhile), the other sends no refresh of
    its own and publishes with the winner's token; the refresh token stored is the
    one Slack handed out last, so the next refresh works.
    """
    async with running_front(settings) as one, running_front(settings) as two:
        alpha = await install(
            one.http, two.http, fake_slack, team_id="T0ALPHA", expires_in=EXPIRES_IN
        )
        held = fake_slack.hold("oauth.v2.access", commit=True)
        first = asyncio.create_task(post_event(one.http, home_opened(alpha, "U0ALICE")))
        await asyncio.wait_for(held.arrived.wait(), 10)
        second = asyncio.create_task(post_event(two.http, home_opened(alpha, "U0BOB")))
        await fake_slack.settle(0.3)
        assert refreshes(fake_slack) == [alpha.refresh_token]
        held.release()
        assert await asyncio.wait_for(asyncio.gather(first, second), 10) == [200, 200]
        views = await fake_slack.wait_for("views.publish", 2)
        (fresh,) = fake_slack.refreshed
        assert [v.token for v in views] == [fresh, fresh]
        assert refreshes(fake_slack) == [alpha.refresh_token]
        assert await metric(two, "smtpbot_token_refreshes_total", outcome="joined")
        stored = await one.installations.bot_of("T0ALPHA")
        assert stored is not None and stored.bot_token == fresh
        assert stored.bot_refresh_token in fake_slack.refreshable
        # The next refresh (the new token about to expire) is accepted by Slack.
        stored.bot_token_expires_at = int(time.time()) + 60
        await one.installations.async_save_bot(stored)
        await post_event(two.http, event_for(alpha, STARTTLS_PASTE, ts="3.000100"))
        (post,) = await fake_slack.wait_for("chat.postMessage")
        assert len(fake_slack.refreshed) == 2
        assert post.token == fake_slack.refreshed[1]
        assert not [c for c in fake_slack.calls if c.refused]
    await delete_prefix(redis_url, prefix)


async def test_a_refresh_lock_left_by_a_dead_replica_expires(
    front: Front, fake_slack: FakeSlack, redis: aioredis.Redis, prefix: str
) -> None:
    """
    A refresh lock whose holder died mid-refresh blocks nobody for long: once it
    expires, the next replica refreshes the token itself.
    """
    await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", expires_in=EXPIRES_IN
    )
    await redis.set(f"{prefix}refresh:T0ALPHA", "a-replica-that-died", px=300)
    clients = InstalledClients(
        front.installations,
        base=AsyncWebClient(base_url=fake_slack.api_url),
        refresher=refresher(front, fake_slack, redis, prefix),
    )
    client = await clients("T0ALPHA")
    (fresh,) = fake_slack.refreshed
    assert client is not None and client.token == fresh
    assert await redis.exists(f"{prefix}refresh:T0ALPHA") == 0


async def test_a_refused_refresh_keeps_using_a_token_that_has_not_expired(
    front: Front, fake_slack: FakeSlack, redis: aioredis.Redis, prefix: str
) -> None:
    """
    Slack refusing a refresh (invalid_refresh_token) while the token still has time
    left: the workspace is served with that token meanwhile; once it has expired, a
    refused refresh leaves the workspace unserved rather than use a dead token.
    """
    alpha = await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", expires_in=EXPIRES_IN
    )
    clients = InstalledClients(
        front.installations,
        base=AsyncWebClient(base_url=fake_slack.api_url),
        refresher=refresher(front, fake_slack, redis, prefix),
    )
    fake_slack.refuse_next("oauth.v2.access", error="invalid_refresh_token")
    client = await clients("T0ALPHA")
    assert client is not None and client.token == alpha.token
    stored = await front.installations.bot_of("T0ALPHA")
    assert stored is not None
    stored.bot_token_expires_at = int(time.time()) - 1
    await front.installations.async_save_bot(stored)
    fake_slack.refuse_next("oauth.v2.access", error="invalid_refresh_token")
    assert await clients("T0ALPHA") is None
    assert fake_slack.refreshed == []
