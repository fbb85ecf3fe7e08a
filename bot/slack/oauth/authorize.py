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
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.oauth.installations import RedisInstallationStore

log = logging.getLogger(__name__)

# A rotating token is refreshed when it has less than this many minutes left (Bolt's
# default; Slack's rotating tokens live 12 hours).
REFRESH_MINUTES: Final = 120


class InstalledBotAuthorize(AsyncAuthorize):
    """
    The installed bot of the request's workspace, or of its org's org-wide install.
    """

    def __init__(
        self,
        installations: RedisInstallationStore,
        *,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.installations = installations
        self._rotator = AsyncTokenRotator(
            client_id=client_id, client_secret=client_secret, client=client
        )

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
        if bot.bot_refresh_token:
            try:
                refreshed = await self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=REFRESH_MINUTES
                )
            except (SlackApiError, SlackClientError, SlackTokenRotationError) as exc:
                log.error(
                    "token_refresh_failed team=%s error=%s",
                    bot.team_id or bot.enterprise_id,
                    type(exc).__name__,
                )
                return None
            if refreshed is not None:
                await self.installations.async_save_bot(refreshed)
                bot = refreshed
        return AuthorizeResult(
            enterprise_id=enterprise_id or bot.enterprise_id,
            team_id=team_id or bot.team_id,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )
