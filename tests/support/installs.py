"""
Serving many workspaces in tests: the environment of a bot installed with "Add to
Slack", a front replica (``runtime.serve`` itself) on a local port, an installer's
browser going through the flow (the install page, Slack's consent as the fake's
``grant``, the redirect back with the code, the state and the state cookie), and
events as Slack delivers them to one installation.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import ClientResponse

from bot.config import Settings
from bot.slack.oauth.cipher import TokenCipher
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.runtime import serve
from tests.support.bot import slack_env
from tests.support.redis import free_port
from tests.support.slack import (
    FakeSlack,
    Install,
    event_request,
    message_event,
    sign,
)

HttpClient = aiohttp.ClientSession
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
    One replica serving HTTP (``smtpbot run --http`` in this process, its worker
    included): an HTTP session on its base URL, and the installation store it uses.
    """

    http: HttpClient
    installations: RedisInstallationStore
    out: io.StringIO


@contextlib.asynccontextmanager
async def running_front(settings: Settings) -> AsyncIterator[Front]:
    """
    A front replica run by ``runtime.serve`` on 127.0.0.1, until the block ends.
    """
    stop = asyncio.Event()
    out = io.StringIO()
    port = free_port()
    task = asyncio.create_task(
        serve(
            settings,
            http=True,
            host="127.0.0.1",
            port=port,
            stop=stop,
            workers=0,
            out=out,
        )
    )
    redis = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    session = aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}")
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while "listening on" not in out.getvalue():
            assert not task.done(), out.getvalue() or task.exception()
            assert asyncio.get_running_loop().time() < deadline, out.getvalue()
            await asyncio.sleep(0.02)
        yield Front(
            session,
            RedisInstallationStore(
                redis,
                prefix=settings.redis_prefix,
                cipher=TokenCipher(settings.token_encryption_keys),
            ),
            out,
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await session.close()
        await redis.aclose()


def event_for(install: Install, text: str, **event: Any) -> dict[str, Any]:
    """
    A message event as Slack delivers it to this installation: the workspace's team
    id, and ``authorizations`` naming the installation (org-wide: its enterprise, with
    the workspace the message was written in).
    """
    team = install.team_id or event.pop("team", "T0ORGTEAM")
    payload = message_event(text, **event)
    payload["team_id"] = team
    payload["event"]["team"] = team
    if install.enterprise_id:
        payload["enterprise_id"] = install.enterprise_id
    payload["is_enterprise_install"] = install.is_enterprise_install
    payload["authorizations"] = [
        {
            "enterprise_id": install.enterprise_id,
            "team_id": team,
            "user_id": install.bot_user_id,
            "is_bot": True,
            "is_enterprise_install": install.is_enterprise_install,
        }
    ]
    return payload


def lifecycle_for(install: Install, event: dict[str, Any]) -> dict[str, Any]:
    """
    An app event (tokens_revoked, app_uninstalled) as Slack sends it to this
    installation.
    """
    payload = event_for(install, "")
    payload["event"] = {"event_ts": f"{time.time():.6f}", **event}
    return payload


def _identity(install: Install, team: str | None) -> dict[str, Any]:
    """
    The team, enterprise and is_enterprise_install fields of an interactive payload.
    """
    team = install.team_id or team or "T0ORGTEAM"
    enterprise = (
        {"id": install.enterprise_id, "name": "Org"} if install.enterprise_id else None
    )
    return {
        "team": {
            "id": team,
            "domain": team.lower(),
            "enterprise_id": install.enterprise_id,
        },
        "enterprise": enterprise,
        "is_enterprise_install": install.is_enterprise_install,
    }


def home_opened(
    install: Install, user: str, *, team: str | None = None
) -> dict[str, Any]:
    """
    An app_home_opened event (the Home tab) for one person of this installation.
    """
    payload = event_for(install, "", **({"team": team} if team else {}))
    payload["event"] = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0HOME",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    return payload


def block_action_for(
    install: Install,
    action_id: str,
    *,
    user: str,
    team: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """
    A block_actions payload from a button in this installation (the App Home's by
    default).
    """
    identity = _identity(install, team)
    return {
        "type": "block_actions",
        **identity,
        "user": {"id": user, "username": "someone", "team_id": identity["team"]["id"]},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": f"{time.time():.0f}.{secrets.token_hex(4)}",
        "container": {"type": "view", "view_id": "V0HOME"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "action_ts": f"{time.time():.6f}",
                **extra,
            }
        ],
    }


def view_submission_for(
    install: Install,
    callback_id: str,
    values: dict[str, Any],
    *,
    user: str,
    team: str | None = None,
) -> dict[str, Any]:
    """
    A view_submission payload: a modal with these ``state.values`` submitted.
    """
    identity = _identity(install, team)
    team_id = identity["team"]["id"]
    return {
        "type": "view_submission",
        **identity,
        "user": {"id": user, "username": "someone", "team_id": team_id},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": f"{time.time():.0f}.{secrets.token_hex(4)}",
        "view": {
            "id": "V0MODAL",
            "team_id": team_id,
            "app_installed_team_id": install.team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "",
            "state": {"values": values},
        },
        "response_urls": [],
    }


async def post_interaction(
    http: HttpClient, payload: dict[str, Any]
) -> tuple[int, str]:
    """
    POST a signed interactive payload (``payload=`` form); the status and body.
    """
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    async with http.post("/slack/events", data=body, headers=headers) as response:
        return response.status, await response.text()


async def post_event(http: HttpClient, payload: dict[str, Any]) -> int:
    """
    POST a signed event to /slack/events; the status Slack would get.
    """
    body, headers = event_request(payload)
    async with http.post("/slack/events", data=body, headers=headers) as response:
        return response.status


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
    start_on: HttpClient,
    finish_on: HttpClient,
    fake: FakeSlack,
    *,
    states: list[str] | None = None,
    **grant: Any,
) -> Install:
    """
    The whole flow: begun on one replica, approved on Slack, finished on another
    (the state it used appended to ``states``).
    """
    started = await begin(start_on)
    if states is not None:
        states.append(started.state)
    approved = fake.grant(**grant)
    response = await finish(
        finish_on, code=approved.code, state=started.state, cookie=started.cookie
    )
    assert response.status == 200, await response.text()
    return approved
