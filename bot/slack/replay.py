"""
Replay protection: a signed request already accepted is not acted on again.

A request's signature is an HMAC over its timestamp and body, so it names that exact
request. Within the five minutes a timestamp is accepted, an attacker who captured a
request could send it again byte for byte; the signature is remembered in Redis (one
``SET NX EX`` shared by every replica) for longer than that window, and a second
arrival is acked without being acted on. With Redis unreachable, an in-process memory
still stops replays to this replica.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.metrics import Metrics
from bot.slack.inbound import FRESH_SECONDS

log = logging.getLogger(__name__)

# Seconds a signature is remembered: the timestamp window either side of now (a
# request stamped up to five minutes ahead stays acceptable that much longer).
REPLAY_TTL: Final = 2 * FRESH_SECONDS + 60
# Signatures remembered in-process while Redis is unreachable.
LOCAL_MEMORY: Final = 50_000


def replay_key(prefix: str, signature: str) -> str:
    """
    The Redis key remembering one accepted request (its signature's hex digest).
    """
    return f"{prefix}replay:{signature.removeprefix('v0=')}"


class ReplayGuard:
    """
    First-arrival test for signed requests, shared across replicas through Redis.
    """

    def __init__(
        self, client: aioredis.Redis | None, prefix: str, *, metrics: Metrics
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._metrics = metrics
        self._local: OrderedDict[str, None] = OrderedDict()

    def remember_locally(self, signature: str) -> bool:
        """
        Remember a signature in this process; True the first time.
        """
        first = signature not in self._local
        self._local[signature] = None
        self._local.move_to_end(signature)
        while len(self._local) > LOCAL_MEMORY:
            self._local.popitem(last=False)
        return first

    async def first(self, signature: str) -> bool:
        """
        True the first time this request arrives (at any replica).
        """
        if self._client is None:
            return self.remember_locally(signature)
        self._metrics.redis_round_trips.inc()
        try:
            first = bool(
                await self._client.set(
                    replay_key(self._prefix, signature), "1", nx=True, ex=REPLAY_TTL
                )
            )
        except (RedisError, OSError) as exc:
            self._metrics.redis_errors.inc()
            log.warning("replay_check_unavailable error=%s", type(exc).__name__)
            return self.remember_locally(signature)
        self.remember_locally(signature)
        return first
