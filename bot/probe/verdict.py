"""
What a probe result means: findings (id, severity, message, advice), the verdict
(ok / warn / fail) and, for a failure, the taxonomy category (shared/corpus/TAXONOMY.md)
that links the probe to the same knowledge-base advice as a pasted error.

Pure: a ``ProbeResult`` in, a ``Verdict`` out; the clock is the result's own
``checked_at``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.probe.advice import ADVICE
from bot.probe.frozen import Frozen
from bot.probe.model import CertCheck, Mode, ProbeResult, Problem

# DESIGN.md: a certificate that expires within this many days is a warning.
EXPIRY_WARN_DAYS = 14
# OpenSSL 3 security level 2 (Debian/Ubuntu's default, Python 3.10+'s default
# context) refuses RSA keys and DH groups under 2048 bits (112-bit security); NIST SP
# 800-57 and the CA/Browser Forum set the same floor for RSA.
MIN_RSA_BITS = 2048
MIN_DH_BITS = 2048
# RFC 8996 deprecates TLS 1.0 and 1.1; OpenSSL 3 above security level 0, Python 3.10+,
# Node.js 12+ and current Windows/Outlook refuse them by default.
LEGACY_TLS = frozenset({"TLSv1", "TLSv1.1", "SSLv3"})
# OpenSSL X509_V_ERR codes for a certificate outside its validity period.
_DATE_ERRORS = frozenset({9, 10})
# OpenSSL X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT.
_SELF_SIGNED = 18
# RFC 8446 §6.2 certificate_required: the TLS 1.3 server wanted a client certificate.
_CERTIFICATE_REQUIRED = 116
# Problems that can follow a server's CertificateRequest when no client certificate
# is sent: a failed handshake (TLS 1.2), a hang-up or alert right after it (TLS 1.3),
# or a 4xx/5xx reply inside TLS (Postfix smtpd_tls_req_ccert: "421 4.7.1 ... No client
# certificate presented").
_AFTER_TLS = frozenset(
    {
        Problem.HANDSHAKE_FAILED,
        Problem.HANDSHAKE_TIMEOUT,
        Problem.CLOSED,
        Problem.CLOSED_BEFORE_GREETING,
        Problem.EHLO_FAILED,
        Problem.GREETING_REJECTED,
        Problem.STALLED,
        Problem.NO_GREETING,
    }
)
# Ports whose clients expect implicit TLS (RFC 8314 §3.3).
_IMPLICIT_TLS_PORTS = frozenset({465})
# Knowledge-base entries that explain one finding better than its category's default.
ENTRY_CLIENT_CERT = "client-certificate-required"
ENTRY_WEAK_KEY = "server-certificate-key-too-small"
ENTRY_WEAK_DH = "dh-key-too-small"
ENTRY_LEGACY_TLS = "openssl-protocol-version-unsupported"
ENTRY_EXPIRED = "openssl-clients-certificate-expired"
ENTRY_NOT_YET_VALID = "certificate-not-yet-valid-clock"
ENTRY_INCOMPLETE_CHAIN = "server-missing-intermediate-chain"
ENTRY_WEB_SERVER = "smtp-port-answers-http"
ENTRY_HANDSHAKE = "starttls-accepted-then-handshake-broken"
ENTRY_NO_SHARED_CIPHER = "openssl-alert-handshake-failure"
ENTRY_NAME_NOT_FOUND = "smtp-host-name-not-found"
ENTRY_DNS_TEMPORARY = "dns-temporary-resolution-failure"
ENTRY_SILENT = "smtp-server-stops-answering"
ENTRY_CLOSED = "smtp-server-closes-connection"
ENTRY_OTHER_PROTOCOL = "smtp-port-answers-other-protocol"
ENTRY_421 = "smtp-421-service-not-available"
ENTRY_454 = "server-454-tls-not-available"
# Problems whose finding always has the same entry (the rest: by detail, or category).
_ENTRIES: dict[Problem, str] = {
    Problem.NO_GREETING: ENTRY_SILENT,
    Problem.STALLED: ENTRY_SILENT,
    Problem.CLOSED_BEFORE_GREETING: ENTRY_CLOSED,
    Problem.CLOSED: ENTRY_CLOSED,
}


class Severity(StrEnum):
    """
    How much a finding matters: ``fail`` means a mail client would fail.
    """

    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


class Finding(Frozen):
    """
    One thing the probe found, with what to do about it.
    """

    id: str
    severity: Severity
    message: str
    advice: str
    category: str | None = None
    # The knowledge-base entry that explains this finding; None: its category's.
    entry: str | None = None


class Verdict(Frozen):
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
        *(_client_certificate(result) or _failure(result)),
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


def _fail(
    finding_id: str,
    message: str,
    category: str,
    advice: str = "",
    entry: str | None = None,
) -> Finding:
    """
    A failing finding with the standard advice for its id.
    """
    return Finding(
        finding_id,
        Severity.FAIL,
        message,
        advice or ADVICE[finding_id],
        category,
        entry,
    )


def _client_certificate(result: ProbeResult) -> list[Finding]:
    """
    A server that requires a client certificate fails every client that has none; one
    that only asks for one (and goes on without) is fine.

    Evidence, strongest first: the TLS 1.3 ``certificate_required`` alert; a reply
    that says so (Postfix: "No client certificate presented"); the server's
    CertificateRequest followed by a failure at or after the handshake.
    """
    failure = result.failure
    if failure is None:
        if result.client_cert_requested:
            message = "the server asks for a client certificate (optional: none sent)"
            return [
                Finding(
                    "client-cert-requested",
                    Severity.INFO,
                    message,
                    ADVICE["client-cert-requested"],
                )
            ]
        return []
    after_tls = failure.phase in ("handshake", "ehlo_tls", "banner", "quit")
    evidence = None
    if _CERTIFICATE_REQUIRED in result.tls_alerts:
        evidence = "it sent the TLS alert certificate_required"
    elif "client certificate" in failure.detail.lower() and after_tls:
        evidence = f"it answered {failure.detail}"
    elif result.client_cert_requested and failure.problem in _AFTER_TLS and after_tls:
        what = failure.detail
        if failure.problem in (Problem.EHLO_FAILED, Problem.GREETING_REJECTED):
            what = f"answered {what}"
        evidence = f"it sent a CertificateRequest, then {what}"
    if evidence is None:
        return []
    message = (
        f"the server requires a client certificate, which mail clients do not send: "
        f"{evidence}"
    )
    return [
        _fail(
            "client-cert-required",
            message,
            "tls-handshake-failed",
            entry=ENTRY_CLIENT_CERT,
        )
    ]


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
            entry = ENTRY_421 if code == 421 else None
            return [
                _fail(
                    "rate-limited",
                    f"{what}: {failure.detail}",
                    "rate-limited",
                    entry=entry,
                )
            ]
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
    entry = _ENTRIES.get(failure.problem)
    if failure.problem in (Problem.STARTTLS_REJECTED, Problem.EHLO_FAILED):
        message = f"server answered {failure.detail}"
        if failure.code == 454:
            entry = ENTRY_454
    elif failure.problem in (Problem.HANDSHAKE_FAILED, Problem.HANDSHAKE_TIMEOUT):
        message = f"TLS handshake failed: {failure.detail}"
        entry = _handshake_entry(failure.detail)
    elif failure.problem in (Problem.STALLED, Problem.CLOSED):
        message = f"{failure.phase}: {failure.detail}"
    elif failure.problem is Problem.NOT_SMTP:
        entry = ENTRY_WEB_SERVER if "HTTP" in failure.detail else ENTRY_OTHER_PROTOCOL
    elif failure.problem is Problem.DNS_FAILURE:
        temporary = "temporary" in message.lower() or message.startswith(
            "no DNS answer"
        )
        entry = ENTRY_DNS_TEMPORARY if temporary else ENTRY_NAME_NOT_FOUND
    return [_fail(finding_id, message, category, entry=entry)]


def _handshake_entry(detail: str) -> str:
    """
    The knowledge-base entry for a failed handshake, by OpenSSL's reason.
    """
    text = detail.lower()
    if "protocol version" in text or "unsupported protocol" in text:
        return ENTRY_LEGACY_TLS
    if "dh key too small" in text:
        return ENTRY_WEAK_DH
    if "handshake failure" in text or "no shared cipher" in text:
        return ENTRY_NO_SHARED_CIPHER
    return ENTRY_HANDSHAKE


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
    if (
        result.mode is Mode.STARTTLS
        and port in _IMPLICIT_TLS_PORTS
        and result.requested_mode is Mode.AUTO
    ):
        message = (
            f"port {port} greets in plaintext and offers STARTTLS, but clients set to "
            f"port {port} expect implicit TLS (SSL/TLS, RFC 8314) and will fail"
        )
        advice = ADVICE["port-465-starttls"]
        return [Finding("port-465-starttls", Severity.WARN, message, advice)]
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
        incomplete = check.missing_issuer is not None and check.issuer_url is not None
        findings.append(
            _fail(
                "cert-untrusted",
                _untrusted_message(check),
                "tls-cert-untrusted",
                entry=ENTRY_INCOMPLETE_CHAIN if incomplete else None,
            )
        )
    info = check.info
    now = result.checked_at
    if info is not None and now > info.not_after:
        days = (now - info.not_after).days
        message = f"certificate expired on {_day(info.not_after)} ({days} days ago)"
        findings.append(
            _fail("cert-expired", message, "tls-cert-expired", entry=ENTRY_EXPIRED)
        )
    elif info is not None and now < info.not_before:
        message = (
            f"certificate is not valid before {_day(info.not_before)} (not yet "
            f"valid: its start date is in the future, or a clock is wrong)"
        )
        findings.append(
            _fail(
                "cert-expired", message, "tls-cert-expired", entry=ENTRY_NOT_YET_VALID
            )
        )
    elif info is None and check.verify_code in _DATE_ERRORS:
        message = f"certificate {check.verify_message}"
        entry = ENTRY_NOT_YET_VALID if check.verify_code == 9 else ENTRY_EXPIRED
        findings.append(_fail("cert-expired", message, "tls-cert-expired", entry=entry))
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
        reason = wildcard_reason(check.name or "", info.sans)
        if reason:
            message += f" ({reason})"
        findings.append(_fail("cert-hostname", message, "tls-cert-hostname"))
    if (
        info is not None
        and info.key_type in ("RSA", "DSA")
        and info.key_size is not None
        and info.key_size < MIN_RSA_BITS
    ):
        message = (
            f"certificate key is {info.key_type} {info.key_size} bits: clients at "
            f"OpenSSL security level 2 (Python, Debian/Ubuntu) refuse keys under "
            f"{MIN_RSA_BITS} bits"
        )
        findings.append(
            _fail("weak-key", message, "tls-handshake-failed", entry=ENTRY_WEAK_KEY)
        )
    return findings


def _untrusted_message(check: CertCheck) -> str:
    """
    Say why the chain is not trusted, in the words people search for.
    """
    if check.verify_code == _SELF_SIGNED or (
        check.info is not None and check.info.self_signed
    ):
        return "certificate is self-signed"
    why = check.verify_message or "verify failed"
    if check.missing_issuer is not None and check.issuer_url is not None:
        return (
            f"certificate chain is incomplete: the server sent only its own "
            f"certificate, not the intermediate CA certificate ({check.missing_issuer},"
            f" published at {check.issuer_url}) that links it to a trusted root ({why})"
        )
    if check.missing_issuer is not None:
        return (
            f"certificate chain is not trusted: the server sent only its own "
            f"certificate, and its issuer ({check.missing_issuer}) is not a trusted "
            f"CA; if that issuer is an intermediate, the server must send it ({why})"
        )
    return f"certificate chain is not trusted: {why}"


def _session(result: ProbeResult) -> list[Finding]:
    """
    TLS version and plaintext AUTH.
    """
    findings = []
    tls = result.tls
    if tls is not None and tls.version in LEGACY_TLS:
        message = (
            f"server speaks at most {_VERSION_NAMES.get(tls.version, tls.version)} "
            f"({tls.version}), deprecated by RFC 8996: current clients require TLS 1.2 "
            f"or newer and fail the handshake"
        )
        findings.append(
            _fail("tls-legacy", message, "tls-handshake-failed", entry=ENTRY_LEGACY_TLS)
        )
    if tls is not None and tls.dh_bits is not None and tls.dh_bits < MIN_DH_BITS:
        message = (
            f"server's DHE key exchange ({tls.cipher}) uses a {tls.dh_bits}-bit DH "
            f"group: clients at OpenSSL security level 2 refuse DH groups under "
            f'{MIN_DH_BITS} bits ("dh key too small")'
        )
        findings.append(
            _fail("weak-dh", message, "tls-handshake-failed", entry=ENTRY_WEAK_DH)
        )
    if result.auth_before_tls:
        mechanisms = " ".join(result.auth_before_tls)
        message = f"AUTH {mechanisms} is offered before TLS"
        advice = ADVICE["auth-before-tls"]
        findings.append(Finding("auth-before-tls", Severity.WARN, message, advice))
    return findings


# How people name the protocol versions OpenSSL reports.
_VERSION_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "SSLv3": "SSL 3.0"}


def wildcard_reason(name: str, sans: tuple[str, ...]) -> str | None:
    """
    Why a wildcard name does not cover ``name`` (RFC 6125 §6.4.3), when one of the
    certificate's names is a wildcard for the same domain.
    """
    wanted = name.rstrip(".").lower()
    for san in sans:
        presented = san.rstrip(".").lower()
        if not presented.startswith("*."):
            continue
        suffix = presented[2:]
        if wanted == suffix:
            return (
                f"{san} does not cover the bare domain {suffix}: a wildcard needs "
                f"exactly one label in place of the *"
            )
        if wanted.endswith("." + suffix):
            return (
                f"{san} covers exactly one label, as in x.{suffix}, not "
                f"{wanted[: -len(suffix) - 1]}.{suffix}"
            )
    return None


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
