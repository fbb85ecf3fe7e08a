"""
``StateStore`` on Redis (redis.asyncio with a blocking connection pool).

Keys (all under the configured prefix, all with a TTL):

    conv:<team>:<channel>:<thread_ts>   list of JSON records        conversation TTL
    seen:<name>                         "1", SET NX EX              dedupe TTL
    once:<name>                         "1", SET NX EX              caller's TTL
    rate:<name>                         counter, INCR + EXPIRE NX   the rate window

A handled message costs two round trips: ``begin`` (claim + load in one pipeline) and
``append`` (RPUSH + LTRIM + EXPIRE in one pipeline). With replicas to wait for
(``Replication``), both pipelines end in WAIT, so a claim or an answer's record the bot
acted on survives a failover. Redis errors become ``StateUnavailableError`` here and
nowhere else; the pool reconnects by itself (to the new master, with Sentinel), so the
store recovers as soon as Redis is back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.state.connect import Connection, Replication, connect
from bot.state.model import (
    Command,
    Conversation,
    Record,
    ThreadKey,
    dump_record,
    load_record,
)
from bot.state.store import Claim

T = TypeVar("T")

# A thread with more records than this keeps the newest; long threads are rare and the
# oldest turns matter least for matching.
MAX_RECORDS: Final = 200


def conversation_key(prefix: str, key: ThreadKey) -> str:
    """
    The Redis key of a thread's record list under ``prefix``.
    """
    return f"{prefix}conv:{key}"


def once_key(prefix: str, name: str) -> str:
    """
    The Redis key of a once-claim (``RedisStore.claim``) under ``prefix``.
    """
    return f"{prefix}once:{name}"


class RedisStore:
    """
    Conversations, dedupe and rate limits in Redis (or a fakeredis client for the
    console).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        conversation_ttl: int = 7 * 24 * 3600,
        dedupe_ttl: int = 24 * 3600,
        description: str = "redis",
        metrics: Metrics | None = None,
        replication: Replication | None = None,
        connection: Connection | None = None,
    ) -> None:
        self._client = client
        self._connection = connection
        self.replication = replication or Replication(client)
        self._metrics = metrics
        self._prefix = prefix
        self._conversation_ttl = conversation_ttl
        self._dedupe_ttl = dedupe_ttl
        self.description = description
        # Round trips to Redis made by this store (read by the benchmark and tests).
        self.round_trips = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "smtpbot:",
        conversation_ttl: int = 7 * 24 * 3600,
        dedupe_ttl: int = 24 * 3600,
        timeout: float = 1.0,
        max_connections: int = 32,
        metrics: Metrics | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = 0.5,
    ) -> RedisStore:
        """
        A store on a pooled client (one endpoint or a Sentinel group's master);
        connects lazily, so Redis may be down at start-up.
        """
        connection = connect(url, timeout=timeout, max_connections=max_connections)
        return cls(
            connection.client,
            prefix=prefix,
            conversation_ttl=conversation_ttl,
            dedupe_ttl=dedupe_ttl,
            description=connection.description,
            metrics=metrics,
            replication=Replication(
                connection.client, replicas=wait_replicas, timeout=wait_timeout
            ),
            connection=connection,
        )

    @property
    def client(self) -> aioredis.Redis:
        """
        The Redis client, shared with the escalation desk (one pool per process).
        """
        return self._client

    def conversation_key(self, key: ThreadKey) -> str:
        """
        The Redis key of a thread's record list.
        """
        return conversation_key(self._prefix, key)

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """
        Run one round trip, translating Redis failures.
        """
        self.round_trips += 1
        if self._metrics is not None:
            self._metrics.redis_round_trips.inc()
        try:
            return await operation()
        except StateUnavailableError:
            raise  # already ours (replicas did not confirm a write)
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"state store unavailable ({self.description}): {type(exc).__name__}"
            ) from exc

    async def begin(
        self,
        key: ThreadKey,
        *,
        dedupe: Sequence[str] = (),
        token: str | None = None,
    ) -> tuple[Claim, Conversation]:
        """
        Claim the dedupe names (SET NX GET: the holder comes back) and load the
        thread in one pipeline.
        """
        mark = token or "1"

        async def run() -> list[Any]:
            target = await self.replication.target() if dedupe else 0
            async with self._client.pipeline(transaction=False) as pipe:
                for name in dedupe:
                    pipe.set(
                        f"{self._prefix}seen:{name}",
                        mark,
                        nx=True,
                        get=True,
                        ex=self._dedupe_ttl,
                    )
                pipe.lrange(self.conversation_key(key), 0, -1)
                self.replication.wait(pipe, target)
                return self.replication.confirm(await pipe.execute(), target)

        results = await self._call(run)
        holders = results[:-1]
        if any(h is not None and (token is None or h != token) for h in holders):
            claim = Claim.TAKEN
        elif any(h is not None for h in holders):
            claim = Claim.OURS
        else:
            claim = Claim.NEW
        records = (load_record(raw) for raw in results[-1])
        return claim, Conversation.fold(key, (r for r in records if r is not None))

    async def load(self, key: ThreadKey) -> Conversation:
        """
        Load one thread (no dedupe).
        """
        return (await self.begin(key))[1]

    async def append(
        self, key: ThreadKey, *records: Record, also: Sequence[Command] = ()
    ) -> None:
        """
        Append records, trim to the newest MAX_RECORDS and refresh the TTL; ``also``
        goes in the same pipeline.
        """
        if not records and not also:
            return
        name = self.conversation_key(key)

        async def run() -> list[Any]:
            target = await self.replication.target()
            async with self._client.pipeline(transaction=False) as pipe:
                if records:
                    pipe.rpush(name, *(dump_record(r) for r in records))
                    pipe.ltrim(name, -MAX_RECORDS, -1)
                    pipe.expire(name, self._conversation_ttl)
                for command in also:
                    pipe.execute_command(*command)
                self.replication.wait(pipe, target)
                return self.replication.confirm(await pipe.execute(), target)

        await self._call(run)

    async def claim(self, name: str, *, ttl: int) -> bool:
        """
        SET NX EX one name.
        """

        async def run() -> Any:
            return await self._client.set(
                once_key(self._prefix, name), "1", nx=True, ex=ttl
            )

        return bool(await self._call(run))

    async def release(self, name: str) -> None:
        """
        DEL one claimed name.
        """

        async def run() -> Any:
            return await self._client.delete(once_key(self._prefix, name))

        await self._call(run)

    async def within_limits(
        self, limits: Sequence[tuple[str, int]], *, window: int
    ) -> bool:
        """
        INCR each counter (its window starts at the first hit) in one pipeline.
        """
        if not limits:
            return True

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for name, _ in limits:
                    pipe.incr(f"{self._prefix}rate:{name}")
                    pipe.expire(f"{self._prefix}rate:{name}", window, nx=True)
                return await pipe.execute()

        results = await self._call(run)
        counts = results[0::2]
        return all(
            int(count) <= limit
            for count, (_, limit) in zip(counts, limits, strict=True)
        )

    async def forget(self, workspace: str) -> int:
        """
        Delete a workspace's conversations and the claims named after its threads;
        returns how many keys went.
        """
        names = ("conv", "once:human", "once:probe")
        patterns = [f"{self._prefix}{n}:{glob_escape(workspace)}:*" for n in names]
        return int(
            await self._call(
                lambda: delete_matching(self._client, patterns),
            )
        )

    async def ping(self) -> None:
        """
        PING.
        """

        async def run() -> Any:
            return await self._client.ping()

        await self._call(run)

    async def check(self) -> None:
        """
        Readiness: the endpoint answers and is a master that can take writes (ROLE;
        a replica, or a master Sentinel has just demoted, cannot).
        """

        async def run() -> Any:
            return await self._client.execute_command("ROLE")  # type: ignore[no-untyped-call]

        role = await self._call(run)
        if not role or str(role[0]) != "master":
            raise StateUnavailableError(
                f"state store ({self.description}) is a {role[0] if role else '?'}, "
                "not a master"
            )

    async def close(self) -> None:
        """
        Close the client and its pool.
        """
        if self._connection is not None:
            await self._connection.close()
        else:
            await self._client.aclose()


def glob_escape(text: str) -> str:
    """
    ``text`` as a literal in a Redis SCAN MATCH pattern.
    """
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def delete_matching(
    client: aioredis.Redis, patterns: Sequence[str], *, batch: int = 500
) -> int:
    """
    SCAN for each pattern and delete what it finds, a batch at a time (SCAN never
    blocks Redis the way KEYS does). Raises Redis errors.
    """
    deleted = 0
    for pattern in patterns:
        found: list[Any] = []
        async for key in client.scan_iter(match=pattern, count=batch):
            found.append(key)
            if len(found) >= batch:
                deleted += int(await client.delete(*found))
                found = []
        if found:
            deleted += int(await client.delete(*found))
    return deleted


def embedded_store(
    *,
    prefix: str = "smtpbot:",
    conversation_ttl: int = 7 * 24 * 3600,
    dedupe_ttl: int = 24 * 3600,
) -> RedisStore:
    """
    An in-process store for the console when no REDIS_URL is set (fakeredis).
    """
    import fakeredis

    client = fakeredis.FakeAsyncRedis(decode_responses=True)
    return RedisStore(
        client,
        prefix=prefix,
        conversation_ttl=conversation_ttl,
        dedupe_ttl=dedupe_ttl,
        description="embedded",
    )
