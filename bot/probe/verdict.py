"""
What a probe result means: findings (id, severity, message, advice), the verdict
(ok / warn / fail) and, for a failure, the taxonomy category (shared/corpus/TAXONOMY.md)
that links the probe to the same knowledge-base advice as a pasted error.

Pure: a ``ProbeResult`` in, a ``Verdict`` out; the clock is the result's own
``checked_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.probe.advice import ADVICE
from bot.probe.model import CertCheck, Mode, ProbeResult, Problem

# DESIGN.md: a certificate that expires within this many days is a warning.
EXPIRY_WARN_DAYS = 14
# NIST SP 800-57 / CA/Browser Forum minimum for RSA keys.
MIN_RSA_BITS = 2048
# RFC 8996 deprecates TLS 1.0 and 1.1; many clients refuse them.
LEGACY_TLS = frozenset({"TLSv1", "TLSv1.1", "SSLv3"})
# OpenSSL X509_V_ERR codes for a certificate outside its validity period.
_DATE_ERRORS = frozenset({9, 10})
# OpenSSL X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT.
_SELF_SIGNED = 18


class Severity(StrEnum):
    """
    How much a finding matters: ``fail`` means a mail client would fail.
    """

    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    """
    One thing the probe found, with what to do about it.
    """

    id: str
    severity: Severity
    message: str
    advice: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """
    The verdict, the category that explains a failure, and the findings behind them.
    """

    verdict: str
    category: str | None
    findings: tuple[Finding, ...]


# Problem -> (finding id, category); greeting and EHLO replies are mapped by their code.
_PROBLEMS: dict[Problem, tuple[str, str]] = {
    Problem.DNS_FAILURE: ("dns-failure", "dns-failure"),
    Problem.CONNECT_REFUSED: ("connection-refused", "connection-refused"),
    Problem.CONNECT_TIMEOUT: ("connection-timeout", "connection-timeout"),
    Problem.NO_GREETING: ("no-greeting", "connection-timeout"),
    Problem.CLOSED_BEFORE_GREETING: ("closed-before-greeting", "connection-refused"),
    Problem.NOT_SMTP: ("not-smtp", "tls-port-mismatch"),
    Problem.EHLO_FAILED: ("ehlo-failed", "starttls-unavailable"),
    Problem.STARTTLS_NOT_OFFERED: ("starttls-not-offered", "starttls-unavailable"),
    Problem.STARTTLS_REJECTED: ("starttls-refused", "starttls-unavailable"),
    Problem.STARTTLS_NO_ANSWER: ("starttls-refused", "starttls-unavailable"),
    Problem.HANDSHAKE_FAILED: ("handshake-failed", "tls-handshake-failed"),
    Problem.HANDSHAKE_TIMEOUT: ("handshake-failed", "tls-handshake-failed"),
    Problem.STALLED: ("stalled", "connection-timeout"),
    Problem.CLOSED: ("stalled", "connection-refused"),
}


def assess(result: ProbeResult) -> Verdict:
    """
    Turn what the probe saw into findings, a verdict and a category.
    """
    findings = [
        *_failure(result),
        *_mode(result),
        *_certificate(result),
        *_session(result),
    ]
    order = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: order[f.severity])
    fails = [f for f in findings if f.severity is Severity.FAIL]
    if fails:
        return Verdict("fail", fails[0].category, tuple(findings))
    warned = any(f.severity is Severity.WARN for f in findings)
    return Verdict("warn" if warned else "ok", None, tuple(findings))


def _fail(finding_id: str, message: str, category: str, advice: str = "") -> Finding:
    """
    A failing finding with the standard advice for its id.
    """
    return Finding(
        finding_id, Severity.FAIL, message, advice or ADVICE[finding_id], category
    )


def _failure(result: ProbeResult) -> list[Finding]:
    """
    The finding for the problem that stopped the probe, if one did.
    """
    failure = result.failure
    if failure is None:
        return []
    if failure.problem in (Problem.GREETING_REJECTED, Problem.EHLO_FAILED):
        code = failure.code or 0
        what = (
            "greeting" if failure.problem is Problem.GREETING_REJECTED else "EHLO reply"
        )
        # RFC 5321 §4.2.1: 4yz is transient (421: closing, try later), 5yz permanent.
        if 400 <= code < 500:
            return [_fail("rate-limited", f"{what}: {failure.detail}", "rate-limited")]
        if failure.problem is Problem.GREETING_REJECTED or code == 554:
            return [
                _fail(
                    "sender-blocklisted",
                    f"{what}: {failure.detail}",
                    "sender-blocklisted",
                )
            ]
    finding_id, category = _PROBLEMS.get(
        failure.problem, ("stalled", "connection-timeout")
    )
    message = failure.detail
    if failure.problem in (Problem.STARTTLS_REJECTED, Problem.EHLO_FAILED):
        message = f"server answered {failure.detail}"
    elif failure.problem is Problem.HANDSHAKE_FAILED:
        message = f"TLS handshake failed: {failure.detail}"
    elif failure.problem in (Problem.STALLED, Problem.CLOSED):
        message = f"{failure.phase}: {failure.detail}"
    return [_fail(finding_id, message, category)]


def _mode(result: ProbeResult) -> list[Finding]:
    """
    Compare the TLS mode asked for with the one the port speaks.
    """
    if result.mode is None or result.requested_mode is result.mode:
        return []
    port = result.port
    if result.mode is Mode.TLS and result.requested_mode is Mode.STARTTLS:
        message = f"port {port} speaks implicit TLS (like 465), not STARTTLS"
        return [
            _fail(
                "port-mismatch",
                message,
                "tls-port-mismatch",
                ADVICE["port-mismatch-tls"],
            )
        ]
    if result.mode is Mode.STARTTLS and result.requested_mode is Mode.TLS:
        message = (
            f"port {port} greets in plaintext and expects STARTTLS, not implicit TLS"
        )
        advice = ADVICE["port-mismatch-starttls"]
        return [_fail("port-mismatch", message, "tls-port-mismatch", advice)]
    if result.mode is Mode.TLS:
        message = f"port {port} speaks implicit TLS (SMTPS, RFC 8314)"
        return [Finding("implicit-tls", Severity.INFO, message, ADVICE["implicit-tls"])]
    return []


def _certificate(result: ProbeResult) -> list[Finding]:
    """
    Chain, dates, name and key of the server certificate.
    """
    check = result.cert
    if check is None:
        return []
    findings = []
    if not check.trusted and check.verify_code not in _DATE_ERRORS:
        findings.append(
            _fail("cert-untrusted", _untrusted_message(check), "tls-cert-untrusted")
        )
    info = check.info
    now = result.checked_at
    if info is not None and now > info.not_after:
        days = (now - info.not_after).days
        message = f"certificate expired on {_day(info.not_after)} ({days} days ago)"
        findings.append(_fail("cert-expired", message, "tls-cert-expired"))
    elif info is not None and now < info.not_before:
        message = f"certificate is not valid before {_day(info.not_before)}"
        findings.append(_fail("cert-expired", message, "tls-cert-expired"))
    elif info is None and check.verify_code in _DATE_ERRORS:
        message = f"certificate {check.verify_message}"
        findings.append(_fail("cert-expired", message, "tls-cert-expired"))
    elif info is not None and days_left(info.not_after, now) <= EXPIRY_WARN_DAYS:
        left = days_left(info.not_after, now)
        message = f"certificate expires in {left} days ({_day(info.not_after)})"
        findings.append(
            Finding("cert-expiring", Severity.WARN, message, ADVICE["cert-expiring"])
        )
    if check.hostname_match is False and info is not None:
        names = ", ".join(
            info.sans or ((info.common_name,) if info.common_name else ())
        )
        message = f"certificate is for {names or 'no name'}, not {check.name}"
        findings.append(_fail("cert-hostname", message, "tls-cert-hostname"))
    if (
        info is not None
        and info.key_type == "RSA"
        and (info.key_size or 0) < MIN_RSA_BITS
    ):
        message = f"certificate key is RSA {info.key_size} bits"
        findings.append(Finding("weak-key", Severity.WARN, message, ADVICE["weak-key"]))
    return findings


def _untrusted_message(check: CertCheck) -> str:
    """
    Say why the chain is not trusted, in the words people search for.
    """
    if check.verify_code == _SELF_SIGNED or (
        check.info is not None and check.info.self_signed
    ):
        return "certificate is self-signed"
    return (
        f"certificate chain is not trusted: {check.verify_message or 'verify failed'}"
    )


def _session(result: ProbeResult) -> list[Finding]:
    """
    TLS version and plaintext AUTH.
    """
    findings = []
    if result.tls is not None and result.tls.version in LEGACY_TLS:
        message = f"server negotiated {result.tls.version}, deprecated by RFC 8996"
        findings.append(
            Finding("tls-legacy", Severity.WARN, message, ADVICE["tls-legacy"])
        )
    if result.auth_before_tls:
        mechanisms = " ".join(result.auth_before_tls)
        message = f"AUTH {mechanisms} is offered before TLS"
        advice = ADVICE["auth-before-tls"]
        findings.append(Finding("auth-before-tls", Severity.WARN, message, advice))
    return findings


def days_left(not_after: datetime, now: datetime) -> int:
    """
    Whole days until ``not_after``; negative once expired.
    """
    return (not_after - now).days


def _day(moment: datetime) -> str:
    """
    A date as people read it in reports: 2027-01-01.
    """
    return moment.date().isoformat()
