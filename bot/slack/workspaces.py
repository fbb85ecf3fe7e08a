"""
Settings of each workspace: where the bot answers, who may run /smtpcheck and change
these settings, and where requests for a human go.

Serving one workspace (SLACK_BOT_TOKEN) they are the environment's SUPPORT_CHANNELS,
ADMIN_USERS, ESCALATION_CHANNEL and ESCALATION_MENTION. Serving many, each workspace
(or org, for an org-wide install) has its own, set by its installer or admins in the
App Home and kept in Redis under ``workspace:<W>``; the environment's values are the
defaults until then. Each process keeps what it read for a few seconds, so a change is
seen everywhere within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.config import MENTION, Settings
from bot.errors import StateUnavailableError

log = logging.getLogger(__name__)

# How long a process trusts the settings it read (a change made on another replica is
# seen within this time).
CACHE_SECONDS: Final = 5.0
_ID: Final = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,40}$")
_BARE_MENTIONS: Final = {"here": "<!here>", "channel": "<!channel>"}

# The installer of a workspace key (they may always change its settings), or None.
InstallerOf = Callable[[str], Awaitable[str | None]]


def parse_mention(text: str) -> str | None:
    """
    A Slack mention from what an admin typed: ``<!subteam^S123>``, ``<@U123>``,
    ``@here``, or a bare user-group (S...) or user (U.../W...) id; None for nothing.

    Raises:
        ValueError: it is none of those (the message says what is expected).
    """
    text = text.strip()
    if not text:
        return None
    bare = text.lstrip("@").lower()
    if bare in _BARE_MENTIONS:
        return _BARE_MENTIONS[bare]
    if _ID.match(text):
        if text.startswith("S"):
            return f"<!subteam^{text}>"
        if text.startswith(("U", "W")):
            return f"<@{text}>"
    if MENTION.fullmatch(text):
        return text
    raise ValueError(
        "Use a user group id (S0123ABCD, or <!subteam^S0123ABCD>), a member id "
        "(U0123ABCD), or @here."
    )


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """
    One workspace's settings; ``configured`` is False while they are the defaults.
    """

    support_channels: frozenset[str] = frozenset()
    admin_users: frozenset[str] = frozenset()
    escalation_channel: str | None = None
    escalation_mention: str | None = None
    configured: bool = False
    # Who installed the app there (may always change the settings), when known.
    installer: str | None = field(default=None, compare=False)

    @classmethod
    def defaults(cls, settings: Settings) -> WorkspaceSettings:
        """
        The environment's values.
        """
        return cls(
            support_channels=settings.support_channels,
            admin_users=settings.admin_users,
            escalation_channel=settings.escalation_channel,
            escalation_mention=settings.escalation_mention,
        )

    @property
    def admins(self) -> frozenset[str]:
        """
        Everyone who may run /smtpcheck, see the desk and change these settings.
        """
        return self.admin_users | ({self.installer} if self.installer else set())

    def answers_in(self, channel_id: str) -> bool:
        """
        True when the bot answers plain messages in this channel.
        """
        return not self.support_channels or channel_id in self.support_channels

    def to_json(self) -> str:
        """
        The stored form.
        """
        return json.dumps(
            {
                "support_channels": sorted(self.support_channels),
                "admin_users": sorted(self.admin_users),
                "escalation_channel": self.escalation_channel,
                "escalation_mention": self.escalation_mention,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> WorkspaceSettings:
        """
        Read the stored form (ids that are not Slack ids are dropped).
        """
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("workspace settings must be an object")
        mention = data.get("escalation_mention")
        channel = data.get("escalation_channel")
        return cls(
            support_channels=_ids(data.get("support_channels")),
            admin_users=_ids(data.get("admin_users")),
            escalation_channel=channel if _is_id(channel) else None,
            escalation_mention=mention
            if isinstance(mention, str) and MENTION.fullmatch(mention)
            else None,
            configured=True,
        )


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def _ids(values: Any) -> frozenset[str]:
    items: Iterable[Any] = values if isinstance(values, list) else ()
    return frozenset(v for v in items if _is_id(v))


class Workspaces:
    """
    Each workspace's settings: the environment's (one workspace), or Redis's with the
    environment's as defaults (many).
    """

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis | None = None,
        *,
        installer_of: InstallerOf | None = None,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.defaults = WorkspaceSettings.defaults(settings)
        self._client = client
        self._prefix = settings.redis_prefix
        self._installer_of = installer_of
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, WorkspaceSettings]] = {}

    @property
    def editable(self) -> bool:
        """
        True when each workspace sets its own (serving many workspaces).
        """
        return self._client is not None

    def key(self, workspace: str) -> str:
        """
        Where a workspace's settings are kept.
        """
        return f"{self._prefix}workspace:{workspace}"

    async def get(self, workspace: str) -> WorkspaceSettings:
        """
        The workspace's settings; while Redis cannot say, the last ones read (or the
        defaults).
        """
        if self._client is None:
            return self.defaults
        now = self._clock()
        cached = self._cache.get(workspace)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            found = await self._read(workspace)
        except StateUnavailableError as exc:
            log.warning("workspace_settings_unavailable error=%s", exc)
            return cached[1] if cached is not None else self.defaults
        self._cache[workspace] = (now, found)
        return found

    async def _read(self, workspace: str) -> WorkspaceSettings:
        assert self._client is not None
        try:
            raw = await self._client.get(self.key(workspace))
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"workspace settings: {type(exc).__name__}"
            ) from exc
        found = self.defaults
        if raw is not None:
            try:
                found = WorkspaceSettings.from_json(str(raw))
            except ValueError:
                log.error("workspace_settings_unreadable workspace=%s", workspace)
        if self._installer_of is not None:
            installer = await self._installer_of(workspace)
            found = WorkspaceSettings(
                found.support_channels,
                found.admin_users,
                found.escalation_channel,
                found.escalation_mention,
                found.configured,
                installer,
            )
        return found

    async def save(self, workspace: str, chosen: WorkspaceSettings) -> None:
        """
        Store a workspace's settings (seen by every process within CACHE_SECONDS).

        Raises:
            StateUnavailableError: Redis cannot take them.
        """
        if self._client is None:
            raise StateUnavailableError("settings come from the environment")
        try:
            await self._client.set(self.key(workspace), chosen.to_json())
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"workspace settings: {type(exc).__name__}"
            ) from exc
        self._cache.pop(workspace, None)

    async def forget(self, workspace: str) -> int:
        """
        Delete a workspace's settings (it uninstalled the app); how many keys went.
        """
        self._cache.pop(workspace, None)
        if self._client is None:
            return 0
        try:
            return int(await self._client.delete(self.key(workspace)))
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"workspace settings: {type(exc).__name__}"
            ) from exc
