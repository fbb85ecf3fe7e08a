"""
Work no request carries a token for: escalation cards, SLA reminders, and the App Home,
for a workspace install and an Enterprise Grid org-wide install served side by side.
Each goes out with its own workspace's token, to its own escalation channel, and each
workspace's App Home lists only its own escalations.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.escalation.learning import Learning
from bot.escalation.store import EscalationStore
from bot.slack import settings_view
from bot.slack.escalation.desk import Desk
from bot.slack.oauth.cipher import TokenCipher
from bot.slack.oauth.clients import InstalledClients
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.workspaces import Workspaces
from bot.state.redis_store import RedisStore
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    event_for,
    home_opened,
    install,
    oauth_env,
    post_event,
    post_interaction,
    running_front,
    view_submission_for,
)
from tests.support.slack import FakeSlack, Install

INSTALLER = "U0INSTALLER"
DESKS = {"team": "C0DESKTEAM", "org": "C0DESKORG"}


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
    One replica, its keys removed afterwards.
    """
    async with running_front(settings) as running:
        yield running
    await delete_prefix(redis_url, prefix)


async def choose_desk(
    front: Front, installed: Install, name: str, *, where: str | None = None
) -> None:
    """
    The installer picks the workspace's escalation channel and mention.
    """
    values = {
        settings_view.CHANNEL: {
            "value": {
                "type": "conversations_select",
                "selected_conversation": DESKS[name],
            }
        },
        settings_view.MENTION: {
            "value": {"type": "plain_text_input", "value": f"S0{name.upper()}"}
        },
    }
    payload = view_submission_for(
        installed, settings_view.MODAL, values, user=INSTALLER, team=where
    )
    status, body = await post_interaction(front.http, payload)
    assert (status, body) == (200, "")


async def test_cards_reminders_and_home_use_each_workspaces_token(
    front: Front, settings: Settings, fake_slack: FakeSlack, redis_url: str
) -> None:
    """
    A request for a human in a workspace and in an org's workspace: each card goes to
    that installation's escalation channel with its token and mention; the reminders
    an SLA later too; each App Home shows one open escalation, its own.
    """
    team = await install(
        front.http, front.http, fake_slack, team_id="T0ALPHA", installer=INSTALLER
    )
    org = await install(
        front.http,
        front.http,
        fake_slack,
        enterprise_id="E0ORG",
        org_wide=True,
        installer=INSTALLER,
    )
    await choose_desk(front, team, "team")
    await choose_desk(front, org, "org", where="T0ORGONE")
    asks = {
        "team": event_for(team, f"<@{team.bot_user_id}> human please", ts="1.000100"),
        "org": event_for(
            org, f"<@{org.bot_user_id}> human please", ts="2.000100", team="T0ORGTWO"
        ),
    }
    for payload in asks.values():
        assert await post_event(front.http, payload) == 200
    await fake_slack.wait_for("chat.postMessage", 4)
    await fake_slack.settle(0.5)
    tokens = {"team": team.token, "org": org.token}
    posts = fake_slack.of("chat.postMessage")
    cards = {c.args["channel"]: c for c in posts if c.args["channel"] in DESKS.values()}
    for name, channel in DESKS.items():
        assert cards[channel].token == tokens[name]
        assert f"<!subteam^S0{name.upper()}>" in json.dumps(cards[channel].args)
    assert not [c for c in fake_slack.calls if c.refused]

    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(redis, prefix=settings.redis_prefix)
    installations = RedisInstallationStore(
        redis, prefix=settings.redis_prefix, cipher=TokenCipher()
    )
    base = AsyncWebClient(base_url=fake_slack.api_url)
    later = time.time() + 16 * 60
    desk = Desk(
        settings,
        escalations=EscalationStore(redis, prefix=settings.redis_prefix),
        learning=Learning(redis, prefix=settings.redis_prefix),
        store=store,
        clock=lambda: later,
        clients=InstalledClients(installations, base=base),
        workspaces=Workspaces(settings, redis, installer_of=installations.installer_of),
    )
    try:
        before = len(fake_slack.calls)
        assert await desk.tick(base) == 2
    finally:
        await redis.aclose()
    reminders = [c for c in fake_slack.calls[before:] if c.method == "chat.postMessage"]
    by_card = {c.args["thread_ts"]: c.token for c in reminders}
    assert by_card == {_ts_of(fake_slack, DESKS[name]): tokens[name] for name in DESKS}

    before = len(fake_slack.of("views.publish"))
    for install_, extra in [(team, {}), (org, {"team": "T0ORGONE"})]:
        await post_event(front.http, home_opened(install_, INSTALLER, **extra))
    views = (await fake_slack.wait_for("views.publish", before + 2))[before:]
    homes = {view.token: json.dumps(view.args["view"]) for view in views}
    for name, token in tokens.items():
        assert "Open escalations (1)" in homes[token]
        assert f"<#{DESKS[name]}>" in homes[token]


def _ts_of(fake: FakeSlack, channel: str) -> str:
    """
    The ts the fake gave the card posted in ``channel``.
    """
    return next(m["ts"] for m in fake.posted if m.get("channel") == channel)
