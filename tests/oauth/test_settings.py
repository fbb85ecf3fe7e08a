"""
Each installed workspace's own settings, set by its installer or admins in the App Home
(the Edit settings button, Slack's modal, its submission) and kept in Redis: where the
bot answers, who may run /smtpcheck, where requests for a human go and whom they
mention. The environment's values stay the defaults of workspaces that chose nothing.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.slack import settings_view
from tests.support.bot import delete_prefix
from tests.support.installs import (
    Front,
    block_action_for,
    event_for,
    home_opened,
    install,
    oauth_env,
    post_event,
    post_interaction,
    running_front,
    view_submission_for,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import ADMIN, CHANNEL, FakeSlack, Install, sign

INSTALLER = "U0INSTALLER"
NEW_CHANNEL = "C0NEWHELP"
DESK = "C0DESK"


@pytest.fixture
async def front(
    fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Front]:
    """
    One replica serving installed workspaces (env defaults: SUPPORT_CHANNELS and
    ADMIN_USERS of the test environment, no escalation channel).
    """
    fake_slack.strict_tokens = True
    settings = Settings.from_env(oauth_env(fake_slack, redis_url, prefix))
    async with running_front(settings) as running:
        yield running
    await delete_prefix(redis_url, prefix)


@pytest.fixture
async def teams(front: Front, fake_slack: FakeSlack) -> dict[str, Install]:
    """
    Two workspaces installed by their own installers.
    """
    return {
        "alpha": await install(
            front.http, front.http, fake_slack, team_id="T0ALPHA", installer=INSTALLER
        ),
        "beta": await install(
            front.http, front.http, fake_slack, team_id="T0BETA", installer="U0OTHER"
        ),
    }


def chosen(
    *,
    support: list[str] | None = None,
    admins: list[str] | None = None,
    channel: str | None = None,
    mention: str | None = None,
) -> dict[str, Any]:
    """
    The settings modal's state.values as Slack submits them.
    """
    return {
        settings_view.SUPPORT: {
            "value": {
                "type": "multi_conversations_select",
                "selected_conversations": support or [],
            }
        },
        settings_view.ADMINS: {
            "value": {"type": "multi_users_select", "selected_users": admins or []}
        },
        settings_view.CHANNEL: {
            "value": {"type": "conversations_select", "selected_conversation": channel}
        },
        settings_view.MENTION: {
            "value": {"type": "plain_text_input", "value": mention}
        },
    }


async def save(front: Front, team: Install, user: str, **values: Any) -> dict[str, Any]:
    """
    Submit the settings modal; Slack's view of the answer ({} when accepted).
    """
    payload = view_submission_for(
        team, settings_view.MODAL, chosen(**values), user=user
    )
    status, body = await post_interaction(front.http, payload)
    assert status == 200, body
    return json.loads(body) if body else {}


def command_for(
    team: Install, user: str, text: str, response_url: str
) -> tuple[str, dict[str, str]]:
    """
    /smtpcheck as Slack posts it from this workspace.
    """
    body = urllib.parse.urlencode(
        {
            "token": "legacy",
            "team_id": team.team_id,
            "team_domain": "t",
            "channel_id": CHANNEL,
            "user_id": user,
            "command": "/smtpcheck",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}


async def test_the_installer_gets_settings_in_the_app_home(
    front: Front, teams: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    The installer's Home tab has a Settings part with an Edit button that opens the
    modal filled with the defaults; someone else's has neither; each is drawn with
    the workspace's own token.
    """
    alpha = teams["alpha"]
    assert await post_event(front.http, home_opened(alpha, INSTALLER)) == 200
    assert await post_event(front.http, home_opened(alpha, "U0ALICE")) == 200
    views = await fake_slack.wait_for("views.publish", 2)
    by_user = {c.args["user_id"]: c for c in views}
    assert {c.token for c in views} == {alpha.token}
    mine = json.dumps(by_user[INSTALLER].args["view"])
    assert settings_view.EDIT in mine and "Settings" in mine
    assert settings_view.EDIT not in json.dumps(by_user["U0ALICE"].args["view"])
    click = block_action_for(alpha, settings_view.EDIT, user=INSTALLER)
    assert (await post_interaction(front.http, click))[0] == 200
    (opened,) = await fake_slack.wait_for("views.open")
    assert opened.token == alpha.token
    modal = opened.args["view"]
    assert modal["callback_id"] == settings_view.MODAL
    support = modal["blocks"][0]["element"]
    assert support["initial_conversations"] == [CHANNEL]
    stranger = block_action_for(alpha, settings_view.EDIT, user="U0ALICE")
    assert (await post_interaction(front.http, stranger))[0] == 200
    await fake_slack.settle()
    assert len(fake_slack.of("views.open")) == 1


