"""
Slack's token rotation (refresh tokens): a workspace installed with a rotating token
is answered, and its escalations posted, with a fresh token once the first is about to
expire; the refreshed token replaces the old one in Redis, and later work uses it
without refreshing again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack.oauth.authorize import Refresher
from bot.slack.oauth.clients import InstalledClients
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    event_for,
    install,
    oauth_env,
    post_event,
    running_front,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import FakeSlack


@pytest.fixture
async def front(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Front]:
    """
    One replica serving installed workspaces.
    """
    fake_slack.strict_tokens = True
    settings = Settings.from_env(oauth_env(fake_slack, redis_url, prefix))
    async with running_front(settings) as running:
        yield running
    await delete_prefix(redis_url, prefix)


async def test_an_expiring_token_is_refreshed_and_the_new_one_stored(
    front: Front, fake_slack: FakeSlack
) -> None:
    """
    A token with a minute left is refreshed with the refresh token and the client
    secret before the reply; the reply and the next one use the new token, and only
    the new token is stored.
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
    refresh = [c for c in fake_slack.of("oauth.v2.access") if c.args.get("grant_type")]
    assert [c.args["refresh_token"] for c in refresh] == [alpha.refresh_token]
    stored = await front.installations.async_find_bot(
        enterprise_id=None, team_id="T0ALPHA"
    )
    assert stored is not None and stored.bot_token == fresh
    await post_event(front.http, event_for(alpha, STARTTLS_PASTE, ts="2.000100"))
    posts = await fake_slack.wait_for("chat.postMessage", 2)
    assert posts[1].token == fresh
    assert len(fake_slack.refreshed) == 1


async def test_background_work_refreshes_an_expiring_token_too(
    front: Front, fake_slack: FakeSlack
) -> None:
    """
    A workspace's client for cards and reminders carries a refreshed token when the
    stored one is about to expire, and stores it.
    """
    alpha = await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", expires_in=60
    )
    base = AsyncWebClient(base_url=fake_slack.api_url)
    refresher = Refresher(
        front.installations,
        client_id=fake_slack.client_id,
        client_secret=fake_slack.client_secret,
        client=base,
    )
    clients = InstalledClients(front.installations, base=base, refresher=refresher)
    client = await clients("T0ALPHA")
    (fresh,) = fake_slack.refreshed
    assert client is not None and client.token == fresh != alpha.token
    again = await clients("T0ALPHA")
    assert again is not None and again.token == fresh
    assert len(fake_slack.refreshed) == 1
    assert await clients("T0NOBODY") is None
