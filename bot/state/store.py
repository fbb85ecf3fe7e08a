"""
The state store contract every backend honours (Redis, and the console's embedded
store).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from bot.state.model import Command, Conversation, Record, ThreadKey


class Claim(enum.Enum):
    """
    What claiming a message's dedupe names found.
    """

    # Nobody had claimed it: handle it.
    NEW = "new"
    # This very delivery (the same token) claimed it before and did not finish, so
    # it may have posted already: look before posting again.
    OURS = "ours"
    # Another delivery has it (a Slack retry, another replica, the mention twin).
    TAKEN = "taken"


class StateStore(Protocol):
    """
    Per-thread conversations, event dedupe and rate-limit counters.

    Every method raises ``StateUnavailableError`` when the backend cannot be reached;
    callers decide how to carry on without state.

    """

    async def begin(
        self,
        key: ThreadKey,
        *,
        dedupe: Sequence[str] = (),
        token: str | None = None,
    ) -> tuple[Claim, Conversation]:
        """
        Claim the dedupe names for ``token`` and load the thread in one round trip.

        ``token`` names one delivery of the message (a queued entry's id): the same
        token claiming again gets ``Claim.OURS``. Without one, a name claimed before
        is always ``Claim.TAKEN``.
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
