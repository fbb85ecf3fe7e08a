"""
Web API clients for background work (escalation cards and reminders): the bot token of
the workspace an escalation belongs to, looked up in the installation store each time
(and refreshed when Slack's token rotation is on), so a revoked or uninstalled
workspace is never called again.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.refresh import Refresher


class InstalledClients:
    """
    ``await clients(workspace)``: a client with that workspace's bot token, or None.
    """

    def __init__(
        self,
        installations: RedisInstallationStore,
        *,
        base: AsyncWebClient,
        refresher: Refresher | None = None,
    ) -> None:
        self.installations = installations
        self._base = base
        self._refresher = refresher

    async def __call__(self, workspace: str) -> AsyncWebClient | None:
        """
        The client for a workspace key (team, or org for an org-wide install).

        Raises:
            StateUnavailableError: Redis cannot say.
        """
        bot = await self.installations.bot_of(workspace)
        if bot is not None and self._refresher is not None:
            bot = await self._refresher.fresh(bot)
        if bot is None:
            return None
        base = self._base
        return AsyncWebClient(
            token=bot.bot_token,
            base_url=base.base_url,
            timeout=base.timeout,
            session=base.session,
            logger=base.logger,
            retry_handlers=list(base.retry_handlers),
        )
