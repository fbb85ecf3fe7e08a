"""
``bot.aio.all_of``: concurrent awaits where one failure ends all of them cleanly, so a
check that fails part-way prints its one line and never an asyncio traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.aio import all_of


async def fail_now() -> None:
    raise OSError(24, "Too many open files")


def run_reporting(
    combine: Callable[..., Awaitable[Any]],
) -> tuple[BaseException | None, list[str], list[str]]:
    """
    Run two jobs through ``combine`` under asyncio.run: one fails at once, the other
    is waiting and fails again while being cancelled (as a socket step out of file
    descriptors does). Return the error the caller saw, the messages asyncio's
    exception handler was given, and how the waiting job ended.
    """
    reported: list[str] = []
    ended: list[str] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise OSError(24, "Too many open files") from None

    async def main() -> BaseException | None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: reported.append(context["message"])
        )
        try:
            await combine(fail_now(), stubborn())
        except Exception as exc:
            return exc
        return None

    seen = asyncio.run(main())
    return seen, reported, ended


def test_first_error_raised_others_cancelled_nothing_unretrieved() -> None:
    """The caller gets the first OSError itself, not a group; the waiting job is
    cancelled and its own failure collected; asyncio reports nothing."""
    seen, reported, ended = run_reporting(all_of)
    assert isinstance(seen, OSError) and seen.errno == 24
    assert ended == ["cancelled"]
    assert reported == []


def test_gather_would_leave_an_unretrieved_error() -> None:
    """The same jobs through asyncio.gather: the waiting job is only cancelled at
    shutdown and asyncio prints its failure (what all_of exists to prevent)."""
    seen, reported, _ = run_reporting(asyncio.gather)
    assert isinstance(seen, OSError)
    assert "unhandled exception during asyncio.run() shutdown" in reported


def test_results_in_order() -> None:
    """Results come back in the order the awaitables were given, not finish order."""

    async def value(seconds: float, result: int) -> int:
        await asyncio.sleep(seconds)
        return result

    assert asyncio.run(all_of(value(0.02, 1), value(0, 2), value(0.01, 3))) == [1, 2, 3]
    assert asyncio.run(all_of()) == []


def test_outside_cancellation_propagates() -> None:
    """Cancelling the caller cancels the jobs and raises CancelledError, not a group."""

    async def main() -> None:
        task = asyncio.ensure_future(all_of(asyncio.sleep(30), asyncio.sleep(30)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
