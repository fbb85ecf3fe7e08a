"""
Serving installed workspaces: two teams and an Enterprise Grid org installed through
"Add to Slack" on two replicas, each answered with its own bot token; a workspace
without an installation is acked and never called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.config import Settings
from bot.slack import blocks
from bot.slack.oauth.gate import NOT_INSTALLED
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
from tests.support.slack import (
    CHANNEL,
    TEAM,
    USER,
    FakeSlack,
    Install,
    action_request,
    command_request,
    message_event,
)

Replicas = tuple[Front, Front]
# "Within a couple of seconds" no Redis record holds a revoked token (the bound
# leaves room for a busy shared machine; it takes milliseconds).
REVOKED_WITHIN = 3.0


@pytest.fixture
async def replicas(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Replicas]:
    """
    Two replicas (front and worker each) on one Redis; the fake refuses tokens it
    did not issue.
    """
    fake_slack.strict_tokens = True
    settings = Settings.from_env(oauth_env(fake_slack, redis_url, prefix))
    async with running_front(settings) as one, running_front(settings) as two:
        yield one, two
    await delete_prefix(redis_url, prefix)


@pytest.fixture
async def installed(replicas: Replicas, fake_slack: FakeSlack) -> dict[str, Install]:
    """
    Team A, team B and org E installed, each flow begun on one replica and finished on
    the other.
    """
    one, two = replicas
    return {
        "alpha": await install(one.http, two.http, fake_slack, team_id="T0ALPHA"),
        "beta": await install(two.http, one.http, fake_slack, team_id="T0BETA"),
        "org": await install(
            one.http, two.http, fake_slack, enterprise_id="E0ORG", org_wide=True
        ),
    }


async def test_each_workspace_is_answered_with_its_own_token(
    replicas: Replicas, installed: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    A paste in each installed workspace (the org's from two of its workspaces), sent
    to either replica, gets one threaded answer posted with that installation's token.
    """
    one, two = replicas
    sent = [
        ("alpha", one, {}),
        ("beta", two, {}),
        ("org", one, {"team": "T0ORGONE"}),
        ("org", two, {"team": "T0ORGTWO"}),
    ]
    for n, (name, front, extra) in enumerate(sent):
        payload = event_for(
            installed[name], STARTTLS_PASTE, ts=f"1700000{n}.000100", **extra
        )
        assert await post_event(front.http, payload) == 200
    posts = await fake_slack.wait_for("chat.postMessage", len(sent))
    await fake_slack.settle()
    posts = fake_slack.of("chat.postMessage")
    assert len(posts) == len(sent)
    by_thread = {p.args["thread_ts"]: p.token for p in posts}
    for n, (name, _, _) in enumerate(sent):
        assert by_thread[f"1700000{n}.000100"] == installed[name].token
    assert not [c for c in fake_slack.calls if c.refused]


