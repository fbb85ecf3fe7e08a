"""
``check DOMAIN --mx``: look up the domain's MX hosts and policies, probe each MX on
port 25, fetch the MTA-STS policy, and judge it all as senders would.

Order of work: DNS first (MX, ``_mta-sts`` and ``_smtp._tls`` TXT side by side); then
every name that will be contacted (the MX hosts, ``mta-sts.<domain>``) is resolved and
run through the probe policy, and a refusal stops the check before any packet goes to
any of them; then the probes, the TLSA lookups and the policy fetch run side by side.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from bot.aio import all_of
from bot.errors import BotError, InputError, ProbeRefusedError
from bot.mxcheck.danejudge import judge_dane
from bot.mxcheck.fetch import Fetched, fetch_policy, https_context
from bot.mxcheck.judge import judge_domain
from bot.mxcheck.lookup import Answer, Status, SystemResolver, lookup_tlsa
from bot.mxcheck.model import DomainReport, Level, MxCheck, MxHost, Reason
from bot.mxcheck.mtasts import PolicyError, StsRecord, select_record
from bot.mxcheck.stsjudge import judge_mta_sts
from bot.mxcheck.tlsrpt import judge_tlsrpt
from bot.probe import net
from bot.probe.engine import probe_ports
from bot.probe.model import Mode
from bot.probe.policy import ProbePolicy, special_name_addresses
from bot.probe.target import normalize_hostname
from bot.probe.tls import TlsContexts, elapsed_ms
from bot.probe.verdict import assess

# RFC 5321 §5.1: mail exchangers receive mail on the SMTP port; RFC 7672 §2.2 looks up
# TLSA records for it.
MX_PORT = 25
# At most this many MX hosts are probed (in preference order); the rest are listed.
MAX_MX = 10
# Each DNS query gets at most this long, whatever the probe timeout.
DNS_CAP_S = 5.0

Progress = Callable[[str], Awaitable[None]]


class CheckBrokenError(BotError):
    """
    The check could not finish: something failed that no rule anticipated (a bug,
    an answer no parser expected, the host out of file descriptors). ``step`` names
    where; the report is then one line (or one JSON object), never a traceback.
    """

    exit_code = 1

    def __init__(self, domain: str, step: str, cause: BaseException) -> None:
        self.domain = domain
        self.step = step
        self.cause = f"{type(cause).__name__}: {cause}".rstrip(": ")
        super().__init__(
            f"the check of {domain} could not finish: {step} failed ({self.cause})"
        )


@contextlib.contextmanager
def _step(domain: str, step: str) -> Iterator[None]:
    """
    Turn an unexpected failure inside ``step`` into CheckBrokenError (the bot's own
    errors, which say what to do, pass through).
    """
    try:
        yield
    except BotError:
        raise
    except Exception as exc:
        raise CheckBrokenError(domain, step, exc) from exc


async def check_domain(
    domain: str,
    *,
    policy: ProbePolicy,
    contexts: TlsContexts,
    timeout: float = 10.0,
    port: int = MX_PORT,
    mode: Mode = Mode.AUTO,
    https: ssl.SSLContext | None = None,
    progress: Progress | None = None,
) -> DomainReport:
    """
    Check a mail domain's MX hosts, MTA-STS, DANE and TLS-RPT.

    Raises:
        InputError: not a domain, no such domain, a null MX, or DNS does not answer.
        ProbeRefusedError: an MX host or the policy host is not allowed by the policy.
        CheckBrokenError: something failed that nothing anticipated (named).
    """
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    domain = normalize_hostname(domain)
    if special_name_addresses(domain) is not None:
        raise InputError(f"{domain} is a special-use name with no MX hosts (RFC 6761)")
    if not 0 < timeout <= 300:
        raise InputError("--timeout must be between 0 and 300 seconds")
    policy.check_port(port)
    with _step(domain, "looking up the MX, MTA-STS and TLS-RPT records"):
        resolver = SystemResolver(timeout=min(timeout, DNS_CAP_S))
        mx_answer, sts_answer, rpt_answer = await all_of(
            resolver.query(domain, "MX"),
            resolver.query(f"_mta-sts.{domain}", "TXT"),
            resolver.query(f"_smtp._tls.{domain}", "TXT"),
        )
        hosts, mx_problems = mx_hosts(domain, mx_answer)
        probed = hosts[:MAX_MX]
        record, record_error = _sts_record(sts_answer, domain)
    if progress is not None:
        await progress("MX hosts: " + ", ".join(h.host for h in hosts))
    policy_host = f"mta-sts.{domain}" if record is not None else None
    names = [h.host for h in probed] + ([policy_host] if policy_host else [])
    with _step(domain, "resolving the MX hosts and the policy host"):
        addresses = await _preflight(names, policy, timeout=min(timeout, DNS_CAP_S))

    async def probe_one(mx: MxHost) -> MxCheck:
        try:
            (result,) = await probe_ports(
                mx.host,
                [port],
                mode=mode,
                timeout=timeout,
                policy=policy,
                contexts=contexts,
            )
        except InputError:
            # Not a name the probe accepts (DNS allows more than host names do).
            return MxCheck(mx)
        check = MxCheck(mx, result, assess(result))
        if progress is not None:
            await progress(
                f"{mx.host}: {check.verdict.verdict if check.verdict else '?'}"
            )
        return check

    async def fetch() -> Fetched | None:
        if policy_host is None:
            return None
        found = addresses[policy_host]
        if isinstance(found, str):
            return Fetched(
                f"https://{policy_host}/.well-known/mta-sts.txt", error=found
            )
        return await fetch_policy(
            policy_host, found, context=https or https_context(), timeout=timeout
        )

    with _step(domain, "probing the MX hosts, the TLSA lookups and the policy fetch"):
        probes, tlsa, fetched = await all_of(
            all_of(*(probe_one(h) for h in probed)),
            all_of(*(lookup_tlsa(resolver, h.host, MX_PORT) for h in probed)),
            fetch(),
        )
    checks = list(probes) + [MxCheck(h) for h in hosts[MAX_MX:]]
    with _step(domain, "judging the results"):
        mta_sts = judge_mta_sts(
            domain, sts_answer, record, record_error, fetched, checks
        )
        dane = judge_dane(domain, mx_answer, list(probes), list(tlsa), checked_at)
        tls_rpt = judge_tlsrpt(
            domain,
            rpt_answer.texts,
            error=rpt_answer.error if rpt_answer.status is Status.ERROR else None,
        )
        verdict, reasons = judge_domain(checks, mta_sts, dane, tls_rpt)
        if mx_problems:
            verdict, reasons = "fail", (*mx_problems, *reasons)
    return DomainReport(
        domain=domain,
        verdict=verdict,
        mx=tuple(checks),
        mta_sts=mta_sts,
        dane=dane,
        tls_rpt=tls_rpt,
        checked_at=checked_at,
        total_ms=elapsed_ms(started),
        reasons=reasons,
    )


def mx_hosts(domain: str, answer: Answer) -> tuple[list[MxHost], tuple[Reason, ...]]:
    """
    The MX hosts in preference order (the domain itself when it has none), and what
    is wrong with the MX records themselves (a null MX beside others).

    Raises:
        InputError: the domain does not exist, has a null MX, or DNS failed.
    """
    if answer.status is Status.NXDOMAIN:
        raise InputError(f"{domain} does not exist in DNS (NXDOMAIN)")
    if answer.status is Status.ERROR:
        hint = (
            " (a DNSSEC validation failure looks the same)"
            if "SERVFAIL" in (answer.error or "")
            else ""
        )
        raise InputError(f"MX lookup for {domain} failed: {answer.error}{hint}")
    records = [
        (int(r.preference), r.exchange.to_text(omit_final_dot=True))
        for r in answer.records
    ]
    return order_mx(records, domain)


def order_mx(
    records: list[tuple[int, str]], domain: str
) -> tuple[list[MxHost], tuple[Reason, ...]]:
    """
    Sort MX records by preference, then name; drop duplicates.

    RFC 5321 §5.1: with no MX records the domain itself is the implicit MX. RFC 7505:
    a null MX (exchange ".") alone says the domain accepts no mail; next to other MX
    records it is a misconfiguration (§3: "A domain that advertises a null MX MUST
    NOT advertise any other MX RR"). The RFC says nothing of what senders do then,
    and they differ, so the other hosts are checked and the domain fails, naming the
    records.

    Raises:
        InputError: the domain has only a null MX (RFC 7505): it accepts no mail.
    """
    cleaned = sorted({(pref, host.rstrip(".").lower()) for pref, host in records})
    if not cleaned:
        return [MxHost(0, domain, implicit=True)], ()
    null = [(pref, host) for pref, host in cleaned if host == ""]
    real = [(pref, host) for pref, host in cleaned if host != ""]
    if not real:
        raise InputError(f"{domain} publishes a null MX (RFC 7505): it accepts no mail")
    if not null:
        return [MxHost(pref, host) for pref, host in real], ()
    shown = ", ".join(f"{pref} {host or '.'}" for pref, host in cleaned)
    problem = Reason(
        Level.FAIL,
        f"{domain} publishes a null MX next to other MX records ({shown}); RFC 7505 "
        "§3 says a domain with a null MX MUST NOT publish any other, so senders may "
        "bounce its mail as undeliverable or try the other hosts",
        "Remove the null MX (0 .) if the domain receives mail, or every other MX "
        "record if it does not.",
    )
    return [MxHost(pref, host) for pref, host in real], (problem,)


def _sts_record(answer: Answer, domain: str) -> tuple[StsRecord | None, str | None]:
    """
    The domain's MTA-STS record, or why it cannot be used.
    """
    if answer.status is not Status.OK:
        return None, None
    try:
        return select_record(answer.texts, domain), None
    except PolicyError as exc:
        return None, str(exc)


async def _preflight(
    names: list[str], policy: ProbePolicy, *, timeout: float
) -> dict[str, tuple[str, ...] | str]:
    """
    Resolve every name the check will contact and apply the policy to each.

    Returns the allowed addresses per name, or why the name does not resolve.

    Raises:
        ProbeRefusedError: a name resolves only to addresses the policy refuses.
    """

    async def one(name: str) -> tuple[str, tuple[str, ...] | str]:
        try:
            resolved = await net.resolve(name, timeout=timeout)
        except net.ResolveError as exc:
            return name, str(exc)
        allowed = policy.allowed(resolved)
        if not allowed:
            import ipaddress

            reason = policy.refusal(ipaddress.ip_address(resolved[0]))
            raise ProbeRefusedError(f"refused to contact {name}: {reason}")
        return name, allowed

    return dict(await all_of(*(one(n) for n in dict.fromkeys(names))))
