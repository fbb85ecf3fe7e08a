"""
One Redis call of the "Add to Slack" stores: counted as a round trip, and a Redis that
cannot answer reported as the state store being unavailable, naming the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from bot.errors import StateUnavailableError
from bot.metrics import Metrics

_T = TypeVar("_T")


async def redis_call(
    operation: Callable[[], Awaitable[_T]], *, store: str, metrics: Metrics | None
) -> _T:
    """
    Await ``operation`` (one Redis command or pipeline).

    Raises:
        StateUnavailableError: Redis failed or could not be reached; the message
            names ``store`` and the error's type, never its text.
    """
    if metrics is not None:
        metrics.redis_round_trips.inc()
    try:
        return await operation()
    except (RedisError, OSError) as exc:
        raise StateUnavailableError(f"{store}: {type(exc).__name__}") from exc
