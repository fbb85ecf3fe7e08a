"""
Serving many workspaces in tests: the environment of a bot installed with "Add to
Slack", a front replica (the real composition, ``open_bot``) on a local port, and an
installer's browser going through the flow: the install page, Slack's consent (the
fake's ``grant``) and the redirect back with the code, the state and the state cookie.
"""

from __future__ import annotations

import contextlib
import html
import re
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.slack.runtime import Bot, open_bot
from bot.slack.server import build_web_app
from tests.support.bot import slack_env
from tests.support.slack import FakeSlack, Install

HttpClient = TestClient[web.Request, web.Application]
# Bolt's state cookie (slack_sdk.oauth.state_utils.OAuthStateUtils).
STATE_COOKIE = "slack-app-oauth-state"
_HREF = re.compile(r"""href=["']([^"']+)["']""")


def oauth_env(
    fake: FakeSlack, redis_url: str, prefix: str, **extra: str
) -> dict[str, str]:
    """
    The variables of a bot serving every workspace that installs it: the fake's client
    credentials, the test signing secret, no bot token.
    """
    return {
        **slack_env(fake, redis_url, prefix),
        "SLACK_CLIENT_ID": fake.client_id,
        "SLACK_CLIENT_SECRET": fake.client_secret,
        **extra,
    }


@dataclass
class Front:
    """
    One replica: the bot and an HTTP client of its web server.
    """

    bot: Bot
    http: HttpClient


@contextlib.asynccontextmanager
async def running_front(settings: Settings) -> AsyncIterator[Front]:
    """
    A front replica built as ``smtpbot run --http`` builds it, on 127.0.0.1.
    """
    async with open_bot(settings, worker=True) as bot:
        assert bot.oauth is not None
        app = build_web_app(
            bot.app,
            store=bot.store,
            metrics=bot.metrics,
            signing_secret=settings.slack_signing_secret or "",
            oauth=bot.oauth.flow,
        )
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            yield Front(bot, client)
        finally:
            await client.close()


@dataclass(frozen=True)
class Started:
    """
    What the install page gave the browser: the state and its cookie.
    """

    state: str
    cookie: str
    authorize_url: str


async def begin(http: HttpClient) -> Started:
    """
    Open the install page, as an installer's browser does.
    """
    response = await http.get("/slack/install", allow_redirects=False)
    assert response.status == 200, await response.text()
    page = await response.text()
    links = [html.unescape(h) for h in _HREF.findall(page)]
    url = next(link for link in links if "/oauth/v2/authorize" in link)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    cookie = next(
        c.split(";", 1)[0]
        for c in response.headers.getall("Set-Cookie", [])
        if c.startswith(f"{STATE_COOKIE}=")
    )
    return Started(state, cookie, url)


async def finish(
    http: HttpClient,
    *,
    code: str | None,
    state: str | None,
    cookie: str | None,
    **query: str,
) -> ClientResponse:
    """
    Slack sends the browser back to the redirect URL.
    """
    params: dict[str, Any] = dict(query)
    if code is not None:
        params["code"] = code
    if state is not None:
        params["state"] = state
    headers = {"Cookie": cookie} if cookie is not None else {}
    return await http.get(
        "/slack/oauth_redirect", params=params, headers=headers, allow_redirects=False
    )


async def install(
    start_on: HttpClient, finish_on: HttpClient, fake: FakeSlack, **grant: Any
) -> Install:
    """
    The whole flow: begun on one replica, approved on Slack, finished on another.
    """
    started = await begin(start_on)
    approved = fake.grant(**grant)
    response = await finish(
        finish_on, code=approved.code, state=started.state, cookie=started.cookie
    )
    assert response.status == 200, await response.text()
    return approved
