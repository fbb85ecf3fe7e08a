"""
Settings for the bot, read once at start-up from the environment and ``.env``.

``Settings.from_env(mapping)`` is pure: tests pass a dict, ``load_settings`` merges
``.env``
under ``os.environ`` (the environment wins). Every error is a ``ConfigError`` naming the
variable at fault, so a bad deployment fails fast with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypedDict, TypeVar

from bot.errors import ConfigError
from bot.redis_url import RedisUrlError, is_sentinel
from bot.redis_url import check as check_redis_url

_N = TypeVar("_N", int, float)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Slack's own Web API; tests and staging point SLACK_API_URL at a local fake.
DEFAULT_SLACK_API_URL: Final = "https://slack.com/api/"
# The bot scopes deploy/slack-app-manifest.yml asks for (an "Add to Slack" install asks
# for the same unless SLACK_SCOPES says otherwise; tests/deploy keeps them in step).
DEFAULT_BOT_SCOPES: Final = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "reactions:read",
)
# Slack's own advice for an OAuth state's life: long enough to read the consent page.
DEFAULT_STATE_EXPIRATION_SECONDS: Final = 600
# The path Slack sends installers back to (the server routes it; SLACK_REDIRECT_URI,
# when set, must end in it).
OAUTH_REDIRECT_PATH: Final = "/slack/oauth_redirect"
# DESIGN.md: submission, SMTP, implicit TLS, and the common alternative port.
DEFAULT_PROBE_PORTS: Final = frozenset({25, 465, 587, 2525})
_ID: Final = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,40}$")
# A Slack mention as it appears in message text: <!subteam^S123>, <@U123>, <!here>.
MENTION: Final = re.compile(r"<[!@#][^<>]+>")
_DOTENV_LINE: Final = re.compile(
    r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$"
)


def _number(
    env: Mapping[str, str],
    name: str,
    default: _N,
    parse: Callable[[str], _N],
    kind: str,
    *,
    low: _N,
    high: _N,
) -> _N:
    """
    A numeric variable parsed by ``parse`` and kept within [low, high].
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(name, f"expected {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")
    return value


def _int(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int
) -> int:
    """
    An integer variable within [low, high].
    """
    return _number(env, name, default, int, "a whole number", low=low, high=high)


