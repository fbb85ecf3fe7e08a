"""
Socket-level steps of a probe: resolve a name once, connect to one address, wait for the
server to speak first.

Errors leave here as ``ResolveError`` or the standard ``OSError``/``TimeoutError``; the
engine names them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from bot.probe.policy import special_name_addresses
from bot.probe.recording import RecordingSocket


class ResolveError(Exception):
    """
    A host name did not resolve to any address.
    """


async def resolve(host: str, *, timeout: float) -> tuple[str, ...]:
    """
    Resolve ``host`` once, A and AAAA together, keeping the resolver's order.

    IP literals and RFC 6761 special names are answered without any lookup.

    Raises:
        ResolveError: no address (the message says why).
    """
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    special = special_name_addresses(host)
    if special is not None:
        if not special:
            raise ResolveError(
                f"{host} is a reserved name that never resolves (RFC 6761)"
            )
        return special
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(
                host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            ),
            timeout,
        )
    except TimeoutError:
        raise ResolveError(f"no DNS answer for {host} within {timeout:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveError(f"{host} does not resolve: {_gai_text(exc)}") from None
    addresses: dict[str, None] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            # Drop an IPv6 zone id ("%eth0"): link-local targets are refused anyway.
            addresses[str(sockaddr[0]).split("%", 1)[0]] = None
    if not addresses:
        raise ResolveError(f"{host} has no IPv4 or IPv6 address")
    return tuple(addresses)


def _gai_text(exc: BaseException) -> str:
    """
    The resolver's own words, e.g. "Name or service not known".
    """
    if isinstance(exc, socket.gaierror) and len(exc.args) > 1:
        return str(exc.args[1])
    return str(exc)


async def connect(address: str, port: int, *, timeout: float) -> RecordingSocket:
    """
    Open a TCP connection to exactly ``address`` (never a name, so nothing is resolved
    again).

    Raises:
        OSError: refused, unreachable and the like.
        TimeoutError: no answer within ``timeout``.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on the transport built on this
    # socket.
    sock = RecordingSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock
