"""
Revocation and uninstalls for installed workspaces: their tokens leave Redis at once.

- ``tokens_revoked`` naming bot users: the bot token of that workspace (or org) is
  deleted from the installation store; user tokens named are deleted with their
  installer's record. Events that follow find no installation and are acked without
  any Web API call.
- ``app_uninstalled``: every installation record and the bot of that workspace (or
  org) are deleted; ``bot.slack.lifecycle`` then deletes its data (settings,
  conversations, escalations, queued messages).

Other workspaces are untouched: everything is keyed by the workspace key
(``installations.workspace_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.slack.oauth.installations import RedisInstallationStore

log = logging.getLogger(__name__)


class Revocations:
    """
    What tokens_revoked and app_uninstalled do to the installation store.
    """

    def __init__(self, installations: RedisInstallationStore) -> None:
        self.installations = installations

    async def _workspace(self, context: Any) -> str | None:
        return await self.installations.resolve(
            context.enterprise_id, context.team_id, context.is_enterprise_install
        )

    async def tokens_revoked(self, body: Mapping[str, Any], context: Any) -> None:
        """
        Forget the revoked bot token (and revoked users' installations).
        """
        tokens = (body.get("event") or {}).get("tokens") or {}
        workspace = await self._workspace(context)
        if workspace is None or not isinstance(tokens, Mapping):
            return
        for user in tokens.get("oauth") or []:
            await self.installations.async_delete_installation(
                enterprise_id=context.enterprise_id,
                team_id=context.team_id,
                user_id=str(user),
            )
        # An app has one bot user per workspace: a bot token revoked here is ours.
        if tokens.get("bot"):
            await self.installations.delete_bot_of(workspace)
            log.warning("bot_token_revoked workspace=%s", workspace)

    async def app_uninstalled(self, body: Mapping[str, Any], context: Any) -> None:
        """
        Forget everything installed for the workspace (or org).
        """
        workspace = await self._workspace(context)
        if workspace is not None:
            await self.installations.delete_all_of(workspace)
            log.info("installation_deleted workspace=%s", workspace)
