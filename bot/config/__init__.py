"""
Settings for the bot, read once at start-up from the environment and ``.env``.

``Settings.from_env(mapping)`` is pure: tests pass a dict, ``load_settings`` merges
``.env`` under ``os.environ`` (the environment wins). Every error is a ``ConfigError``
naming the variable at fault, so a bad deployment fails fast with a message an
operator can act on.

    settings.py   Settings and from_env: every variable, validated
    values.py     parsers of single variables (numbers, ids, tokens, URLs, ports, ...)
    oauth.py      the "Add to Slack" variables (client credentials, scopes, keys)
    dotenv.py     reading ``.env`` and overlaying the environment
"""

from __future__ import annotations

from bot.config.dotenv import load_settings, read_dotenv
from bot.config.oauth import (
    DEFAULT_BOT_SCOPES,
    DEFAULT_STATE_EXPIRATION_SECONDS,
    OAUTH_REDIRECT_PATH,
)
from bot.config.settings import DEFAULT_SLACK_API_URL, MENTION, Settings
from bot.config.values import DEFAULT_PROBE_PORTS, IPNetwork

__all__ = [
    "DEFAULT_BOT_SCOPES",
    "DEFAULT_PROBE_PORTS",
    "DEFAULT_SLACK_API_URL",
    "DEFAULT_STATE_EXPIRATION_SECONDS",
    "MENTION",
    "OAUTH_REDIRECT_PATH",
    "IPNetwork",
    "Settings",
    "load_settings",
    "read_dotenv",
]
