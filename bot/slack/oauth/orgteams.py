"""
Which workspace of an Enterprise Grid org each channel an org-wide install serves
belongs to.

An org-wide install keeps its conversations, escalations and settings under the org
(the workspace key is the enterprise id): one install serves every workspace of the
org. When the app is removed from some of those workspaces, Slack sends
``team_access_revoked`` naming them (docs.slack.dev/reference/events/
team_access_revoked); their data must go while the org's install and its other
workspaces' data stay. So each replica notes, at most once a day per channel, the
workspace an org's request came from:

    orgteam:<E>:<T>     the channel ids seen in workspace T of org E

and on ``team_access_revoked`` the threads of the channels only those workspaces used
are deleted. A channel also seen in a workspace that keeps the app (a channel shared
across the org's workspaces) is kept.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TypeVar

import redis.asyncio as aioredis

from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.slack.oauth.calls import redis_call
from bot.state.redis_store import delete_matching, glob_escape

log = logging.getLogger(__name__)

# A channel noted in Redis is noted again (its set's expiry pushed back) after this
# long: one write per channel, replica and day.
RENOTE_SECONDS: Final = 24 * 3600
# How long a workspace's channel set outlives the last request from it: longer than a
# conversation lives, and than a resolved escalation is kept.
KEEP_SECONDS: Final = 90 * 24 * 3600
# Channels a replica remembers having noted (beyond this, the oldest are noted again).
REMEMBERED: Final = 10_000

_T = TypeVar("_T")


class OrgTeams:
    """
    The channels of each workspace of the orgs installed org-wide, in Redis.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._metrics = metrics
        self._clock = clock
        self._noted: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def key(self, org: str, team: str) -> str:
        """
        The channels seen in one workspace of an org.
        """
        return f"{self._prefix}orgteam:{org}:{team}"

    async def _call(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await redis_call(
            operation, store="org workspaces", metrics=self._metrics
        )

    async def note(self, org: str, team: str, channel: str) -> None:
        """
        Remember that a channel is in a workspace of an org (a failure is logged:
        the request goes on).
        """
        seen = (org, team, channel)
        now = self._clock()
        if now - self._noted.get(seen, -RENOTE_SECONDS) < RENOTE_SECONDS:
            return
        name = self.key(org, team)

        async def run() -> None:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.sadd(name, channel)
                pipe.expire(name, KEEP_SECONDS)
                await pipe.execute()

        try:
            await self._call(run)
        except StateUnavailableError as exc:
            if self._metrics is not None:
                self._metrics.redis_errors.inc()
            log.warning("org_channel_unnoted error=%s", exc)
            return
        self._noted[seen] = now
        self._noted.move_to_end(seen)
        while len(self._noted) > REMEMBERED:
            self._noted.popitem(last=False)

    async def revoke(self, org: str, teams: Iterable[str]) -> list[str]:
        """
        Forget these workspaces of an org; the channels only they used, sorted.

        Raises:
            StateUnavailableError: Redis cannot say.
        """
        gone = set(teams)
        if not gone:
            return []
        pattern = f"{self._prefix}orgteam:{glob_escape(org)}:*"
        names = await self._call(lambda: _keys(self._client, pattern))

        async def members() -> list[set[str]]:
            async with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.smembers(name)
                return list(await pipe.execute())

        theirs: set[str] = set()
        kept: set[str] = set()
        for name, channels in zip(names, await self._call(members), strict=True):
            team = name.rsplit(":", 1)[1]
            (theirs if team in gone else kept).update(str(c) for c in channels)
        doomed = [self.key(org, team) for team in sorted(gone)]
        await self._call(lambda: self._client.delete(*doomed))
        self._noted = OrderedDict(
            (seen, at) for seen, at in self._noted.items() if seen[1] not in gone
        )
        return sorted(theirs - kept)

    async def forget(self, workspace: str) -> int:
        """
        Forget every workspace of an org (the org uninstalled the app); how many keys
        went.
        """
        self._noted = OrderedDict(
            (seen, at) for seen, at in self._noted.items() if seen[0] != workspace
        )
        pattern = f"{self._prefix}orgteam:{glob_escape(workspace)}:*"
        return int(await self._call(lambda: delete_matching(self._client, [pattern])))


async def _keys(client: aioredis.Redis, pattern: str) -> list[str]:
    return [
        k.decode() if isinstance(k, bytes) else str(k)
        async for k in client.scan_iter(match=pattern, count=500)
    ]
