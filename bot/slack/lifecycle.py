"""
The app's life in a workspace: revoked tokens, uninstalls and Slack's rate limiting of
event delivery.

- ``tokens_revoked`` naming the bot user: the bot token is dead. It is marked revoked
  in Redis (``revoked:<sha256 of the token>``), so every process stops calling the Web
  API with it; a reinstall brings a new token, which is not marked.
- ``app_uninstalled``: the token is revoked too, and everything pasted in that workspace
  is deleted from Redis: conversations, escalation records and their queue entries,
  queued messages, and unmatched errors. A second pass a few seconds later removes what
  work already in flight wrote after the first.
- ``app_rate_limited`` (an outer payload type of its own, over HTTP and as a Socket Mode
  envelope): logged and counted, and acked like everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.metrics import Metrics
from bot.slack.messages import workspace_of

log = logging.getLogger(__name__)

# A process re-reads a token's revocation from Redis at most this often (revocations
# made by another process are seen within this time).
RECHECK_SECONDS: Final = 1.0
# Revocation marks outlive any plausible restart with an old token.
REVOKED_TTL: Final = 365 * 24 * 3600
# The second deletion pass after an uninstall: work that had already started (a worker
# answering a message when the uninstall arrived) has written its records by then.
SECOND_PASS_SECONDS: Final = 2.0
# Queued entries read per XRANGE while looking for a workspace's messages.
SCAN_BATCH: Final = 500


def fingerprint(token: str) -> str:
    """
    A stable name for a token that does not reveal it.
    """
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class TokenGuard:
    """
    Which bot tokens are revoked, in this process and (with a Redis client) in all.
    """

    def __init__(
        self,
        client: aioredis.Redis | None = None,
        *,
        prefix: str = "smtpbot:",
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._metrics = metrics
        self._clock = clock
        self._revoked: set[str] = set()
        self._checked: dict[str, float] = {}

    def _key(self, token: str) -> str:
        return f"{self._prefix}revoked:{fingerprint(token)}"

    def blocked(self, token: str | None) -> bool:
        """
        True when this process knows the token is revoked (no I/O).
        """
        return bool(token) and fingerprint(token or "") in self._revoked

    async def allows(self, token: str | None) -> bool:
        """
        False when the token is revoked; asks Redis at most every RECHECK_SECONDS.
        """
        if not token:
            return True
        name = fingerprint(token)
        if name in self._revoked:
            return False
        now = self._clock()
        if (
            self._client is None
            or now - self._checked.get(name, -1e9) < RECHECK_SECONDS
        ):
            return True
        self._checked[name] = now
        if self._metrics is not None:
            self._metrics.redis_round_trips.inc()
        try:
            revoked = bool(await self._client.exists(self._key(token)))
        except (RedisError, OSError) as exc:
            # Unknown: this process's own knowledge stands until Redis answers.
            log.warning("token_guard_unavailable error=%s", type(exc).__name__)
            return True
        if revoked:
            self._revoked.add(name)
        return not revoked

    async def revoke(self, token: str | None) -> None:
        """
        Mark a token revoked here and, when Redis answers, for every process.
        """
        if not token:
            return
        self._revoked.add(fingerprint(token))
        if self._client is None:
            return
        try:
            await self._client.set(self._key(token), "1", ex=REVOKED_TTL)
        except (RedisError, OSError) as exc:
            log.warning("token_revocation_unshared error=%s", type(exc).__name__)


class Forgets(Protocol):
    """
    A store that can delete everything of one workspace.
    """

    async def forget(self, workspace: str) -> int:
        """
        Delete the workspace's data; how many items went.
        """
        ...


async def forget_queued(
    client: aioredis.Redis, stream: str, workspace: str, *, batch: int = SCAN_BATCH
) -> int:
    """
    Delete a workspace's messages still queued in the intake stream.
    """
    gone, start = 0, "-"
    while True:
        page = await client.xrange(stream, start, "+", count=batch)
        if not page:
            return gone
        doomed: list[str] = []
        for entry_id, fields in page:
            raw = (fields or {}).get("body", (fields or {}).get(b"body"))
            try:
                body = json.loads(raw) if raw is not None else None
            except ValueError:
                body = None
            if isinstance(body, dict) and workspace in {
                workspace_of(body),
                str(body.get("team_id")),
            }:
                doomed.append(str(entry_id))
        if doomed:
            gone += int(await client.xdel(stream, *doomed))
        if len(page) < batch:
            return gone
        start = f"({page[-1][0]!s}"


class Lifecycle:
    """
    Handles tokens_revoked, app_uninstalled and app_rate_limited for one process.
    """

    def __init__(
        self,
        guard: TokenGuard,
        *,
        stores: Sequence[Forgets] = (),
        queue: Callable[[str], Awaitable[int]] | None = None,
        metrics: Metrics | None = None,
        second_pass: float = SECOND_PASS_SECONDS,
    ) -> None:
        self.guard = guard
        self.stores = list(stores)
        self.queue = queue
        self.metrics = metrics or Metrics()
        self.second_pass = second_pass
        self._tasks: set[asyncio.Task[None]] = set()
        # The bot's own user ids, as authorized requests name them.
        self.bot_users: set[str] = set()

    async def tokens_revoked(
        self, body: Mapping[str, Any], token: str | None, bot_user_id: str | None
    ) -> None:
        """
        ``tokens_revoked``: when the bot user is named, stop using its token.
        """
        tokens = (body.get("event") or {}).get("tokens") or {}
        bots = tokens.get("bot") if isinstance(tokens, Mapping) else None
        if not isinstance(bots, Sequence) or isinstance(bots, str) or not bots:
            return  # only user tokens were revoked; the bot uses none
        ours = set(self.bot_users) | ({bot_user_id} if bot_user_id else set())
        auths = body.get("authorizations")
        first = auths[0] if isinstance(auths, Sequence) and auths else None
        if isinstance(first, Mapping) and first.get("is_bot") and first.get("user_id"):
            ours.add(str(first["user_id"]))
        # An app has one bot user per workspace: when it cannot tell which user is its
        # own, any bot token revoked for this installation is the bot's.
        if ours and not ours & {str(b) for b in bots}:
            return
        await self.guard.revoke(token)
        log.warning("bot_token_revoked workspace=%s", workspace_of(body))

    async def app_uninstalled(self, body: Mapping[str, Any], token: str | None) -> None:
        """
        ``app_uninstalled``: revoke the token, then delete the workspace's data (twice).
        """
        workspace = workspace_of(body)
        await self.guard.revoke(token)
        removed = await self.erase(workspace)
        log.warning("app_uninstalled workspace=%s removed=%s", workspace, removed)

    async def erase(self, *workspaces: str) -> int:
        """
        Delete these workspaces' data now, and again a few seconds later (what work in
        flight wrote meanwhile); how many items went now. A key may also be
        ``<workspace>:<channel>``: the threads of one channel.
        """
        removed = 0
        for workspace in workspaces:
            removed += await self.forget(workspace)
        if workspaces:
            task = asyncio.create_task(self._again(workspaces))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return removed

    async def _again(self, workspaces: Sequence[str]) -> None:
        await asyncio.sleep(self.second_pass)
        for workspace in workspaces:
            removed = await self.forget(workspace)
            if removed:
                log.info(
                    "workspace_forgotten_late workspace=%s removed=%s",
                    workspace,
                    removed,
                )

    async def forget(self, workspace: str) -> int:
        """
        Delete the workspace's data from every store; failures are logged, not raised.
        """
        removed = 0
        jobs: list[Awaitable[int]] = [store.forget(workspace) for store in self.stores]
        if self.queue is not None:
            jobs.append(self.queue(workspace))
        for job in jobs:
            try:
                removed += await job
            except Exception as exc:  # one store failing must not keep the others' data
                self.metrics.redis_errors.inc()
                log.warning("workspace_forget_failed error=%r", exc)
        return removed

    def rate_limited(self, body: Mapping[str, Any]) -> None:
        """
        ``app_rate_limited``: Slack is dropping events for a workspace for a minute.
        """
        team = str(body.get("team_id") or "?")
        self.metrics.app_rate_limited.inc()
        log.warning(
            "app_rate_limited team=%s minute=%s",
            team,
            body.get("minute_rate_limited"),
        )

    async def wait(self) -> None:
        """
        Let pending second passes finish (at shutdown and in tests).
        """
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)
