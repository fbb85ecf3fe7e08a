"""
Parsers of single variables: numbers within bounds, Slack ids, tokens, URLs, files,
address ranges and ports. Each raises ``ConfigError`` naming the variable at fault.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, TypeVar

from bot.errors import ConfigError

_N = TypeVar("_N", int, float)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# DESIGN.md: submission, SMTP, implicit TLS, and the common alternative port.
DEFAULT_PROBE_PORTS: Final = frozenset({25, 465, 587, 2525})
_ID: Final = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,40}$")


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


def parse_int(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int
) -> int:
    """
    An integer variable within [low, high].
    """
    return _number(env, name, default, int, "a whole number", low=low, high=high)


def parse_float(
    env: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    """
    A number variable within [low, high].
    """
    return _number(env, name, default, float, "a number", low=low, high=high)


def parse_ids(env: Mapping[str, str], name: str) -> frozenset[str]:
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


def parse_token(
    env: Mapping[str, str], name: str, prefixes: tuple[str, ...]
) -> str | None:
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


def parse_url(
    env: Mapping[str, str], name: str, default: str | None, schemes: tuple[str, ...]
) -> str | None:
    """
    A URL variable with one of the allowed schemes.
    """
    value = env.get(name, "").strip() or default
    if value is not None and not value.startswith(tuple(f"{s}://" for s in schemes)):
        raise ConfigError(name, f"expected a {' or '.join(schemes)} URL, got {value!r}")
    return value


def parse_file(env: Mapping[str, str], name: str) -> str | None:
    """
    A path to an existing file.
    """
    value = env.get(name, "").strip()
    if value and not Path(value).is_file():
        raise ConfigError(name, f"{value} is not a readable file")
    return value or None


def parse_cidrs(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
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


def parse_ports(env: Mapping[str, str], name: str) -> frozenset[int]:
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
