"""
Probe targets as users type them: ``host``, ``host:port``, ``[v6addr]:port``, an IP.

Pure: parsing only; whether a target may be probed is ``bot.probe.policy``'s business.
"""

from __future__ import annotations

import ipaddress
import re

from bot.errors import InputError
from bot.probe.frozen import Frozen

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 1035 §2.3.1 / RFC 1123 §2.1 labels; underscores appear in real-world names, so
# allow them.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
# RFC 5952 bracketed IPv6 with an optional port: "[2001:db8::1]:587".
_BRACKETED = re.compile(r"^\[(?P<addr>[^\]]+)\](?::(?P<port>\d+))?$")


class Target(Frozen):
    """
    A host to probe, as parsed from user input: a DNS name or an IP literal, maybe a
    port.
    """

    host: str
    port: int | None = None

    @property
    def address(self) -> IPAddress | None:
        """
        The IP address when ``host`` is a literal, else None.
        """
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def __str__(self) -> str:
        """
        Show the target as a user would type it.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def parse_port(text: str) -> int:
    """
    Parse a TCP port number (1-65535).

    Raises:
        InputError: not a port number.
    """
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise InputError(f"invalid port {text!r}: use a number from 1 to 65535")
    return int(text)


def parse_target(text: str) -> Target:
    """
    Parse ``host``, ``host:port``, ``[v6addr]:port``, an IPv4 or a bare IPv6 address.

    Raises:
        InputError: the text is not a host name or an address.
    """
    text = text.strip()
    if not text or len(text) > 300 or any(c.isspace() or ord(c) < 32 for c in text):
        raise InputError(
            f"invalid target {text[:80]!r}: give a host name or an IP address"
        )
    if "@" in text or "/" in text:
        raise InputError(
            f"invalid target {text[:80]!r}: give a mail server name "
            "(for a mail domain, use --mx)"
        )
    bracketed = _BRACKETED.match(text)
    if bracketed:
        address = _parse_address(bracketed["addr"], text)
        if address.version != 6:
            raise InputError(
                f"invalid target {text!r}: brackets are for IPv6 addresses"
            )
        port = parse_port(bracketed["port"]) if bracketed["port"] is not None else None
        return Target(str(address), port)
    if text.count(":") > 1:
        # A bare IPv6 address: without brackets a port cannot be told apart (RFC 5952
        # §6).
        return Target(str(_parse_address(text, text)))
    host, sep, port_text = text.partition(":")
    port = parse_port(port_text) if sep else None
    try:
        return Target(str(ipaddress.ip_address(host)), port)
    except ValueError:
        return Target(normalize_hostname(host), port)


def normalize_hostname(name: str) -> str:
    """
    Return a DNS name in lower-case A-label form (IDNA), without a trailing dot.

    Raises:
        InputError: not a valid host name.
    """
    try:
        ascii_name = name.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InputError(f"invalid host name {name[:80]!r}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InputError(f"invalid host name {name[:80]!r}")
    return ascii_name


def _parse_address(text: str, original: str) -> IPAddress:
    """
    Parse an IP literal; zone ids (``fe80::1%eth0``) are refused as input errors.
    """
    if "%" in text:
        raise InputError(
            f"invalid target {original[:80]!r}: zone ids are not supported"
        )
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InputError(
            f"invalid target {original[:80]!r}: not an IP address"
        ) from None
