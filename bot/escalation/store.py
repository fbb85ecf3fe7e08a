"""
Escalations in Redis: durable records, the hand-off stream, SLA timers and leases.

Keys (under the configured prefix):

    esc:rec:<team>:<channel>:<ts>  hash, the escalation      durable while active, then
                                                             EXPIRE retention
    esc:stream                     stream of accepted        consumer group "cards";
                                   escalations (key=...)     MAXLEN ~ STREAM_MAXLEN
    esc:sla                        zset key -> next reminder due (epoch seconds)
    esc:open                       zset key -> created_at (open and claimed ones)
    esc:lease:<name>               random token, SET NX PX    the lease's TTL

Accepting, claiming and closing are each one Lua script, so they are atomic across
replicas: the first Claim wins, an escalation is accepted once per thread, and a record
never exists without its stream entry, its timer and the thread's "with a human"
record (the record is the outbox: the thread notice and the card are posted from it,
each noted in it once posted). With replicas to wait for, each script is followed by
WAIT, so what the bot acted on survives a failover. The consumer group is recreated
whenever Redis reports it missing (NOGROUP: Redis lost its data). Redis errors become
``StateUnavailableError`` here and nowhere else.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from bot.errors import StateUnavailableError
from bot.escalation.model import Escalation, Status
from bot.state import ThreadKey
from bot.state.connect import Replication
from bot.state.redis_store import conversation_key, delete_matching, glob_escape

# The consumer group that posts cards; every replica is one consumer in it.
GROUP: Final = "cards"
# Stream entries kept (approximately); acked entries are only history.
STREAM_MAXLEN: Final = 10_000

# A thread handed back to the bot may be escalated again: the new escalation replaces
# the handed-back record; any other existing record means "escalated already".
_ACCEPT: Final = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= '{Status.HANDED_BACK}' then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 and not status then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', '{STREAM_MAXLEN}', '*',
                         'key', ARGV[1])
redis.call('HSET', KEYS[1], 'entry', entry)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[5], ARGV[4])
  redis.call('EXPIRE', KEYS[5], ARGV[5])
end
return 1
"""

# Claim and close queue a stream entry too: the card edit and the thread's message
# are applied from the record by whichever replica takes the entry (an outbox, like
# the hand-off itself).
_CLAIM: Final = f"""
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'claimed', 'claimed_by', ARGV[1],
           'claimed_at', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '{STREAM_MAXLEN}', '*', 'key', ARGV[3])
return 1
"""

# Handing back also returns the thread to the bot in the same step: the hand-back is
# appended to the conversation and the once-per-escalation claim released.
_CLOSE: Final = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'open' and status ~= 'claimed' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'closed_by', ARGV[2],
           'closed_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '{STREAM_MAXLEN}', '*', 'key', ARGV[4])
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[5], ARGV[6])
  redis.call('LTRIM', KEYS[5], -tonumber(ARGV[8]), -1)
  redis.call('EXPIRE', KEYS[5], ARGV[7])
  redis.call('DEL', KEYS[6])
