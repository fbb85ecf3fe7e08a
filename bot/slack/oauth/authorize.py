"""
Per-workspace authorization: each request is served with the bot token of the
installation it came from, looked up in the installation store.

Bolt's ``AsyncInstallationStoreAuthorize`` calls ``auth.test`` for every request (or
caches its answer per process for good); the installation already records the bot and
bot user ids, so this one makes no Web API call at all, and a token removed from the
store (uninstall, revocation) is never used again by any process. Tokens that Slack
rotates (refresh tokens, when token rotation is turned on for the app) are refreshed
here, shortly before they expire.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.oauth.installations import RedisInstallationStore

log = logging.getLogger(__name__)

# A rotating token is refreshed when it has less than this many minutes left (Bolt's
# default; Slack's rotating tokens live 12 hours).
REFRESH_MINUTES: Final = 120


class Refresher:
    """
    Keeps rotating bot tokens fresh: refreshed (with the refresh token and the client
    secret) shortly before they expire, and the new token stored for every process.
    """

    def __init__(
        self,
        installations: RedisInstallationStore,
        *,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
    ) -> None:
        self.installations = installations
        self._rotator = AsyncTokenRotator(
            client_id=client_id, client_secret=client_secret, client=client
        )

    async def fresh(self, bot: Bot) -> Bot | None:
        """
        ``bot`` with a token that is not about to expire, or None when Slack refused
        to refresh it.
        """
        if not bot.bot_refresh_token:
            return bot
        try:
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=REFRESH_MINUTES
            )
        except (SlackApiError, SlackClientError, SlackTokenRotationError) as exc:
            log.error(
                "token_refresh_failed workspace=%s error=%s",
                bot.team_id or bot.enterprise_id,
                type(exc).__name__,
            )
            return None
        if refreshed is None:
            return bot
        await self.installations.async_save_bot(refreshed)
        log.info("token_refreshed workspace=%s", bot.team_id or bot.enterprise_id)
        return refreshed


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
            log.info(
                "not_installed enterprise=%s team=%s", enterprise_id or "-", team_id
            )
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
