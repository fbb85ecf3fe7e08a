"""
The escalation desk: accept hand-offs, post each card exactly once, handle Claim /
Resolve / Hand back, send SLA reminders, and publish the App Home tab.

Accepting, posting and reminding live in ``delivery`` (``Delivery``, the base class);
this module adds the card buttons and the App Home tab (drawn by ``home``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.turns import human_claim
from bot.errors import StateUnavailableError
from bot.escalation import overview
from bot.escalation.model import Escalation, Status, parse_key
from bot.slack.blocks import decode_value
from bot.slack.escalation import cards
from bot.slack.escalation.delivery import HISTORY_LIMIT as HISTORY_LIMIT
from bot.slack.escalation.delivery import HISTORY_SLACK_S as HISTORY_SLACK_S
from bot.slack.escalation.delivery import SLA_LEASE_MS as SLA_LEASE_MS
from bot.slack.escalation.delivery import Delivery
from bot.slack.escalation.delivery import consumer_name as consumer_name
from bot.slack.escalation.home import home_view
from bot.slack.messages import workspace_of
from bot.slack.settings_view import (
    read_submission,
    settings_blocks,
    settings_modal,
)
from bot.state import HandbackRecord
from bot.state.model import dump_record
from bot.state.redis_store import MAX_RECORDS, once_key

log = logging.getLogger(__name__)


class Desk(Delivery):
    """
    Everything escalation does on Slack, for one replica.
    """

    # Card buttons --------------------------------------------------------------------

    @staticmethod
    def _action(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
        """
        (escalation key, user, channel of the card) of a card button, or None.
        """
        actions = body.get("actions") or [{}]
        key = decode_value(actions[0].get("value")).get("k", "")
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}
        ).get("channel_id")
        if parse_key(key) is None or not user:
            return None
        return key, str(user), str(channel or "")

    async def _tell(
        self, client: AsyncWebClient, channel: str, user: str, text: str
    ) -> None:
        if channel:
            await self._call(
                client, "chat.postEphemeral", channel=channel, user=user, text=text
            )

    async def claim(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        Claim: the first click wins; later clickers are told who has it. The claim is
        recorded with its card edit and thread message queued, then delivered.
        """
        action = self._action(body)
        if action is None:
            return
        key, user, channel = action
        won = await self._safely(
            "claim", self.escalations.claim(key, user_id=user, at=self.clock())
        )
        escalation = await self._safely("get", self.escalations.get(key))
        if escalation is None:
            await self._tell(client, channel, user, "I could not find that escalation.")
            return
        if not won:
            await self._tell(client, channel, user, taken_text(escalation))
            return
        self.metrics.escalation_claim_seconds.observe(
            max(0.0, self.clock() - escalation.created_at)
        )
        await self.pump(client)

    async def close(
        self, body: Mapping[str, Any], client: AsyncWebClient, *, status: Status
    ) -> None:
        """
        Resolve (the thread stays quiet) or Hand back (the bot answers there again,
        from the moment it is recorded). The card edit and the thread message are
        queued with the record, then delivered.
        """
        action = self._action(body)
        if action is None:
            return
        key, user, channel = action
        now = self.clock()
        handback = None
        thread = parse_key(key)
        if status == Status.HANDED_BACK and thread is not None:
            handback = (
                self.escalations.conversation_key(thread),
                dump_record(HandbackRecord(user, at=now)),
                self.settings.conversation_ttl_seconds,
                once_key(self.settings.redis_prefix, human_claim(thread)),
                MAX_RECORDS,
            )
        done = await self._safely(
            "close",
            self.escalations.close(
                key, status, user_id=user, at=now, handback=handback
            ),
        )
        escalation = await self._safely("get", self.escalations.get(key))
        if escalation is None:
            await self._tell(client, channel, user, "I could not find that escalation.")
            return
        if not done:
            await self._tell(client, channel, user, taken_text(escalation))
            return
        await self.pump(client)

    # App Home ------------------------------------------------------------------------

    async def home(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        app_home_opened: publish the Home tab (admins see the desk, others their own).
        """
        event = body.get("event") or {}
        user = event.get("user")
        if not isinstance(user, str) or event.get("tab", "home") != "home":
            return
        await self.publish_home(workspace_of(body), user, client)

    async def publish_home(
        self, workspace: str, user: str, client: AsyncWebClient
    ) -> None:
        """
        Draw one person's Home tab. Serving many workspaces, a workspace sees only
        its own escalations (the knowledge-base figures across workspaces are the
        operator's, in ``smtpbot report``), and its admins its settings.
        """
        chosen = await self.workspaces.get(workspace)
        data = await self._safely(
            "overview", overview.gather(self.escalations, self.learning)
        )
        if data is None:
            return
        admin = user in chosen.admins
        if self.workspaces.editable:
            mine = tuple(e for e in data.active if e.key.team_id == workspace)
            data = replace(data, active=mine, gaps=(), top=(), entries=())
        view = home_view(data, user_id=user, admin=admin, now=self.clock())
        if admin and self.workspaces.editable:
            view["blocks"] = settings_blocks(chosen) + view["blocks"]
        await self._call(client, "views.publish", user_id=user, view=view)

    # Settings (serving many workspaces) -------------------------------------------

    async def edit_settings(
        self, body: Mapping[str, Any], client: AsyncWebClient
    ) -> None:
        """
        The App Home's Edit settings button: open the modal (admins only).
        """
        user = (body.get("user") or {}).get("id")
        trigger = body.get("trigger_id")
        chosen = await self.workspaces.get(workspace_of(body))
        if not (self.workspaces.editable and user in chosen.admins and trigger):
            return
        await self._call(
            client, "views.open", trigger_id=trigger, view=settings_modal(chosen)
        )

    async def save_settings(
        self,
        body: Mapping[str, Any],
        ack: Callable[..., Awaitable[Any]],
        client: AsyncWebClient,
    ) -> None:
        """
        The settings modal's Save: check who saves and what, store, redraw the Home.
        """
        user = str((body.get("user") or {}).get("id") or "")
        workspace = workspace_of(body)
        current = await self.workspaces.get(workspace)
        if not (self.workspaces.editable and user in current.admins):
            await ack(
                response_action="errors",
                errors={"admin_users": "Only this workspace's smtpbot admins may."},
            )
            return
        chosen, errors = read_submission(body.get("view") or {})
        if chosen is None:
            await ack(response_action="errors", errors=errors)
            return
        try:
            await self.workspaces.save(workspace, chosen)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("workspace_settings_unsaved error=%s", exc)
            await ack(
                response_action="errors",
                errors={"admin_users": "Could not save just now; please try again."},
            )
            return
        await ack()
        log.info("workspace_settings_saved workspace=%s by=%s", workspace, user)
        await self.publish_home(workspace, user, client)


def taken_text(escalation: Escalation) -> str:
    """
    What a late clicker is told: who has the escalation, or how it ended.
    """
    e = escalation
    if e.status == Status.CLAIMED:
        when = cards.slack_date(e.claimed_at) if e.claimed_at else ""
        return f"Already claimed by <@{e.claimed_by}> {when}".rstrip() + "."
    if e.status == Status.RESOLVED:
        return f"Already resolved by <@{e.closed_by}>."
    if e.status == Status.HANDED_BACK:
        return f"Already handed back to the bot by <@{e.closed_by}>."
    return "Nothing to do: this escalation is still open."
