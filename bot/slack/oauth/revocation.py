"""
Revocation and uninstalls for installed workspaces: their tokens leave Redis at once.

- ``tokens_revoked`` naming bot users: the bot token of that workspace (or org) is
  deleted from the installation store; user tokens named are deleted with their
  installer's record. Events that follow find no installation and are acked without
  any Web API call.
- ``app_uninstalled``: every installation record and the bot of that workspace (or
  org) are deleted; ``bot.slack.lifecycle`` then deletes its data (settings,
  conversations, escalations, queued messages).
- ``team_access_revoked`` (an org-wide install removed from some workspaces of its
  Enterprise Grid org; the event lists their team ids): the org's install stays and
  keeps serving its other workspaces; the threads of the channels only those
  workspaces used (``bot.slack.oauth.orgteams``) and their queued messages are deleted
  by ``bot.slack.lifecycle``. A listed workspace with an install of its own keeps it
  and its data.

Other workspaces are untouched: everything is keyed by the workspace key
(``records.workspace_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.slack.messages import team_of
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.orgteams import OrgTeams

log = logging.getLogger(__name__)


class Revocations:
    """
    What tokens_revoked, app_uninstalled and team_access_revoked do to the
    installation store.
    """

    def __init__(
        self, installations: RedisInstallationStore, teams: OrgTeams | None = None
    ) -> None:
        self.installations = installations
        self.teams = teams

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

    async def note(self, body: Mapping[str, Any], context: Any) -> None:
        """
        For a request an org-wide install serves: remember its channel's workspace.
        """
        channel = context.channel_id
        if self.teams is None or not context.is_enterprise_install or not channel:
            return
        org, team = context.enterprise_id, team_of(body)
        if org and team != "T0" and team != org:
            await self.teams.note(str(org), team, str(channel))

    async def team_access_revoked(
        self, body: Mapping[str, Any], context: Any
    ) -> list[str]:
        """
        The data to delete for the workspaces an org-wide install lost: the threads
        of the channels only they used (``<org>:<channel>``), and each workspace
        without an install of its own (its queued messages).
        """
        event = body.get("event") or {}
        listed = event.get("team_ids") if isinstance(event, Mapping) else None
        org = body.get("enterprise_id") or context.enterprise_id
        if not isinstance(listed, list) or not org or self.teams is None:
            return []
        teams = sorted({str(t) for t in listed if isinstance(t, str) and t})
        bot = await self.installations.bot_of(str(org))
        if bot is None or not bot.is_enterprise_install or not teams:
            log.info("team_access_revoked_unknown org=%s", org)
            return []
        channels = await self.teams.revoke(str(org), teams)
        own = [t for t in teams if await self.installations.bot_of(t) is not None]
        log.warning(
            "team_access_revoked org=%s teams=%s channels=%d",
            org,
            ",".join(teams),
            len(channels),
        )
        keys = [f"{org}:{channel}" for channel in channels]
        return keys + [t for t in teams if t not in own]
