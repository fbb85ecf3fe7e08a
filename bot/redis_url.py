"""
``REDIS_URL`` forms the bot understands, parsed without touching the network. Pure.

One endpoint: ``redis://``, ``rediss://`` (TLS) or ``unix://`` (redis-py reads these
itself). A Sentinel group:

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<master>[/<db>]
        [?sentinel_password=...&sentinel_username=...]

``rediss+sentinel://`` speaks TLS to the sentinels and to the master. The user and
password are the master's (and its replicas'); the sentinels' own credentials, when
they have any, go in the query. A host without a port means 26379, Sentinel's port.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Final

# Schemes of a single endpoint, handed to redis-py as they are.
PLAIN_SCHEMES: Final = ("redis", "rediss", "unix")
# Schemes of a Sentinel group (the second one with TLS).
SENTINEL_SCHEMES: Final = ("redis+sentinel", "rediss+sentinel")
# Sentinel's well-known port (redis.io: "Sentinel ... listens on TCP port 26379").
SENTINEL_PORT: Final = 26379
_QUERY: Final = frozenset({"sentinel_password", "sentinel_username"})
_MASTER: Final = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RedisUrlError(ValueError):
    """
    A REDIS_URL that cannot be used; the message says what is wrong.
    """


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """
    Where a Sentinel group is and which master to ask it for.
    """

    hosts: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """
        The group for messages and logs: no credentials.
        """
        scheme = SENTINEL_SCHEMES[1] if self.tls else SENTINEL_SCHEMES[0]
        hosts = ",".join(_host_text(h, p) for h, p in self.hosts)
        return f"{scheme}://{hosts}/{self.master}/{self.db}"


def is_sentinel(url: str) -> bool:
    """
    True when ``url`` names a Sentinel group rather than one endpoint.
    """
    return url.startswith(tuple(f"{s}://" for s in SENTINEL_SCHEMES))


def _host_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host(item: str) -> tuple[str, int]:
    """
    ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``.
    """
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise RedisUrlError(f"unclosed [ in sentinel address {item!r}")
        host, rest = item[1:end], item[end + 1 :]
        if rest and not rest.startswith(":"):
            raise RedisUrlError(f"bad sentinel address {item!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise RedisUrlError(f"sentinel address {item!r} has no host")
    if not port_text:
        return host, SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f"sentinel address {item!r} has a bad port")
    return host, int(port_text)


def parse_sentinel(url: str) -> SentinelUrl:
    """
    Parse a ``redis+sentinel://`` or ``rediss+sentinel://`` URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SENTINEL_SCHEMES:
        raise RedisUrlError(f"expected {' or '.join(SENTINEL_SCHEMES)}://")
    rest, _, query = rest.partition("?")
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise RedisUrlError("a sentinel URL has no #fragment")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    if not at:
        hostlist, userinfo = netloc, ""
    username: str | None = None
    password: str | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        if colon:
            username = urllib.parse.unquote(user) or None
            password = urllib.parse.unquote(secret) or None
        else:
            password = urllib.parse.unquote(user) or None
    items = [item.strip() for item in hostlist.split(",")]
    if not hostlist or not all(items):
        raise RedisUrlError("give at least one sentinel host[:port] (comma-separated)")
    hosts = tuple(_host(item) for item in items)
    parts = path.rstrip("/").split("/") if slash else []
    if not parts or not parts[0]:
        raise RedisUrlError("name the master after the hosts: .../<master-name>")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise RedisUrlError("expected /<master-name> or /<master-name>/<db number>")
    master = urllib.parse.unquote(parts[0])
    if not _MASTER.match(master):
        raise RedisUrlError(f"{master!r} is not a Sentinel master name")
    options = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - _QUERY)
    if unknown:
        raise RedisUrlError(
            f"unknown option {unknown[0]!r} (known: {', '.join(sorted(_QUERY))})"
        )
    return SentinelUrl(
        hosts=hosts,
        master=master,
        db=int(parts[1]) if len(parts) == 2 else 0,
        tls=scheme == SENTINEL_SCHEMES[1],
        username=username,
        password=password,
        sentinel_username=_last(options, "sentinel_username"),
        sentinel_password=_last(options, "sentinel_password"),
    )


def _last(options: dict[str, list[str]], name: str) -> str | None:
    """
    The last value given for a query option, or None when absent or empty.
    """
    values = options.get(name) or [""]
    return values[-1] or None


def check(url: str) -> None:
    """
    Raise RedisUrlError unless ``url`` is a form the bot can connect with.
    """
    if is_sentinel(url):
        parse_sentinel(url)
        return
    schemes = (*PLAIN_SCHEMES, *SENTINEL_SCHEMES)
    if not url.startswith(tuple(f"{s}://" for s in PLAIN_SCHEMES)):
        raise RedisUrlError(f"expected a {', '.join(schemes)} URL")


def describe(url: str) -> str:
    """
    The URL without its password (and a Sentinel URL without any credential).
    """
    if is_sentinel(url):
        try:
            return parse_sentinel(url).describe()
        except RedisUrlError:
            return url.partition("://")[0] + "://***"
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"
