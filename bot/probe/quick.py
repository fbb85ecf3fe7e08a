"""
The quick path of ``smtpbot check HOST:PORT``: one STARTTLS session on a blocking
socket, without asyncio, aiosmtplib or click, so a healthy server is checked at about
the cost of a standard-library script.

It covers the common case only: a literal address (or ``localhost``), one port, auto or
STARTTLS mode, a server that greets, offers STARTTLS and completes a verified handshake.
Anything else is handed to the engine (``bot.probe.engine``) within the same deadline:
a server that has not spoken yet hands over its open connection, untouched, so a slow
greeting is waited for once; any other surprise restarts the probe there. The engine and
this path record the same phases and build the same ``ProbeResult``.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from bot.errors import BotError
from bot.probe.frozen import Frozen, replace
from bot.probe.model import Mode, Phase, Problem
from bot.probe.notes import (
    MAX_EXTENSION_CHARS,
    MAX_EXTENSIONS,
    QUIT_CAP_S,
    Notes,
    clip,
    keyword,
    note_tls,
)
from bot.probe.policy import ProbePolicy, special_name_addresses
from bot.probe.record import Asked, Handover, freeze
from bot.probe.recording import RecordingSocket
from bot.probe.target import Target, parse_target
from bot.probe.tls import CLOCK, HandshakeClock, TlsContexts, build_contexts, elapsed_ms

# How long this path waits for the first byte before handing the connection to the
# engine, which keeps waiting (its quiet wait counts from the connect) while it loads:
# loading asyncio and aiosmtplib then overlaps the wait instead of following it.
PATIENCE_S = 0.25
# The engine's share of the deadline for its quiet wait (engine.QUIET_WAIT_SHARE).
QUIET_WAIT_SHARE = 0.25
# aiosmtplib's bounds on one reply line and one reply, kept the same here.
MAX_LINE = 8192
MAX_REPLY = 4 * MAX_LINE
# Ports whose auto mode starts with TLS (RFC 8314 §7.3): the engine's business.
_TLS_FIRST_PORTS = frozenset({465})
# The options of ``smtpbot check`` this path understands; anything else goes to click.
_VALUED = frozenset({"--port", "--mode", "--timeout", "--servername", "--cafile"})
_FLAGS = frozenset({"--allow-private", "--json"})


class _Surprise(Exception):
    """
    The server did something the quick path leaves to the engine; carries the
    untouched connection when the server has not spoken yet.
    """

    def __init__(self, handover: Handover | None = None) -> None:
        super().__init__("handed to the engine")
        self.handover = handover


class _Silent(Exception):
    """
    The server stopped answering in the middle of a reply (a socket timeout or the
    deadline).
    """


class _Stall(Exception):
    """
    A step the server never answered: the report says so, as the engine's would,
    instead of starting the probe again with no time left.
    """

    def __init__(self, phase: str, start: float, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.phase, self.start, self.problem, self.detail = (
            phase,
            start,
            problem,
            detail,
        )


class _Plan(Frozen):
    """
    What the quick path probes.
    """

    target: Target
    port: int
    address: str
    mode: Mode
    timeout: float
    servername: str | None
    contexts: TlsContexts


def quick_check(
    argv: list[str], *, env: Mapping[str, str], out: TextIO, err: TextIO
) -> int | None:
    """
    Run ``smtpbot check`` (the arguments after "check") on the quick path and return
    the exit code, or None when this path does not apply (the full CLI then runs).
    """
    options = _parse(argv)
    if options is None:
        return None
    started = time.perf_counter()
    try:
        plan = _plan(argv[0], options, env)
    except BotError:
        return None  # the full CLI reports it in its own words
    if plan is None:
        return None
    notes = Notes(deadline=started + plan.timeout)
    # A literal address (or localhost) resolves without a lookup.
    notes.phases.append(Phase("resolve", True, 0.0, plan.address))
    asked = Asked(
        plan.target,
        plan.port,
        plan.mode,
        plan.servername,
        datetime.now(UTC),
        started,
        plan.timeout,
    )
    try:
        _session(notes, plan)
    except _Surprise as surprise:
        return _to_engine(
            argv[0], options, plan, started, surprise.handover, env, out, err
        )
    from bot.probe.output import emit

    result = freeze(asked, notes, (plan.address,))
    return emit([result], as_json="--json" in options, several=False, out=out)


def _to_engine(
    target: str,
    options: dict[str, str],
    plan: _Plan,
    started: float,
    handover: Handover | None,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
) -> int:
    """
    Let the engine finish the probe within the same deadline.
    """
    from bot.probe.command import CheckRequest, run_check

    request = CheckRequest(
        target=target,
        port=plan.port,
        mode=str(plan.mode),
        timeout=plan.timeout,
        servername=options.get("--servername"),
        cafile=options.get("--cafile"),
        allow_private="--allow-private" in options,
        json="--json" in options,
    )
    return run_check(
        request, env=env, out=out, err=err, started=started, handover=handover
    )


def _parse(argv: list[str]) -> dict[str, str] | None:
    """
    The known options of ``check`` after TARGET, or None for anything unusual.
    """
    if not argv or argv[0].startswith("-"):
        return None
    options: dict[str, str] = {}
    rest = iter(argv[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in options:
            return None
        if name in _FLAGS and not eq:
            options[name] = ""
        elif name in _VALUED:
            value = value if eq else next(rest, "")
            if not value or value.startswith("-"):
                return None
            options[name] = value
        else:
            return None
    return options


def _plan(target: str, options: dict[str, str], env: Mapping[str, str]) -> _Plan | None:
    """
    What to probe, when the quick path applies (one port, a literal address, auto or
    STARTTLS mode, a valid timeout); None otherwise.

    Raises:
        BotError: bad target, cafile or configuration (the full CLI reports them).
    """
    parsed = parse_target(target)
    try:
        port = int(options.get("--port", "0")) or parsed.port
        timeout = float(options.get("--timeout", "10"))
        mode = Mode(options.get("--mode", "auto"))
    except ValueError:
        return None
    if port is None or not 0 < port <= 65535 or not 0 < timeout <= 300:
        return None
    if mode is Mode.TLS or (mode is Mode.AUTO and port in _TLS_FIRST_PORTS):
        return None
    addresses = (
        (str(parsed.address),)
        if parsed.address is not None
        else special_name_addresses(parsed.host)
    )
    if not addresses:
        return None  # a name to resolve: the engine bounds the lookup
    # DESIGN.md: --allow-private and a port typed by the operator lift the policy.
    policy = replace(
        ProbePolicy.from_env(env),
        allow_private="--allow-private" in options,
        any_port=True,
    )
    allowed = policy.allowed(addresses)
    if not allowed:
        return None
    contexts = build_contexts(cafile=options.get("--cafile"))
    servername = options.get("--servername")
    if servername is None and parsed.address is None:
        servername = parsed.host
    return _Plan(parsed, port, allowed[0], mode, timeout, servername, contexts)


def _session(notes: Notes, plan: _Plan) -> None:
    """
    Greeting, EHLO, STARTTLS, verified handshake, EHLO, QUIT.

    Raises:
        _Surprise: anything but that, for the engine.
    """
    start = time.perf_counter()
    family = socket.AF_INET6 if ":" in plan.address else socket.AF_INET
    sock = RecordingSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.settimeout(notes.budget())
        sock.connect((plan.address, plan.port))
    except OSError:
        sock.close()
        raise _Surprise() from None
    notes.address = plan.address
    notes.done("connect", start, plan.address)
    connected_at = time.perf_counter()
    try:
        _converse(notes, sock, plan, connected_at)
    except _Stall as stall:
        notes.fail(stall.phase, stall.start, stall.problem, stall.detail)
    except _Surprise as surprise:
        if surprise.handover is None:
            sock.close()
        raise
    except (OSError, ValueError):
        sock.close()
        raise _Surprise() from None
    sock.close()


def _converse(
    notes: Notes, sock: RecordingSocket, plan: _Plan, connected_at: float
) -> None:
    """
    The SMTP steps on a connected socket.
    """
    quiet = min(PATIENCE_S, plan.timeout * QUIET_WAIT_SHARE, notes.remaining())
    sock.settimeout(quiet)
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        # Silent so far: the engine waits for the greeting on this very connection
        # while it tries TLS on another.
        phases = tuple(notes.phases)
        raise _Surprise(
            Handover(plan.port, plan.address, sock, connected_at, phases)
        ) from None
    if not first:
        raise _Surprise()
    if not _greeting_arrived(sock, time.perf_counter() + PATIENCE_S):
        # A greeting that stops halfway, or bytes that are not SMTP: the engine reads
        # them on this same connection, untouched, within the deadline.
        raise _Surprise(
            Handover(plan.port, plan.address, sock, connected_at, tuple(notes.phases))
        )
    reader = _Lines(sock)
    try:
        code, text = _reply(reader, notes.remaining())
    except _Silent:
        raise _Surprise() from None  # the whole greeting was there a moment ago
    if code != 220:
        raise _Surprise()
    notes.mode = Mode.STARTTLS
    notes.banner = clip(f"{code} {text}")
    notes.done("banner", connected_at, notes.banner)
    host = str(sock.getsockname()[0])
    local = f"[IPv6:{host}]" if ":" in host else f"[{host}]"
    notes.extensions_before_tls = _ehlo(notes, reader, local, "ehlo")
    if not any(keyword(line) == "STARTTLS" for line in notes.extensions_before_tls):
        raise _Surprise()
    start = time.perf_counter()
    sock.sendall(b"STARTTLS\r\n")
    budget = notes.budget()
    try:
        code, _text = _reply(reader, budget)
    except _Silent:
        raise _Stall(
            "starttls",
            start,
            Problem.STARTTLS_NO_ANSWER,
            "no answer instead of a STARTTLS reply",
        ) from None
    # RFC 3207 §4.2 (and aiosmtplib): bytes after the 220 are not the server's TLS.
    if code != 220 or reader.buffer:
        raise _Surprise()
    tls = _handshake(notes, sock, plan, start)
    try:
        tls_reader = _Lines(tls)
        notes.extensions_after_tls = _ehlo(notes, tls_reader, local, "ehlo_tls")
        start = time.perf_counter()
        try:
            tls.sendall(b"QUIT\r\n")
            _reply(tls_reader, min(QUIT_CAP_S, notes.remaining()))
            notes.done("quit", start)
        except (OSError, ValueError, _Surprise, _Silent):
            notes.phases.append(
                Phase("quit", False, elapsed_ms(start), "no goodbye (ignored)")
            )
    finally:
        tls.close()


def _greeting_arrived(sock: socket.socket, until: float) -> bool:
    """
    True once a whole SMTP reply is waiting on the socket (looked at, not read);
    False for bytes that cannot be one, a hang-up, or a reply unfinished by ``until``.
    """
    while True:
        data = sock.recv(MAX_REPLY + 1, socket.MSG_PEEK)
        lines = data.split(b"\n")
        for line in lines[:-1]:
            if len(line) < 3 or not line[:3].isdigit() or len(line) > MAX_LINE:
                return False
            if line[3:4] != b"-":
                return True
        left = until - time.perf_counter()
        if not data or len(data) > MAX_REPLY or left <= 0:
            return False
        if lines[-1][:3] and not lines[-1][:3].isdigit():
            return False
        time.sleep(min(left, 0.005))


def _handshake(
    notes: Notes, sock: RecordingSocket, plan: _Plan, start: float
) -> ssl.SSLSocket:
    """
    The verifying handshake (RFC 3207 §4), timed and watched like the engine's.
    """
    clock = HandshakeClock()
    notes.handshake = clock
    token = CLOCK.set(clock)
    tls: ssl.SSLSocket | None = None
    budget = notes.budget()
    try:
        sock.settimeout(budget)
        tls = plan.contexts.verify.wrap_socket(
            sock,
            server_hostname=plan.servername or plan.address,
            do_handshake_on_connect=False,
        )
        clock.started = time.perf_counter()
        notes.done("starttls", start, "220", end=clock.started)
        tls.do_handshake()
        clock.finished = time.perf_counter()
    except TimeoutError:
        if tls is not None:
            tls.close()
        if clock.started is None:
            raise _Surprise() from None
        raise _Stall(
            "handshake",
            clock.started,
            Problem.HANDSHAKE_TIMEOUT,
            f"TLS handshake did not complete within {budget:g} s",
        ) from None
    except (OSError, ssl.SSLError):
        if tls is not None:
            tls.close()
        raise _Surprise() from None
    finally:
        CLOCK.reset(token)
    name, _protocol, bits = tls.cipher() or ("", "", None)
    clock.version, clock.cipher, clock.bits = tls.version(), name, bits
    clock.der = tls.getpeercert(binary_form=True)
    clock.peercert = tls.getpeercert() or None
    note_tls(notes)
    detail = f"{notes.tls.version} {notes.tls.cipher}" if notes.tls else ""
    notes.done("handshake", clock.started, detail, end=clock.finished)
    return tls


def _ehlo(notes: Notes, reader: _Lines, local: str, name: str) -> tuple[str, ...]:
    """
    EHLO and the extensions it lists (as ``steps._ehlo`` keeps them).
    """
    start = time.perf_counter()
    reader.sock.settimeout(notes.budget())
    reader.sock.sendall(f"EHLO {local}\r\n".encode("ascii"))
    try:
        code, text = _reply(reader, notes.budget())
    except _Silent:
        raise _Stall(name, start, Problem.STALLED, "no EHLO reply in time") from None
    if code != 250:
        raise _Surprise()
    lines = [clip(line.strip(), MAX_EXTENSION_CHARS) for line in text.split("\n")]
    extensions = tuple(line for line in lines[1:] if line)[:MAX_EXTENSIONS]
    notes.done(name, start, f"{len(extensions)} extensions")
    return extensions


class _Lines:
    """
    Reply lines from a socket, with what was read past them kept in ``buffer``.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def readline(self, limit: int, deadline: float) -> bytes:
        """
        One line with its newline, or up to ``limit`` bytes without one.
        """
        while b"\n" not in self.buffer and len(self.buffer) < limit:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise _Silent()
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                raise _Silent() from None
            if not data:
                raise _Surprise()
            self.buffer += data
        end = self.buffer.find(b"\n")
        cut = end + 1 if 0 <= end < limit else limit
        line = bytes(self.buffer[:cut])
        del self.buffer[:cut]
        return line


def _reply(reader: _Lines, budget: float) -> tuple[int, str]:
    """
    One SMTP reply (RFC 5321 §4.2), within aiosmtplib's bounds: (code, text).
    """
    deadline = time.perf_counter() + budget
    parts: list[bytes] = []
    size = 0
    while True:
        line = reader.readline(MAX_LINE + 1, deadline)
        size += len(line)
        if not line.endswith(b"\n") or len(line) > MAX_LINE or size > MAX_REPLY:
            raise _Surprise()
        try:
            code = int(line[:3])
        except ValueError:
            raise _Surprise() from None
        parts.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            return code, b"\n".join(parts).decode("utf-8", "surrogateescape")
