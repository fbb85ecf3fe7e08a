"""
Delivering escalations for the desk: accept hand-offs, post each card exactly once, and
send SLA reminders.

Accepting and posting are decoupled through the Redis stream (see ``store``): ``accept``
writes the record and the stream entry in one script, then ``pump`` delivers whatever
entries this replica can get (new ones, and ones another replica left pending longer
than ESCALATION_RECLAIM_SECONDS). A card is posted under a per-escalation lease and only
while the record has no card ts, so retries, double clicks and replicas never post two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Final

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.conversation.engine import HumanRequest
from bot.errors import StateUnavailableError
from bot.escalation.learning import Learning
from bot.escalation.model import Escalation, Reason, Status, new_escalation
from bot.escalation.store import EscalationStore
from bot.metrics import Metrics
from bot.slack.escalation import cards
from bot.slack.lifecycle import TokenGuard
from bot.slack.workspaces import Workspaces, WorkspaceSettings
from bot.state import StateStore

log = logging.getLogger(__name__)
# Looking for a card already posted: from a minute before the escalation (clock skew),
# at most this many channel messages (cards are rare; one page is plenty).
HISTORY_SLACK_S: Final = 60.0
HISTORY_LIMIT: Final = 200

# One replica sends the due reminders per tick; the lease outlives a slow tick.
SLA_LEASE_MS: Final = 30_000

# The Web API client of a workspace key (its installed bot token), or None when the
# workspace has no installation; raises StateUnavailableError when Redis cannot say.
ClientFor = Callable[[str], Awaitable[AsyncWebClient | None]]


def consumer_name() -> str:
    """
    This replica's name in the consumer group (host, pid and a random suffix).
    """
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Delivery:
    """
    Accepting, delivering and reminding, for one replica (``Desk`` adds the buttons).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        escalations: EscalationStore,
        learning: Learning,
        store: StateStore,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        consumer: str | None = None,
        clients: ClientFor | None = None,
        workspaces: Workspaces | None = None,
        guard: TokenGuard | None = None,
    ) -> None:
        self.settings = settings
        self.escalations = escalations
        self.learning = learning
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.consumer = consumer or consumer_name()
        # Serving many workspaces, cards and reminders go out with the token of the
        # escalation's workspace; otherwise with the one client the loop was given.
        self.clients = clients
        # Where each workspace's cards go and whom they mention.
        self.workspaces = workspaces or Workspaces(settings)
        self.guard = guard or TokenGuard()
        self.interval = settings.escalation_sla_minutes * 60.0
        self.reclaim_ms = int(settings.escalation_reclaim_seconds * 1000)

    async def _call(self, client: AsyncWebClient, method: str, **kwargs: Any) -> Any:
        """
        One Web API call; failures are counted and logged, and give None. Nothing is
        sent with a revoked token.
        """
        if self.guard.blocked(client.token):
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_skipped method=%s reason=token_revoked", method)
            return None
        try:
            return await client.api_call(method, json=kwargs)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            return None

    async def _client_for(
        self, escalation: Escalation, client: AsyncWebClient
    ) -> AsyncWebClient | None:
        """
        The client that may post for this escalation's workspace (None: not
        installed). Raises StateUnavailableError.
        """
        if self.clients is None:
            return client
        found = await self.clients(escalation.key.team_id)
        if found is None:
            log.warning("escalation_workspace_not_installed key=%s", escalation.id)
        return found

    async def _desk_of(self, escalation: Escalation) -> WorkspaceSettings:
        """
        The settings of the escalation's workspace (its channel and mention).
        """
        return await self.workspaces.get(escalation.key.team_id)

    async def _safely(self, what: str, work: Awaitable[Any]) -> Any:
        """
        Await store work; an unavailable store is logged and gives None.
        """
        try:
            return await work
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("escalation_store_failed op=%s error=%s", what, exc)
            return None

    # Accepting and delivering ---------------------------------------------------------

    async def accept(self, request: HumanRequest, client: AsyncWebClient) -> None:
        """
        The ``escalate`` hook: record a first request durably, then deliver its card.
        """
        if not request.first:
            return
        escalation = new_escalation(
            request.conversation,
            requested_by=request.user_id or "unknown",
            reason=Reason(request.reason),
            now=self.clock(),
            text=request.text,
        )
        due = escalation.created_at + self.interval
        accepted = await self._safely(
            "accept", self.escalations.accept(escalation, due=due)
        )
        if accepted is None:
            # Redis is unreachable, so nothing can be queued durably: post the card now
            # rather than lose the request (no replica can dedupe it; Slack's retries
            # are already deduped in process).
            await self._post_unqueued(escalation, client)
            return
        if not accepted:
            return
        log.info("escalation_accepted key=%s reason=%s", escalation.id, request.reason)
        self.metrics.escalations.labels(request.reason).inc()
        entry = escalation.summary.entry_id
        await self._safely("learn", self.learning.count("escalated", entry))
        await self.pump(client)

    async def _posted_card(
        self, client: AsyncWebClient, channel: str, escalation: Escalation
    ) -> str | None:
        """
        The ts of this escalation's card if it is already in the channel, else None.
        """
        history = await self._call(
            client,
            "conversations.history",
            channel=channel,
            oldest=f"{escalation.created_at - HISTORY_SLACK_S:.6f}",
            limit=HISTORY_LIMIT,
            include_all_metadata=True,
        )
        for message in (history or {}).get("messages") or []:
            if cards.is_card_of(message, escalation) and message.get("ts"):
                return str(message["ts"])
        return None

    async def _post_unqueued(
        self, escalation: Escalation, client: AsyncWebClient
    ) -> None:
        """
        Post a card straight away, for when the durable queue cannot be reached.
        """
        desk = await self._desk_of(escalation)
        channel = desk.escalation_channel
        if channel is None:
            log.warning("escalation_channel_unset key=%s", escalation.id)
            return
        link = await self._call(
            client,
            "chat.getPermalink",
            channel=escalation.key.channel_id,
            message_ts=escalation.key.thread_ts,
        )
        permalink = str((link or {}).get("permalink") or "") or None
        payload = cards.card_payload(
            replace(escalation, permalink=permalink),
            mention=desk.escalation_mention,
        )
        posted = await self._call(
            client, "chat.postMessage", channel=channel, unfurl_links=False, **payload
        )
        log.warning(
            "escalation_posted_without_store key=%s posted=%s",
            escalation.id,
            bool(posted and posted.get("ts")),
        )

    async def pump(self, client: AsyncWebClient) -> int:
        """
        Deliver the cards this replica can take: stale ones first, then new ones.
        """
        reclaimed = await self._safely(
            "reclaim",
            self.escalations.reclaim(self.consumer, min_idle_ms=self.reclaim_ms),
        )
        fresh = await self._safely("read", self.escalations.read(self.consumer))
        posted = 0
        for entry_id, key in [*(reclaimed or []), *(fresh or [])]:
            posted += await self._deliver(entry_id, key, client)
        return posted

    async def _deliver(self, entry_id: str, key: str, client: AsyncWebClient) -> int:
        """
        Post one card unless it exists; ack the entry once the card ts is recorded.
        """
        name = f"post:{key}"
        token = await self._safely(
            "lease", self.escalations.lease(name, ttl_ms=max(self.reclaim_ms, 1000))
        )
        if token is None:
            return 0  # another replica is posting it; the entry stays pending
        try:
            escalation = await self.escalations.get(key)
            if escalation is None or escalation.card_ts is not None:
                await self.escalations.ack(entry_id)
                return 0
            desk = await self._desk_of(escalation)
            channel = desk.escalation_channel
            installed = await self._client_for(escalation, client)
            if installed is None:
                await self.escalations.ack(entry_id)  # uninstalled: nobody to tell
                return 0
            client = installed
            if channel is None:
                log.warning("escalation_channel_unset key=%s", key)
                await self.escalations.ack(entry_id)
                return 0
            link = await self._call(
                client,
                "chat.getPermalink",
                channel=escalation.key.channel_id,
                message_ts=escalation.key.thread_ts,
            )
            permalink = str((link or {}).get("permalink") or "")
            found = await self._posted_card(client, channel, escalation)
            if found is not None:
                # A replica posted it and died before recording it: adopt that card.
                await self.escalations.set_card(
                    key, channel=channel, ts=found, permalink=permalink
                )
                await self.escalations.ack(entry_id)
                log.info("escalation_card_adopted key=%s ts=%s", key, found)
                return 0
            shown = replace(escalation, permalink=permalink or None)
            payload = cards.card_payload(shown, mention=desk.escalation_mention)
            posted = await self._call(
                client,
                "chat.postMessage",
                channel=channel,
                unfurl_links=False,
                **payload,
            )
            if posted is None or not posted.get("ts"):
                return 0  # left pending: retried here or by another replica
            await self.escalations.set_card(
                key, channel=channel, ts=str(posted["ts"]), permalink=permalink
            )
            await self.escalations.ack(entry_id)
            log.info("escalation_card_posted key=%s ts=%s", key, posted["ts"])
            return 1
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("escalation_deliver_failed key=%s error=%s", key, exc)
            return 0
        finally:
            await self._safely("release", self.escalations.release(name, token))

    # SLA reminders -------------------------------------------------------------------

    async def tick(self, client: AsyncWebClient) -> int:
        """
        Send the reminders that are due (only on the replica holding the SLA lease).
        """
        now = self.clock()
        token = await self._safely(
            "lease", self.escalations.lease("sla", ttl_ms=SLA_LEASE_MS)
        )
        if token is None:
            return 0
        sent = 0
        try:
            for key in await self.escalations.due(now):
                sent += await self._remind(key, now, client)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("escalation_tick_failed error=%s", exc)
        finally:
            await self._safely("release", self.escalations.release("sla", token))
        return sent

    async def _remind(self, key: str, now: float, client: AsyncWebClient) -> int:
        """
        Re-announce one unclaimed escalation under its card and set the next reminder.
        """
        escalation = await self.escalations.get(key)
        if escalation is None or escalation.status != Status.OPEN:
            await self.escalations.unschedule(key)
            return 0
        desk = await self._desk_of(escalation)
        if desk.escalation_channel is None:
            await self.escalations.unschedule(key)  # no card will ever be posted
            return 0
        if escalation.card_ts is None or escalation.card_channel is None:
            return 0  # still due: reminded as soon as its card is posted
        installed = await self._client_for(escalation, client)
        if installed is None:
            await self.escalations.unschedule(key)  # uninstalled: nobody to remind
            return 0
        posted = await self._call(
            installed,
            "chat.postMessage",
            channel=escalation.card_channel,
            thread_ts=escalation.card_ts,
            text=cards.reminder_text(
                escalation, mention=desk.escalation_mention, now=now
            ),
            unfurl_links=False,
        )
        if posted is None:
            return 0  # still due: the next tick tries again
        intervals = int(escalation.age(now) // self.interval) + 1
        await self.escalations.reschedule(
            key, escalation.created_at + intervals * self.interval
        )
        log.info("escalation_reminded key=%s", key)
        return 1

    async def run(
        self, client: AsyncWebClient, stop: asyncio.Event, *, period: float
    ) -> None:
        """
        Background loop of a replica: take over stale hand-offs, send reminders.
        """
        while not stop.is_set():
            try:
                if not await self.guard.allows(client.token):
                    break  # the token is revoked: nothing can be posted any more
                await self.pump(client)
                await self.tick(client)
                active = await self._safely("active", self.escalations.active())
                if active is not None:
                    self.metrics.escalations_open.set(len(active))
            except Exception:  # the loop must outlive any one failure
                log.exception("escalation_loop_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)
