"""
The probe engine: resolve the target once, apply the policy, probe each port within one
deadline, and turn what the connections saw into ``ProbeResult`` records.

A probe can take up to three connections, all to the one address resolved at the start:
the probe itself; a plaintext retry when a silent port answered our TLS ClientHello with
non-TLS bytes (a slow greeter); and, when the certificate does not verify, a second
handshake that does not verify, so the certificate can still be shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import InputError, ProbeRefusedError
from bot.probe import certs, net, race
from bot.probe.model import CertCheck, Failure, Mode, Phase, ProbeResult, Problem
from bot.probe.notes import Next, Notes, Plan, auth_mechanisms
from bot.probe.policy import ProbePolicy
from bot.probe.session import run_session
from bot.probe.target import Target, parse_target
from bot.probe.tls import TlsContexts, build_contexts, elapsed_ms

# DESIGN.md: with no port, try submission (587), then SMTP (25), then SMTPS (465).
SWEEP_PORTS = (587, 25, 465)
# Servers greet within milliseconds; an implicit-TLS port (465) stays silent until our
# ClientHello. Wait this long, or this share of the deadline, before trying TLS.
QUIET_WAIT_S = 1.5
QUIET_WAIT_SHARE = 0.25
# RFC 8314 §7.3: port 465 is implicit TLS, so auto mode starts with a ClientHello there
# (and still falls back to plaintext if the port greets instead).
IMPLICIT_TLS_PORTS = frozenset({465})
# DNS gets at most this share of the deadline, so a slow resolver still leaves time to
# connect.
RESOLVE_SHARE = 0.5
log = logging.getLogger(__name__)
# The hard stop beyond the deadline, for anything that ignores its own timeout.
DEADLINE_GRACE_S = 0.5
# OpenSSL verify codes for "the issuer of a certificate in the chain is not at hand":
# X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT (2), _LOCALLY (20), UNABLE_TO_VERIFY_LEAF (21).
_ISSUER_NOT_FOUND = frozenset({2, 20, 21})
# Problems of a plaintext retry that mean "nobody greeted here either".
_SILENT = (Problem.NO_GREETING, Problem.CLOSED_BEFORE_GREETING)


async def probe(
    target: Target | str,
    *,
    port: int | None = None,
    mode: Mode = Mode.AUTO,
    timeout: float = 10.0,
    servername: str | None = None,
    policy: ProbePolicy | None = None,
    contexts: TlsContexts | None = None,
) -> ProbeResult:
    """
    Probe one port: ``port``, else the target's own.

    Raises:
        InputError: bad target, or no port given.
        ProbeRefusedError: the policy forbids the address or the port.
    """
    parsed = parse_target(target) if isinstance(target, str) else target
    chosen = port or parsed.port
    if chosen is None:
        raise InputError(f"no port for {parsed}: give host:port or a port")
    (result,) = await probe_ports(
        parsed,
        [chosen],
        mode=mode,
        timeout=timeout,
        servername=servername,
        policy=policy,
        contexts=contexts,
    )
    return result


async def probe_ports(
    target: Target | str,
    ports: Sequence[int],
    *,
    mode: Mode = Mode.AUTO,
    timeout: float = 10.0,
    servername: str | None = None,
    policy: ProbePolicy | None = None,
    contexts: TlsContexts | None = None,
    on_phase: Callable[[int, Phase], None] | None = None,
) -> list[ProbeResult]:
    """
    Resolve once, then probe the ports side by side, each within ``timeout`` seconds.

    Raises:
        InputError: bad target or timeout.
        ProbeRefusedError: the policy forbids the address or a port.
    """
    parsed = parse_target(target) if isinstance(target, str) else target
    policy = policy or ProbePolicy()
    if not 0 < timeout <= 300:
        raise InputError("--timeout must be between 0 and 300 seconds")
    for port in ports:
        policy.check_port(port)
    literal = parsed.address
    if literal is not None:
        # Refused before any packet: an address given literally needs no lookup.
        policy.check_address(literal)
    contexts = contexts or build_contexts()
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    metas = [
        _Meta(parsed, port, mode, servername, checked_at, started, timeout)
        for port in ports
    ]
    try:
        addresses = await net.resolve(parsed.host, timeout=timeout * RESOLVE_SHARE)
    except net.ResolveError as exc:
        failed = Phase("resolve", False, elapsed_ms(started), str(exc))
        failure = Failure("resolve", Problem.DNS_FAILURE, str(exc))
        return [
            _freeze(m, Notes(started, phases=[failed], failure=failure)) for m in metas
        ]
    allowed = policy.allowed(addresses)
    if not allowed:
        reason = policy.refusal(ipaddress.ip_address(addresses[0]))
        raise ProbeRefusedError(f"refused to probe {parsed.host}: {reason}")
    resolved = Phase("resolve", True, elapsed_ms(started), ", ".join(addresses))
    jobs = (
        _probe_port(
            parsed,
            port,
            allowed,
            resolved,
            mode,
            servername,
            contexts,
            started,
            timeout,
            on_phase,
        )
        for port in ports
    )
    results = await asyncio.gather(*jobs)
    return [
        _freeze(m, notes, addresses) for m, notes in zip(metas, results, strict=True)
    ]


async def _probe_port(
    target: Target,
    port: int,
    addresses: tuple[str, ...],
    resolved: Phase,
    mode: Mode,
    servername: str | None,
    contexts: TlsContexts,
    started: float,
    timeout: float,
    on_phase: Callable[[int, Phase], None] | None = None,
) -> Notes:
    """
    Run the connections one port needs and return what they saw.
    """
    notes = Notes(deadline=started + timeout, phases=[resolved])
    if on_phase is not None:
        notes.listener = functools.partial(on_phase, port)
    server_name = servername or (None if target.address else target.host)
    quiet_wait = min(QUIET_WAIT_S, timeout * QUIET_WAIT_SHARE)
    tls_first = mode is Mode.TLS or (mode is Mode.AUTO and port in IMPLICIT_TLS_PORTS)

    async def session(
        plan: Plan, into: Notes, *, verify: bool = True, wait: float | None = None
    ) -> Next:
        return await run_session(
            into,
            (notes.address,) if notes.address else addresses,
            port,
            plan=plan,
            context=contexts.verify if verify else contexts.capture,
            server_name=server_name,
            greeting_wait=wait,
        )

    sniffer = race.Sniffer(port, contexts.capture, server_name)
    try:
        async with asyncio.timeout(notes.remaining() + DEADLINE_GRACE_S):
            if tls_first:
                step = await race.tls_first(notes, session, sniffer)
            else:
                step = await race.plain_first(notes, session, sniffer, quiet_wait)
            if step is Next.RETRY_PLAIN:
                tls_failure, notes.failure = notes.failure, None
                step = await session(Plan.PLAIN, notes)
                if notes.failure is not None and notes.failure.problem in _SILENT:
                    notes.mode = Mode.TLS if tls_first else None
                    notes.failure = tls_failure if tls_first else notes.failure
            if step is Next.CAPTURE:
                capture = Notes(deadline=notes.deadline)
                plan = Plan.TLS if notes.mode is Mode.TLS else Plan.PLAIN
                await session(plan, capture, verify=False)
                _merge_capture(notes, capture)
    except TimeoutError:
        last = notes.phases[-1].name if notes.phases else "connect"
        notes.failure = notes.failure or Failure(
            last, Problem.STALLED, f"no progress before the {timeout:g} s deadline"
        )
    # Whatever a server does, a probe ends in a report: an unexpected error here is a
    # bug, logged with its traceback, and the report says where the probe stopped.
    except Exception as exc:
        log.exception("probe.unexpected_error port=%s", port)
        last = notes.phases[-1].name if notes.phases else "connect"
        notes.failure = notes.failure or Failure(
            last, Problem.CLOSED, f"the probe stopped: {type(exc).__name__}: {exc}"
        )
    return notes


def _merge_capture(notes: Notes, capture: Notes) -> None:
    """
    Take the certificate, TLS session and EHLO over TLS from the non-verifying pass.
    """
    notes.tls, notes.der = capture.tls, capture.der
    notes.extensions_after_tls = capture.extensions_after_tls
    if capture.tls is not None:
        detail = f"{capture.tls.version} {capture.tls.cipher}; certificate not verified"
        notes.phases = [
            dataclasses.replace(p, detail=detail) if p.name == "handshake" else p
            for p in notes.phases
        ]
    notes.phases.extend(p for p in capture.phases if p.name in ("ehlo_tls", "quit"))


@dataclass(frozen=True, slots=True)
class _Meta:
    """
    What was asked of one port's probe, and when.
    """

    target: Target
    port: int
    mode: Mode
    servername: str | None
    checked_at: datetime
    started: float
    timeout: float


def _freeze(meta: _Meta, notes: Notes, addresses: tuple[str, ...] = ()) -> ProbeResult:
    """
    Turn the notes of one port's probe into its record.
    """
    servername = meta.servername or (None if meta.target.address else meta.target.host)
    clock = notes.handshake
    return ProbeResult(
        host=meta.target.host,
        port=meta.port,
        address=notes.address,
        servername=servername,
        requested_mode=meta.mode,
        mode=notes.mode,
        phases=tuple(notes.phases),
        failure=notes.failure,
        checked_at=meta.checked_at,
        total_ms=elapsed_ms(meta.started),
        banner=notes.banner,
        extensions_before_tls=notes.extensions_before_tls,
        extensions_after_tls=notes.extensions_after_tls,
        auth_before_tls=auth_mechanisms(notes.extensions_before_tls),
        auth_after_tls=auth_mechanisms(notes.extensions_after_tls),
        tls=notes.tls,
        cert=_cert_check(notes, servername or notes.address),
        timeout_s=meta.timeout,
        addresses=addresses,
        client_cert_requested=bool(clock and clock.cert_requested),
        tls_alerts=tuple(clock.alerts) if clock else (),
        chain=(clock.chain or ()) if clock else (),
    )


def _cert_check(notes: Notes, name: str | None) -> CertCheck | None:
    """
    Judge the certificate: chain (from the verifying handshake), dates and name (ours).
    """
    if notes.der is None and notes.verify_error is None:
        return None
    info = None
    if notes.der is not None and notes.peercert:
        info = certs.from_peercert(notes.peercert, notes.der)
    elif notes.der is not None:
        # Only a rejected certificate needs cryptography, so a healthy probe skips its
        # import.
        from bot.probe import x509

        try:
            info = x509.parse_certificate(notes.der)
        except ValueError:
            info = None
    match = None
    if info is not None and name is not None:
        match = certs.hostname_matches(name, info.sans, info.common_name)
    code, message = notes.verify_error or (None, None)
    chain = notes.handshake.chain if notes.handshake else None
    missing = None
    if chain and code in _ISSUER_NOT_FOUND:
        # Only a rejected chain gets here, so cryptography is loaded already.
        from bot.probe import x509

        missing = x509.missing_issuer(chain)
    issuer, url = missing or (None, None)
    return CertCheck(
        info=info,
        trusted=notes.verify_error is None,
        verify_code=code,
        verify_message=message,
        name=name,
        hostname_match=match,
        chain_sent=len(chain) if chain is not None else None,
        missing_issuer=issuer,
        issuer_url=url,
    )
