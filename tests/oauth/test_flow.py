"""
"Add to Slack" through two front replicas on one Redis and the fake of Slack's OAuth
side: installs begun on one replica and finished on the other, team and org-wide
installs stored as Slack describes them, and every bad callback (forged, replayed,
expired, missing state; another browser; a cancelled consent; a bad code) refused with
a 4xx page, no oauth.v2.access call and nothing stored.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from bot.config import Settings
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    begin,
    finish,
    install,
    oauth_env,
    running_front,
)
from tests.support.slack import FakeSlack

Replicas = tuple[Front, Front]


@pytest.fixture
def make_settings(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> Callable[..., Settings]:
    """
    Settings of a replica serving every installed workspace, with extra variables.
    """

    def make(**extra: str) -> Settings:
        return Settings.from_env(oauth_env(fake_slack, redis_url, prefix, **extra))

    return make


@pytest.fixture
async def replicas(
    make_settings: Callable[..., Settings], redis_url: str, prefix: str
) -> AsyncIterator[Replicas]:
    """
    Two front replicas sharing one Redis and one key prefix.
    """
    settings = make_settings()
    async with running_front(settings) as one, running_front(settings) as two:
        yield one, two
    await delete_prefix(redis_url, prefix)


async def stored(redis_url: str, prefix: str, part: str) -> list[str]:
    """
    The keys under the prefix whose name contains ``part``.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return [k async for k in client.scan_iter(match=f"{prefix}*{part}*")]
    finally:
        await client.aclose()


async def test_the_install_page_offers_add_to_slack_with_a_fresh_state(
    replicas: Replicas, fake_slack: FakeSlack
) -> None:
    """
    Each visit gets an Add to Slack link to Slack's consent page with the app's
    client id, the manifest's bot scopes and a new state, also set as a cookie.
    """
    one, _ = replicas
    first, second = await begin(one.http), await begin(one.http)
    assert first.state != second.state
    assert first.cookie == f"slack-app-oauth-state={first.state}"
    url = urllib.parse.urlsplit(first.authorize_url)
    assert (url.netloc, url.path) == ("slack.com", "/oauth/v2/authorize")
    query = urllib.parse.parse_qs(url.query)
    assert query["client_id"] == [fake_slack.client_id]
    assert set(query["scope"][0].split(",")) >= {"chat:write", "commands"}
    response = await one.http.get("/slack/install")
    assert response.headers["Cache-Control"] == "no-store"
    assert fake_slack.client_secret not in await response.text()


async def test_an_install_begun_on_one_replica_finishes_on_the_other(
    replicas: Replicas, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    The state issued by replica one is accepted by replica two: one oauth.v2.access
    call with the app's credentials, the bot stored for the team, and a thank-you
    page that shows neither token nor secret.
    """
    one, two = replicas
    started = await begin(one.http)
    approved = fake_slack.grant(team_id="T0ALPHA")
    response = await finish(
        two.http, code=approved.code, state=started.state, cookie=started.cookie
    )
    page = await response.text()
    assert response.status == 200, page
    assert "Thank you" in page and f"team={approved.team_id}" in page
    assert approved.token not in page and fake_slack.client_secret not in page
    (call,) = fake_slack.of("oauth.v2.access")
    assert call.args["code"] == approved.code
    basic = base64.b64encode(
        f"{fake_slack.client_id}:{fake_slack.client_secret}".encode()
    ).decode()
    assert call.headers["Authorization"] == f"Basic {basic}"
    bot = await one.installations.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert bot is not None
    assert (bot.bot_token, bot.bot_user_id) == (approved.token, approved.bot_user_id)
    assert await stored(redis_url, prefix, "oauth:state") == []


async def test_an_org_wide_install_is_stored_for_the_org(
    replicas: Replicas, fake_slack: FakeSlack
) -> None:
    """
    An Enterprise Grid org-wide install (is_enterprise_install, no team) is stored
    under the enterprise and serves a workspace of it; the page leads the admin on to
    adding the app to workspaces.
    """
    one, two = replicas
    started = await begin(two.http)
    approved = fake_slack.grant(enterprise_id="E0ORG", org_wide=True)
    response = await finish(
        one.http, code=approved.code, state=started.state, cookie=started.cookie
    )
    page = await response.text()
    assert response.status == 200, page
    assert "manage/organization/apps/profile/A0APP/workspaces/add" in page
    bot = await two.installations.async_find_bot(
        enterprise_id="E0ORG", team_id="T0ANY", is_enterprise_install=True
    )
    assert bot is not None and bot.bot_token == approved.token
    assert bot.is_enterprise_install and bot.team_id is None


@pytest.mark.parametrize(
    "case",
    ["forged", "missing", "other-browser", "no-cookie", "cancelled", "bad-code"],
)
async def test_bad_callbacks_are_refused_and_store_nothing(
    replicas: Replicas,
    fake_slack: FakeSlack,
    redis_url: str,
    prefix: str,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A state nobody issued, no state, a state from another browser or without its
    cookie, a cancelled consent, or a code Slack does not know: a 4xx page and
    nothing stored (and no oauth.v2.access call unless the state was good); no log
    line, at any level, carries the code or the state.
    """
    caplog.set_level(logging.DEBUG)
    one, two = replicas
    started = await begin(one.http)
    approved = fake_slack.grant(team_id="T0ALPHA")
    code: str | None = approved.code
    state: str | None = started.state
    cookie: str | None = started.cookie
    extra: dict[str, str] = {}
    if case == "forged":
        state = secrets.token_urlsafe(32)
        cookie = f"slack-app-oauth-state={state}"
    elif case == "missing":
        state, cookie = None, None
    elif case == "other-browser":
        cookie = f"slack-app-oauth-state={(await begin(one.http)).state}"
    elif case == "no-cookie":
        cookie = None
    elif case == "cancelled":
        code, extra = None, {"error": "access_denied"}
    elif case == "bad-code":
        code = "not-a-code"
    response = await finish(two.http, code=code, state=state, cookie=cookie, **extra)
    assert 400 <= response.status < 500
    page = await response.text()
    assert fake_slack.client_secret not in page
    calls = fake_slack.of("oauth.v2.access")
    assert calls == [] if case != "bad-code" else len(calls) == 1
    assert await stored(redis_url, prefix, "install") == []
    used = {v for v in (approved.code, code, started.state, state) if v}
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if any(v in line for v in used)] == []
    assert any("oauth_refused" in line for line in lines)


