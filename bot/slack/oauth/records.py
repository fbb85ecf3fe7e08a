"""
How installations are laid out in Redis: the key of each record, which fields are
secrets (sealed by ``TokenCipher`` before they are written), and which belong to the
bot record rather than the installation records.

An installation belongs to a *workspace key*: the team id for a workspace install, the
enterprise id for an org-wide (Enterprise Grid) install. Conversations and per-workspace
settings use the same key. Keys, under REDIS_KEY_PREFIX:

    install:<W>              the latest installation: who installed, when, the team or
                             org names and scopes; no bot token
    install:<W>:user:<U>     the installation as user U made it (no bot token)
    install:<W>:users        the user ids with a record above
    install:<W>:bot          the bot: token (and refresh token), bot and bot user ids
    installs                 every workspace key with a bot

The bot token lives only in ``install:<W>:bot``: revoking it removes it from Redis in
one command.
"""

from __future__ import annotations

import json
from typing import Any, Final

from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.slack.oauth.cipher import TokenCipher

# Fields that are secrets: sealed at rest, never logged.
SECRET_FIELDS: Final = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",
)
# What the bot record holds and the installation records leave out.
BOT_FIELDS: Final = (
    "bot_token",
    "bot_id",
    "bot_user_id",
    "bot_scopes",
    "bot_refresh_token",
    "bot_token_expires_at",
)
# An installer's token, dropped from the records when their tokens are revoked.
USER_TOKEN_FIELDS: Final = ("user_token", "user_refresh_token", "user_token_expires_at")


def workspace_key(
    enterprise_id: str | None,
    team_id: str | None,
    is_enterprise_install: bool | None = False,
) -> str | None:
    """
    The key an installation is stored under: the org for an org-wide install, else the
    workspace (None when the payload names neither).
    """
    if is_enterprise_install and enterprise_id:
        return enterprise_id
    return team_id or enterprise_id


class InstallKeys:
    """
    The Redis key names of installations under one prefix.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.index = f"{prefix}installs"

    def latest(self, workspace: str) -> str:
        """
        The latest installation of a workspace (or org).
        """
        return f"{self.prefix}install:{workspace}"

    def bot(self, workspace: str) -> str:
        """
        The bot record of a workspace (or org).
        """
        return f"{self.prefix}install:{workspace}:bot"

    def user(self, workspace: str, user_id: str) -> str:
        """
        The installation as one user made it.
        """
        return f"{self.prefix}install:{workspace}:user:{user_id}"

    def users(self, workspace: str) -> str:
        """
        The set of users with a record of their own.
        """
        return f"{self.prefix}install:{workspace}:users"

    def sealed(self, name: str) -> bool:
        """
        True for a key that may hold a sealed secret (an installation or bot record).
        """
        return (
            name.startswith(f"{self.prefix}install:")
            and not name.endswith(":users")
            and name != self.index
        )


class Codec:
    """
    Records as JSON, their secret fields sealed with the cipher.
    """

    def __init__(self, cipher: TokenCipher) -> None:
        self.cipher = cipher

    def encode(self, fields: dict[str, Any]) -> str:
        """
        JSON with every secret field sealed.
        """
        sealed = {
            k: self.cipher.seal(v) if k in SECRET_FIELDS else v
            for k, v in fields.items()
        }
        return json.dumps(sealed, separators=(",", ":"))

    def decode(self, raw: Any) -> dict[str, Any] | None:
        """
        The fields of a stored record, secrets opened; None for nothing stored.
        """
        if raw is None:
            return None
        fields = json.loads(raw)
        if not isinstance(fields, dict):
            return None
        for name in SECRET_FIELDS:
            if isinstance(fields.get(name), str):
                fields[name] = self.cipher.open(fields[name])
        return fields

    def current(self, raw: Any) -> bool:
        """
        True when every secret of a stored record is sealed as the cipher seals now
        (under its first key, or in the clear without keys).
        """
        stored = json.loads(raw)
        return all(self.cipher.current(stored.get(f)) for f in SECRET_FIELDS)


def without_bot(installation: Installation) -> dict[str, Any]:
    """
    An installation's fields but the bot's (which live in the bot record).
    """
    return {k: v for k, v in vars(installation).items() if k not in BOT_FIELDS}


def text(value: Any) -> str:
    """
    A Redis reply as str.
    """
    return value.decode() if isinstance(value, bytes) else str(value)
