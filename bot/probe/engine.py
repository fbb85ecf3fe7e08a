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
import functools
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.aio import all_of
from bot.errors import InputError, ProbeRefusedError
from bot.probe import net, race
from bot.probe.frozen import replace
from bot.probe.model import Failure, Mode, Phase, ProbeResult, Problem
from bot.probe.notes import Next, Notes, Plan
from bot.probe.policy import ProbePolicy
from bot.probe.record import Asked, Handover, freeze
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
    started: float | None = None,
    handover: Handover | None = None,
) -> list[ProbeResult]:
    """
    Resolve once, then probe the ports side by side, each within ``timeout`` seconds.

    ``started`` (``perf_counter``) dates the deadline from an earlier moment, and
    ``handover`` continues a connection the quick path opened (``bot.probe.quick``).

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
    started = time.perf_counter() if started is None else started
    checked_at = datetime.now(UTC)
    metas = [
        Asked(parsed, port, mode, servername, checked_at, started, timeout)
        for port in ports
    ]
    resolving = time.perf_counter()
    try:
        addresses = (
            (handover.address,)
            if handover is not None
            else await net.resolve(parsed.host, timeout=timeout * RESOLVE_SHARE)
        )
    except net.ResolveError as exc:
        failed = Phase("resolve", False, elapsed_ms(resolving), str(exc))
        failure = Failure("resolve", Problem.DNS_FAILURE, str(exc))
        return [
            freeze(m, Notes(started, phases=[failed], failure=failure)) for m in metas
        ]
    allowed = policy.allowed(addresses)
    if not allowed:
        reason = policy.refusal(ipaddress.ip_address(addresses[0]))
        raise ProbeRefusedError(f"refused to probe {parsed.host}: {reason}")
    resolved = Phase("resolve", True, elapsed_ms(resolving), ", ".join(addresses))
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
            handover if handover is not None and handover.port == port else None,
        )
        for port in ports
    )
    results = await all_of(*jobs)
    return [
        freeze(m, notes, addresses) for m, notes in zip(metas, results, strict=True)
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
    handover: Handover | None = None,
) -> Notes:
    """
    Run the connections one port needs and return what they saw.
    """
    notes = Notes(deadline=started + timeout, phases=[resolved])
    if handover is not None:
        notes.phases = list(handover.phases)
    spare = [handover] if handover is not None else []
    if on_phase is not None:
        notes.listener = functools.partial(on_phase, port)
    server_name = servername or (None if target.address else target.host)
    quiet_wait = min(QUIET_WAIT_S, timeout * QUIET_WAIT_SHARE)
    tls_first = mode is Mode.TLS or (mode is Mode.AUTO and port in IMPLICIT_TLS_PORTS)

    async def session(
        plan: Plan, into: Notes, *, verify: bool = True, wait: float | None = None
    ) -> Next:
        connected = None
        if spare and plan is Plan.PLAIN:
            given = spare.pop()
            connected = (given.sock, given.connected_at)
        return await run_session(
            into,
            (notes.address,) if notes.address else addresses,
            port,
            plan=plan,
            context=contexts.verify if verify else contexts.capture,
            server_name=server_name,
            greeting_wait=wait,
            connected=connected,
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
    for unused in spare:
        unused.sock.close()
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
            replace(p, detail=detail) if p.name == "handshake" else p
            for p in notes.phases
        ]
    notes.phases.extend(p for p in capture.phases if p.name in ("ehlo_tls", "quit"))