async def test_a_replayed_state_is_refused(
    replicas: Replicas, fake_slack: FakeSlack
) -> None:
    """
    The same callback sent again (to either replica) is refused without another
    oauth.v2.access call.
    """
    one, two = replicas
    started = await begin(one.http)
    approved = fake_slack.grant(team_id="T0ALPHA")
    first = await finish(
        two.http, code=approved.code, state=started.state, cookie=started.cookie
    )
    assert first.status == 200
    for replica in (one, two):
        again = await finish(
            replica.http, code=approved.code, state=started.state, cookie=started.cookie
        )
        assert again.status == 401
    assert len(fake_slack.of("oauth.v2.access")) == 1


async def test_racing_callbacks_with_one_state_install_once(
    replicas: Replicas, fake_slack: FakeSlack
) -> None:
    """
    The same callback arriving at both replicas at once: one succeeds, one is
    refused, one oauth.v2.access call.
    """
    one, two = replicas
    started = await begin(one.http)
    approved = fake_slack.grant(team_id="T0ALPHA")
    responses = await asyncio.gather(
        *(
            finish(
                r.http, code=approved.code, state=started.state, cookie=started.cookie
            )
            for r in (one, two)
        )
    )
    assert sorted(r.status for r in responses) == [200, 401]
    assert len(fake_slack.of("oauth.v2.access")) == 1


async def test_an_expired_state_is_refused(
    make_settings: Callable[..., Settings],
    fake_slack: FakeSlack,
    redis_url: str,
    prefix: str,
) -> None:
    """
    With SLACK_STATE_EXPIRATION_SECONDS=1, a callback 1.5 s later is refused and
    nothing is stored.
    """
    settings = make_settings(SLACK_STATE_EXPIRATION_SECONDS="1")
    try:
        async with running_front(settings) as front:
            started = await begin(front.http)
            approved = fake_slack.grant(team_id="T0ALPHA")
            await asyncio.sleep(1.5)
            response = await finish(
                front.http,
                code=approved.code,
                state=started.state,
                cookie=started.cookie,
            )
            assert response.status == 401
        assert fake_slack.of("oauth.v2.access") == []
        assert await stored(redis_url, prefix, "install") == []
    finally:
        await delete_prefix(redis_url, prefix)


async def test_a_later_replica_serves_installs_made_before_it_started(
    make_settings: Callable[..., Settings],
    replicas: Replicas,
    fake_slack: FakeSlack,
) -> None:
    """
    A replica started after two installs finds both bots.
    """
    one, two = replicas
    alpha = await install(one.http, two.http, fake_slack, team_id="T0ALPHA")
    org = await install(
        two.http, one.http, fake_slack, enterprise_id="E0ORG", org_wide=True
    )
    async with running_front(make_settings()) as late:
        store = late.installations
        found = await store.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
        assert found is not None and found.bot_token == alpha.token
        found = await store.async_find_bot(
            enterprise_id="E0ORG", team_id="T0ORGTEAM", is_enterprise_install=True
        )
        assert found is not None and found.bot_token == org.token
