"""
DANE (RFC 7672) over the probes: each MX host's TLSA records, whether DNSSEC puts them
in effect, and whether the certificate chain the host sent matches them. Pure.
"""

from __future__ import annotations

from datetime import datetime

from bot.mxcheck import dane as tlsa
from bot.mxcheck.judge import failing_message, reachable
from bot.mxcheck.lookup import Answer, Status, TlsaLookup
from bot.mxcheck.model import Dane, DaneHost, Level, MxCheck, Reason, Result

# The knowledge-base entry that explains DANE failures.
KB_DANE = "dane-tlsa-mismatch"
DANE_ADVICE = (
    "Publish TLSA records that match the certificate the MX serves (3 1 1 <SHA-256 of "
    "its public key> is the robust choice), and publish the new record before rolling "
    "a new key (RFC 7671 §8.1, RFC 7672 §3.1)."
)


def judge_dane(
    domain: str,
    mx_answer: Answer,
    checks: list[MxCheck],
    lookups: list[TlsaLookup],
    now: datetime,
) -> Dane:
    """
    Judge each MX host's TLSA records and certificate (RFC 7672).
    """
    dnssec = mx_answer.authenticated
    hosts = [
        _dane_host(check, lookup, dnssec, now)
        for check, lookup in zip(checks, lookups, strict=True)
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


def _dane_host(
    check: MxCheck, lookup: TlsaLookup, dnssec: bool, now: datetime
) -> DaneHost:
    """
    One MX host: TLSA lookup, whether DANE is in effect, and the match.
    """
    answer = lookup.tlsa
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

    if not lookup.addresses_validated:
        # RFC 7672 §2.2.2: a sender that cannot validate the host's address records
        # does not use DANE for it (Postfix does not even look up its TLSA records).
        if records and answer.authenticated:
            reasons.append(
                Reason(
                    Level.INFO,
                    f"{name} has DNSSEC-validated TLSA records, but the address "
                    f"records of {host} are not DNSSEC-validated (no AD bit, e.g. a "
                    "CNAME into an unsigned zone), so DANE senders such as Postfix "
                    "do not use them (RFC 7672 §2.2.2)",
                )
            )
        elif records:
            reasons.append(
                Reason(
                    Level.INFO,
                    f"{name} has TLSA records, but the resolver's answer is not "
                    "DNSSEC-validated (no AD bit), so DANE senders ignore them",
                )
            )
        return made(Result.NONE, False)
    if lookup.expanded is not None:
        reasons.append(
            Reason(
                Level.INFO,
                f"{host} is an alias of {lookup.expanded} (a validated CNAME): TLSA "
                f"records are looked up at _25._tcp.{lookup.expanded} first, then at "
                f"_25._tcp.{host}, and the certificate may carry either name "
                "(RFC 7672 §2.2.2, §3.2.2)",
            )
        )
    if answer.status is Status.ERROR:
        if not dnssec:
            # Senders look up TLSA records under unsigned MX records only by choice.
            return made(Result.NONE, False)
        text = (
            f"the TLSA lookup of {name} failed ({answer.error}); with signed MX "
            "records DANE senders defer mail until it answers (RFC 7672 §2.2)"
        )
        reasons.append(Reason(Level.FAIL, text, DANE_ADVICE, KB_DANE))
        return made(Result.FAIL, True)
    if not records:
        return made(Result.NONE, False)
    if not answer.authenticated:
        reasons.append(
            Reason(
                Level.INFO,
                f"{name} has TLSA records, but the resolver's answer is not "
                "DNSSEC-validated (no AD bit), so DANE senders ignore them",
            )
        )
        return made(Result.NONE, False)
    if not dnssec:
        # RFC 7672 §2.2.1: senders MAY use a signed MX host's TLSA records even when
        # the domain's MX records are unsigned (a signed hosting provider); Postfix
        # 3.6 and later do at security level dane (smtp_tls_dane_insecure_mx_policy).
        reasons.append(
            Reason(
                Level.INFO,
                f"{name} is DNSSEC-validated but the domain's MX records are not: "
                "senders that use DANE through unsigned MX records (RFC 7672 §2.2.1; "
                "Postfix 3.6 and later by default) apply it, senders that insist on "
                "signed MX records do not",
            )
        )
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
    match = tlsa.authenticate(usable, result.chain, host, now, expanded=lookup.expanded)
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