end
return 1
"""

# Note something done for an escalation, only on the escalation it was done for (a
# record replaced or expired meanwhile is left alone). With ARGV[4] = '1' the field is
# set only if absent. Returns 1 when set, 0 when it was there, -1 for another record.
_NOTE: Final = """
if redis.call('HGET', KEYS[1], 'created_at') ~= ARGV[1] then return -1 end
if ARGV[4] == '1' then return redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
"""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class EscalationStore:
    """
    Escalation records, the hand-off stream with its consumer group, timers, leases.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        retention_seconds: int = 30 * 24 * 3600,
        replication: Replication | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._retention = retention_seconds
        self._replication = replication or Replication(client)
        self.stream = f"{prefix}esc:stream"
        self.sla = f"{prefix}esc:sla"
        self.open = f"{prefix}esc:open"
        self._accept = client.register_script(_ACCEPT)
        self._claim = client.register_script(_CLAIM)
        self._close = client.register_script(_CLOSE)
        self._release = client.register_script(_RELEASE)
        self._note = client.register_script(_NOTE)

    def conversation_key(self, key: ThreadKey) -> str:
        """
        The Redis key of the escalated thread's conversation records.
        """
        return conversation_key(self._prefix, key)

    def record_key(self, key: str) -> str:
        """
        The Redis key of one escalation's hash.
        """
        return f"{self._prefix}esc:rec:{key}"

    async def _call(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        """
        Run one round trip, translating Redis failures.
        """
        try:
            return await operation()
        except StateUnavailableError:
            raise  # already ours (replicas did not confirm a write)
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"escalation store unavailable: {type(exc).__name__}"
            ) from exc

    async def _durable(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """
        Run a write script and, with replicas configured, WAIT until they have it.
        """

        async def run() -> Any:
            target = await self._replication.target()
            async with self._client.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)
                self._replication.wait(pipe, target)
                return self._replication.confirm(await pipe.execute(), target)[0]

        return await self._call(run)

    async def accept(
        self,
        escalation: Escalation,
        *,
        due: float,
        thread: tuple[str, str, int] | None = None,
    ) -> bool:
        """
        Store a new escalation, queue its delivery, start its SLA timer and (with
        ``thread``: the conversation's key, a record to append, its TTL) mark the
        thread as with a human, atomically.

        Returns False when the thread was escalated already.
        """
        conversation, record, ttl = thread or ("", "", 0)
        flat = [part for item in escalation.to_fields().items() for part in item]
        args = [
            escalation.id,
            repr(due),
            repr(escalation.created_at),
            record,
            str(ttl),
            *flat,
        ]
        keys = [
            self.record_key(escalation.id),
            self.stream,
            self.sla,
            self.open,
            conversation or self.record_key(escalation.id),
        ]
        return bool(await self._durable(self._accept, keys, args))

    async def get(self, key: str) -> Escalation | None:
        """
        One escalation, or None when unknown (or expired after its retention).
        """
        fields = await self._call(lambda: self._client.hgetall(self.record_key(key)))
        return Escalation.from_fields(fields) if fields else None

    async def set_card(
        self,
        key: str,
        *,
        channel: str,
        ts: str,
        permalink: str,
        shows: str | None = None,
    ) -> None:
        """
        Record the posted card (and the status it was drawn with), so that no replica
        ever posts it again.
        """
        mapping: dict[Any, Any] = {
            "card_channel": channel,
            "card_ts": ts,
            "permalink": permalink,
        }
        if shows is not None:
            mapping["card_shows"] = shows
        await self._call(
            lambda: self._client.hset(self.record_key(key), mapping=mapping)
        )

    async def set_notice(self, key: str, *, ts: str) -> None:
        """
        Record the thread notice as posted (the asker has been told).
        """
        await self._call(
            lambda: self._client.hset(self.record_key(key), "notice_ts", ts)
        )

    async def note(
        self, escalation: Escalation, field: str, value: str, *, once: bool = False
    ) -> bool:
        """
        Record ``field`` on this escalation's record (not on one that replaced it);
        with ``once`` only if it is not set yet. True when it was set now.
        """
        keys = [self.record_key(escalation.id)]
        args = [repr(escalation.created_at), field, value, "1" if once else "0"]
        return int(await self._call(lambda: self._note(keys=keys, args=args))) == 1

    async def claim(self, key: str, *, user_id: str, at: float) -> bool:
        """
        Claim an open escalation; only the first caller gets True. The card edit and
        the thread's message are queued with it (``esc:stream``).
        """
        keys = [self.record_key(key), self.sla, self.stream]
        args = [user_id, repr(at), key]
        return bool(await self._durable(self._claim, keys, args))

    async def close(
        self,
        key: str,
        status: Status,
        *,
        user_id: str,
        at: float,
        handback: tuple[str, str, int, str, int] | None = None,
    ) -> bool:
        """
        Resolve or hand back an active escalation; it then expires after retention.
        The card edit and the thread's message are queued with it. ``handback``
        (the conversation's key, a record to append, its TTL, the once-claim key to
        release, how many records a conversation keeps) returns the thread to the bot
        in the same step.
        """
        conversation, record, ttl, once, kept = handback or ("", "", 0, "", 0)
        keys = [
            self.record_key(key),
            self.sla,
            self.open,
            self.stream,
            conversation or self.record_key(key),
            once or self.record_key(key),
        ]
        args = [
            str(status),
            user_id,
            repr(at),
            key,
            str(self._retention),
            record,
            str(ttl),
            str(kept),
        ]
        return bool(await self._durable(self._close, keys, args))

    async def active(self) -> list[Escalation]:
        """
        Open and claimed escalations, oldest first.
        """
        keys: list[str] = await self._call(
            lambda: self._client.zrange(self.open, 0, -1)
        )
        if not keys:
            return []

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self.record_key(key))
                return await pipe.execute()

        found = (Escalation.from_fields(f) for f in await self._call(run) if f)
        return [e for e in found if e is not None and e.status.active]

    async def ensure_group(self) -> None:
        """
        Create the stream and its consumer group if missing (from the start of the
        stream, so that entries added before the group existed are delivered too).
        """

        async def run() -> None:
            try:
                await self._client.xgroup_create(
                    self.stream, GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        await self._call(run)

    async def _grouped(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        """
        Run a consumer-group command; when Redis says the group is gone (it lost its
        data), create it again and retry once.
        """
        try:
            return await self._call(operation)
        except StateUnavailableError as exc:
            if not missing_group(exc.__cause__):
                raise
        await self.ensure_group()
        return await self._call(operation)

    async def read(self, consumer: str, *, count: int = 10) -> list[tuple[str, str]]:
        """
        New entries for this consumer (they stay pending until acked).
        """
        answer = await self._grouped(
            lambda: self._client.xreadgroup(
                GROUP, consumer, {self.stream: ">"}, count=count
            )
        )
        return [
            (entry_id, fields.get("key", ""))
            for _, entries in answer or []
            for entry_id, fields in entries
        ]

    async def reclaim(
        self, consumer: str, *, min_idle_ms: int, count: int = 10
    ) -> list[tuple[str, str]]:
        """
        Entries pending on any consumer for at least ``min_idle_ms``, now ours.
        """
        answer = await self._grouped(
            lambda: self._client.xautoclaim(
                self.stream, GROUP, consumer, min_idle_ms, "0-0", count=count
            )
        )
        entries = answer[1] if answer else []
        return [
            (entry_id, fields.get("key", ""))
            for entry_id, fields in entries
            if fields is not None
        ]

    async def group_exists(self) -> bool:
        """
        True when the hand-off stream's consumer group exists (readiness).
        """

        async def run() -> bool:
            try:
                groups = await self._client.xinfo_groups(self.stream)
            except ResponseError:
                return False  # no stream
            return any(str(g["name"]) == GROUP for g in groups)

        return bool(await self._call(run))

    async def ack(self, entry_id: str) -> None:
        """
        Mark a stream entry done for the group.
        """
        await self._call(lambda: self._client.xack(self.stream, GROUP, entry_id))

    async def pending(self) -> int:
        """
        Entries delivered but not acked (for tests and metrics).
        """
        info = await self._grouped(lambda: self._client.xpending(self.stream, GROUP))
        return int(info["pending"])

    async def lease(self, name: str, *, ttl_ms: int) -> str | None:
        """
        Take a named lease (SET NX PX); its token, or None when someone holds it.
        """
        token = secrets.token_hex(8)
        taken = await self._call(
            lambda: self._client.set(
                f"{self._prefix}esc:lease:{name}", token, nx=True, px=ttl_ms
            )
        )
        return token if taken else None

    async def release(self, name: str, token: str) -> None:
        """
        Give a lease back, only if it is still ours.
        """
        keys = [f"{self._prefix}esc:lease:{name}"]
        await self._call(lambda: self._release(keys=keys, args=[token]))

    async def due(self, now: float, *, count: int = 50) -> list[str]:
        """
        Escalations whose SLA reminder is due.
        """
        return list(
            await self._call(
                lambda: self._client.zrangebyscore(
                    self.sla, "-inf", repr(now), start=0, num=count
                )
            )
        )

    async def reschedule(self, key: str, at: float) -> None:
        """
        Move an escalation's next reminder (only if it still has a timer).
        """
        await self._call(lambda: self._client.zadd(self.sla, {key: at}, xx=True))

    async def forget(self, workspace: str, *, batch: int = 500) -> int:
        """
        Delete a workspace's escalations: records, timers and queued hand-offs;
        returns how many went.
        """
        mine = f"{workspace}:"

        async def run() -> int:
            gone = await delete_matching(
                self._client,
                [self.record_key(f"{glob_escape(workspace)}:*")],
                batch=batch,
            )
            for zset in (self.sla, self.open):
                members = [
                    str(m)
                    for m in await self._client.zrange(zset, 0, -1)
                    if str(m).startswith(mine)
                ]
                if members:
                    gone += int(await self._client.zrem(zset, *members))
            start = "-"
            while True:
                page = await self._client.xrange(self.stream, start, "+", count=batch)
                if not page:
                    break
                doomed = [
                    str(entry_id)
                    for entry_id, fields in page
                    if str((fields or {}).get("key", "")).startswith(mine)
                ]
                if doomed:
                    gone += int(await self._client.xdel(self.stream, *doomed))
                if len(page) < batch:
                    break
                start = f"({page[-1][0]!s}"
            return gone

        return int(await self._call(run))

    async def unschedule(self, key: str) -> None:
        """
        Drop an escalation's timer.
        """
        await self._call(lambda: self._client.zrem(self.sla, key))


def missing_group(exc: BaseException | None) -> bool:
    """
    True when a Redis error says a stream or its consumer group does not exist.
    """
    return isinstance(exc, ResponseError) and (
        "NOGROUP" in str(exc) or "no such key" in str(exc).lower()
    )