def _float(
    env: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    """
    A number variable within [low, high].
    """
    return _number(env, name, default, float, "a number", low=low, high=high)


def _ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    """
    A comma-separated list of Slack ids (C0123, U0123, ...).
    """
    items = [item.strip() for item in env.get(name, "").split(",") if item.strip()]
    for item in items:
        if not _ID.match(item):
            raise ConfigError(
                name, f"{item!r} is not a Slack id (like C0123ABCD or U0123ABCD)"
            )
    return frozenset(items)


def _token(env: Mapping[str, str], name: str, prefixes: tuple[str, ...]) -> str | None:
    """
    A secret token; when given it must have the expected prefix.
    """
    value = env.get(name, "").strip()
    if not value:
        return None
    if prefixes and not value.startswith(prefixes):
        raise ConfigError(
            name, f"expected a token starting with {' or '.join(prefixes)}"
        )
    return value


def _url(
    env: Mapping[str, str], name: str, default: str | None, schemes: tuple[str, ...]
) -> str | None:
    """
    A URL variable with one of the allowed schemes.
    """
    value = env.get(name, "").strip() or default
    if value is not None and not value.startswith(tuple(f"{s}://" for s in schemes)):
        raise ConfigError(name, f"expected a {' or '.join(schemes)} URL, got {value!r}")
    return value


def _scopes(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """
    Comma-separated OAuth scopes such as ``chat:write,commands``.
    """
    items = [i.strip() for i in env.get(name, "").split(",") if i.strip()]
    for item in items:
        if not re.fullmatch(r"[a-z][a-z0-9_.-]*(?::[a-z0-9_.-]+)*", item):
            raise ConfigError(name, f"{item!r} is not a Slack scope like chat:write")
    return tuple(dict.fromkeys(items)) or DEFAULT_BOT_SCOPES


def _fernet_keys(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """
    Comma-separated Fernet keys (the first encrypts; all decrypt).
    """
    from cryptography.fernet import Fernet

    keys = tuple(k.strip() for k in env.get(name, "").split(",") if k.strip())
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigError(
                name,
                f"key {number} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with `smtpbot installs new-key`)",
            ) from None
    return keys


class _OAuthFields(TypedDict):
    slack_client_id: str | None
    slack_client_secret: str | None
    slack_scopes: tuple[str, ...]
    slack_redirect_uri: str | None
    slack_state_expiration_seconds: int
    token_encryption_keys: tuple[str, ...]


def _oauth(env: Mapping[str, str], bot_token: str | None) -> _OAuthFields:
    """
    The "Add to Slack" settings: client id and secret (both or neither), never with a
    bot token.
    """
    client_id = env.get("SLACK_CLIENT_ID", "").strip() or None
    secret = env.get("SLACK_CLIENT_SECRET", "").strip() or None
    if client_id is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError(
            "SLACK_CLIENT_ID",
            "expected the app's Client ID like 1234567890.1234567890 (Basic "
            "Information → App Credentials)",
        )
    if bool(client_id) != bool(secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(
            missing,
            "installing into many workspaces needs both the client id and secret",
        )
    if client_id and bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN",
            "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (every workspace that installs the app), not both",
        )
    redirect = _url(env, "SLACK_REDIRECT_URI", None, ("https", "http"))
    if redirect is not None and not redirect.split("?", 1)[0].endswith(
        OAUTH_REDIRECT_PATH
    ):
        raise ConfigError(
            "SLACK_REDIRECT_URI", f"must end in {OAUTH_REDIRECT_PATH}, got {redirect!r}"
        )
    return _OAuthFields(
        slack_client_id=client_id,
        slack_client_secret=secret,
        slack_scopes=_scopes(env, "SLACK_SCOPES"),
        slack_redirect_uri=redirect,
        slack_state_expiration_seconds=_int(
            env,
            "SLACK_STATE_EXPIRATION_SECONDS",
            DEFAULT_STATE_EXPIRATION_SECONDS,
            low=1,
            high=86_400,
        ),
        token_encryption_keys=_fernet_keys(env, "SLACK_TOKEN_ENCRYPTION_KEYS"),
    )


def _file(env: Mapping[str, str], name: str) -> str | None:
    """
    A path to an existing file.
    """
    value = env.get(name, "").strip()
    if value and not Path(value).is_file():
        raise ConfigError(name, f"{value} is not a readable file")
    return value or None


def _cidrs(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    """
    Comma-separated address ranges such as ``127.0.0.0/8,10.1.0.0/16``.
    """
    networks: list[IPNetwork] = []
    for item in (i.strip() for i in env.get(name, "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                name, f"{item!r} is not an address range like 10.0.0.0/8"
            ) from None
    return tuple(networks)


def _ports(env: Mapping[str, str], name: str) -> frozenset[int]:
    """
    Comma-separated TCP ports.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_PROBE_PORTS
    ports: set[int] = set()
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ConfigError(name, f"{item!r} is not a TCP port (1-65535)")
        ports.add(int(item))
    return frozenset(ports)


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
        escalation = _ids(env, "ESCALATION_CHANNEL")
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
        bot_token = _token(env, "SLACK_BOT_TOKEN", ("xoxb-", "xoxp-"))
        return cls(
            slack_bot_token=bot_token,
            slack_signing_secret=_token(env, "SLACK_SIGNING_SECRET", ()),
            slack_app_token=_token(env, "SLACK_APP_TOKEN", ("xapp-",)),
            slack_api_url=_url(
                env, "SLACK_API_URL", DEFAULT_SLACK_API_URL, ("https", "http")
            )
            or DEFAULT_SLACK_API_URL,
            **_oauth(env, bot_token),
            redis_url=redis_url,
            redis_prefix=prefix,
            support_channels=_ids(env, "SUPPORT_CHANNELS"),
            admin_users=_ids(env, "ADMIN_USERS"),
            escalation_channel=next(iter(escalation), None),
            escalation_mention=mention,
            escalation_sla_minutes=_int(
                env, "ESCALATION_SLA_MINUTES", 15, low=1, high=10_080
            ),
            escalation_reaction=reaction,
            escalation_retention_days=_int(
                env, "ESCALATION_RETENTION_DAYS", 30, low=1, high=3650
            ),
            escalation_reclaim_seconds=_float(
                env, "ESCALATION_RECLAIM_SECONDS", 60.0, low=0.1, high=86_400.0
            ),
            escalation_tick_seconds=_float(
                env, "ESCALATION_TICK_SECONDS", 20.0, low=0.1, high=3600.0
            ),
            intake_reclaim_seconds=_float(
                env, "INTAKE_RECLAIM_SECONDS", 60.0, low=0.1, high=86_400.0
            ),
            intake_stuck_seconds=_float(
                env, "INTAKE_STUCK_SECONDS", 120.0, low=1.0, high=86_400.0
            ),
            probe_allow_cidrs=_cidrs(env, "PROBE_ALLOW_CIDRS"),
            probe_ports=_ports(env, "PROBE_PORTS"),
            probe_timeout=_float(env, "PROBE_TIMEOUT", 10.0, low=0.5, high=120.0),
            probe_cafile=_file(env, "PROBE_CAFILE"),
            probe_user_limit=_int(env, "PROBE_USER_LIMIT", 5, low=1, high=10_000),
            probe_target_limit=_int(env, "PROBE_TARGET_LIMIT", 10, low=1, high=10_000),
            probe_window_seconds=_int(
                env, "PROBE_WINDOW_SECONDS", 600, low=1, high=86_400
            ),
            conversation_ttl_seconds=_int(
                env,
                "CONVERSATION_TTL_SECONDS",
                7 * 24 * 3600,
                low=60,
                high=90 * 24 * 3600,
            ),
            dedupe_ttl_seconds=_int(
                env, "DEDUPE_TTL_SECONDS", 24 * 3600, low=60, high=7 * 24 * 3600
            ),
            redis_timeout=_float(env, "REDIS_TIMEOUT", 1.0, low=0.05, high=30.0),
            redis_max_connections=_int(
                env, "REDIS_MAX_CONNECTIONS", 32, low=1, high=1000
            ),
            redis_wait_replicas=_int(
                env, "REDIS_WAIT_REPLICAS", wait_default, low=0, high=16
            ),
            redis_wait_timeout=_float(
                env, "REDIS_WAIT_TIMEOUT", 0.5, low=0.01, high=10.0
            ),
            log_level=level,
        )


def read_dotenv(path: Path) -> dict[str, str]:
    """
    Parse a ``.env`` file (``KEY=value``, ``export``, quotes, ``#`` comments); missing:
    {}.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ConfigError(f"{path}:{number}", "expected KEY=value")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_settings(
    environ: Mapping[str, str], *, env_file: Path | None = Path(".env")
) -> Settings:
    """
    Settings from ``.env`` overlaid by the environment (the environment wins).
    """
    merged = read_dotenv(env_file) if env_file is not None else {}
    merged.update(environ)
    return Settings.from_env(merged)
