"""
What is installed under each workspace key, read from Redis: the bot, the latest
installer, the workspace key that serves a request's ids (a team's own install, else
its org's org-wide one), every installed workspace, and the re-sealing of stored
secrets under the current key. ``RedisInstallationStore`` adds slack_sdk's interface
(save, find, delete) on top.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from slack_sdk.oauth.installation_store.models.bot import Bot

from bot.metrics import Metrics
from bot.slack.oauth.calls import redis_call
from bot.slack.oauth.cipher import TokenCipher
from bot.slack.oauth.records import Codec, InstallKeys, text, workspace_key

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class InstallationLookup:
    """
    Installation records in Redis under one prefix, read by workspace key.
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
        self._keys = InstallKeys(prefix)
        self._codec = Codec(cipher or TokenCipher())
        self._metrics = metrics
        self.index = self._keys.index

    @property
    def logger(self) -> logging.Logger:
        """
        The logger slack_sdk's interface asks for.
        """
        return log

    def key(self, workspace: str) -> str:
        """
        The latest installation of a workspace (or org).
        """
        return self._keys.latest(workspace)

    def bot_key(self, workspace: str) -> str:
        """
        The bot record of a workspace (or org).
        """
        return self._keys.bot(workspace)

    async def _call(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await redis_call(
            operation, store="installation store", metrics=self._metrics
        )

    async def bot_of(self, workspace: str) -> Bot | None:
        """
        The bot installed under a workspace key, or None.
        """
        fields = self._codec.decode(
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
        org = self._codec.decode(
            await self._call(lambda: self._client.get(self.key(enterprise_id)))
        )
        if org is None:
            org = self._codec.decode(
                await self._call(lambda: self._client.get(self.bot_key(enterprise_id)))
            )
        return enterprise_id if org and org.get("is_enterprise_install") else workspace

    async def installer_of(self, workspace: str) -> str | None:
        """
        Who made the latest installation under a workspace key, or None.
        """
        fields = self._codec.decode(
            await self._call(lambda: self._client.get(self.key(workspace)))
        )
        user = (fields or {}).get("user_id")
        return str(user) if user else None

    async def installed(self) -> list[str]:
        """
        Every workspace key with a bot, sorted.
        """
        members = await self._call(lambda: self._client.smembers(self.index))
        return sorted(text(m) for m in members)

    async def rekey(self) -> int:
        """
        Re-seal every stored secret under the cipher's first key (or in the clear
        without keys); returns how many records were rewritten.
        """
        rewritten = 0
        for name in await self._call(lambda: self._scan(f"{self._prefix}install:*")):
            if not self._keys.sealed(name):
                continue
            raw = await self._call(functools.partial(self._client.get, name))
            if raw is None or self._codec.current(raw):
                continue
            fields = self._codec.decode(raw)
            if fields is None:
                continue
            rewrite = functools.partial(
                self._client.set, name, self._codec.encode(fields), xx=True
            )
            rewritten += bool(await self._call(rewrite))
        return rewritten

    async def _scan(self, pattern: str) -> list[str]:
        return [text(k) async for k in self._client.scan_iter(match=pattern, count=500)]
