"""
The other end of the intake stream: read queued messages with a consumer group, hand
each to the Bolt app, acknowledge the batch.

Any number of workers, in any number of processes and replicas, share the group; a
batch a worker took but never acknowledged (it was killed) is taken over by another
after ``reclaim_ms`` (XAUTOCLAIM). Redelivery cannot answer twice: the engine's dedupe
keys (event id, channel and ts) were claimed when the message was first handled.
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

from bot.metrics import Metrics
from bot.slack.intake import WORKER_GROUP

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

Dispatch = Callable[[str], Awaitable[None]]
Entry = tuple[str, Mapping[Any, Any] | None]


def consumer_name() -> str:
    """
    This process's name in the group (host and pid: unique across replicas).
    """
    return f"{socket.gethostname()}:{os.getpid()}"


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
        if response.status >= 400:
            log.warning("queued_event_refused status=%s", response.status)

    return dispatch


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
    ) -> None:
        self._client = client
        self._stream = stream
        self._dispatch = dispatch
        self._metrics = metrics
        self.consumer = consumer or consumer_name()
        self._batch = batch
        self._block_ms = _block_within_timeout(client, block_ms)
        self._reclaim_ms = reclaim_ms
        self._clock = clock
        self._max_age = max_age
        self._wall = wall
        self._next_reclaim = 0.0
        # Look at entries already delivered to this consumer before reading new ones.
        self._recheck_own = True
        self.handled = 0

    async def ensure_group(self) -> None:
        """
        Create the stream and the group if they are missing (any worker may be first).
        """
        self._metrics.redis_round_trips.inc()
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)

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
            count=self._batch,
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
            count=self._batch,
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
        if self._recheck_own:
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
        await asyncio.gather(*(self._in_order(group) for group in threads.values()))
        await self._ack([i for i, _ in entries])
        self.handled += len(fresh)
        return len(fresh)

    async def _in_order(self, entries: Sequence[Entry]) -> None:
        for entry_id, fields in entries:
            await self._one(entry_id, fields)

    async def _one(self, entry_id: str, fields: Mapping[Any, Any] | None) -> None:
        raw = _body(fields)
        if raw is None:
            return  # trimmed away (MAXLEN) before anyone read it
        try:
            await self._dispatch(_decode(raw))
        except Exception:
            # A payload that breaks the app must not come back forever.
            log.exception("queued_event_failed id=%s", entry_id)

    async def _ack(self, ids: Sequence[str]) -> None:
        self._metrics.redis_round_trips.inc()
        try:
            # Answered entries leave the stream: it holds only work still to do, and
            # no redacted paste stays in Redis longer than its conversation.
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xack(self._stream, GROUP, *ids)
                pipe.xdel(self._stream, *ids)
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
                await self.poll()
                backoff = 0.1
            except (RedisError, OSError) as exc:
                self._metrics.redis_errors.inc()
                log.warning("intake_read_failed error=%s retry_in=%.1fs", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    ready = False
