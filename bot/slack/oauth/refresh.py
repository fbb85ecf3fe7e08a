"""
Slack's token rotation, single-flight across replicas.

With token rotation on, a bot token lives 12 hours and is renewed with the refresh
token and the client secret (``oauth.v2.access``, ``grant_type=refresh_token``). Each
refresh hands out a new refresh token and revokes the one used
(docs.slack.dev/authentication/using-token-rotation), so two replicas refreshing one
workspace at once would each send the same refresh token: one of them is refused, and
if it was the second to store its answer the workspace is left with a dead token.

So a refresh runs under a short lock per workspace in Redis (``refresh:<W>``, SET NX
PX, released only by its holder). The replica that takes it reads the bot again (the
token may have been renewed while it waited) and refreshes; the others do not call
Slack at all: they read the store until the new token is there and use it. A lock whose
holder died expires by itself.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import redis.asyncio as aioredis
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.oauth.calls import redis_call
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.records import workspace_key

log = logging.getLogger(__name__)

# A rotating token is refreshed when it has less than this many minutes left (Bolt's
# default; Slack's rotating tokens live 12 hours).
REFRESH_MINUTES: Final = 120
# How long a refresh lock lives: longer than a refresh can take (one Web API call with
# its 10 s timeout and a retry), short enough that a dead holder blocks nobody for long.
LOCK_SECONDS: Final = 30.0
# How long a replica that lost the lock waits for the winner's token. A request's
# authorization runs before Slack gets its answer (3 s), so this stays well below;
# until the old token has expired it is used meanwhile.
WAIT_SECONDS: Final = 2.0
# How often a waiting replica reads the store again.
POLL_SECONDS: Final = 0.05
# A token with less than this left is not used while another replica refreshes it.
USABLE_SECONDS: Final = 60
# Deletes the lock only if it is still ours (it may have expired and been taken).
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_T = TypeVar("_T")


def expiring(bot: Bot, now: float, *, within: float = REFRESH_MINUTES * 60) -> bool:
    """
    True for a rotating token with less than ``within`` seconds left.
    """
    expires = bot.bot_token_expires_at
    return (
        bool(bot.bot_refresh_token) and expires is not None and expires < now + within
    )


class RefreshLocks:
    """
    One short lock per workspace in Redis, held while its token is refreshed.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smtpbot:",
        seconds: float = LOCK_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._millis = int(seconds * 1000)
        self._metrics = metrics

    def key(self, workspace: str) -> str:
        """
        The lock of one workspace's refresh.
        """
        return f"{self._prefix}refresh:{workspace}"

    async def _call(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await redis_call(
            operation, store="token refresh lock", metrics=self._metrics
        )

    async def take(self, workspace: str) -> str | None:
        """
        The holder's secret when this replica took the lock, else None.
        """
        holder = secrets.token_hex(16)
        taken = await self._call(
            lambda: self._client.set(
                self.key(workspace), holder, px=self._millis, nx=True
            )
        )
        return holder if taken else None

    async def release(self, workspace: str, holder: str) -> None:
        """
        Free the lock if this holder still has it.
        """
        await self._call(
            lambda: self._client.eval(_RELEASE, 1, self.key(workspace), holder)
        )


class Refresher:
    """
    Keeps rotating bot tokens fresh: refreshed (with the refresh token and the client
    secret) shortly before they expire, by one replica at a time, and the new token
    stored for every process.
    """

    def __init__(
        self,
        installations: RedisInstallationStore,
        *,
        locks: RefreshLocks,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.installations = installations
        self.locks = locks
        self._rotator = AsyncTokenRotator(
            client_id=client_id, client_secret=client_secret, client=client
        )
        self._metrics = metrics
        self._clock = clock

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(outcome).inc()

    async def fresh(self, bot: Bot) -> Bot | None:
        """
        ``bot`` with a token that is not about to expire (refreshed here or by another
        replica), or None when it could not be refreshed and has expired.

        Raises:
            StateUnavailableError: Redis cannot say.
        """
        if not expiring(bot, self._clock()):
            return bot
        workspace = workspace_key(
            bot.enterprise_id, bot.team_id, bot.is_enterprise_install
        )
        if workspace is None:
            return bot
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while True:
            holder = await self.locks.take(workspace)
            if holder is not None:
                try:
                    return await self._refresh(workspace)
                finally:
                    await self.locks.release(workspace, holder)
            # Another replica is refreshing: its token will be in the store.
            current = await self.installations.bot_of(workspace)
            if current is None:
                return None
            if not expiring(current, self._clock()):
                self._count("joined")
                return current
            if asyncio.get_running_loop().time() >= deadline:
                return self._meanwhile(current, workspace)
            await asyncio.sleep(POLL_SECONDS)

    def _meanwhile(self, current: Bot, workspace: str) -> Bot | None:
        """
        The token to use while another replica's refresh takes long: the current one
        while it has not expired.
        """
        usable = not expiring(current, self._clock(), within=USABLE_SECONDS)
        self._count("waited" if usable else "pending")
        log.warning(
            "token_refresh_slow workspace=%s using_current=%s", workspace, usable
        )
        return current if usable else None

    async def _refresh(self, workspace: str) -> Bot | None:
        """
        Under the lock: read the bot again and refresh it unless that is done.
        """
        current = await self.installations.bot_of(workspace)
        if current is None:
            return None
        if not expiring(current, self._clock()):
            self._count("joined")
            return current
        try:
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=current, minutes_before_expiration=REFRESH_MINUTES
            )
        except (SlackApiError, SlackClientError, SlackTokenRotationError) as exc:
            self._count("failed")
            log.error(
                "token_refresh_failed workspace=%s error=%s",
                workspace,
                _slack_error(exc),
            )
            return None if expiring(current, self._clock(), within=0) else current
        if refreshed is None:
            return current
        await self.installations.async_save_bot(refreshed)
        self._count("refreshed")
        log.info("token_refreshed workspace=%s", workspace)
        return refreshed


def _slack_error(exc: Exception) -> str:
    """
    Slack's error code for a failed call (``invalid_refresh_token``), else the
    exception's type: never its text, which may quote the request.
    """
    cause = exc.api_error if isinstance(exc, SlackTokenRotationError) else exc
    response = getattr(cause, "response", None)
    error = response.get("error") if response is not None else None
    return str(error) if isinstance(error, str) else type(cause).__name__
