"""
Fixtures for the installation tests: a Redis client on the test's key prefix (its keys
removed afterwards), and installation records shaped as Bolt builds them from
oauth.v2.access.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.oauth.installation_store.models.installation import Installation

from tests.support.bot import delete_prefix


@pytest.fixture
async def redis(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """
    A client of the suite's Redis; this test's keys are deleted afterwards.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()
    await delete_prefix(redis_url, prefix)


def team_install(
    team_id: str = "T0ALPHA",
    *,
    enterprise_id: str | None = None,
    token: str = "xoxb-alpha-0123456789abcdef",
    user_id: str = "U0INSTALLER",
    user_token: str | None = None,
) -> Installation:
    """
    A workspace installation as Bolt builds it from oauth.v2.access.
    """
    return Installation(
        app_id="A0APP",
        enterprise_id=enterprise_id,
        team_id=team_id,
        team_name=f"Team {team_id}",
        bot_token=token,
        bot_id=f"B{team_id}",
        bot_user_id=f"U0BOT{team_id}",
        bot_scopes="chat:write,commands",
        user_id=user_id,
        user_token=user_token,
        is_enterprise_install=False,
        token_type="bot",
        installed_at=time.time(),
    )


def org_install(
    enterprise_id: str = "E0ORG",
    *,
    token: str = "xoxb-org-0123456789abcdef",
    user_id: str = "W0ADMIN",
) -> Installation:
    """
    An org-wide (Enterprise Grid) installation: an enterprise and no team.
    """
    return Installation(
        app_id="A0APP",
        enterprise_id=enterprise_id,
        enterprise_name="Org",
        enterprise_url="https://org.enterprise.slack.com/",
        team_id=None,
        bot_token=token,
        bot_id="B0ORG",
        bot_user_id="W0BOT",
        bot_scopes="chat:write,commands",
        user_id=user_id,
        is_enterprise_install=True,
        token_type="bot",
        installed_at=time.time(),
    )
