"""
DNS for the domain check, through the system's resolver configuration only.

Every query goes to the nameservers of ``/etc/resolv.conf`` (dnspython reads it, as the
C library does); nothing here names a server of its own. Queries ask for DNSSEC with the
AD and DO bits, and an answer counts as validated when the resolver sets AD in its
reply: the trust Postfix gives its resolver for DANE. dnspython is imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.errors import InputError

# RFC 6891 §6.2.5 / DNS flag day 2020: an EDNS buffer that avoids IP fragmentation.
EDNS_PAYLOAD = 1232


class Status(StrEnum):
    """
    How a query ended.
    """

    OK = "ok"
    NODATA = "nodata"
    NXDOMAIN = "nxdomain"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Answer:
    """
    One DNS answer: its records, whether the resolver validated it (AD), and how it
    ended.
    """

    name: str
    rdtype: str
    status: Status
    records: tuple[Any, ...] = ()
    authenticated: bool = False
    error: str | None = None

    @property
    def texts(self) -> list[str]:
        """
        TXT records as text, each record's strings joined (RFC 7208 §3.3 style).
        """
        return [
            b"".join(r.strings).decode("utf-8", "replace")
            for r in self.records
            if hasattr(r, "strings")
        ]


class SystemResolver:
    """
    Asks the resolvers of ``/etc/resolv.conf``, with AD and DO set, each query bounded.
    """

    def __init__(self, *, timeout: float) -> None:
        """
        Read the system configuration.

        Raises:
            InputError: there is no usable resolver configuration.
        """
        import dns.asyncresolver
        import dns.flags
        import dns.resolver

        try:
            resolver = dns.asyncresolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            raise InputError(
                f"no DNS resolver configured (/etc/resolv.conf): {exc}"
            ) from None
        # RFC 6840 §5.7: AD in a query asks for the AD bit in the answer; DO (RFC 3225)
        # asks for DNSSEC records too, which some resolvers need before they set AD.
        resolver.flags = dns.flags.RD | dns.flags.AD
        resolver.use_edns(0, dns.flags.DO, EDNS_PAYLOAD)
        self._resolver = resolver
        self._timeout = timeout

    async def query(self, name: str, rdtype: str) -> Answer:
        """
        Look up ``name`` (absolute, no search list); failures are data, not exceptions.
        """
        import dns.exception
        import dns.flags
        import dns.resolver

        fqdn = name.rstrip(".") + "."
        try:
            answer = await self._resolver.resolve(
                fqdn,
                rdtype,
                raise_on_no_answer=False,
                lifetime=self._timeout,
                search=False,
            )
        except dns.resolver.NXDOMAIN as exc:
            return Answer(name, rdtype, Status.NXDOMAIN, authenticated=_ad(exc))
        except dns.resolver.NoNameservers:
            # What a validating resolver answers for a bogus (badly signed) zone, too.
            return Answer(
                name, rdtype, Status.ERROR, error="the resolver answered SERVFAIL"
            )
        except dns.resolver.LifetimeTimeout:
            return Answer(
                name,
                rdtype,
                Status.ERROR,
                error=f"no DNS answer within {self._timeout:g} s",
            )
        except dns.exception.DNSException as exc:
            return Answer(
                name, rdtype, Status.ERROR, error=str(exc) or type(exc).__name__
            )
        authenticated = bool(answer.response.flags & dns.flags.AD)
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        status = Status.OK if records else Status.NODATA
        return Answer(name, rdtype, status, records, authenticated)


def _ad(exc: Any) -> bool:
    """
    Whether the resolver validated an NXDOMAIN (authenticated denial of existence).
    """
    import dns.flags

    try:
        responses = exc.responses()
    except (AttributeError, KeyError):
        return False
    return any(bool(r.flags & dns.flags.AD) for r in responses.values())
