"""
Enterprise Grid: an org-wide install removed from some workspaces of its org. Slack
sends ``team_access_revoked`` listing their team ids
(docs.slack.dev/reference/events/team_access_revoked: outer ``team_id`` null, the
org's ``enterprise_id``, ``event.team_ids``). Those workspaces' threads leave Redis;
the org's install, its other workspaces (also in a channel shared with a removed
one), a workspace of the org with its own install, and other teams are unaffected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.config import Settings
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    event_for,
    install,
    lifecycle_for,
    oauth_env,
    post_event,
    running_front,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import FakeSlack, Install

Replicas = tuple[Front, Front]
# "Within a couple of seconds" (the bound leaves room for a busy shared machine).
GONE_WITHIN = 3.0


@pytest.fixture
async def replicas(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Replicas]:
    """
    Two replicas (front and worker each) on one Redis, answering in every channel;
    the fake refuses tokens it did not issue.
    """
    fake_slack.strict_tokens = True
    env = oauth_env(fake_slack, redis_url, prefix, SUPPORT_CHANNELS="")
    settings = Settings.from_env(env)
    async with running_front(settings) as one, running_front(settings) as two:
        yield one, two
    await delete_prefix(redis_url, prefix)


def access_revoked(org: Install, *teams: str) -> dict[str, Any]:
    """
    team_access_revoked as Slack sends it to an org-ready app.
    """
    return {
        "token": "legacy",
        "team_id": None,
        "enterprise_id": org.enterprise_id,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": f"Ev{time.time_ns()}",
        "event_time": int(time.time()),
        "event": {
            "type": "team_access_revoked",
            "team_ids": list(teams),
            "event_ts": f"{time.time():.6f}",
        },
        "authorizations": [
            {
                "enterprise_id": org.enterprise_id,
                "team_id": None,
                "user_id": org.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": True,
            }
        ],
    }


async def keys(redis_url: str, pattern: str) -> list[str]:
    """
    The keys matching a pattern, sorted.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sorted([k async for k in client.scan_iter(match=pattern)])
    finally:
        await client.aclose()


async def until(check: Any, within: float = GONE_WITHIN) -> None:
    """
    Wait for an async predicate to hold.
    """
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the bound"
        await asyncio.sleep(0.05)


async def test_removed_workspaces_lose_their_threads_and_nothing_else(
    replicas: Replicas, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    After pastes in an org's two workspaces (each in its own channel and both in a
    shared one), in a workspace of the org with its own install, and in another team,
    team_access_revoked for one of the org's workspaces and the one with its own
    install: only the removed workspace's own channel's threads go; the org still
    answers its other workspace with its token; the workspace's own install and the
    other team keep their data and answers; no Web API call is made for the event.
    """
    one, two = replicas
    org = await install(
        one.http, two.http, fake_slack, enterprise_id="E0ORG", org_wide=True
    )
    own = await install(
        two.http, one.http, fake_slack, team_id="T0OWN", enterprise_id="E0ORG"
    )
    alpha = await install(one.http, two.http, fake_slack, team_id="T0ALPHA")
    sent = [
        (org, "T0ORGONE", "C0ONE", one),
        (org, "T0ORGTWO", "C0TWO", two),
        (org, "T0ORGONE", "C0SHARED", two),
        (org, "T0ORGTWO", "C0SHARED", one),
        (own, None, "C0OWN", one),
        (alpha, None, "C0ALPHA", two),
    ]
    for n, (installed, team, channel, front) in enumerate(sent):
        extra = {"team": team} if team else {}
        payload = event_for(
            installed,
            STARTTLS_PASTE,
            ts=f"170000000{n}.000100",
            channel=channel,
            **extra,
        )
        assert await post_event(front.http, payload) == 200
    await fake_slack.wait_for("chat.postMessage", len(sent))
    conversations = await keys(redis_url, f"{prefix}conv:*")
    assert len(conversations) == len(sent)
    assert await keys(redis_url, f"{prefix}orgteam:E0ORG:*") == [
        f"{prefix}orgteam:E0ORG:T0ORGONE",
        f"{prefix}orgteam:E0ORG:T0ORGTWO",
    ]

    before = len(fake_slack.calls)
    revoked = access_revoked(org, "T0ORGONE", "T0OWN")
    assert await post_event(two.http, revoked) == 200

    async def gone() -> bool:
        return await keys(redis_url, f"{prefix}conv:E0ORG:C0ONE:*") == []

    await until(gone)
    # The rest of the deletion (and its second pass) would follow within moments.
    await fake_slack.settle(0.5)
    left = await keys(redis_url, f"{prefix}conv:*")
    assert [k for k in conversations if k not in left] == [
        k for k in conversations if k.startswith(f"{prefix}conv:E0ORG:C0ONE:")
    ]
    assert await keys(redis_url, f"{prefix}orgteam:E0ORG:*") == [
        f"{prefix}orgteam:E0ORG:T0ORGTWO"
    ]
    assert await one.installations.bot_of("E0ORG") is not None
    assert await one.installations.bot_of("T0OWN") is not None
    assert fake_slack.calls[before:] == []

    for n, (installed, team, channel, front) in enumerate(
        [
            (org, "T0ORGTWO", "C0TWO", one),
            (own, None, "C0OWN", two),
            (alpha, None, "C0ALPHA", one),
        ]
    ):
        extra = {"team": team} if team else {}
        payload = event_for(
            installed,
            STARTTLS_PASTE,
            ts=f"170000100{n}.000100",
            channel=channel,
            **extra,
        )
        assert await post_event(front.http, payload) == 200
    posts = await fake_slack.wait_for("chat.postMessage", len(sent) + 3)
    assert [p.token for p in posts[len(sent) :]] == [org.token, own.token, alpha.token]
    await fake_slack.settle(0.5)
    assert not [c for c in fake_slack.calls if c.refused]


async def test_an_org_uninstalled_after_losing_a_workspace_leaves_nothing(
    replicas: Replicas, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    team_access_revoked naming a workspace the org never used, then app_uninstalled
    for the org: nothing of the org is left in Redis, its channels' workspaces
    included.
    """
    one, two = replicas
    org = await install(
        one.http, two.http, fake_slack, enterprise_id="E0ORG", org_wide=True
    )
    payload = event_for(org, STARTTLS_PASTE, ts="1700000000.000100", team="T0ORGONE")
    assert await post_event(one.http, payload) == 200
    await fake_slack.wait_for("chat.postMessage")
    assert await post_event(two.http, access_revoked(org, "T0NEVER")) == 200
    assert await keys(redis_url, f"{prefix}conv:E0ORG:*") != []
    assert (
        await post_event(one.http, lifecycle_for(org, {"type": "app_uninstalled"}))
        == 200
    )

    async def empty() -> bool:
        return await keys(redis_url, f"{prefix}*E0ORG*") == []

    await until(empty)
