"""
MTA-STS (RFC 8461) over the probes: the record, the fetched policy, and each MX host
against the policy's patterns and with a certificate valid for its name. Pure.
"""

from __future__ import annotations

from bot.mxcheck.fetch import Fetched
from bot.mxcheck.judge import failing_message, reachable
from bot.mxcheck.lookup import Answer, Status
from bot.mxcheck.model import Level, MtaSts, MxCheck, Reason, Result, StsHost
from bot.mxcheck.mtasts import (
    RECORD_START,
    PolicyError,
    StsRecord,
    lookalikes,
    parse_policy,
    pattern_for,
)
from bot.probe import certs

# Knowledge-base entries that explain MTA-STS failures.
KB_STS_MX = "mta-sts-mx-fails-policy"
KB_STS_POLICY = "mta-sts-policy-unusable"
STS_ADVICE_MX = (
    "List every MX host in the policy's mx: lines and give each a certificate from a "
    "public CA for its own name; change the policy id in the TXT record after editing "
    "the policy (RFC 8461 §3.2, §4)."
)
STS_ADVICE_RECORD = (
    "To use MTA-STS, publish one TXT record at _mta-sts.<domain> that begins exactly "
    "with v=STSv1; followed by id=<1 to 32 letters and digits>, e.g. "
    '"v=STSv1; id=20240501" (RFC 8461 §3.1).'
)
STS_ADVICE_POLICY = (
    "Serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt with a "
    "publicly trusted certificate for mta-sts.<domain>, status 200, no redirect, as "
    "text/plain in the RFC 8461 §3.2 format; or remove the _mta-sts TXT record."
)


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
        reasons = [Reason(Level.INFO, text)]
        reasons.extend(
            Reason(
                Level.INFO,
                f"{name} TXT {found!r} is not an MTA-STS record: senders discard TXT "
                f"records that do not begin with {RECORD_START!r} (RFC 8461 §3.1)",
                STS_ADVICE_RECORD,
                KB_STS_POLICY,
            )
            for found in lookalikes(answer.texts)
        )
        return MtaSts(Result.NONE, reasons=tuple(reasons))
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
