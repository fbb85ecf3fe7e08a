"""
What MTA-STS and DANE make of the MX probes, and the domain's verdict. Pure.

The verdict takes a sender's view (RFC 7435 opportunistic TLS): a certificate or
STARTTLS problem on an MX stops mail only where a policy tells senders to insist on
authenticated TLS, MTA-STS ``enforce`` or DANE in effect; elsewhere senders deliver
anyway, so it is a warning. An MX that cannot be reached at all fails the domain.
"""

from __future__ import annotations

from datetime import datetime

from bot.mxcheck import dane as tlsa
from bot.mxcheck.fetch import Fetched
from bot.mxcheck.lookup import Answer, Status
from bot.mxcheck.model import (
    Dane,
    DaneHost,
    Level,
    MtaSts,
    MxCheck,
    Reason,
    Result,
    StsHost,
    TlsRpt,
)
from bot.mxcheck.mtasts import PolicyError, StsRecord, parse_policy, pattern_for
from bot.probe import certs
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
# Knowledge-base entries that explain each mechanism's failures.
KB_STS_MX = "mta-sts-mx-fails-policy"
KB_STS_POLICY = "mta-sts-policy-unusable"
KB_DANE = "dane-tlsa-mismatch"
STS_ADVICE_MX = (
    "List every MX host in the policy's mx: lines and give each a certificate from a "
    "public CA for its own name; change the policy id in the TXT record after editing "
    "the policy (RFC 8461 §3.2, §4)."
)
STS_ADVICE_POLICY = (
    "Serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt with a "
    "publicly trusted certificate for mta-sts.<domain>, status 200, no redirect, as "
    "text/plain in the RFC 8461 §3.2 format; or remove the _mta-sts TXT record."
)
DANE_ADVICE = (
    "Publish TLSA records that match the certificate the MX serves (3 1 1 <SHA-256 of "
    "its public key> is the robust choice), and publish the new record before rolling "
    "a new key (RFC 7671 §8.1, RFC 7672 §3.1)."
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


def judge_mta_sts(
    domain: str,
    answer: Answer,
    record: StsRecord | None,
    record_error: str | None,
    fetched: Fetched | None,
    checks: list[MxCheck],
) -> MtaSts:
    """
    Judge the MTA-STS record, the policy, and each MX host against it.
    """
    name = f"_mta-sts.{domain}"
    if answer.status is Status.ERROR:
        text = f"the TXT lookup of {name} failed: {answer.error}"
        return MtaSts(Result.WARN, reasons=(Reason(Level.WARN, text),))
    if record_error is not None:
        reason = Reason(
            Level.FAIL,
            f"{record_error}; senders treat {domain} as having no MTA-STS policy",
            STS_ADVICE_POLICY,
            KB_STS_POLICY,
        )
        return MtaSts(Result.FAIL, record=_first(answer.texts), reasons=(reason,))
    if record is None:
        text = (
            f"{name} has no MTA-STS record, so senders do not insist on TLS for "
            f"mail to {domain}"
        )
        return MtaSts(Result.NONE, reasons=(Reason(Level.INFO, text),))
    assert fetched is not None, "a policy is fetched whenever there is a record"
    problem = _fetch_problem(fetched)
    policy = None
    if problem is None:
        try:
            policy = parse_policy(fetched.body or b"", fetched.url)
        except PolicyError as exc:
            problem = str(exc)
    if policy is None:
        reason = Reason(
            Level.FAIL,
            f"{name} announces a policy that senders cannot use: {problem}",
            STS_ADVICE_POLICY,
            KB_STS_POLICY,
        )
        return MtaSts(
            Result.FAIL,
            record=record.text,
            policy_id=record.id,
            policy_url=fetched.url,
            reasons=(reason,),
        )
    reasons = [
        Reason(Level.WARN, w, STS_ADVICE_POLICY, KB_STS_POLICY) for w in policy.warnings
    ]
    media = (fetched.content_type or "").split(";", 1)[0].strip().lower()
    if media != "text/plain":
        reasons.append(
            Reason(
                Level.WARN,
                f"{fetched.url} is served as {media or 'no media type'}; senders that "
                "check it (RFC 8461 §3.3) want text/plain and ignore the policy",
                STS_ADVICE_POLICY,
                KB_STS_POLICY,
            )
        )
    hosts: list[StsHost] = []
    level = Level.FAIL if policy.mode == "enforce" else Level.WARN
    for check in checks:
        host, host_reasons = _sts_host(check, policy.mx, policy.mode, level)
        hosts.append(host)
        if policy.mode != "none":
            reasons.extend(host_reasons)
    if policy.mode == "none":
        reasons.append(
            Reason(
                Level.INFO,
                f"the policy at {fetched.url} has mode none: senders do not apply it",
            )
        )
    result = _result(reasons, Result.NONE if policy.mode == "none" else Result.PASS)
    return MtaSts(
        result,
        record=record.text,
        policy_id=record.id,
        policy_url=fetched.url,
        mode=policy.mode,
        mx_patterns=policy.mx,
        max_age=policy.max_age,
        hosts=tuple(hosts),
        reasons=tuple(reasons),
    )


def _fetch_problem(fetched: Fetched) -> str | None:
    """
    Why the fetched answer is no policy (RFC 8461 §3.3), or None for a 200.
    """
    if fetched.error is not None:
        return fetched.error
    status = f"{fetched.status} {fetched.reason or ''}".strip()
    if fetched.status is not None and 300 <= fetched.status < 400:
        target = f" to {fetched.location}" if fetched.location else ""
        return (
            f"{fetched.url} answered {status} (a redirect{target}); senders never "
            "follow redirects (RFC 8461 §3.3)"
        )
    if fetched.status != 200:
        return f"{fetched.url} answered {status}; senders accept only 200 OK"
    return None


def _sts_host(
    check: MxCheck, patterns: tuple[str, ...], mode: str, level: Level
) -> tuple[StsHost, list[Reason]]:
    """
    One MX host under the policy: covered by a pattern, and TLS with a certificate
    valid for its own name (RFC 8461 §4.1, §4.2).
    """
    host = check.mx.host
    pattern = pattern_for(host, patterns)
    consequence = (
        "senders that enforce MTA-STS will not deliver to it"
        if mode == "enforce"
        else "under mode testing senders deliver anyway and report it"
    )
    reasons: list[Reason] = []
    if pattern is None:
        shown = ", ".join(patterns) or "none"
        reasons.append(
            Reason(
                level,
                f"{host} is not covered by the policy's mx patterns ({shown}); "
                + consequence,
                STS_ADVICE_MX,
                KB_STS_MX,
            )
        )
    result = check.probe
    if result is None or not reachable(check):
        why = failing_message(check) or "it was not probed"
        reasons.append(Reason(Level.INFO, f"{host} could not be checked: {why}"))
        return StsHost(host, pattern, None), reasons
    problem = None
    if result.tls is None:
        problem = failing_message(check) or "no TLS session"
    elif result.cert is not None and not result.cert.trusted:
        problem = (
            f"its certificate is not trusted "
            f"({result.cert.verify_message or 'verification failed'})"
        )
    elif result.cert is None or result.cert.info is None:
        problem = "no certificate was seen"
    elif not certs.hostname_matches(host, result.cert.info.sans, None):
        # RFC 8461 §4.2: a DNS-ID subjectAltName must match; the CN does not count.
        names = ", ".join(result.cert.info.sans) or "none"
        problem = f"its certificate has no subjectAltName for {host} (it has {names})"
    if problem is not None:
        reasons.append(
            Reason(level, f"{host}: {problem}; {consequence}", STS_ADVICE_MX, KB_STS_MX)
        )
    return StsHost(host, pattern, problem is None), reasons


def judge_dane(
    domain: str,
    mx_answer: Answer,
    checks: list[MxCheck],
    answers: list[Answer],
    now: datetime,
) -> Dane:
    """
    Judge each MX host's TLSA records and certificate (RFC 7672).
    """
    dnssec = mx_answer.authenticated
    hosts = [
        _dane_host(check, answer, dnssec, now)
        for check, answer in zip(checks, answers, strict=True)
    ]
    reasons = [r for h in hosts for r in h.reasons]
    if not any(h.records for h in hosts) and not any(
        h.result is Result.FAIL for h in hosts
    ):
        signed = (
            "its MX records are DNSSEC-validated"
            if dnssec
            else "its MX records are not DNSSEC-validated either"
        )
        reasons.append(
            Reason(
                Level.INFO,
                f"no MX host of {domain} has TLSA records, so DANE does not apply "
                f"({signed})",
            )
        )
    results = [h.result for h in hosts]
    result = (
        Result.FAIL
        if Result.FAIL in results
        else Result.PASS
        if Result.PASS in results
        else Result.NONE
    )
    return Dane(result, dnssec, tuple(hosts), tuple(reasons))


def _dane_host(check: MxCheck, answer: Answer, dnssec: bool, now: datetime) -> DaneHost:
    """
    One MX host: TLSA lookup, whether DANE is in effect, and the match.
    """
    host, name = check.mx.host, answer.name
    records = [tlsa.Tlsa.from_rdata(r) for r in answer.records]
    reasons: list[Reason] = []

    def made(result: Result, in_effect: bool, matched: str | None = None) -> DaneHost:
        return DaneHost(
            host,
            name,
            result,
            answer.authenticated,
            in_effect,
            tuple(str(r) for r in records),
            matched,
            tuple(reasons),
        )

    if answer.status is Status.ERROR:
        if not dnssec:
            return made(Result.NONE, False)
        text = (
            f"the TLSA lookup of {name} failed ({answer.error}); with signed MX "
            "records DANE senders defer mail until it answers (RFC 7672 §2.2)"
        )
        reasons.append(Reason(Level.FAIL, text, DANE_ADVICE, KB_DANE))
        return made(Result.FAIL, True)
    if not records:
        return made(Result.NONE, False)
    if not dnssec or not answer.authenticated:
        why = (
            "the domain's MX records are not DNSSEC-validated"
            if not dnssec
            else "the resolver's answer is not DNSSEC-validated (no AD bit)"
        )
        reasons.append(
            Reason(
                Level.INFO,
                f"{name} has TLSA records, but {why}, so DANE senders ignore them",
            )
        )
        return made(Result.NONE, False)
    reasons.extend(
        Reason(Level.INFO, f"{name}: {skipped}")
        for r in records
        if (skipped := r.unusable()) is not None
    )
    usable = [r for r in records if r.unusable() is None]
    result = check.probe
    defer = "DANE senders will defer mail"
    if result is None or not reachable(check):
        unchecked = failing_message(check) or "it was not probed"
        reasons.append(Reason(Level.INFO, f"{host} could not be checked: {unchecked}"))
        return made(Result.NONE, True)
    if result.tls is None:
        text = f"{host}: {failing_message(check) or 'no TLS'}; {defer} (RFC 7672 §2.2)"
        reasons.append(Reason(Level.FAIL, text, DANE_ADVICE, KB_DANE))
        return made(Result.FAIL, True)
    if not usable:
        text = (
            f"none of the TLSA records at {name} is usable, so DANE senders insist "
            "on STARTTLS but do not authenticate the certificate (RFC 7672 §2.2)"
        )
        reasons.append(Reason(Level.INFO, text))
        return made(Result.PASS, True)
    match = tlsa.authenticate(usable, result.chain, host, now)
    if match.record is None:
        text = (
            f"the certificate of {host} matches none of the {len(usable)} usable TLSA "
            f"records at {name} ({'; '.join(match.problems)}): {defer}"
        )
        reasons.append(Reason(Level.FAIL, text, DANE_ADVICE, KB_DANE))
        return made(Result.FAIL, True)
    text = f"the certificate of {host} matches TLSA {match.record} at {name}"
    if result.cert is None or not result.cert.trusted:
        text += "; DANE senders accept it even though no public CA vouches for it"
    reasons.append(Reason(Level.INFO, text))
    return made(Result.PASS, True, str(match.record))


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


def _result(reasons: list[Reason], default: Result) -> Result:
    """
    Fail or warn when a reason says so; else ``default``.
    """
    levels = {r.level for r in reasons}
    if Level.FAIL in levels:
        return Result.FAIL
    return Result.WARN if Level.WARN in levels else default


def _first(texts: list[str]) -> str | None:
    """
    The first TXT text, if any.
    """
    return texts[0] if texts else None
