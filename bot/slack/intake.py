"""
HTTP mode's fast lane for Events API messages: verify, redact, queue, ack.

Slack wants a 200 within three seconds, and the work behind an answer (matching, Redis,
``chat.postMessage``) costs milliseconds of CPU. So the front verifies each Events API
message itself, acks the ones the bot would ignore at once, and appends the rest,
slimmed and redacted, to a Redis Stream before it acks: one pipeline carries every
request that arrived while the previous one was in flight. Workers
(``bot.slack.worker``) read the stream with a consumer group and hand each event to the
Bolt app.

A message is acked only once Redis has it (and, with replicas to wait for, once a
replica has it too: a failover then cannot lose it). When Redis cannot take it the
front answers 503, and Slack delivers it again later (its retries come at once, after a
minute and after five); a retry is marked as one, so that the worker looks in the
thread before answering it.

Everything else (slash commands, interactivity, url_verification, other event types,
malformed payloads) goes to Bolt in the front process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError, ResponseError
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings
from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.redact import redact
from bot.slack.files import attached, slim_file
from bot.slack.messages import (
    DELIVERY,
    incoming_message,
    is_direct,
    readable_text,
    workspace_of,
    written,
)
from bot.slack.workspaces import Workspaces
from bot.state.connect import Replication

log = logging.getLogger(__name__)

# Event types the workers answer; every other type goes to Bolt in the front.
QUEUED_EVENTS: Final = frozenset({"message", "app_mention"})
# The parts of a payload the bot reads. The rest is dropped before anything is stored:
# ``blocks`` and ``attachments`` are folded into the (redacted) text, and of
# ``authorizations`` only the installation the event reached is kept.
BODY_FIELDS: Final = (
    "type",
    "team_id",
    "enterprise_id",
    "is_enterprise_install",
    "api_app_id",
    "event_id",
    "event_time",
)
EVENT_FIELDS: Final = (
    "type",
    "subtype",
    "user",
    "text",
    "channel",
    "channel_type",
    "ts",
    "thread_ts",
    "team",
    "files",
    "message",
    "previous_message",
)
# The installation fields kept from ``authorizations[0]`` (conversations are keyed by
# it).
AUTHORIZATION_FIELDS: Final = ("team_id", "enterprise_id", "is_enterprise_install")
# The fields kept of an edited message (``message_changed``).
MESSAGE_FIELDS: Final = ("type", "subtype", "user", "ts", "thread_ts", "team")
# The stream keeps at most about this many entries (XADD MAXLEN ~): a backlog beyond it
# means the workers are down, and the oldest unanswered messages are dropped first.
STREAM_MAXLEN: Final = 50_000
# The consumer group workers read with (bot.slack.worker.GROUP).
WORKER_GROUP: Final = "answerers"
# What the front answers Slack for an event it has taken (Bolt answers the same).
ACK: Final = 200
# What it answers for one it could not queue: Slack retries it later.
NOT_TAKEN: Final = 503
# The header Slack sets on a redelivery (api.slack.com/apis/events-api#retries).
RETRY_HEADER: Final = "x-slack-retry-num"


def stream_key(prefix: str) -> str:
    """
    The Redis Stream queued messages go through.
    """
    return f"{prefix}intake"


class AnswersIn(Protocol):
    """
    Where the bot answers: Settings (one workspace) or a workspace's settings.
    """

    def answers_in(self, channel_id: str) -> bool: ...


def _slim_message(
    message: Mapping[str, Any], fields: tuple[str, ...]
) -> dict[str, Any]:
    """
    A message's kept fields, its readable text redacted, and its uploads' references.
    """
    slim = {k: message[k] for k in fields if k in message and k != "files"}
    slim["text"] = redact(readable_text(message))
    found = attached(message)
    if found:
        slim["files"] = [slim_file(f) for f in found]
    return slim


def slim_event(body: Mapping[str, Any], settings: AnswersIn) -> dict[str, Any] | None:
    """
    The redacted payload to queue for an Events API message, or None when the bot would
    ignore it (bots, deletions, edits that change nothing readable, channels it does
    not answer in).
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    mention = event.get("type") == "app_mention"
    incoming = incoming_message(body, bot_user_id=None, mention=mention)
    message = written(event)
    if incoming is None or message is None or event.get("bot_profile"):
        return None
    text = readable_text(message)
    # A mention of the bot is answered in any channel, and a direct message whatever
    # the support channels are; the front does not know the bot's user id, so any
    # mention is queued and the worker decides.
    if not (
        mention
        or "<@" in text
        or is_direct(event)
        or settings.answers_in(incoming.key.channel_id)
    ):
        return None
    slim = _slim_message(event, EVENT_FIELDS)
    if message is not event:
        previous = event.get("previous_message")
        slim["message"] = _slim_message(message, MESSAGE_FIELDS)
        slim["previous_message"] = {
            "text": redact(readable_text(previous))
            if isinstance(previous, Mapping)
            else ""
        }
    queued = {k: body[k] for k in BODY_FIELDS if k in body}
    auths = body.get("authorizations")
    if isinstance(auths, list) and auths and isinstance(auths[0], Mapping):
        queued["authorizations"] = [
            {k: auths[0][k] for k in AUTHORIZATION_FIELDS if k in auths[0]}
        ]
    return {**queued, "event": slim}


