"""
Per-workspace authorization: each request is served with the bot token of the
installation it came from, looked up in the installation store.

Bolt's ``AsyncInstallationStoreAuthorize`` calls ``auth.test`` for every request (or
caches its answer per process for good); the installation already records the bot and
bot user ids, so this one makes no Web API call at all, and a token removed from the
store (uninstall, revocation) is never used again by any process. Tokens that Slack
rotates (refresh tokens, when token rotation is turned on for the app) are refreshed
here, shortly before they expire, by one replica at a time
(``bot.slack.oauth.refresh``).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.refresh import Refresher


class InstalledBotAuthorize(AsyncAuthorize):
    """
    The installed bot of the request's workspace, or of its org's org-wide install.
    """

    def __init__(
        self, installations: RedisInstallationStore, *, refresher: Refresher
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.installations = installations
        self.refresher = refresher

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **actor: Any,
    ) -> AuthorizeResult | None:
        """
        The request's bot token and ids, or None when no installation serves it (Bolt
        then acks without calling any listener).
        """
        bot = await self.installations.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=context.is_enterprise_install,
        )
        if bot is None:
            return None
        fresh = await self.refresher.fresh(bot)
        if fresh is None:
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id or fresh.enterprise_id,
            team_id=team_id or fresh.team_id,
            bot_id=fresh.bot_id,
            bot_user_id=fresh.bot_user_id,
            bot_token=fresh.bot_token,
            bot_scopes=fresh.bot_scopes,
            user_id=user_id,
        )
