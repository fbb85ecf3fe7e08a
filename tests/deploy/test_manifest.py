"""
The Slack app manifests agree with the code: every event, command and interactive
action the code handles is declared, and every scope is needed by something the code
does. What the code handles is read from the code at test time (the built Bolt app and
every listener registration under bot/), so new handlers are checked as they land.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.config import OAUTH_REDIRECT_PATH
from bot.slack.handlers import USAGE
from tests.deploy.code import (
    DEPLOY,
    Handled,
    built_app,
    declared_listeners,
    http_routes,
    registered_listeners,
    web_api_methods,
)

HTTP_MANIFEST = DEPLOY / "slack-app-manifest.yml"
SOCKET_MANIFEST = DEPLOY / "slack-app-manifest.socket.yml"
OAUTH_MANIFEST = DEPLOY / "slack-app-manifest.oauth.yml"
MANIFESTS = [HTTP_MANIFEST, SOCKET_MANIFEST, OAUTH_MANIFEST]
EVENTS_URL = "https://bot.example.com/slack/events"

# Handled event type -> the bot event subscriptions that deliver it. Messages are
# answered in public and private channels and in direct messages with the bot.
EVENT_SUBSCRIPTIONS: dict[str, set[str]] = {
    "message": {"message.channels", "message.groups", "message.im"},
    "app_mention": {"app_mention"},
    "reaction_added": {"reaction_added"},
    "reaction_removed": {"reaction_removed"},
    "app_home_opened": {"app_home_opened"},
    "tokens_revoked": {"tokens_revoked"},
    "app_uninstalled": {"app_uninstalled"},
    "team_access_revoked": {"team_access_revoked"},
}
# Events Slack sends only to organization-ready apps (org_deploy_enabled): the
# manifests of apps that cannot be installed org-wide leave them out.
ORG_EVENTS: set[str] = {"team_access_revoked"}
# Subscription -> the bot scope it requires (None: no scope).
SUBSCRIPTION_SCOPES: dict[str, str | None] = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "app_mention": "app_mentions:read",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "app_home_opened": None,
    "tokens_revoked": None,
    "app_uninstalled": None,
    "team_access_revoked": None,
}
# Web API method -> the bot scope it requires (None: the bot token alone suffices).
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "chat.getPermalink": None,
    "views.publish": None,
    "views.open": None,
    "views.update": None,
    "views.push": None,
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "reactions.get": "reactions:read",
    "conversations.replies": "channels:history",
    "conversations.history": "channels:history",
    "users.info": "users:read",
    "usergroups.list": "usergroups:read",
    # Also what downloading an upload's url_private needs.
    "files.info": "files:read",
}
# Declared ahead of their handlers: issue 5 (escalation) adds a reaction shortcut to
# "talk to a human" and the escalation queue on the App Home tab. Once those handlers
# exist they are derived from the code like every other event.
PENDING_EVENTS: dict[str, str] = {
    "reaction_added": "issue 5: ESCALATION_REACTION on a message escalates it",
    "app_home_opened": "issue 5: the Home tab lists open escalations",
}


def load(path: Any) -> dict[str, Any]:
    """
    One manifest.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def handled() -> Handled:
    """
    What the code handles: the built app's listeners plus every registration in bot/.
    """
    runtime, source = registered_listeners(built_app()), declared_listeners()
    both = Handled()
    both.events = runtime.events | source.events
    both.commands = runtime.commands | source.commands
    both.actions = runtime.actions + source.actions
    both.views = runtime.views + source.views
    both.shortcuts = runtime.shortcuts | source.shortcuts
    both.options = runtime.options + source.options
    return both


def required_subscriptions(events: set[str]) -> set[str]:
    """
    The subscriptions the handled events need.
    """
    unknown = events - EVENT_SUBSCRIPTIONS.keys()
    assert not unknown, f"add {unknown} to EVENT_SUBSCRIPTIONS (and the manifests)"
    return set().union(*(EVENT_SUBSCRIPTIONS[e] for e in events))


def required_scopes(code: Handled, subscriptions: set[str]) -> dict[str, set[str]]:
    """
    Scope -> what in the code requires it.
    """
    needs: dict[str, set[str]] = {}
    for subscription in subscriptions:
        scope = SUBSCRIPTION_SCOPES[subscription]
        if scope is not None:
            needs.setdefault(scope, set()).add(f"event {subscription}")
    methods = web_api_methods()
    unknown = methods - METHOD_SCOPES.keys()
    assert not unknown, f"add {unknown} to METHOD_SCOPES with the scope each needs"
    for method in methods:
        scope = METHOD_SCOPES[method]
        if scope is not None:
            needs.setdefault(scope, set()).add(f"method {method}")
    for command in code.commands:
        needs.setdefault("commands", set()).add(f"command {command}")
    return needs


@pytest.fixture(scope="module")
def code() -> Handled:
    """
    What the code handles, computed once.
    """
    return handled()


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_handled_event_is_subscribed(path: Any, code: Handled) -> None:
    """
    Each event type the code listens to has its subscriptions, and nothing more.
    """
    manifest = load(path)
    declared = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    org_ready = manifest["settings"].get("org_deploy_enabled") is True
    required = required_subscriptions(
        code.events if org_ready else code.events - ORG_EVENTS
    )
    assert required <= declared, f"missing subscriptions: {required - declared}"
    pending = required_subscriptions(set(PENDING_EVENTS))
    extra = declared - required - pending
    assert not extra, f"subscribed but not handled: {extra}"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_scopes_are_exactly_what_the_code_needs(path: Any, code: Handled) -> None:
    """
    Every scope the code needs is requested; every requested scope has a reason.
    """
    scopes = set(load(path)["oauth_config"]["scopes"]["bot"])
    subscriptions = required_subscriptions(code.events)
    needs = required_scopes(code, subscriptions)
    assert needs.keys() <= scopes, f"missing scopes: {needs.keys() - scopes}"
    pending = {
        scope
        for s in required_subscriptions(set(PENDING_EVENTS))
        if (scope := SUBSCRIPTION_SCOPES[s]) is not None
    }
    unneeded = scopes - needs.keys() - pending
    assert not unneeded, f"scopes nothing in the code needs: {unneeded}"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_slash_commands_match_the_handlers(path: Any, code: Handled) -> None:
    """
    The declared commands are the handled ones; /smtpcheck's hint is the usage text's.
    """
    commands = {c["command"]: c for c in load(path)["features"]["slash_commands"]}
    assert set(commands) == code.commands
    hint = commands["/smtpcheck"]["usage_hint"]
    assert hint == "host[:port] [--mx]"
    assert f"/smtpcheck {hint}" in USAGE


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_interactivity_home_tab_and_bot_user(path: Any, code: Handled) -> None:
    """
    Buttons need interactivity; app_home_opened needs the Home tab; direct messages
    need the Messages tab, writable; there is a bot user.
    """
    manifest = load(path)
    assert code.actions, "the code handles buttons"
    assert manifest["settings"]["interactivity"]["is_enabled"] is code.interactive
    if "app_home_opened" in code.events | set(PENDING_EVENTS):
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    # Direct messages reach the bot only through the App Home Messages tab.
    direct = "message.im" in required_subscriptions(code.events)
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is direct
    assert home["messages_tab_read_only_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    declared = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    assert code.shortcuts <= declared
    info = manifest["display_information"]
    assert info["name"] and len(info["description"]) <= 139
    assert 175 <= len(info["long_description"]) <= 4000


def test_http_manifest_points_every_url_at_the_events_route() -> None:
    """
    Events, interactivity and the command post to /slack/events, which HTTP mode serves.
    """
    manifest = load(HTTP_MANIFEST)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert urls and all(url == EVENTS_URL for url in urls)
    assert "POST" in http_routes()["/slack/events"]


def test_socket_manifest_is_the_http_one_without_urls() -> None:
    """
    The Socket Mode variant enables Socket Mode and differs in nothing else.
    """
    http, socket = load(HTTP_MANIFEST), load(SOCKET_MANIFEST)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert "request_url" not in socket["settings"]["interactivity"]
    for command in http["features"]["slash_commands"]:
        command.pop("url")
    del http["settings"]["event_subscriptions"]["request_url"]
    del http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True
    assert socket == http


def test_oauth_manifest_is_the_http_one_with_a_redirect_url_and_org_installs() -> None:
    """
    The "Add to Slack" variant adds the OAuth redirect URL (the route the bot serves),
    org-wide installs and the events only org-ready apps get, and differs in nothing
    else.
    """
    http, oauth = load(HTTP_MANIFEST), load(OAUTH_MANIFEST)
    (redirect,) = oauth["oauth_config"].pop("redirect_urls")
    assert redirect == "https://bot.example.com" + OAUTH_REDIRECT_PATH
    assert oauth["settings"].pop("org_deploy_enabled") is True
    http["settings"].pop("org_deploy_enabled")
    events = oauth["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) >= ORG_EVENTS
    events[:] = [e for e in events if e not in ORG_EVENTS]
    assert oauth == http


def test_source_scan_sees_every_listener_of_the_built_app() -> None:
    """
    The registrations found in the source include all the built app's listeners.
    """
    runtime, source = registered_listeners(built_app()), declared_listeners()
    assert runtime.events and runtime.commands and runtime.actions
    assert runtime.events <= source.events
    assert runtime.commands <= source.commands
    assert len(runtime.actions) <= len(source.actions)
