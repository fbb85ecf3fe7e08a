"""
The state store contract every backend honours (Redis, and the console's embedded
store).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.state.model import Command, Conversation, Record, ThreadKey


class StateStore(Protocol):
    """
    Per-thread conversations, event dedupe and rate-limit counters.

    Every method raises ``StateUnavailableError`` when the backend cannot be reached;
    callers decide how to carry on without state.

    """

    async def begin(
        self, key: ThreadKey, *, dedupe: Sequence[str] = ()
    ) -> tuple[bool, Conversation]:
        """
        Claim the dedupe names and load the thread in one round trip.

        Returns (claimed, conversation); claimed is False when any name was claimed
        before (a Slack retry, another replica, the same message seen as a mention).

        """
        ...

    async def append(
        self, key: ThreadKey, *records: Record, also: Sequence[Command] = ()
    ) -> None:
        """
        Append records to the thread and run ``also`` in the same round trip;
        refresh the thread's TTL.
        """
        ...

    async def claim(self, name: str, *, ttl: int) -> bool:
        """
        Set ``name`` once for ``ttl`` seconds; False when it was already set.
        """
        ...

    async def release(self, name: str) -> None:
        """
        Forget a ``claim``: the next claim of ``name`` succeeds again.
        """
        ...

    async def within_limits(
        self, limits: Sequence[tuple[str, int]], *, window: int
    ) -> bool:
        """
        Count one hit on each (counter, limit); True when every counter is within its
        limit.
        """
        ...

    async def ping(self) -> None:
        """
        Check that the backend answers.
        """
        ...

    async def close(self) -> None:
        """
        Release connections.
        """
        ...
