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

from bot.aio import all_of
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
    # The name the records belong to when ``name`` is an alias (CNAME-expanded).
    canonical: str | None = None

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
                # dnspython drops replies it cannot parse (they may be spoofed) and
                # keeps waiting, so a malformed answer ends here too.
                error=(
                    f"no usable DNS answer within {self._timeout:g} s (none came, "
                    "or what came could not be parsed)"
                ),
            )
        except dns.exception.DNSException as exc:
            return Answer(
                name, rdtype, Status.ERROR, error=str(exc) or type(exc).__name__
            )
        authenticated = bool(answer.response.flags & dns.flags.AD)
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        status = Status.OK if records else Status.NODATA
        canonical = answer.canonical_name.to_text(omit_final_dot=True).lower()
        return Answer(
            name,
            rdtype,
            status,
            records,
            authenticated,
            canonical=canonical if canonical != name.rstrip(".").lower() else None,
        )


@dataclass(frozen=True, slots=True)
class TlsaLookup:
    """
    The TLSA records of one MX host as a DANE sender finds them (RFC 7672 §2.2.2):
    its address records first (DANE applies only when they are DNSSEC-validated),
    then the TLSA records at the CNAME-expanded name if the host is an alias,
    else (or when that name has none) at the host's own name.
    """

    host: str
    tlsa: Answer
    # The A/AAAA answers carried AD (through the whole CNAME chain, if any).
    addresses_validated: bool
    # The securely CNAME-expanded name, when the host is an alias.
    expanded: str | None = None


async def lookup_tlsa(resolver: SystemResolver, host: str, port: int) -> TlsaLookup:
    """
    Look up a host's address records and its TLSA records the way Postfix does.
    """
    answers = await all_of(resolver.query(host, "A"), resolver.query(host, "AAAA"))
    found = [a for a in answers if a.status is Status.OK]
    validated = bool(found) and all(a.authenticated for a in found)
    canonical = next((a.canonical for a in found if a.canonical), None)
    expanded = canonical if validated else None
    if expanded is not None:
        # RFC 7672 §2.2.2 (RFC 7671 §7): the expanded name first; the alias's own
        # name when no validated TLSA records are found there.
        first = await resolver.query(f"_{port}._tcp.{expanded}", "TLSA")
        if first.status is Status.ERROR or (first.records and first.authenticated):
            return TlsaLookup(host, first, validated, expanded)
    answer = await resolver.query(f"_{port}._tcp.{host}", "TLSA")
    return TlsaLookup(host, answer, validated, expanded)


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
