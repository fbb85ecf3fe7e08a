"""
Redis clients from ``REDIS_URL``: one endpoint, or the current master of a Sentinel
group, on a blocking connection pool; and ``Replication``, which makes a write wait
until replicas have it (WAIT) so that a failover cannot lose it.

With Sentinel every new connection asks the sentinels where the master is
(redis-py's ``SentinelConnectionPool``), so after a failover the pool finds the new
master by itself; a connection still open to a demoted master fails on its next write
(READONLY) and is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.errors import StateUnavailableError
from bot.redis_url import describe, is_sentinel, parse_sentinel

# How long the number of replicas the master has is trusted before asking again
# (ROLE): a replica that left is noticed within this, and asking costs a round trip.
REPLICAS_TTL: Final = 1.0


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """
    Connections to a Sentinel group's master that wait for a free slot (as the
    single-endpoint pool does) instead of failing when all are in use.
    """


@dataclass(frozen=True, slots=True)
class Connection:
    """
    A client and what else must be closed with it (a Sentinel group's own clients).
    """

    client: aioredis.Redis
    description: str
    sentinel: Sentinel | None = None

    async def close(self) -> None:
        """
        Close the client, its pool and any sentinel connections.
        """
        await self.client.aclose()
        if self.sentinel is not None:
            await self.sentinel.aclose()


def connect(
    url: str,
    *,
    timeout: float = 1.0,
    max_connections: int = 32,
    decode_responses: bool = True,
) -> Connection:
    """
    A pooled client for ``url``; connects lazily, so Redis may be down at start-up.
    """
    common: dict[str, Any] = {
        "decode_responses": decode_responses,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # One immediate retry on a broken pooled connection (Redis restarted, or the
        # master moved); no backoff, because a slow Redis must not make Slack wait.
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError],
    }
    if not is_sentinel(url):
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, **common
        )
        return Connection(aioredis.Redis.from_pool(pool), describe(url))
    group = parse_sentinel(url)
    tls: dict[str, Any] = {"ssl": True} if group.tls else {}
    sentinel = Sentinel(
        list(group.hosts),
        sentinel_kwargs={
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "username": group.sentinel_username,
            "password": group.sentinel_password,
            "decode_responses": True,
            **tls,
        },
        username=group.username,
        password=group.password,
        db=group.db,
        **tls,
        **common,
    )
    client = sentinel.master_for(
        group.master,
        connection_pool_class=BlockingSentinelPool,
        max_connections=max_connections,
        timeout=timeout,
    )
    return Connection(client, group.describe(), sentinel)


class Replication:
    """
    WAIT for replicas after writes that must survive a failover.

    The number waited for is the configured one, or fewer while the master has fewer
    replicas connected (a master with none cannot be failed over, so there is nothing
    to wait for). A write whose replicas do not confirm it in time counts as failed.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        replicas: int = 0,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.replicas = replicas
        self.timeout_ms = max(1, int(timeout * 1000))
        self._clock = clock
        self._connected = replicas
        self._checked = float("-inf")
        # Writes confirmed by fewer replicas than configured (the master had fewer).
        self.degraded = 0

    async def target(self) -> int:
        """
        How many replicas the next durable write waits for (ROLE at most once a
        second).
        """
        if self.replicas == 0:
            return 0
        if self._clock() - self._checked >= REPLICAS_TTL:
            role = await self._client.execute_command("ROLE")  # type: ignore[no-untyped-call]
            if not role or str(role[0]) != "master":
                raise RedisConnectionError(f"connected to a {role[0]!r}, not a master")
            self._connected = len(role[2]) if len(role) > 2 else 0
            self._checked = self._clock()
        if self._connected < self.replicas:
            self.degraded += 1
        return min(self.replicas, self._connected)

    def wait(self, pipe: Any, target: int) -> None:
        """
        Queue WAIT on a pipeline, after the writes it must cover.
        """
        if target:
            pipe.execute_command("WAIT", target, self.timeout_ms)

    def confirm(self, results: list[Any], target: int) -> list[Any]:
        """
        The pipeline's results without WAIT's; raises StateUnavailableError when
        fewer replicas than ``target`` confirmed the writes.
        """
        if not target:
            return results
        acked = int(results[-1])
        if acked < target:
            self._checked = float("-inf")  # look at the replicas again next time
            raise StateUnavailableError(
                f"write confirmed by {acked} of {target} replica(s) within "
                f"{self.timeout_ms} ms"
            )
        return results[:-1]
