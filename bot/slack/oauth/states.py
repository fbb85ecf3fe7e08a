"""
OAuth states in Redis: issued by whichever replica serves ``/slack/install``, accepted
once, before they expire, by whichever replica Slack sends the installer back to.

RFC 6749 §10.12: the state binds the authorization response to the browser that began
the flow (Bolt also checks it against a cookie). Each state is a random 256-bit value;
Redis keeps only its SHA-256, with a TTL, and ``GETDEL`` consumes it atomically, so two
callbacks racing with one state cannot both succeed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.metrics import Metrics
from bot.slack.oauth.calls import redis_call

log = logging.getLogger(__name__)

# Random bytes per state (RFC 6749 §10.10: guessing must be infeasible).
STATE_BYTES: Final = 32
# A state longer than this is not one of ours; it is refused without asking Redis.
MAX_STATE_LENGTH: Final = 128

_T = TypeVar("_T")


class RedisOAuthStateStore(AsyncOAuthStateStore):
    """
    One-time, expiring OAuth states shared by every replica.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        expiration_seconds: int = 600,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.expiration_seconds = expiration_seconds
        self._metrics = metrics

    @property
    def logger(self) -> logging.Logger:
        """
        The logger slack_sdk's interface asks for.
        """
        return log

    def key(self, state: str) -> str:
        """
        Where a state's digest is kept.
        """
        digest = hashlib.sha256(state.encode()).hexdigest()
        return f"{self._prefix}oauth:state:{digest}"

    async def _call(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await redis_call(operation, store="oauth states", metrics=self._metrics)

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """
        A new state, valid once for ``expiration_seconds``.
        """
        state = secrets.token_urlsafe(STATE_BYTES)
        await self._call(
            lambda: self._client.set(
                self.key(state), "1", px=self.expiration_seconds * 1000, nx=True
            )
        )
        return state

    async def async_consume(self, state: str) -> bool:
        """
        True exactly once for a state this store issued and that has not expired.
        """
        if not state or len(state) > MAX_STATE_LENGTH:
            return False
        found = await self._call(lambda: self._client.getdel(self.key(state)))
        return found is not None
