"""
Running coroutines side by side so that a failure in one ends all of them cleanly.

``asyncio.gather`` leaves the others running when one raises: they finish (or fail)
after nobody awaits them, and asyncio then reports "exception was never retrieved" or
"unhandled exception during asyncio.run() shutdown" with a traceback. ``all_of`` runs
them in a task group instead: on the first failure the rest are cancelled and awaited,
and the caller sees that first error itself, not an exception group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def all_of(*awaitables: Awaitable[Any]) -> list[Any]:
    """
    Await every awaitable concurrently and return their results in order.

    Raises:
        Exception: the first error any of them raised, after the others have been
            cancelled and have finished.
    """

    async def wrap(awaitable: Awaitable[Any]) -> Any:
        return await awaitable

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(wrap(a)) for a in awaitables]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """
    The first leaf error of a (possibly nested) exception group.
    """
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