async def test_a_workspace_without_an_installation_is_acked_and_never_called(
    replicas: Replicas, installed: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    A signed event from a team nobody installed (or another org's workspace) is
    acked with 200, and no Web API call is made for it.
    """
    one, two = replicas
    before = len(fake_slack.calls)
    stranger = message_event(STARTTLS_PASTE, channel=CHANNEL)
    stranger["team_id"] = "T0STRANGER"
    stranger["authorizations"] = [
        {"team_id": "T0STRANGER", "user_id": "U0BOTX", "is_bot": True}
    ]
    other_org = event_for(installed["org"], STARTTLS_PASTE, team="T0ELSEWHERE")
    other_org["enterprise_id"] = "E0OTHER"
    other_org["authorizations"][0]["enterprise_id"] = "E0OTHER"
    assert await post_event(one.http, stranger) == 200
    assert await post_event(two.http, other_org) == 200
    await fake_slack.settle(1.0)
    assert fake_slack.calls[before:] == []


async def test_a_stranger_is_acked_quietly_counted_and_never_called(
    replicas: Replicas,
    installed: dict[str, Install],
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A message, an App Home visit, a button and a slash command from a workspace with
    no installation: each acked (the command told why), none calls Slack (not even its
    response_url), no line above DEBUG is logged for them and none carries their
    payload, and each is counted by kind.
    """
    one, two = replicas
    caplog.set_level(logging.DEBUG)
    before = len(fake_slack.calls)
    stranger = message_event(STARTTLS_PASTE, channel=CHANNEL)
    stranger["team_id"] = TEAM
    stranger["authorizations"] = [
        {"team_id": TEAM, "user_id": "U0BOTX", "is_bot": True}
    ]
    home = dict(
        stranger, event={"type": "app_home_opened", "user": USER, "tab": "home"}
    )
    assert await post_event(one.http, stranger) == 200
    assert await post_event(two.http, home) == 200
    hook = f"{fake_slack.url}/response/stranger"
    body, headers = action_request(blocks.PROBE, "{}", response_url=hook)
    async with one.http.post("/slack/events", data=body, headers=headers) as response:
        assert (response.status, await response.text()) == (200, "")
    body, headers = command_request("mail.example.com", response_url=hook)
    async with two.http.post("/slack/events", data=body, headers=headers) as response:
        assert response.status == 200
        assert await response.text() == NOT_INSTALLED
    kinds = ["event:message", "event:app_home_opened", "block_actions", "command"]
    deadline = asyncio.get_running_loop().time() + 10
    while sorted(await counted(one, two)) != sorted(kinds):
        assert asyncio.get_running_loop().time() < deadline, await counted(one, two)
        await asyncio.sleep(0.05)
    await fake_slack.settle(0.5)
    assert fake_slack.calls[before:] == []
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert [r.getMessage() for r in loud if "install" in r.getMessage()] == []
    assert [r for r in loud if r.name.startswith("slack_bolt")] == []
    for record in caplog.records:
        text = record.getMessage()
        assert "Must issue a STARTTLS" not in text and hook not in text, text


async def counted(*fronts: Front) -> list[str]:
    """
    The kinds of not-installed requests the replicas counted (one entry per request).
    """
    kinds: list[str] = []
    for front in fronts:
        page = await (await front.http.get("/metrics")).text()
        for line in page.splitlines():
            if line.startswith("smtpbot_not_installed_requests_total{"):
                kind = line.split('kind="', 1)[1].split('"', 1)[0]
                kinds += [kind] * int(float(line.rsplit(" ", 1)[1]))
    return kinds


async def values_hold(redis_url: str, prefix: str, secret: str) -> list[str]:
    """
    The keys under the prefix whose value (string, set, hash, list or stream) holds
    ``secret``.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    found: list[str] = []
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            kind = await client.type(key)
            if kind == "string":
                values = [await client.get(key)]
            elif kind == "set":
                values = list(await client.smembers(key))
            elif kind == "hash":
                values = list((await client.hgetall(key)).values())
            elif kind == "list":
                values = await client.lrange(key, 0, -1)
            elif kind == "stream":
                values = [str(f) for _, f in await client.xrange(key)]
            else:
                values = []
            if any(secret in str(v) for v in values):
                found.append(key)
    finally:
        await client.aclose()
    return found


async def test_a_revoked_bot_token_leaves_redis_and_silences_that_team(
    replicas: Replicas,
    installed: dict[str, Install],
    fake_slack: FakeSlack,
    redis_url: str,
    prefix: str,
) -> None:
    """
    tokens_revoked naming team A's bot: within a couple of seconds no Redis record
    holds its token, A's next paste is acked with no Web API call, and team B is
    still answered with its own token.
    """
    one, two = replicas
    alpha, beta = installed["alpha"], installed["beta"]
    assert await values_hold(redis_url, prefix, alpha.token)
    revoked = lifecycle_for(
        alpha, {"type": "tokens_revoked", "tokens": {"bot": [alpha.bot_user_id]}}
    )
    assert await post_event(one.http, revoked) == 200
    fake_slack.revoked.add(alpha.token)
    deadline = asyncio.get_running_loop().time() + REVOKED_WITHIN
    while await values_hold(redis_url, prefix, alpha.token):
        assert asyncio.get_running_loop().time() < deadline, "token still in Redis"
        await asyncio.sleep(0.05)
    before = len(fake_slack.calls)
    assert await post_event(two.http, event_for(alpha, STARTTLS_PASTE)) == 200
    assert await post_event(one.http, event_for(beta, STARTTLS_PASTE)) == 200
    (post,) = await fake_slack.wait_for("chat.postMessage")
    await fake_slack.settle(0.5)
    assert [c.token for c in fake_slack.calls[before:]] == [beta.token]
    assert post.token == beta.token


async def test_an_uninstalled_org_is_forgotten_and_silent(
    replicas: Replicas,
    installed: dict[str, Install],
    fake_slack: FakeSlack,
    redis_url: str,
    prefix: str,
) -> None:
    """
    app_uninstalled from the org-wide install: its token and records leave Redis,
    later events from its workspaces get no Web API call, and team A still gets
    answers.
    """
    one, two = replicas
    org, alpha = installed["org"], installed["alpha"]
    gone = lifecycle_for(org, {"type": "app_uninstalled"})
    assert await post_event(two.http, gone) == 200
    deadline = asyncio.get_running_loop().time() + REVOKED_WITHIN
    while await values_hold(redis_url, prefix, org.token):
        assert asyncio.get_running_loop().time() < deadline, "token still in Redis"
        await asyncio.sleep(0.05)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        left = [k async for k in client.scan_iter(match=f"{prefix}*E0ORG*")]
    finally:
        await client.aclose()
    assert left == []
    before = len(fake_slack.calls)
    assert await post_event(one.http, event_for(org, STARTTLS_PASTE)) == 200
    assert await post_event(two.http, event_for(alpha, STARTTLS_PASTE)) == 200
    await fake_slack.wait_for("chat.postMessage")
    await fake_slack.settle(0.5)
    assert [c.token for c in fake_slack.calls[before:]] == [alpha.token]
