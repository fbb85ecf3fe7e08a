"""
Delivering escalations for the desk: record hand-offs, tell each thread and post each
card exactly once, and send SLA reminders.

The record is an outbox. ``request`` writes it first (one script: the record, its
stream entry, its timer, and the thread marked as with a human); nothing is posted
before that. Then ``pump`` delivers whatever entries this replica can get (new ones,
and ones left pending longer than ESCALATION_RECLAIM_SECONDS by a replica that died):
under a per-escalation lease it posts the thread notice, then the card, noting each in
the record once posted, and acks the entry only when both are out. Before posting
either it looks in Slack for one already there (both carry metadata naming the
escalation), so a replica that died between posting and noting is never doubled.

Claim, Resolve and Hand back are recorded the same way (their scripts queue an entry
with the status change), and delivering an entry also draws the record's status on
the card (``chat.update``, harmless to repeat) and tells the thread who took it or
that it is back with the bot: each noted once done, the thread message looked for
before it is posted again when an earlier try may have posted it.
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
from bot.errors import StateUnavailableError
from bot.escalation.learning import Learning
from bot.escalation.model import (
    TOLD,
    TRIED,
    Asked,
    Escalation,
    Reason,
    Status,
    new_escalation,
)
from bot.escalation.store import EscalationStore
from bot.metrics import Metrics
from bot.slack.escalation import cards
from bot.slack.handlers import NO_ESCALATION_CHANNEL, transient
from bot.slack.lifecycle import TokenGuard
from bot.slack.workspaces import Workspaces, WorkspaceSettings
from bot.state import Conversation, HumanRecord, StateStore
from bot.state.model import dump_record

log = logging.getLogger(__name__)
# Looking for a card already posted: from a minute before the escalation (clock skew),
# at most this many channel messages (cards are rare; one page is plenty).
HISTORY_SLACK_S: Final = 60.0
HISTORY_LIMIT: Final = 200

# One replica sends the due reminders per tick; the lease outlives a slow tick.
SLA_LEASE_MS: Final = 30_000
# How long a replica waits for another to finish a step of the same escalation
# (a Claim clicked while the card is being posted), and how often it looks.
LEASE_WAIT_S: Final = 3.0
LEASE_POLL_S: Final = 0.05
# Passes over a record per delivery: a Claim or close recorded while one pass ran is
# applied by the next, not left to a takeover.
SYNC_PASSES: Final = 4

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

    # Recording and delivering -------------------------------------------------------

    async def request(
        self, conversation: Conversation, user_id: str, *, reason: str, text: str = ""
    ) -> Asked:
        """
        Record a request for a human durably, before anything is posted; the thread
        notice and the card follow from the record (``pump``).
        """
        escalation = new_escalation(
            conversation,
            requested_by=user_id or "unknown",
            reason=Reason(reason),
            now=self.clock(),
            text=text,
        )
        due = escalation.created_at + self.interval
        human = dump_record(HumanRecord(user_id, at=escalation.created_at))
        thread = (
            self.escalations.conversation_key(escalation.key),
            human,
            self.settings.conversation_ttl_seconds,
        )
        try:
            accepted = await self.escalations.accept(escalation, due=due, thread=thread)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("escalation_not_recorded key=%s error=%s", escalation.id, exc)
            return Asked.UNAVAILABLE
        if not accepted:
            return Asked.ALREADY
        log.info("escalation_accepted key=%s reason=%s", escalation.id, reason)
        self.metrics.escalations.labels(reason).inc()
        entry = escalation.summary.entry_id
        await self._safely("learn", self.learning.count("escalated", entry))
        return Asked.ACCEPTED

    async def _find(
        self,
        client: AsyncWebClient,
        method: str,
        found: Callable[[dict[str, Any]], bool],
        **kwargs: Any,
    ) -> str | None:
        """
        The ts of the first message a history lookup returns that ``found`` accepts.
        Raises LookupError when Slack could not be asked now (do not post blind; try
        again later); a lookup Slack refuses for good (a missing scope) finds nothing.
        """
        if self.guard.blocked(client.token):
            raise LookupError(method)
        try:
            history = await client.api_call(
                method,
                json={"include_all_metadata": True, "limit": HISTORY_LIMIT, **kwargs},
            )
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            if transient(exc):
                raise LookupError(method) from exc
            return None
        for message in history.get("messages") or []:
            if found(message) and message.get("ts"):
                return str(message["ts"])
        return None

    async def pump(self, client: AsyncWebClient) -> int:
        """
        Deliver the hand-offs this replica can take: stale ones first, then new ones.
        Returns the number of cards posted.
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

    async def _lease_soon(self, name: str) -> str | None:
        """
        Take a per-escalation lease, waiting a little for a replica that holds it
        (it is finishing a step of the same escalation); None when it stays taken.
        """
        deadline = time.monotonic() + LEASE_WAIT_S
        while True:
            token: str | None = await self._safely(
                "lease",
                self.escalations.lease(name, ttl_ms=max(self.reclaim_ms, 1000)),
            )
            if token is not None or time.monotonic() >= deadline:
                return token  # taken for good: the entry stays pending
            await asyncio.sleep(LEASE_POLL_S)

    async def _deliver(self, entry_id: str, key: str, client: AsyncWebClient) -> int:
        """
        Bring Slack in line with the record: tell the thread and post the card while
        the escalation is active, then show a Claim or close on the card and tell the
        thread of it. Each step is noted in the record once done, so it is never
        repeated; the entry is acked once all are. Returns 1 when a card was posted.
        """
        name = f"post:{key}"
        token = await self._lease_soon(name)
        if token is None:
            return 0  # another replica is delivering it; the entry stays pending
        try:
            posted = 0
            shown: Status | None = None
            for _ in range(SYNC_PASSES):
                escalation = await self.escalations.get(key)
                if escalation is None or escalation.status == shown:
                    break  # lost with Redis's data, or nothing changed meanwhile
                installed = await self._client_for(escalation, client)
                if installed is None:
                    break  # uninstalled: nobody to tell
                if escalation.status.active:
                    if escalation.notice_ts is None and not await self._tell_thread(
                        escalation, installed
                    ):
                        return posted  # left pending: retried here or by another
                    card = await self._post_card(escalation, installed)
                    if card is None:
                        return posted
                    posted += card
                    escalation = await self.escalations.get(key)
                    if escalation is None:
                        break
                if not await self._show_status(escalation, installed):
                    return posted
                shown = escalation.status
            await self.escalations.ack(entry_id)
            return posted
        except LookupError as exc:
            log.warning("escalation_lookup_failed key=%s method=%s", key, exc)
            return 0
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("escalation_deliver_failed key=%s error=%s", key, exc)
            return 0
        finally:
            await self._safely("release", self.escalations.release(name, token))

    async def _tell_thread(
        self, escalation: Escalation, client: AsyncWebClient
    ) -> bool:
        """
        Post the thread notice (or adopt the one already there); True once noted.
        """
        key = escalation.key
        found = await self._find(
            client,
            "conversations.replies",
            lambda m: cards.is_notice_of(m, escalation),
            channel=key.channel_id,
            ts=key.thread_ts,
            oldest=f"{escalation.created_at - HISTORY_SLACK_S:.6f}",
        )
        if found is None:
            notice = cards.notice_payload(escalation)
            if self.workspaces.editable:
                desk = await self._desk_of(escalation)
                if desk.escalation_channel is None:
                    notice["text"] = f"{notice['text']}\n{NO_ESCALATION_CHANNEL}"
            posted = await self._call(
                client,
                "chat.postMessage",
                channel=key.channel_id,
                thread_ts=key.thread_ts,
                **notice,
            )
            if posted is None or not posted.get("ts"):
                return False
            found = str(posted["ts"])
        await self.escalations.set_notice(escalation.id, ts=found)
        return True

    async def _post_card(
        self, escalation: Escalation, client: AsyncWebClient
    ) -> int | None:
        """
        Post the card (or adopt the one already there); 1 when posted, 0 when it was
        there already or no channel is set, None when it must be tried again.
        """
        key = escalation.id
        desk = await self._desk_of(escalation)
        channel = desk.escalation_channel
        if escalation.card_ts is not None:
            return 0
        if channel is None:
            log.warning("escalation_channel_unset key=%s", key)
            return 0
        link = await self._call(
            client,
            "chat.getPermalink",
            channel=escalation.key.channel_id,
            message_ts=escalation.key.thread_ts,
        )
        permalink = str((link or {}).get("permalink") or "")
        found = await self._find(
            client,
            "conversations.history",
            lambda m: cards.is_card_of(m, escalation),
            channel=channel,
            oldest=f"{escalation.created_at - HISTORY_SLACK_S:.6f}",
        )
        if found is not None:
            # A replica posted it and died before recording it: adopt that card.
            await self.escalations.set_card(
                key, channel=channel, ts=found, permalink=permalink
            )
            log.info("escalation_card_adopted key=%s ts=%s", key, found)
            return 0
        shown = replace(escalation, permalink=permalink or None)
        payload = cards.card_payload(shown, mention=desk.escalation_mention)
        posted = await self._call(
            client, "chat.postMessage", channel=channel, unfurl_links=False, **payload
        )
        if posted is None or not posted.get("ts"):
            return None
        await self.escalations.set_card(
            key,
            channel=channel,
            ts=str(posted["ts"]),
            permalink=permalink,
            shows=str(escalation.status),
        )
        log.info("escalation_card_posted key=%s ts=%s", key, posted["ts"])
        return 1

    async def _settle(self, client: AsyncWebClient, method: str, **kwargs: Any) -> Any:
        """
        One Web API call of a life-cycle step: its answer; {} when Slack refused it
        for good (the card was deleted, the bot left the channel: the step is given
        up, not tried forever); None when it may work later.
        """
        if self.guard.blocked(client.token):
            log.warning("slack_call_skipped method=%s reason=token_revoked", method)
            return {}
        try:
            return await client.api_call(method, json=kwargs)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            return None if transient(exc) else {}

    async def _show_status(
        self, escalation: Escalation, client: AsyncWebClient
    ) -> bool:
        """
        Draw a Claim, Resolve or Hand back on the card (chat.update: drawing it twice
        is harmless) and tell the thread of it (once: looked for in the thread first
        when an earlier try may have posted it). False when it must be tried again.
        """
        e = escalation
        drawn = e.status == Status.OPEN or e.card_shows == e.status
        if not drawn and e.card_ts and e.card_channel:
            desk = await self._desk_of(e)
            updated = await self._settle(
                client,
                "chat.update",
                channel=e.card_channel,
                ts=e.card_ts,
                **cards.card_payload(e, mention=desk.escalation_mention),
            )
            if updated is None:
                return False
            await self.escalations.note(e, "card_shows", str(e.status))
        for step in cards.update_steps(e):
            if step in e.told:
                continue
            first = await self.escalations.note(e, f"{TRIED}{step}", "1", once=True)
            found = None
            if not first:

                def posted(message: dict[str, Any], step: str = step) -> bool:
                    return cards.is_update_of(message, e, step)

                # An earlier try may have posted it and died before noting it.
                found = await self._find(
                    client,
                    "conversations.replies",
                    posted,
                    channel=e.key.channel_id,
                    ts=e.key.thread_ts,
                    oldest=f"{e.created_at - HISTORY_SLACK_S:.6f}",
                )
            if found is None:
                told = await self._settle(
                    client,
                    "chat.postMessage",
                    channel=e.key.channel_id,
                    thread_ts=e.key.thread_ts,
                    **cards.update_payload(e, step),
                )
                if told is None:
                    return False
                found = str(told.get("ts") or "")
            await self.escalations.note(e, f"{TOLD}{step}", found)
        return True

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
