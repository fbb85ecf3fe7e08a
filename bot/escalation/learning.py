"""
The learning loop: how each knowledge-base entry fares, and errors that matched nothing.

Keys (under the configured prefix; counters are durable statistics):

    learn:suggested / learn:helpful / learn:rejected / learn:escalated
                                hash entry_id -> count
    learn:gaps                  zset redacted error -> when last seen; entries older
                                than GAPS_RETENTION are dropped, the key expires
    learn:cats:<YYYY>-W<WW>     zset category -> answers that ISO week (TTL 5 weeks)
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import StateUnavailableError
from bot.redact import redact
from bot.state.model import Command

COUNTERS: Final = ("suggested", "helpful", "rejected", "escalated")
# Unmatched errors kept for the knowledge-base gaps list; older ones matter less.
UNMATCHED_LIMIT: Final = 200
# Each unmatched error is stored cut to this length: enough to write an entry from.
UNMATCHED_TEXT: Final = 500
# Unmatched errors are pasted text from threads nobody escalated: kept (redacted) long
# enough to write knowledge-base entries from, then gone.
GAPS_RETENTION: Final = 30 * 24 * 3600
# The list kept before gaps expired (verbatim, without expiry): removed on sight.
LEGACY_UNMATCHED: Final = "unmatched"
# Unmatched errors are stored as TAG workspace END text (older ones as bare text).
_TAG: Final = "\x1e"
_END: Final = "\x1f"
_FORGET: Final = """
local removed = 0
for _, item in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(item, 1, #ARGV[1]) == ARGV[1] or string.sub(item, 1, 1) ~= ARGV[2] then
    removed = removed + redis.call('ZREM', KEYS[1], item)
  end
end
redis.call('UNLINK', KEYS[2])
return removed
"""


def _untag(stored: str) -> str:
    """
    The error text of a stored unmatched entry.
    """
    if stored.startswith(_TAG) and _END in stored:
        return stored.split(_END, 1)[1]
    return stored


# Weekly category counts outlive the week a little, for "last week" questions.
WEEK_TTL: Final = 35 * 24 * 3600


def week_of(now: float) -> str:
    """
    The ISO week of a time, as ``2025-W07``.
    """
    year, week, _ = dt.datetime.fromtimestamp(now, dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class EntryStats:
    """
    How one entry fared.
    """

    entry_id: str
    suggested: int = 0
    helpful: int = 0
    rejected: int = 0
    escalated: int = 0


class Learning:
    """
    Counters per entry, unmatched errors and weekly categories, in Redis.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock

    def _key(self, name: str) -> str:
        return f"{self._prefix}learn:{name}"

    async def _call(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"learning store unavailable: {type(exc).__name__}"
            ) from exc

    def suggested_commands(
        self, category: str | None, entry_id: str | None
    ) -> list[Command]:
        """
        The counter updates for an answer with an entry (or a category's
        alternatives), for the caller to send with its own write.
        """
        week = self._key(f"cats:{week_of(self._clock())}")
        commands: list[Command] = []
        if entry_id:
            commands.append(("HINCRBY", self._key("suggested"), entry_id, 1))
        if category and category != "none":
            commands.append(("ZINCRBY", week, 1, category))
            commands.append(("EXPIRE", week, WEEK_TTL, "NX"))
        return commands

    async def suggested(self, category: str | None, entry_id: str | None) -> None:
        """
        The bot answered with an entry (or offered a category's alternatives).
        """
        commands = self.suggested_commands(category, entry_id)

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute()

        await self._call(run)

    async def count(self, counter: str, entry_id: str | None) -> None:
        """
        One more ``helpful``, ``rejected`` or ``escalated`` for an entry.
        """
        if entry_id and counter in COUNTERS:
            await self._call(
                lambda: self._client.hincrby(self._key(counter), entry_id, 1)
            )

    async def unmatched(self, text: str, *, workspace: str | None = None) -> None:
        """
        Remember an error that matched nothing (redacted, capped, expiring), tagged
        with the workspace it came from so that an uninstall can remove it.
        """
        cleaned = redact(text).strip()[:UNMATCHED_TEXT]
        if not cleaned:
            return
        stored = f"{_TAG}{workspace}{_END}{cleaned}" if workspace else cleaned
        now = self._clock()
        key = self._key("gaps")

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {stored: now})
                pipe.zremrangebyscore(key, "-inf", now - GAPS_RETENTION)
                pipe.zremrangebyrank(key, 0, -UNMATCHED_LIMIT - 1)
                pipe.expire(key, GAPS_RETENTION)
                pipe.unlink(self._key(LEGACY_UNMATCHED))
                return await pipe.execute()

        await self._call(run)

    async def entries(self) -> list[EntryStats]:
        """
        Every entry with any count, most suggested first.
        """

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for counter in COUNTERS:
                    pipe.hgetall(self._key(counter))
                return await pipe.execute()

        tables = dict(zip(COUNTERS, await self._call(run), strict=True))
        ids = sorted({e for table in tables.values() for e in table})
        stats = [
            EntryStats(e, **{c: int(tables[c].get(e, 0)) for c in COUNTERS})
            for e in ids
        ]
        return sorted(stats, key=lambda s: (-s.suggested, s.entry_id))

    async def gaps(self, *, limit: int = 10) -> list[str]:
        """
        The newest errors that matched nothing, within the retention.
        """
        oldest = self._clock() - GAPS_RETENTION
        rows = await self._call(
            lambda: self._client.zrevrangebyscore(
                self._key("gaps"), "+inf", oldest, start=0, num=limit
            )
        )
        return [_untag(str(row)) for row in rows]

    async def forget(self, workspace: str) -> int:
        """
        Remove a workspace's unmatched errors (and untagged ones, whose workspace is
        unknown); returns how many went.
        """
        keys = (self._key("gaps"), self._key(LEGACY_UNMATCHED))
        tag = f"{_TAG}{workspace}{_END}"
        removed = await self._call(
            lambda: self._client.eval(_FORGET, 2, *keys, tag, _TAG)
        )
        return int(removed)

    async def top_categories(self, *, limit: int = 5) -> list[tuple[str, int]]:
        """
        This week's most answered categories.
        """
        week = self._key(f"cats:{week_of(self._clock())}")
        rows = await self._call(
            lambda: self._client.zrevrange(week, 0, limit - 1, withscores=True)
        )
        return [(str(name), int(score)) for name, score in rows]
