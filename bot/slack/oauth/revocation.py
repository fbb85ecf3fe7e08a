"""
Revocation and uninstalls for installed workspaces: the tokens leave Redis at once.

- ``tokens_revoked`` naming bot users: the bot token of that workspace (or org) is
  deleted from the installation store; user tokens named are deleted with their
  installer's record. Events that follow find no installation and are acked without
  any Web API call.
- ``app_uninstalled``: every installation record and the bot of that workspace (or
  org) are deleted, then its data (settings, conversations, escalations: whatever the
  ``forget`` stores hold for it).

Other workspaces are untouched: everything is keyed by the workspace key
(``installations.workspace_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.errors import StateUnavailableError
from bot.slack.oauth.installations import RedisInstallationStore

log = logging.getLogger(__name__)


class Forgets(Protocol):
    """
    A store that can delete everything of one workspace.
    """

    async def forget(self, workspace: str) -> int:
        """
        Delete the workspace's data; how many items went.
        """
        ...


class Revocations:
    """
    What tokens_revoked and app_uninstalled do to the installation store and the data.
    """

    def __init__(
        self,
        installations: RedisInstallationStore,
        *,
        forget: Sequence[Forgets] = (),
    ) -> None:
        self.installations = installations
        self.stores = list(forget)

    async def _workspace(self, body: Mapping[str, Any], context: Any) -> str | None:
        return await self.installations.resolve(
            context.enterprise_id, context.team_id, context.is_enterprise_install
        )

    async def tokens_revoked(self, body: Mapping[str, Any], context: Any) -> None:
        """
        Forget the revoked bot token (and revoked users' installations).
        """
        tokens = (body.get("event") or {}).get("tokens") or {}
        workspace = await self._workspace(body, context)
        if workspace is None or not isinstance(tokens, Mapping):
            return
        for user in tokens.get("oauth") or []:
            await self.installations.async_delete_installation(
                enterprise_id=context.enterprise_id,
                team_id=context.team_id,
                user_id=str(user),
            )
        if tokens.get("bot"):
            await self.installations.delete_bot_of(workspace)
            log.warning("bot_token_revoked workspace=%s", workspace)

    async def app_uninstalled(self, body: Mapping[str, Any], context: Any) -> None:
        """
        Forget the installation, then everything stored for the workspace.
        """
        workspace = await self._workspace(body, context)
        if workspace is None:
            return
        await self.installations.delete_all_of(workspace)
        removed = 0
        for store in self.stores:
            try:
                removed += await store.forget(workspace)
            except StateUnavailableError as exc:
                log.warning("workspace_forget_failed error=%s", exc)
        log.warning("app_uninstalled workspace=%s removed=%d", workspace, removed)
