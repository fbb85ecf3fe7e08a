"""
What the conversation engine needs from a STARTTLS probe, kept apart from the probe
itself.

``Prober`` is a small protocol: give it a target and a progress callback, get one
summary per port probed (or, for a mail domain, a ``DomainSummary``).
``bot.slack.probing`` adapts ``bot.probe`` and ``bot.mxcheck`` to it; the summary can be
read from the DESIGN.md ``smtpbot check --json`` object, the probe's stable public form.
Pure.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bot.errors import InputError

# DESIGN.md: with no port, try submission, then SMTP, then implicit TLS.
SWEEP_PORTS: Final = (587, 25, 465)
# RFC 5321 §5.1: a mail domain's exchangers take mail on the SMTP port.
MX_PORT: Final = 25
_HOST: Final = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
)

ProgressCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """
    A host (name or address) with an optional port; ``mx`` probes the domain's MX hosts.
    """

    host: str
    port: int | None = None
    mx: bool = False

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        return (
            f"[{self.host}]:{self.port}"
            if ":" in self.host
            else f"{self.host}:{self.port}"
        )


def parse_target(text: str, *, mx: bool = False) -> ProbeTarget:
    """
    Parse ``host``, ``host:port``, ``[v6addr]:port`` or an address; InputError
    otherwise.
    """
    value = text.strip().strip("<>")
    if "|" in value:
        # Slack auto-links host names: <http://smtp.example.com|smtp.example.com>.
        value = value.split("|", 1)[1]
    value = re.sub(r"^[a-z]+://", "", value, flags=re.IGNORECASE).rstrip("/")
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(f"{port_text!r} is not a port (1-65535)")
        port = int(port_text)
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if not _HOST.match(host):
            raise InputError(
                f"{text.strip()!r} is not a host name, host:port or address"
            ) from None
        host = host.rstrip(".").lower()
    return ProbeTarget(host, port, mx)


@dataclass(frozen=True, slots=True)
class Finding:
    """
    One observation of a probe, with advice when something is wrong.
    """

    id: str
    severity: str
    message: str
    advice: str = ""


@dataclass(frozen=True, slots=True)
class ProbeSummary:
    """
    One probed port: verdict (ok, warn, fail), the category explaining a fail, details.
    """

    host: str
    port: int
    verdict: str
    category: str | None = None
    findings: tuple[Finding, ...] = ()
    banner: str | None = None
    tls: str | None = None
    certificate: str | None = None
    total_ms: float | None = None

    @property
    def target(self) -> str:
        """
        ``host:port`` (IPv6 in brackets).
        """
        return str(ProbeTarget(self.host, self.port))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeSummary:
        """
        Read the DESIGN.md ``smtpbot check --json`` object (unknown keys ignored).
        """
        target = data.get("target") or {}
        tls = data.get("tls") or {}
        cert = data.get("certificate") or {}
        timings = data.get("timings_ms") or {}
        findings = tuple(
            Finding(
                str(f.get("id", "")),
                str(f.get("severity", "info")),
                str(f.get("message", "")),
                str(f.get("advice") or ""),
            )
            for f in data.get("findings") or ()
            if isinstance(f, Mapping)
        )
        cert_line = None
        if cert:
            state = "trusted" if cert.get("trusted") else "NOT trusted"
            cert_line = (
                f"{cert.get('subject', '?')}, {state}, expires "
                f"{cert.get('not_after', '?')} ({cert.get('days_left', '?')} days)"
            )
        total = timings.get("total")
        return cls(
            host=str(target.get("host", "?")),
            port=int(target.get("port") or 0),
            verdict=str(data.get("verdict", "fail")),
            category=data.get("category") or None,
            findings=findings,
            banner=data.get("banner") or None,
            tls=" ".join(str(v) for v in (tls.get("version"), tls.get("cipher")) if v)
            or None,
            certificate=cert_line,
            total_ms=float(total) if isinstance(total, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """
    What one mechanism (MTA-STS, DANE, TLS-RPT) says about a mail domain: its result
    (pass, warn, fail, none), the facts in a line, the reasons, what to do, and the
    knowledge-base entry that explains a failure.
    """

    name: str
    result: str
    detail: str = ""
    reasons: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    kb_entry: str | None = None


@dataclass(frozen=True, slots=True)
class DomainSummary:
    """
    A mail domain as senders see it (``smtpbot check DOMAIN --mx``): the verdict and
    why, each MX host's probe, and MTA-STS, DANE and TLS-RPT.
    """

    domain: str
    verdict: str
    reasons: tuple[str, ...] = ()
    mx: tuple[ProbeSummary, ...] = ()
    policies: tuple[PolicySummary, ...] = ()
    # Categories of MX failures that stop mail whatever the policies say (the MX
    # cannot be reached); TLS problems are explained by the policies instead.
    blocking: tuple[str, ...] = ()


class Prober(Protocol):
    """
    Runs a STARTTLS probe under the safety policy; raises ProbeRefusedError when
    refused.
    """

    async def __call__(
        self, target: ProbeTarget, *, progress: ProgressCallback
    ) -> tuple[ProbeSummary, ...]:
        """
        Probe the target (a sweep when it has no port), reporting phases to
        ``progress``.
        """
        ...

    async def check_domain(
        self, target: ProbeTarget, *, progress: ProgressCallback
    ) -> DomainSummary:
        """
        Check a mail domain's MX hosts, MTA-STS, DANE and TLS-RPT, reporting to
        ``progress``.
        """
        ...
