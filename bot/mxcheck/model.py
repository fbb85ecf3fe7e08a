"""
Records of a domain check: the MX hosts with their probes, and what MTA-STS, DANE and
TLS-RPT say about them.

Pure data, so the verdict and the renderers can be tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.probe.model import ProbeResult
from bot.probe.verdict import Verdict


class Result(StrEnum):
    """
    What one mechanism says: it holds, needs attention, breaks delivery, or is absent.
    """

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NONE = "none"


class Level(StrEnum):
    """
    How much a reason weighs.
    """

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Reason:
    """
    One sentence naming the host, record or URL and the cause, with what to do.
    """

    level: Level
    text: str
    advice: str | None = None
    kb_entry: str | None = None


@dataclass(frozen=True, slots=True)
class MxHost:
    """
    One mail exchanger: lower preference is tried first (RFC 5321 §5.1).
    """

    preference: int
    host: str
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class MxCheck:
    """
    An MX host and its STARTTLS probe on port 25 (None when it was not probed).
    """

    mx: MxHost
    probe: ProbeResult | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class StsHost:
    """
    How one MX host fares under the MTA-STS policy.
    """

    host: str
    pattern: str | None
    valid: bool | None


@dataclass(frozen=True, slots=True)
class MtaSts:
    """
    The domain's MTA-STS record and policy (RFC 8461) and how its MX hosts meet it.
    """

    result: Result
    record: str | None = None
    policy_id: str | None = None
    policy_url: str | None = None
    mode: str | None = None
    mx_patterns: tuple[str, ...] = ()
    max_age: int | None = None
    hosts: tuple[StsHost, ...] = ()
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class DaneHost:
    """
    The TLSA records of one MX host (``_25._tcp.<host>``) and whether its certificate
    matches them.
    """

    host: str
    name: str
    result: Result
    dnssec: bool
    in_effect: bool
    records: tuple[str, ...] = ()
    matched: str | None = None
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Dane:
    """
    DANE for SMTP (RFC 7672) over the domain's MX hosts.
    """

    result: Result
    dnssec: bool
    hosts: tuple[DaneHost, ...] = ()
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsRpt:
    """
    The domain's TLS reporting record (RFC 8460).
    """

    result: Result
    record: str | None = None
    rua: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainReport:
    """
    Everything a domain check found, and the verdict a sender's view gives it.
    """

    domain: str
    verdict: str
    mx: tuple[MxCheck, ...]
    mta_sts: MtaSts
    dane: Dane
    tls_rpt: TlsRpt
    checked_at: datetime
    total_ms: float
    reasons: tuple[Reason, ...] = field(default=())


def worst(results: list[Result]) -> Result:
    """
    The weightiest result: fail over warn over pass over none.
    """
    for result in (Result.FAIL, Result.WARN, Result.PASS):
        if result in results:
            return result
    return Result.NONE