async def test_saved_settings_decide_where_the_bot_answers_and_who_checks(
    front: Front, teams: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    After the installer saves a support channel and an admin, alpha is answered only
    there and only that admin (and the installer) may run /smtpcheck; beta keeps the
    environment's defaults.
    """
    alpha, beta = teams["alpha"], teams["beta"]
    assert (
        await save(front, alpha, INSTALLER, support=[NEW_CHANNEL], admins=["U0BOB"])
        == {}
    )
    home = await fake_slack.wait_for("views.publish")
    assert f"<#{NEW_CHANNEL}>" in json.dumps(home[-1].args["view"])
    for team, channel, ts in [
        (alpha, CHANNEL, "1700000001.000100"),
        (alpha, NEW_CHANNEL, "1700000002.000100"),
        (beta, CHANNEL, "1700000003.000100"),
        (beta, NEW_CHANNEL, "1700000004.000100"),
    ]:
        assert (
            await post_event(
                front.http, event_for(team, STARTTLS_PASTE, channel=channel, ts=ts)
            )
            == 200
        )
    await fake_slack.wait_for("chat.postMessage", 2)
    await fake_slack.settle(0.5)
    answered = {
        (c.token, c.args["thread_ts"]) for c in fake_slack.of("chat.postMessage")
    }
    assert answered == {
        (alpha.token, "1700000002.000100"),
        (beta.token, "1700000003.000100"),
    }
    response_url = f"{fake_slack.url}/response/x"
    for user, allowed in [("U0BOB", True), (INSTALLER, True), (ADMIN, False)]:
        body, headers = command_for(alpha, user, "mail.example.com", response_url)
        async with front.http.post("/slack/events", data=body, headers=headers) as r:
            text = await r.text()
        assert ("only admins" not in text) == allowed, (user, text)


async def test_a_bad_mention_or_a_non_admin_saves_nothing(
    front: Front, teams: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    A mention that is not one, or a submission from someone who is not an admin,
    gets the modal's errors and changes nothing.
    """
    alpha = teams["alpha"]
    refused = await save(front, alpha, INSTALLER, mention="the support team")
    assert refused["response_action"] == "errors"
    assert settings_view.MENTION in refused["errors"]
    refused = await save(front, alpha, "U0ALICE", support=[NEW_CHANNEL])
    assert refused["response_action"] == "errors"
    await post_event(front.http, event_for(alpha, STARTTLS_PASTE, channel=CHANNEL))
    (answer,) = await fake_slack.wait_for("chat.postMessage")
    assert answer.args["channel"] == CHANNEL


async def test_asking_for_a_human_without_an_escalation_channel_says_so(
    front: Front, teams: dict[str, Install], fake_slack: FakeSlack
) -> None:
    """
    With no escalation channel chosen, the thread is told nobody was notified; once
    the installer chooses one and a mention, the next request's card goes there,
    with that mention and the workspace's token.
    """
    alpha = teams["alpha"]
    ask = f"<@{alpha.bot_user_id}> can a human help?"
    await post_event(front.http, event_for(alpha, ask, ts="1700000010.000100"))
    (told,) = await fake_slack.wait_for("chat.postMessage")
    assert "No escalation channel is set up" in told.args["text"]
    assert told.token == alpha.token
    assert (
        await save(
            front,
            alpha,
            INSTALLER,
            support=[CHANNEL],
            channel=DESK,
            mention="S0HELPERS",
        )
        == {}
    )
    await post_event(front.http, event_for(alpha, ask, ts="1700000020.000100"))
    posts = await fake_slack.wait_for("chat.postMessage", 3)
    card = next(c for c in posts if c.args["channel"] == DESK)
    assert card.token == alpha.token
    assert "<!subteam^S0HELPERS>" in json.dumps(card.args)
    assert "No escalation channel" not in posts[1].args["text"]