class StreamWriter:
    """
    XADD with coalescing: the requests that arrive while one pipeline is in flight go
    together in the next, so a burst costs a round trip per batch, not per message.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        stream: str,
        *,
        metrics: Metrics,
        maxlen: int = STREAM_MAXLEN,
        replication: Replication | None = None,
    ) -> None:
        self._client = client
        self.stream = stream
        self._metrics = metrics
        self._maxlen = maxlen
        self._replication = replication or Replication(client)
        self._pending: list[tuple[str, asyncio.Future[str]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def add(self, payload: str) -> str:
        """
        Append one entry; its stream id once Redis has it. Raises
        StateUnavailableError when Redis cannot take it.
        """
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((payload, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._write(batch)
        finally:
            self._flusher = None

    async def _write(self, batch: list[tuple[str, asyncio.Future[str]]]) -> None:
        self._metrics.redis_round_trips.inc()
        try:
            target = await self._replication.target()
            async with self._client.pipeline(transaction=False) as pipe:
                for payload, _ in batch:
                    pipe.xadd(
                        self.stream,
                        {"body": payload},
                        maxlen=self._maxlen,
                        approximate=True,
                    )
                self._replication.wait(pipe, target)
                ids = self._replication.confirm(await pipe.execute(), target)
        except (RedisError, OSError, StateUnavailableError) as exc:
            error = StateUnavailableError(f"intake stream: {type(exc).__name__} {exc}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), entry_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(
                    entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                )


class Intake:
    """
    The front's decision for one POST to /slack/events: a response, or None for Bolt.
    """

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        *,
        metrics: Metrics,
        maxlen: int = STREAM_MAXLEN,
        replication: Replication | None = None,
        workspaces: Workspaces | None = None,
    ) -> None:
        self._settings = settings
        # Serving many workspaces, each has its own support channels.
        self._workspaces = workspaces if workspaces and workspaces.editable else None
        self._metrics = metrics
        self._client = client
        self._verifier = SignatureVerifier(settings.slack_signing_secret or "")
        self.writer = StreamWriter(
            client,
            stream_key(settings.redis_prefix),
            metrics=metrics,
            maxlen=maxlen,
            replication=replication,
        )

    async def ensure_group(self) -> bool:
        """
        Create the workers' consumer group (and the stream) if missing; True when it
        was missing. Raises StateUnavailableError.
        """
        try:
            await self._client.xgroup_create(
                self.writer.stream, WORKER_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise StateUnavailableError(f"intake stream: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(f"intake stream: {type(exc).__name__}") from exc
        return True

    async def backlog(self) -> tuple[int, int]:
        """
        (lag, pending) of the workers' group: entries nobody took yet, and entries
        taken but not acknowledged; also set on the metrics. Raises
        StateUnavailableError.
        """
        stream = self.writer.stream
        try:
            try:
                groups = await self._client.xinfo_groups(stream)
            except ResponseError:  # no stream yet: nothing was ever queued
                groups = []
            group = next((g for g in groups if str(g["name"]) == WORKER_GROUP), None)
            if group is None:  # no worker has started yet: everything waits
                lag, pending = int(await self._client.xlen(stream)), 0
            else:
                lag, pending = int(group.get("lag") or 0), int(group["pending"])
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(f"intake stream: {type(exc).__name__}") from exc
        self._metrics.intake_lag.set(lag)
        self._metrics.intake_pending.set(pending)
        return lag, pending

    async def offer(self, raw: str, headers: Mapping[str, str]) -> web.Response | None:
        """
        Ack an Events API message (queued, or ignored); None hands the request to Bolt.
        """
        if not raw.startswith("{"):
            return None
        # Signature first: an unsigned body is never parsed (Bolt would answer 401 too).
        if not self._verifier.is_valid_request(raw, headers):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return None
        event = body.get("event")
        if not isinstance(event, dict) or event.get("type") not in QUEUED_EVENTS:
            return None
        where: AnswersIn = self._settings
        if self._workspaces is not None:
            where = await self._workspaces.get(workspace_of(body))
        slim = slim_event(body, where)
        if slim is None:
            # Counted here; a queued event is counted by the worker's Bolt app.
            self._metrics.events.labels(f"event:{event['type']}").inc()
            return web.Response(status=ACK)
        retry = next((v for k, v in headers.items() if k.lower() == RETRY_HEADER), None)
        if retry is not None:
            slim[DELIVERY] = {"retry": int(retry) if retry.isdigit() else 1}
        try:
            await self.writer.add(json.dumps(slim, separators=(",", ":")))
        except StateUnavailableError as exc:
            # Not acked: Slack delivers it again once Redis can take it.
            self._metrics.redis_errors.inc()
            log.warning("intake_unavailable error=%s", exc)
            return web.json_response(
                {"error": "cannot queue the event now; retry"}, status=NOT_TAKEN
            )
        return web.Response(status=ACK)
