"""
Installations in Redis: slack_sdk's ``AsyncInstallationStore`` for the bot's own state
store, so that every replica, front or worker, serves every installed workspace.

An installation belongs to a *workspace key*: the team id for a workspace install, the
enterprise id for an org-wide (Enterprise Grid) install. Conversations and per-workspace
settings use the same key. Keys, under REDIS_KEY_PREFIX:

    install:<W>              the latest installation: who installed, when, the team or
                             org names and scopes; no bot token
    install:<W>:user:<U>     the installation as user U made it (no bot token)
    install:<W>:users        the user ids with a record above
    install:<W>:bot          the bot: token (and refresh token), bot and bot user ids
    installs                 every workspace key with a bot

The bot token lives only in ``install:<W>:bot``: revoking it (``delete_bot``) removes it
from Redis in one command. Secrets (tokens, refresh tokens, an incoming-webhook URL)
are sealed by ``TokenCipher`` before they are written.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from slack_sdk.oauth.installation_store.async_installation_store import (
    AsyncInstallationStore,
)
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.slack.oauth.cipher import TokenCipher

log = logging.getLogger(__name__)

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

_T = TypeVar("_T")


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


class RedisInstallationStore(AsyncInstallationStore):
    """
    Installations and bots in Redis, secrets sealed; safe to share between processes.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        cipher: TokenCipher | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._cipher = cipher or TokenCipher()
        self._metrics = metrics
        self.index = f"{prefix}installs"

    @property
    def logger(self) -> logging.Logger:
        """
        The logger slack_sdk's interface asks for.
        """
        return log

    # Keys -----------------------------------------------------------------------------

    def key(self, workspace: str) -> str:
        """
        The latest installation of a workspace (or org).
        """
        return f"{self._prefix}install:{workspace}"

    def bot_key(self, workspace: str) -> str:
        """
        The bot record of a workspace (or org).
        """
        return f"{self._prefix}install:{workspace}:bot"

    def _user_key(self, workspace: str, user_id: str) -> str:
        return f"{self._prefix}install:{workspace}:user:{user_id}"

    def _users_key(self, workspace: str) -> str:
        return f"{self._prefix}install:{workspace}:users"

    async def _call(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        if self._metrics is not None:
            self._metrics.redis_round_trips.inc()
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"installation store: {type(exc).__name__}"
            ) from exc

    # Encoding -------------------------------------------------------------------------

    def _encode(self, fields: dict[str, Any]) -> str:
        sealed = {
            k: self._cipher.seal(v) if k in SECRET_FIELDS else v
            for k, v in fields.items()
        }
        return json.dumps(sealed, separators=(",", ":"))

    def _decode(self, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        fields = json.loads(raw)
        if not isinstance(fields, dict):
            return None
        for name in SECRET_FIELDS:
            if isinstance(fields.get(name), str):
                fields[name] = self._cipher.open(fields[name])
        return fields

    @staticmethod
    def _without_bot(installation: Installation) -> dict[str, Any]:
        return {k: v for k, v in vars(installation).items() if k not in BOT_FIELDS}

    # Saving ---------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        """
        Store an installation (and its bot) as the workspace's latest, atomically.
        """
        workspace = workspace_key(
            installation.enterprise_id,
            installation.team_id,
            installation.is_enterprise_install,
        )
        if workspace is None:
            raise ValueError("an installation names neither a team nor an enterprise")
        record = self._encode(self._without_bot(installation))

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.key(workspace), record)
                if installation.user_id:
                    pipe.set(self._user_key(workspace, installation.user_id), record)
                    pipe.sadd(self._users_key(workspace), installation.user_id)
                if installation.bot_token:
                    pipe.set(
                        self.bot_key(workspace),
                        self._encode(vars(installation.to_bot())),
                    )
                    pipe.sadd(self.index, workspace)
                await pipe.execute()

        await self._call(run)

    async def async_save_bot(self, bot: Bot) -> None:
        """
        Store a bot on its own (a rotated token).
        """
        workspace = workspace_key(
            bot.enterprise_id, bot.team_id, bot.is_enterprise_install
        )
        if workspace is None:
            raise ValueError("a bot names neither a team nor an enterprise")

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.bot_key(workspace), self._encode(vars(bot)))
                pipe.sadd(self.index, workspace)
                await pipe.execute()

        await self._call(run)

    # Finding --------------------------------------------------------------------------

    async def bot_of(self, workspace: str) -> Bot | None:
        """
        The bot installed under a workspace key, or None.
        """
        fields = self._decode(
            await self._call(lambda: self._client.get(self.bot_key(workspace)))
        )
        return Bot(**fields) if fields and fields.get("bot_token") else None

    async def resolve(
        self,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None,
    ) -> str | None:
        """
        The workspace key that serves these ids: the team's own install, else its
        org's org-wide install.
        """
        workspace = workspace_key(enterprise_id, team_id, is_enterprise_install)
        if workspace is None or workspace == enterprise_id or not enterprise_id:
            return workspace
        found = await self._call(
            lambda: self._client.exists(self.key(workspace), self.bot_key(workspace))
        )
        if found:
            return workspace
        org = self._decode(
            await self._call(lambda: self._client.get(self.key(enterprise_id)))
        )
        if org is None:
            org = self._decode(
                await self._call(lambda: self._client.get(self.bot_key(enterprise_id)))
            )
        return enterprise_id if org and org.get("is_enterprise_install") else workspace

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """
        The bot serving these ids: the workspace's own, or its org's org-wide one.
        """
        workspace = workspace_key(enterprise_id, team_id, is_enterprise_install)
        if workspace is None:
            return None
        bot = await self.bot_of(workspace)
        if bot is None and enterprise_id and workspace != enterprise_id:
            org = await self.bot_of(enterprise_id)
            if org is not None and org.is_enterprise_install:
                return org
        return bot

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """
        The latest installation (or user ``user_id``'s), with the current bot.
        """
        workspace = await self.resolve(enterprise_id, team_id, is_enterprise_install)
        if workspace is None:
            return None
        key = self._user_key(workspace, user_id) if user_id else self.key(workspace)
        raw, raw_bot = await self._call(
            lambda: self._client.mget([key, self.bot_key(workspace)])
        )
        fields = self._decode(raw)
        if fields is None:
            return None
        bot = self._decode(raw_bot) or {}
        for name in BOT_FIELDS:
            fields[name] = bot.get(name)
        fields["bot_scopes"] = fields["bot_scopes"] or ""
        return Installation(**fields)

    async def installer_of(self, workspace: str) -> str | None:
        """
        Who made the latest installation under a workspace key, or None.
        """
        fields = self._decode(
            await self._call(lambda: self._client.get(self.key(workspace)))
        )
        user = (fields or {}).get("user_id")
        return str(user) if user else None

    async def installed(self) -> list[str]:
        """
        Every workspace key with a bot, sorted.
        """
        members = await self._call(lambda: self._client.smembers(self.index))
        return sorted(_text(m) for m in members)

    # Deleting -------------------------------------------------------------------------

    async def async_delete_bot(
        self, *, enterprise_id: str | None, team_id: str | None
    ) -> None:
        """
        Forget a workspace's (or org's) bot token.
        """
        workspace = await self.resolve(enterprise_id, team_id, None)
        if workspace is not None:
            await self.delete_bot_of(workspace)

    async def delete_bot_of(self, workspace: str) -> None:
        """
        Forget the bot token stored under a workspace key.
        """

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self.bot_key(workspace))
                pipe.srem(self.index, workspace)
                await pipe.execute()

        await self._call(run)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        """
        Forget one user's installation (and their user token), or with no user every
        installation record of the workspace; the bot is kept.
        """
        workspace = await self.resolve(enterprise_id, team_id, None)
        if workspace is None:
            return
        if user_id is None:
            await self._delete_records(workspace, bot=False)
            return
        latest = self._decode(
            await self._call(lambda: self._client.get(self.key(workspace)))
        )

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._user_key(workspace, user_id))
                pipe.srem(self._users_key(workspace), user_id)
                if latest is not None and latest.get("user_id") == user_id:
                    for name in USER_TOKEN_FIELDS:
                        latest[name] = None
                    pipe.set(self.key(workspace), self._encode(latest))
                await pipe.execute()

        await self._call(run)

    async def async_delete_all(
        self, *, enterprise_id: str | None, team_id: str | None
    ) -> None:
        """
        Forget everything installed for a workspace (or org): records and bot.
        """
        workspace = await self.resolve(enterprise_id, team_id, None)
        if workspace is not None:
            await self.delete_all_of(workspace)

    async def delete_all_of(self, workspace: str) -> None:
        """
        Forget everything installed under a workspace key.
        """
        await self._delete_records(workspace, bot=True)

    async def _delete_records(self, workspace: str, *, bot: bool) -> None:
        users_key = self._users_key(workspace)
        users = await self._call(lambda: self._client.smembers(users_key))

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                names = [self.key(workspace), users_key]
                names += [self._user_key(workspace, _text(u)) for u in users]
                if bot:
                    names.append(self.bot_key(workspace))
                    pipe.srem(self.index, workspace)
                pipe.delete(*names)
                await pipe.execute()

        await self._call(run)

    # Keys at rest ---------------------------------------------------------------------

    async def rekey(self) -> int:
        """
        Re-seal every stored secret under the cipher's first key (or in the clear
        without keys); returns how many records were rewritten.
        """
        rewritten = 0
        for name in await self._call(lambda: self._scan(f"{self._prefix}install:*")):
            if name.endswith(":users") or name == self.index:
                continue
            raw = await self._call(functools.partial(self._client.get, name))
            if raw is None:
                continue
            stored = json.loads(raw)
            if all(self._cipher.current(stored.get(f)) for f in SECRET_FIELDS):
                continue
            fields = self._decode(raw)
            if fields is None:
                continue
            rewrite = functools.partial(
                self._client.set, name, self._encode(fields), xx=True
            )
            rewritten += bool(await self._call(rewrite))
        return rewritten

    async def _scan(self, pattern: str) -> list[str]:
        return [
            _text(k) async for k in self._client.scan_iter(match=pattern, count=500)
        ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
