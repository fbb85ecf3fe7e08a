"""
The mail servers of a domain, for ``smtpbot check DOMAIN --mx`` (dnspython, loaded only
here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import InputError
from bot.probe.target import normalize_hostname


@dataclass(frozen=True, slots=True)
class MxHost:
    """
    One mail exchanger: lower preference is tried first (RFC 5321 §5.1).
    """

    preference: int
    host: str
    implicit: bool = False


def order_mx(records: list[tuple[int, str]], domain: str) -> list[MxHost]:
    """
    Sort MX records by preference, then name; drop duplicates.

    RFC 5321 §5.1: with no MX records the domain itself is the implicit MX.

    Raises:
        InputError: the domain has a null MX (RFC 7505), so it accepts no mail.
    """
    cleaned = sorted({(pref, host.rstrip(".").lower()) for pref, host in records})
    if not cleaned:
        return [MxHost(0, domain, implicit=True)]
    if any(host == "" for _pref, host in cleaned):
        raise InputError(f"{domain} publishes a null MX (RFC 7505): it accepts no mail")
    return [MxHost(pref, host) for pref, host in cleaned]


async def lookup_mx(
    domain: str, *, timeout: float, resolver: Any = None
) -> list[MxHost]:
    """
    Look up the MX hosts of ``domain`` in preference order.

    ``resolver`` is a ``dns.asyncresolver.Resolver`` (tests point one at a local
    server).

    Raises:
        InputError: the domain does not exist, has a null MX, or DNS does not answer.
    """
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    domain = normalize_hostname(domain)
    resolver = resolver or dns.asyncresolver.Resolver()
    try:
        answer = await resolver.resolve(domain, "MX", lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        raise InputError(f"{domain} does not exist in DNS") from None
    except dns.resolver.NoAnswer:
        return order_mx([], domain)
    except dns.exception.DNSException as exc:
        raise InputError(f"MX lookup for {domain} failed: {exc}") from None
    records = [
        (int(r.preference), r.exchange.to_text(omit_final_dot=True)) for r in answer
    ]
    return order_mx(records, domain)
