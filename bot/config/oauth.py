"""
The "Add to Slack" settings: client id and secret, scopes, redirect URL, how long an
OAuth state lives, and the keys that seal installed tokens at rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, TypedDict

from bot.config.values import parse_int, parse_url
from bot.errors import ConfigError

# The bot scopes deploy/slack-app-manifest.yml asks for (an "Add to Slack" install asks
# for the same unless SLACK_SCOPES says otherwise; tests/deploy keeps them in step).
DEFAULT_BOT_SCOPES: Final = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "reactions:read",
)
# Slack's own advice for an OAuth state's life: long enough to read the consent page.
DEFAULT_STATE_EXPIRATION_SECONDS: Final = 600
# The path Slack sends installers back to (the server routes it; SLACK_REDIRECT_URI,
# when set, must end in it).
OAUTH_REDIRECT_PATH: Final = "/slack/oauth_redirect"


def parse_scopes(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """
    Comma-separated OAuth scopes such as ``chat:write,commands``.
    """
    items = [i.strip() for i in env.get(name, "").split(",") if i.strip()]
    for item in items:
        if not re.fullmatch(r"[a-z][a-z0-9_.-]*(?::[a-z0-9_.-]+)*", item):
            raise ConfigError(name, f"{item!r} is not a Slack scope like chat:write")
    return tuple(dict.fromkeys(items)) or DEFAULT_BOT_SCOPES


def parse_fernet_keys(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """
    Comma-separated Fernet keys (the first encrypts; all decrypt).
    """
    from cryptography.fernet import Fernet

    keys = tuple(k.strip() for k in env.get(name, "").split(",") if k.strip())
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigError(
                name,
                f"key {number} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with `smtpbot installs new-key`)",
            ) from None
    return keys


class OAuthFields(TypedDict):
    slack_client_id: str | None
    slack_client_secret: str | None
    slack_scopes: tuple[str, ...]
    slack_redirect_uri: str | None
    slack_state_expiration_seconds: int
    token_encryption_keys: tuple[str, ...]


def oauth_fields(env: Mapping[str, str], bot_token: str | None) -> OAuthFields:
    """
    The "Add to Slack" settings: client id and secret (both or neither), never with a
    bot token.
    """
    client_id = env.get("SLACK_CLIENT_ID", "").strip() or None
    secret = env.get("SLACK_CLIENT_SECRET", "").strip() or None
    if client_id is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError(
            "SLACK_CLIENT_ID",
            "expected the app's Client ID like 1234567890.1234567890 (Basic "
            "Information → App Credentials)",
        )
    if bool(client_id) != bool(secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(
            missing,
            "installing into many workspaces needs both the client id and secret",
        )
    if client_id and bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN",
            "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (every workspace that installs the app), not both",
        )
    redirect = parse_url(env, "SLACK_REDIRECT_URI", None, ("https", "http"))
    if redirect is not None and not redirect.split("?", 1)[0].endswith(
        OAUTH_REDIRECT_PATH
    ):
        raise ConfigError(
            "SLACK_REDIRECT_URI", f"must end in {OAUTH_REDIRECT_PATH}, got {redirect!r}"
        )
    return OAuthFields(
        slack_client_id=client_id,
        slack_client_secret=secret,
        slack_scopes=parse_scopes(env, "SLACK_SCOPES"),
        slack_redirect_uri=redirect,
        slack_state_expiration_seconds=parse_int(
            env,
            "SLACK_STATE_EXPIRATION_SECONDS",
            DEFAULT_STATE_EXPIRATION_SECONDS,
            low=1,
            high=86_400,
        ),
        token_encryption_keys=parse_fernet_keys(env, "SLACK_TOKEN_ENCRYPTION_KEYS"),
    )
