"""
The domain's verdict from a sender's view (RFC 7435 opportunistic TLS), and what the
policy judges share about MX probes. Pure.

A certificate or STARTTLS problem on an MX stops mail only where a policy tells senders
to insist on authenticated TLS: MTA-STS ``enforce`` or DANE in effect; elsewhere senders
deliver anyway, so it is a warning. An MX that cannot be reached at all fails the
domain.
"""

from __future__ import annotations

from bot.mxcheck.model import Dane, Level, MtaSts, MxCheck, Reason, Result, TlsRpt
from bot.probe.verdict import Severity

# Probe failure categories of transport security: opportunistic senders deliver anyway
# (unencrypted, or without checking the certificate). Any other failure means the MX
# does not take mail at all.
TLS_CATEGORIES = frozenset(
    {
        "starttls-unavailable",
        "tls-handshake-failed",
        "tls-cert-untrusted",
        "tls-cert-hostname",
        "tls-cert-expired",
    }
)


def failing_message(check: MxCheck) -> str | None:
    """
    The message of the MX probe's first failing finding, or None.
    """
    if check.verdict is None:
        return None
    failing = [f for f in check.verdict.findings if f.severity is Severity.FAIL]
    return failing[0].message if failing else None


def reachable(check: MxCheck) -> bool:
    """
    True when the probe got as far as the MX's STARTTLS offer (or beyond).
    """
    verdict = check.verdict
    if verdict is None:
        return False
    return verdict.verdict != "fail" or verdict.category in TLS_CATEGORIES


def judge_domain(
    checks: list[MxCheck], mta_sts: MtaSts, dane: Dane, tls_rpt: TlsRpt
) -> tuple[str, tuple[Reason, ...]]:
    """
    The domain's verdict (ok, warn, fail) and the reasons about its MX hosts.
    """
    reasons: list[Reason] = []
    dane_by_host = {h.host: h for h in dane.hosts}
    for check in checks:
        host = check.mx.host
        verdict = check.verdict
        if check.probe is None or verdict is None:
            reasons.append(Reason(Level.INFO, f"{host} was not probed"))
            continue
        message = failing_message(check)
        if verdict.verdict == "warn":
            warned = "; ".join(
                f.message for f in verdict.findings if f.severity is Severity.WARN
            )
            reasons.append(Reason(Level.WARN, f"{host}: {warned}"))
        if verdict.verdict != "fail":
            continue
        if verdict.category not in TLS_CATEGORIES:
            reasons.append(
                Reason(Level.FAIL, f"{host}: {message}; senders cannot hand mail to it")
            )
            continue
        dane_host = dane_by_host.get(host)
        enforced = []
        if mta_sts.mode == "enforce":
            enforced.append("MTA-STS enforce")
        if (
            dane_host is not None
            and dane_host.in_effect
            and dane_host.result is Result.FAIL
        ):
            enforced.append("DANE")
        if enforced:
            text = (
                f"{host}: {message}; senders that apply {' and '.join(enforced)} "
                "will not deliver to it"
            )
            reasons.append(Reason(Level.FAIL, text))
        elif dane_host is not None and dane_host.result is Result.PASS:
            text = (
                f"{host}: {message}; DANE senders authenticate it by its TLSA "
                "records, and other senders deliver anyway"
            )
            reasons.append(Reason(Level.WARN, text))
        else:
            how = (
                "unencrypted"
                if check.probe.tls is None
                else "without checking the certificate"
            )
            text = (
                f"{host}: {message}; no MTA-STS enforce or DANE applies, so senders "
                f"deliver anyway ({how})"
            )
            reasons.append(Reason(Level.WARN, text))
    levels = [r.level for r in reasons]
    sections = [mta_sts.result, dane.result, tls_rpt.result]
    if Level.FAIL in levels or Result.FAIL in sections:
        return "fail", tuple(reasons)
    if Level.WARN in levels or Result.WARN in sections:
        return "warn", tuple(reasons)
    return "ok", tuple(reasons)
