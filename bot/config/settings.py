"""
``Settings``: everything configurable, validated once from a mapping of variables
(pure: tests pass a dict).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.config.oauth import (
    DEFAULT_BOT_SCOPES,
    DEFAULT_STATE_EXPIRATION_SECONDS,
    oauth_fields,
)
from bot.config.values import (
    DEFAULT_PROBE_PORTS,
    IPNetwork,
    parse_cidrs,
    parse_file,
    parse_float,
    parse_ids,
    parse_int,
    parse_ports,
    parse_token,
    parse_url,
)
from bot.errors import ConfigError
from bot.redis_url import RedisUrlError, is_sentinel
from bot.redis_url import check as check_redis_url

# Slack's own Web API; tests and staging point SLACK_API_URL at a local fake.
DEFAULT_SLACK_API_URL: Final = "https://slack.com/api/"
# A Slack mention as it appears in message text: <!subteam^S123>, <@U123>, <!here>.
MENTION: Final = re.compile(r"<[!@#][^<>]+>")


@dataclass(frozen=True, slots=True)
class Settings:
    """
    Everything configurable, validated; secrets are kept out of ``repr``.
    """

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # "Add to Slack": with these (and no bot token) the bot serves every workspace that
    # installs it, each with its own token from the installation store.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_scopes: tuple[str, ...] = DEFAULT_BOT_SCOPES
    slack_redirect_uri: str | None = None
    slack_state_expiration_seconds: int = DEFAULT_STATE_EXPIRATION_SECONDS
    # Fernet keys for installed tokens at rest; the first encrypts, all decrypt.
    token_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    redis_url: str | None = None
    redis_prefix: str = "smtpbot:"
    support_channels: frozenset[str] = frozenset()
    admin_users: frozenset[str] = frozenset()
    escalation_channel: str | None = None
    escalation_mention: str | None = None
    escalation_sla_minutes: int = 15
    # The reaction on a thread's original message that asks for a human (no colons).
    escalation_reaction: str = "sos"
    # Resolved or handed-back escalations are kept this long for the record, then
    # expire.
    escalation_retention_days: int = 30
    # A card hand-off pending this long on a replica is taken over by another
    # (XAUTOCLAIM min idle time): long enough for a slow Slack call to finish.
    escalation_reclaim_seconds: float = 60.0
    # How often each replica looks for hand-offs to take over and SLA reminders due.
    escalation_tick_seconds: float = 20.0
    # A queued message a worker took and has not finished this long after is taken
    # over by another (its worker died): long enough for a slow answer to finish.
    intake_reclaim_seconds: float = 60.0
    # /readyz fails while the oldest queued message has waited this long and no queued
    # message was finished for as long (the workers are stuck).
    intake_stuck_seconds: float = 120.0
    probe_allow_cidrs: tuple[IPNetwork, ...] = ()
    probe_ports: frozenset[int] = DEFAULT_PROBE_PORTS
    # Whole-probe budget; Slack users wait for it, so keep it short.
    probe_timeout: float = 10.0
    # Extra trust anchors (PEM) for probes: an internal CA the company's servers use.
    probe_cafile: str | None = None
    # Probes one user may start per window, and probes of one host:port per window.
    probe_user_limit: int = 5
    probe_target_limit: int = 10
    probe_window_seconds: int = 600
    # Conversations outlive a working week, then expire (escalations are kept
    # separately).
    conversation_ttl_seconds: int = 7 * 24 * 3600
    # Slack retries an event for about an hour at most; keep dedupe keys a day.
    dedupe_ttl_seconds: int = 24 * 3600
    # Redis must answer fast or be treated as down: the bot answers without state.
    redis_timeout: float = 1.0
    redis_max_connections: int = 32
    # Writes that must survive a failover (queued events, claims, escalations) wait
    # for this many replicas to confirm them (WAIT); 0 waits for none.
    redis_wait_replicas: int = 0
    # How long such a write waits for its replicas before it counts as failed.
    redis_wait_timeout: float = 0.5
    log_level: str = "INFO"

    @property
    def has_http_credentials(self) -> bool:
        """
        The signing secret and a bot token, or the client id and secret (HTTP mode can
        run).
        """
        return bool(
            (self.slack_bot_token or self.multi_workspace) and self.slack_signing_secret
        )

    @property
    def multi_workspace(self) -> bool:
        """
        Installed through "Add to Slack" into any number of workspaces (client id and
        secret, no bot token).
        """
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_socket_credentials(self) -> bool:
        """
        Bot token and app-level token are both set (Socket Mode can run).
        """
        return bool(self.slack_bot_token and self.slack_app_token)

    @property
    def has_any_slack_token(self) -> bool:
        """
        At least one Slack credential is configured.
        """
        return bool(
            self.slack_bot_token
            or self.slack_app_token
            or self.slack_signing_secret
            or self.multi_workspace
        )

    def answers_in(self, channel_id: str) -> bool:
        """
        True when the bot answers plain messages in this channel.
        """
        return not self.support_channels or channel_id in self.support_channels

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """
        Validate a mapping of variables (``os.environ`` or a test dict) into Settings.
        """
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(
                "LOG_LEVEL", f"expected DEBUG, INFO, WARNING or ERROR, got {level!r}"
            )
        prefix = env.get("REDIS_KEY_PREFIX", "smtpbot:").strip() or "smtpbot:"
        mention = env.get("ESCALATION_MENTION", "").strip() or None
        if mention is not None and not MENTION.fullmatch(mention):
            raise ConfigError(
                "ESCALATION_MENTION",
                "expected a Slack mention like <!subteam^S123> or <@U123>",
            )
        reaction = env.get("ESCALATION_REACTION", "").strip().strip(":") or "sos"
        if not re.fullmatch(r"[a-z0-9_+'-]{1,80}", reaction):
            raise ConfigError(
                "ESCALATION_REACTION",
                f"expected an emoji name like sos, got {reaction!r}",
            )
        escalation = parse_ids(env, "ESCALATION_CHANNEL")
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url is not None:
            try:
                check_redis_url(redis_url)
            except RedisUrlError as exc:
                raise ConfigError("REDIS_URL", str(exc)) from None
        # A Sentinel group has replicas to fail over to: by default a write counts
        # once one of them has it, so a failover loses nothing the bot confirmed.
        wait_default = 1 if redis_url is not None and is_sentinel(redis_url) else 0
        if len(escalation) > 1:
            raise ConfigError("ESCALATION_CHANNEL", "give one channel id")
        bot_token = parse_token(env, "SLACK_BOT_TOKEN", ("xoxb-", "xoxp-"))
        return cls(
            slack_bot_token=bot_token,
            slack_signing_secret=parse_token(env, "SLACK_SIGNING_SECRET", ()),
            slack_app_token=parse_token(env, "SLACK_APP_TOKEN", ("xapp-",)),
            slack_api_url=parse_url(
                env, "SLACK_API_URL", DEFAULT_SLACK_API_URL, ("https", "http")
            )
            or DEFAULT_SLACK_API_URL,
            **oauth_fields(env, bot_token),
            redis_url=redis_url,
            redis_prefix=prefix,
            support_channels=parse_ids(env, "SUPPORT_CHANNELS"),
            admin_users=parse_ids(env, "ADMIN_USERS"),
            escalation_channel=next(iter(escalation), None),
            escalation_mention=mention,
            escalation_sla_minutes=parse_int(
                env, "ESCALATION_SLA_MINUTES", 15, low=1, high=10_080
            ),
            escalation_reaction=reaction,
            escalation_retention_days=parse_int(
                env, "ESCALATION_RETENTION_DAYS", 30, low=1, high=3650
            ),
            escalation_reclaim_seconds=parse_float(
                env, "ESCALATION_RECLAIM_SECONDS", 60.0, low=0.1, high=86_400.0
            ),
            escalation_tick_seconds=parse_float(
                env, "ESCALATION_TICK_SECONDS", 20.0, low=0.1, high=3600.0
            ),
            intake_reclaim_seconds=parse_float(
                env, "INTAKE_RECLAIM_SECONDS", 60.0, low=0.1, high=86_400.0
            ),
            intake_stuck_seconds=parse_float(
                env, "INTAKE_STUCK_SECONDS", 120.0, low=1.0, high=86_400.0
            ),
            probe_allow_cidrs=parse_cidrs(env, "PROBE_ALLOW_CIDRS"),
            probe_ports=parse_ports(env, "PROBE_PORTS"),
            probe_timeout=parse_float(env, "PROBE_TIMEOUT", 10.0, low=0.5, high=120.0),
            probe_cafile=parse_file(env, "PROBE_CAFILE"),
            probe_user_limit=parse_int(env, "PROBE_USER_LIMIT", 5, low=1, high=10_000),
            probe_target_limit=parse_int(
                env, "PROBE_TARGET_LIMIT", 10, low=1, high=10_000
            ),
            probe_window_seconds=parse_int(
                env, "PROBE_WINDOW_SECONDS", 600, low=1, high=86_400
            ),
            conversation_ttl_seconds=parse_int(
                env,
                "CONVERSATION_TTL_SECONDS",
                7 * 24 * 3600,
                low=60,
                high=90 * 24 * 3600,
            ),
            dedupe_ttl_seconds=parse_int(
                env, "DEDUPE_TTL_SECONDS", 24 * 3600, low=60, high=7 * 24 * 3600
            ),
            redis_timeout=parse_float(env, "REDIS_TIMEOUT", 1.0, low=0.05, high=30.0),
            redis_max_connections=parse_int(
                env, "REDIS_MAX_CONNECTIONS", 32, low=1, high=1000
            ),
            redis_wait_replicas=parse_int(
                env, "REDIS_WAIT_REPLICAS", wait_default, low=0, high=16
            ),
            redis_wait_timeout=parse_float(
                env, "REDIS_WAIT_TIMEOUT", 0.5, low=0.01, high=10.0
            ),
            log_level=level,
        )
