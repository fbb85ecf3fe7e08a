"""
The other end of the intake stream: read queued messages with a consumer group, hand
each to the Bolt app, acknowledge each entry once its work is done.

Delivery is at least once, answers effectively once. Any number of workers, in any
number of processes and replicas, share the group. An entry is acknowledged only after
its answer is out and recorded; one whose work failed (Redis or Slack down) stays
pending and is tried again after a pause, up to MAX_ATTEMPTS. An entry a worker took
and never acknowledged (it was killed) is taken over by another after ``reclaim_ms``
(XAUTOCLAIM), or at once by the worker that replaces it (``take_over``). Each delivery
carries its entry id: the engine claims the message's dedupe keys with it, so a
redelivery of the same entry knows it may have answered already and looks in the
thread first, while any other copy (a Slack retry) stays silent. When Redis reports the
group missing (it lost its data) the group is created again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.errors import NotDoneError
from bot.escalation.store import missing_group
from bot.metrics import Metrics
from bot.slack.intake import NOTE_PROGRESS, STREAM_TTL, WORKER_GROUP, progress_key
from bot.slack.messages import DELIVERY

log = logging.getLogger(__name__)

GROUP: Final = WORKER_GROUP
# Entries read per XREADGROUP; they are handled concurrently (the engine bounds how
# many match at once).
BATCH: Final = 64
# A batch unacknowledged this long belongs to a dead worker.
RECLAIM_MS: Final = 60_000
# A message queued longer ago than this (workers were down) is dropped unanswered: Slack
# itself stops retrying after an hour, and an answer that late only confuses the
# thread.
MAX_AGE_SECONDS: Final = 3600.0
# Longest wait after a Redis failure before trying again.
MAX_BACKOFF: Final = 5.0
# Tries of one entry whose work keeps failing before it is given up (logged); with the
# pauses between them this spans about a minute.
MAX_ATTEMPTS: Final = 8
# The pause before an entry whose work failed is tried again, doubling per try.
RETRY_DELAY: Final = 0.5

# Handle one queued payload; raises NotDoneError when it must be tried again.
Dispatch = Callable[[str], Awaitable[None]]
Entry = tuple[str, Mapping[Any, Any] | None]


def consumer_name(pid: int | None = None) -> str:
    """
    A worker process's name in the group (host and pid: unique across replicas).
    """
    return f"{socket.gethostname()}:{pid if pid is not None else os.getpid()}"


# Bolt's answer when a listener raised (NotDoneError among others).
LISTENER_FAILED: Final = 500


def bolt_dispatch(app: AsyncApp) -> Dispatch:
    """
    Dispatch a queued payload to a Bolt app built for verified-upstream input (it
    awaits its listeners, so the entry is acknowledged after the reply is posted).
    """

    async def dispatch(raw: str) -> None:
        request = AsyncBoltRequest(
            body=raw, query="", headers={"content-type": "application/json"}
        )
        response = await app.async_dispatch(request)
        if response.status == LISTENER_FAILED:
            raise NotDoneError("a listener did not finish")
        if response.status >= 400:
            log.warning("queued_event_refused status=%s", response.status)

    return dispatch


def with_delivery(raw: str, entry_id: str) -> str:
    """
    The payload with its delivery's entry id added (the engine's dedupe token).
    """
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(body, dict):
        return raw
    delivery = body.get(DELIVERY)
    body[DELIVERY] = {
        **(delivery if isinstance(delivery, dict) else {}),
        "entry": entry_id,
    }
    return json.dumps(body, separators=(",", ":"))


def _millis(entry_id: str) -> int:
    """
    The Redis server time (ms) a stream entry was added at: its id's first part.
    """
    head = entry_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _block_within_timeout(client: aioredis.Redis, block_ms: int) -> int:
    """
    ``block_ms``, shortened to half the client's socket timeout: a blocking read that
    outlives the timeout fails as a Redis error (and the worker backs off) instead of
    coming back empty.
    """
    timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    if not timeout:
        return block_ms
    return max(1, min(block_ms, int(timeout * 1000) // 2))


def _body(fields: Mapping[Any, Any] | None) -> Any:
    return (fields or {}).get("body", (fields or {}).get(b"body"))


def _thread_of(fields: Mapping[Any, Any] | None) -> str:
    """
    The conversation a queued entry belongs to (channel and thread), or a key of its
    own when the body cannot tell.
    """
    raw = _body(fields)
    try:
        event = json.loads(_decode(raw))["event"] if raw is not None else None
    except (ValueError, KeyError, TypeError):
        event = None
    if not isinstance(event, dict):
        return f"?{id(fields)}"
    item = event.get("item")
    if isinstance(item, dict):
        # A reaction belongs to the thread of the message it is on (queued after it).
        return f"{item.get('channel')}:{item.get('ts')}"
    return f"{event.get('channel')}:{event.get('thread_ts') or event.get('ts')}"


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class IntakeWorker:
    """
    One consumer of the intake stream.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        stream: str,
        *,
        dispatch: Dispatch,
        metrics: Metrics,
        consumer: str | None = None,
        batch: int = BATCH,
        block_ms: int = 500,
        reclaim_ms: int = RECLAIM_MS,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE_SECONDS,
        wall: Callable[[], float] = time.time,
        take_over: str | None = None,
        first_batch: int | None = None,
    ) -> None:
        self._client = client
        self._stream = stream
        self._dispatch = dispatch
        self._metrics = metrics
        self.consumer = consumer or consumer_name()
        self._batch = batch
        # Entries the first read takes (see make_worker): then ``batch``.
        self._count = first_batch or batch
        self._block_ms = _block_within_timeout(client, block_ms)
        self._reclaim_ms = reclaim_ms
        self._clock = clock
        self._max_age = max_age
        self._wall = wall
        self._next_reclaim = 0.0
        # Look at entries already delivered to this consumer before reading new ones.
        self._recheck_own = True
        # A dead worker (its consumer name) whose pending entries this one takes over.
        self._take_over = take_over
        # Tries so far of entries whose work failed, and when to try them again.
        self._attempts: dict[str, int] = {}
        self._retry_at = 0.0
        self.handled = 0
        # False while Redis or the group cannot be read (readiness).
        self.healthy = True

    async def ensure_group(self) -> None:
        """
        Create the stream and the group if they are missing (any worker may be first).
        """
        self._metrics.redis_round_trips.inc()
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)

    async def take_over(self, dead: str) -> int:
        """
        Make a dead worker's unacknowledged entries this consumer's (XCLAIM with no
        idle time: its process is known to be gone) and drop it from the group.
        """
        self._metrics.redis_round_trips.inc()
        pending = await self._client.xpending_range(
            self._stream, GROUP, min="-", max="+", count=10_000, consumername=dead
        )
        ids: list[str | int | bytes | memoryview[int]] = [
            str(p["message_id"]) for p in pending
        ]
        if ids:
            await self._client.xclaim(
                self._stream, GROUP, self.consumer, 0, ids, justid=True
            )
            log.warning("intake_taken_over count=%d from=%s", len(ids), dead)
        await self._client.xgroup_delconsumer(self._stream, GROUP, dead)
        self._recheck_own = True
        return len(ids)

    async def _read(self, *, own: bool = False) -> list[Entry]:
        """
        New entries (waiting up to block_ms), or with ``own`` the entries Redis
        already handed this consumer that it never acknowledged.
        """
        self._metrics.redis_round_trips.inc()
        streams = await self._client.xreadgroup(
            GROUP,
            self.consumer,
            {self._stream: "0" if own else ">"},
            count=self._count,
            block=None if own else self._block_ms,
        )
        found: list[Any] = list(streams or [])
        return [(_decode(i), f) for _, entries in found for i, f in entries]

    async def _reclaim(self) -> list[Entry]:
        self._metrics.redis_round_trips.inc()
        result = await self._client.xautoclaim(
            self._stream,
            GROUP,
            self.consumer,
            min_idle_time=self._reclaim_ms,
            start_id="0-0",
            count=self._count,
        )
        entries = result[1] if len(result) > 1 else []
        if entries:
            log.warning("intake_reclaimed count=%d", len(entries))
        return [(_decode(i), f) for i, f in entries]

    async def poll(self) -> int:
        """
        Take one batch (entries abandoned by dead workers first), handle it and
        acknowledge it; the number of entries handled.
        """
        entries: list[Entry] = []
        if self._recheck_own and self._clock() >= self._retry_at:
            entries = await self._read(own=True)
            self._recheck_own = bool(entries)
        if not entries and self._clock() >= self._next_reclaim:
            self._next_reclaim = self._clock() + self._reclaim_ms / 2000
            entries = await self._reclaim()
        if not entries:
            # Redis may hand a batch to a blocked read whose caller is not there to
            # take it (a stall outlived the socket timeout; the client's retry then
            # reads nothing): an empty read is followed by a look at our own pending.
            self._recheck_own = True
            entries = await self._read()
            self._recheck_own = not entries
        if not entries:
            return 0
        self._count = self._batch
        oldest = (self._wall() - self._max_age) * 1000
        fresh = [(i, f) for i, f in entries if _millis(i) >= oldest]
        if len(fresh) < len(entries):
            self._metrics.intake_expired.inc(len(entries) - len(fresh))
            log.warning(
                "intake_expired count=%d (queued over %.0fs ago, left unanswered)",
                len(entries) - len(fresh),
                self._max_age,
            )
        # Threads run concurrently; the messages of one thread in the order they came,
        # so a follow-up sees what the answer before it recorded.
        threads: dict[str, list[Entry]] = {}
        for entry in fresh:
            threads.setdefault(_thread_of(entry[1]), []).append(entry)
        kept = await asyncio.gather(
            *(self._in_order(group) for group in threads.values())
        )
        later = {entry_id for group in kept for entry_id in group}
        done = [i for i, _ in entries if i not in later]
        if done:
            await self._ack(done)
        if later:
            # Tried again from this consumer's pending entries after a pause.
            tries = max(self._attempts[i] for i in later)
            self._retry_at = self._clock() + min(
                RETRY_DELAY * 2 ** (tries - 1), MAX_BACKOFF
            )
            self._recheck_own = True
        self.handled += len(fresh) - len(later)
        return len(fresh) - len(later)

    async def _in_order(self, entries: Sequence[Entry]) -> list[str]:
        """
        Handle one thread's entries in order; the ids left to try again (a failed
        entry holds back the thread's later ones, which keeps them in order).
        """
        for n, (entry_id, fields) in enumerate(entries):
            if not await self._one(entry_id, fields):
                return [i for i, _ in entries[n:]]
        return []

    async def _one(self, entry_id: str, fields: Mapping[Any, Any] | None) -> bool:
        """
        Handle one entry; False when it must be tried again later.
        """
        raw = _body(fields)
        if raw is None:
            return True  # trimmed away (MAXLEN) before anyone read it
        try:
            await self._dispatch(with_delivery(_decode(raw), entry_id))
        except NotDoneError as exc:
            tries = self._attempts.get(entry_id, 0) + 1
            if tries >= MAX_ATTEMPTS:
                self._attempts.pop(entry_id, None)
                self._metrics.intake_expired.inc()
                log.error(
                    "queued_event_given_up id=%s tries=%d error=%s",
                    entry_id,
                    tries,
                    exc,
                )
                return True
            self._attempts[entry_id] = tries
            log.warning(
                "queued_event_retry id=%s try=%d error=%s", entry_id, tries, exc
            )
            return False
        except Exception:
            # A payload that breaks the app must not come back forever.
            log.exception("queued_event_failed id=%s", entry_id)
        self._attempts.pop(entry_id, None)
        return True

    async def _ack(self, ids: Sequence[str]) -> None:
        self._metrics.redis_round_trips.inc()
        try:
            # Answered entries leave the stream: it holds only work still to do, and
            # no redacted paste stays in Redis longer than its conversation.
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xack(self._stream, GROUP, *ids)
                pipe.xdel(self._stream, *ids)
                # Progress for the readiness check (a backlog that drains is not
                # stuck).
                pipe.eval(NOTE_PROGRESS, 1, progress_key(self._stream), STREAM_TTL)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Another worker reclaims them later; the dedupe keys keep them silent.
            log.warning("intake_ack_failed count=%d error=%s", len(ids), exc)

    async def run(self, stop: asyncio.Event) -> None:
        """
        Poll until ``stop`` is set; a Redis outage is waited out with backoff.
        """
        backoff = 0.1
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                if self._take_over is not None:
                    await self.take_over(self._take_over)
                    self._take_over = None
                await self.poll()
                self.healthy = True
                backoff = 0.1
            except (RedisError, OSError) as exc:
                self.healthy = False
                self._metrics.redis_errors.inc()
                log.warning("intake_read_failed error=%s retry_in=%.1fs", exc, backoff)
                if missing_group(exc):
                    # Redis lost the group (and its data): create it again at once.
                    log.warning("intake_group_missing; creating it again")
                    ready = False
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
