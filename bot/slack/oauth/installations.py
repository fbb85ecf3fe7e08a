"""
Installations in Redis: slack_sdk's ``AsyncInstallationStore`` for the bot's own state
store, so that every replica, front or worker, serves every installed workspace.

Records, their keys and which fields are sealed: ``bot.slack.oauth.records``. The bot
token lives only in the bot record: revoking it (``delete_bot``) removes it from Redis
in one command.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.async_installation_store import (
    AsyncInstallationStore,
)
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.slack.oauth.lookup import InstallationLookup
from bot.slack.oauth.records import (
    BOT_FIELDS,
    USER_TOKEN_FIELDS,
    text,
    without_bot,
    workspace_key,
)

__all__ = ["RedisInstallationStore", "workspace_key"]


class RedisInstallationStore(InstallationLookup, AsyncInstallationStore):
    """
    Installations and bots in Redis, secrets sealed; safe to share between processes.
    """

    # Saving -----------------------------------------------------------------------

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
        record = self._codec.encode(without_bot(installation))

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.key(workspace), record)
                if installation.user_id:
                    pipe.set(self._keys.user(workspace, installation.user_id), record)
                    pipe.sadd(self._keys.users(workspace), installation.user_id)
                if installation.bot_token:
                    pipe.set(
                        self.bot_key(workspace),
                        self._codec.encode(vars(installation.to_bot())),
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
                pipe.set(self.bot_key(workspace), self._codec.encode(vars(bot)))
                pipe.sadd(self.index, workspace)
                await pipe.execute()

        await self._call(run)

    # Finding ----------------------------------------------------------------------

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
        key = self._keys.user(workspace, user_id) if user_id else self.key(workspace)
        raw, raw_bot = await self._call(
            lambda: self._client.mget([key, self.bot_key(workspace)])
        )
        fields = self._codec.decode(raw)
        if fields is None:
            return None
        bot = self._codec.decode(raw_bot) or {}
        for name in BOT_FIELDS:
            fields[name] = bot.get(name)
        fields["bot_scopes"] = fields["bot_scopes"] or ""
        return Installation(**fields)

    # Deleting ---------------------------------------------------------------------

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
        latest = self._codec.decode(
            await self._call(lambda: self._client.get(self.key(workspace)))
        )

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._keys.user(workspace, user_id))
                pipe.srem(self._keys.users(workspace), user_id)
                if latest is not None and latest.get("user_id") == user_id:
                    for name in USER_TOKEN_FIELDS:
                        latest[name] = None
                    pipe.set(self.key(workspace), self._codec.encode(latest))
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
        users_key = self._keys.users(workspace)
        users = await self._call(lambda: self._client.smembers(users_key))

        async def run() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                names = [self.key(workspace), users_key]
                names += [self._keys.user(workspace, text(u)) for u in users]
                if bot:
                    names.append(self.bot_key(workspace))
                    pipe.srem(self.index, workspace)
                pipe.delete(*names)
                await pipe.execute()

        await self._call(run)
