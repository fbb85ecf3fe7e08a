"""
HTTP mode's fast lane for Events API messages: redact, queue, ack.

Slack wants a 200 within three seconds, and the work behind an answer (matching, Redis,
``chat.postMessage``) costs milliseconds of CPU. So the front (``bot.slack.server``,
which has verified and parsed the request) acks the messages the bot would ignore at
once, and appends the rest, slimmed and redacted, to a Redis Stream before it acks:
one pipeline carries every request that arrived while the previous one was in flight.
Each append is a small script that first remembers the request's signature (a replay
of it is acked and not queued again, see ``bot.slack.replay``) and keeps the stream
expiring. Workers (``bot.slack.worker``) read the stream with a consumer group and
hand each event to the Bolt app.

A message is acked only once Redis has it (and, with replicas to wait for, once a
replica has it too: a failover then cannot lose it). When Redis cannot take it, or
the backlog is full (``STREAM_MAXLEN``: nothing acked is ever dropped), the front
answers 503, and Slack delivers it again later (its retries come at once, after a
minute and after five; a retry is re-signed, so it is not taken for a replay); a retry
is queued marked as one, so that the worker looks in the thread before answering it.

The escalation reaction (``ESCALATION_REACTION`` on a message) is queued the same way:
a request for a human is in Redis before Slack gets its 200, so a front that dies
right after the ack loses nothing.

Everything else (slash commands, interactivity, url_verification, other event types
and reactions, malformed payloads) goes to Bolt in the front process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError, ResponseError

from bot.config import Settings
from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.redact.payload import redact_payload
from bot.slack.files import attached, slim_file
from bot.slack.inbound import Inbound
from bot.slack.messages import (
    DELIVERY,
    incoming_message,
    is_direct,
    readable_text,
    workspace_of,
    written,
)
from bot.slack.replay import REPLAY_TTL, replay_key
from bot.slack.workspaces import Workspaces
from bot.state.connect import Replication

log = logging.getLogger(__name__)

# Event types the workers answer; every other type goes to Bolt in the front.
QUEUED_EVENTS: Final = frozenset({"message", "app_mention"})
# The reaction event: the escalation reaction is queued like a message (a request for
# a human must survive the front dying right after Slack got its 200); any other
# reaction goes to Bolt in the front, which ignores it.
REACTION_EVENT: Final = "reaction_added"
# The fields kept of a queued reaction (api.slack.com/events/reaction_added).
REACTION_FIELDS: Final = ("type", "user", "reaction", "item_user", "event_ts")
REACTION_ITEM_FIELDS: Final = ("type", "channel", "ts")
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
# The longest backlog the stream takes: beyond it (workers down, or far behind) the
# front answers 503 and Slack delivers again later, rather than dropping messages it
# acked already.
STREAM_MAXLEN: Final = 50_000
# The consumer group workers read with (bot.slack.worker.GROUP).
WORKER_GROUP: Final = "answerers"
# What the front answers Slack for an event it has taken (Bolt answers the same).
ACK: Final = 200
# What it answers for one it could not queue: Slack retries it later.
NOT_TAKEN: Final = 503
# The stream expires this long after its last append: workers drop entries older than
# an hour (bot.slack.worker.MAX_AGE_SECONDS), so an idle stream holds nothing of use,
# and queued text never outlives its usefulness in Redis.
STREAM_TTL: Final = 3600 + 600
# Refuse when the backlog is full (-1; nothing remembered, so Slack's redelivery is
# taken), remember the request (replay protection), then append and keep the stream
# expiring; nothing is appended for a replay.
_APPEND: Final = """
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[2], '*', 'body', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return id
"""
# The script's answer when the backlog is full.
_FULL: Final = -1
# Refusals for a full backlog are logged at most this often, with a count.
FULL_LOG_SECONDS: Final = 10.0


class BacklogFullError(StateUnavailableError):
    """
    The intake stream holds STREAM_MAXLEN entries already: nothing more is taken.
    """


def stream_key(prefix: str) -> str:
    """
    The Redis Stream queued messages go through.
    """
    return f"{prefix}intake"


def progress_key(stream: str) -> str:
    """
    When (Redis server time, seconds) a worker last finished a queued message.
    """
    return f"{stream}:finished"


# Workers note each batch they finish (``IntakeWorker``), in Redis's own time so that
# the readiness check compares it with the stream's entry ids and no host's clock.
NOTE_PROGRESS: Final = """
redis.call('SET', KEYS[1], redis.call('TIME')[1], 'EX', ARGV[1])
return 1
"""
# The oldest queued entry, when a worker last finished one, and Redis's time now.
_STUCK: Final = """
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local first = oldest[1] and oldest[1][1] or false
return {first, redis.call('GET', KEYS[2]) or false, redis.call('TIME')[1]}
"""


class AnswersIn(Protocol):
    """
    Where the bot answers: Settings (one workspace) or a workspace's settings.
    """

    def answers_in(self, channel_id: str) -> bool: ...


def _slim_message(
    message: Mapping[str, Any], fields: tuple[str, ...], *, text: str | None = None
) -> dict[str, Any]:
    """
    A message's kept fields, its readable text (``text`` when the caller has it)
    redacted, and its uploads' references.
    """
    slim = {k: message[k] for k in fields if k in message and k != "files"}
    # Redacted with the rest of the payload in slim_event.
    slim["text"] = readable_text(message) if text is None else text
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
    slim = _slim_message(event, EVENT_FIELDS, text=text if message is event else None)
    if message is not event:
        previous = event.get("previous_message")
        slim["message"] = _slim_message(message, MESSAGE_FIELDS)
        slim["previous_message"] = {
            "text": readable_text(previous) if isinstance(previous, Mapping) else ""
        }
    # Every other text the slim payload carries (file names, previews) is redacted
    # too: nothing is queued that was not.
    redacted: dict[str, Any] = redact_payload({**_slim_body(body), "event": slim})
    return redacted


def _slim_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """
    The envelope fields the bot reads, and of ``authorizations`` the installation the
    event reached.
    """
    queued = {k: body[k] for k in BODY_FIELDS if k in body}
    auths = body.get("authorizations")
    if isinstance(auths, list) and auths and isinstance(auths[0], Mapping):
        queued["authorizations"] = [
            {k: auths[0][k] for k in AUTHORIZATION_FIELDS if k in auths[0]}
        ]
    return queued


def slim_reaction(
    body: Mapping[str, Any], settings: AnswersIn, *, reaction: str
) -> dict[str, Any] | None:
    """
    The payload to queue for the escalation ``reaction`` on a message in a channel the
    bot answers in, or None for any other reaction (Bolt in the front ignores it).
    """
    event = body.get("event")
    if not isinstance(event, Mapping) or event.get("reaction") != reaction:
        return None
    item = event.get("item")
    if not isinstance(item, Mapping) or item.get("type") != "message":
        return None
    channel, ts = item.get("channel"), item.get("ts")
    if not (isinstance(channel, str) and isinstance(ts, str)):
        return None
    if not isinstance(event.get("user"), str) or not settings.answers_in(channel):
        return None
    slim = {k: event[k] for k in REACTION_FIELDS if k in event}
    slim["item"] = {k: item[k] for k in REACTION_ITEM_FIELDS if k in item}
    redacted: dict[str, Any] = redact_payload({**_slim_body(body), "event": slim})
    return redacted


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
        self._pending: list[tuple[str, str, asyncio.Future[str | None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def add(self, payload: str, replay: str) -> str | None:
        """
        Append one entry unless its ``replay`` key exists already; its stream id once
        Redis has it, or None for a replay. Raises StateUnavailableError when Redis
        cannot take it.
        """
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending.append((payload, replay, future))
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

    async def _write(
        self, batch: list[tuple[str, str, asyncio.Future[str | None]]]
    ) -> None:
        self._metrics.redis_round_trips.inc()
        try:
            target = await self._replication.target()
            async with self._client.pipeline(transaction=False) as pipe:
                for payload, replay, _ in batch:
                    pipe.execute_command(
                        "EVAL",
                        _APPEND,
                        2,
                        replay,
                        self.stream,
                        REPLAY_TTL,
                        self._maxlen,
                        payload,
                        STREAM_TTL,
                    )
                self._replication.wait(pipe, target)
                ids = self._replication.confirm(await pipe.execute(), target)
        except (RedisError, OSError) as exc:
            error = StateUnavailableError(f"intake stream: {type(exc).__name__} {exc}")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, _, future), entry_id in zip(batch, ids, strict=True):
            if future.done():
                continue
            if entry_id == _FULL:
                future.set_exception(
                    BacklogFullError(f"intake stream holds {self._maxlen} entries")
                )
            else:
                future.set_result(
                    None
                    if entry_id is None
                    else entry_id.decode()
                    if isinstance(entry_id, bytes)
                    else str(entry_id)
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
        workspaces: Workspaces | None = None,
        replication: Replication | None = None,
    ) -> None:
        self._settings = settings
        # Serving many workspaces, each has its own support channels.
        self._workspaces = workspaces if workspaces and workspaces.editable else None
        self._metrics = metrics
        self._client = client
        self._full_logged = float("-inf")
        self._full_count = 0
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

    async def stuck(self, bound: float) -> str | None:
        """
        Why the backlog is stuck, or None: the oldest queued message has waited over
        ``bound`` seconds and no worker finished a queued message in that time (a
        backlog that drains slowly is not stuck). Raises StateUnavailableError.
        """
        keys = [self.writer.stream, progress_key(self.writer.stream)]
        try:
            first, finished, now = await self._client.eval(_STUCK, 2, *keys)
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(f"intake stream: {type(exc).__name__}") from exc
        if not first:
            return None
        head = _decode(first).split("-", 1)[0]
        waited = int(now) - int(head) / 1000 if head.isdigit() else 0.0
        idle = int(now) - int(finished) if finished else None
        if waited <= bound or (idle is not None and idle <= bound):
            return None
        since = (
            f"none was finished for {idle:.0f} s"
            if idle is not None
            else "no worker has finished one"
        )
        return (
            f"the queue of messages is stuck: the oldest has waited {waited:.0f} s "
            f"and {since} (workers hung or failing; limit INTAKE_STUCK_SECONDS="
            f"{bound:g})"
        )

    def _note_full(self, exc: BacklogFullError) -> None:
        """
        Log refusals for a full backlog at most once per FULL_LOG_SECONDS, counted.
        """
        self._full_count += 1
        now = time.monotonic()
        if now - self._full_logged >= FULL_LOG_SECONDS:
            log.warning("intake_full refused=%d error=%s", self._full_count, exc)
            self._full_logged, self._full_count = now, 0

    async def offer(self, request: Inbound, *, retry: int = 0) -> web.Response | None:
        """
        Ack an Events API message (queued, ignored, or a replay), or answer 503 when
        Redis cannot take it (Slack delivers it again); None hands the request to
        Bolt. ``retry`` is Slack's retry number: a retry is queued marked as one.
        """
        body = request.body
        if body.get("type") != "event_callback":
            return None
        event = body.get("event")
        if not isinstance(event, dict):
            return None
        kind = event.get("type")
        if kind not in QUEUED_EVENTS and kind != REACTION_EVENT:
            return None
        where: AnswersIn = self._settings
        if self._workspaces is not None:
            where = await self._workspaces.get(workspace_of(body))
        if kind == REACTION_EVENT:
            slim = slim_reaction(
                body, where, reaction=self._settings.escalation_reaction
            )
            if slim is None:
                return None  # not a request for a human: Bolt acks it
        else:
            slim = slim_event(body, where)
        if slim is None:
            # Counted here; a queued event is counted by the worker's Bolt app.
            self._metrics.events.labels(f"event:{event['type']}").inc()
            return web.Response(status=ACK)
        if retry:
            slim[DELIVERY] = {"retry": retry}
        replay = replay_key(self._settings.redis_prefix, request.signature)
        try:
            entry = await self.writer.add(
                json.dumps(slim, separators=(",", ":")), replay
            )
        except BacklogFullError as exc:
            # Not acked: taken once the workers have caught up (Slack retries).
            self._metrics.requests_refused.labels("backlog_full").inc()
            self._note_full(exc)
            return web.json_response(
                {"error": "too many events queued; retry"}, status=NOT_TAKEN
            )
        except StateUnavailableError as exc:
            # Not acked: Slack delivers it again once Redis can take it.
            self._metrics.redis_errors.inc()
            log.warning("intake_unavailable error=%s", exc)
            return web.json_response(
                {"error": "cannot queue the event now; retry"}, status=NOT_TAKEN
            )
        if entry is None:
            self._metrics.requests_refused.labels("replay").inc()
        return web.Response(status=ACK)


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
