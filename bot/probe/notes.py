"""
The running notes of a probe: what its connections have seen so far and the deadline,
plus the helpers that read EHLO replies. The engine freezes them into a ProbeResult.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from bot.probe.model import Failure, Mode, Phase, Problem, TlsInfo
from bot.probe.recording import RecordingSocket
from bot.probe.tls import HandshakeClock, elapsed_ms

# A healthy server answers each command and finishes a handshake well within this.
PHASE_CAP_S = 5.0
# QUIT is a courtesy; do not let a slow goodbye hold up the report.
QUIT_CAP_S = 1.0
# Per EHLO line and count, to keep reports readable whatever a server sends.
MAX_EXTENSIONS = 50
MAX_EXTENSION_CHARS = 200


class Plan(Enum):
    """
    How a connection starts: TLS at once, or a plaintext greeting.
    """

    TLS = "tls"
    PLAIN = "plain"


class Next(Enum):
    """
    What the engine should do after a connection ends.
    """

    DONE = "done"
    RETRY_PLAIN = "retry-plain"
    CAPTURE = "capture"


class Notes:
    """
    What a probe has seen so far; mutable while it runs, frozen by the engine at the
    end.
    """

    deadline: float
    phases: list[Phase]
    failure: Failure | None = None
    mode: Mode | None = None
    address: str | None = None
    banner: str | None = None
    extensions_before_tls: tuple[str, ...] = ()
    extensions_after_tls: tuple[str, ...] = ()
    tls: TlsInfo | None = None
    der: bytes | None = None
    peercert: dict[str, Any] | None = None
    verify_error: tuple[int | None, str] | None = None
    # The TLS handshake of the connection, once one started (see tls.HandshakeClock).
    handshake: HandshakeClock | None = None
    # The connection's socket, which keeps the first bytes the server sent.
    sock: RecordingSocket | None = None
    # When the connection was established (perf_counter), for the engine's watchers.
    connected_at: float | None = None
    # Told of each step as it is recorded (live progress); never stops the probe.
    listener: Callable[[Phase], None] | None = None

    def __init__(
        self,
        deadline: float,
        phases: list[Phase] | None = None,
        failure: Failure | None = None,
    ) -> None:
        """
        Notes for a probe that must end by ``deadline`` (``perf_counter`` seconds).
        """
        self.deadline = deadline
        self.phases = phases if phases is not None else []
        self.failure = failure

    def adopt(self, other: Notes) -> None:
        """
        Take over what another connection of the same probe saw, after the first phase
        (resolve) of this one, and tell the listener.
        """
        kept = self.phases[:1]
        for name in (
            "failure",
            "mode",
            "address",
            "banner",
            "extensions_before_tls",
            "extensions_after_tls",
            "tls",
            "der",
            "peercert",
            "verify_error",
            "handshake",
            "sock",
            "connected_at",
        ):
            setattr(self, name, getattr(other, name))
        self.phases = kept
        for phase in other.phases:
            self._record(phase)

    def received(self) -> bytes:
        """
        The first bytes the server sent on this connection (b"" before any).
        """
        return self.sock.first if self.sock is not None else b""

    def greeted(self) -> bool:
        """
        True once the plaintext or TLS greeting phase has an outcome.
        """
        return any(p.name == "banner" for p in self.phases)

    def _record(self, phase: Phase) -> None:
        """
        Keep a step and tell the listener, if any.
        """
        self.phases.append(phase)
        if self.listener is not None:
            self.listener(phase)

    def remaining(self) -> float:
        """
        Seconds left before the whole probe's deadline.
        """
        return max(0.0, self.deadline - time.perf_counter())

    def budget(self, cap: float = PHASE_CAP_S) -> float:
        """
        The timeout for the next step: its own cap, or what the deadline leaves.
        """
        return min(cap, self.remaining())

    def done(
        self, name: str, start: float, detail: str = "", end: float | None = None
    ) -> None:
        """
        Record a step that worked.
        """
        self._record(Phase(name, True, elapsed_ms(start, end), detail))

    def fail(
        self,
        name: str,
        start: float,
        problem: Problem,
        detail: str,
        *,
        code: int | None = None,
    ) -> Next:
        """
        Record the step that stopped the probe and why.
        """
        waited = round(time.perf_counter() - start, 1)
        self._record(Phase(name, False, elapsed_ms(start), detail))
        self.failure = Failure(name, problem, detail, code=code, waited_s=waited)
        return Next.DONE


def auth_mechanisms(extensions: tuple[str, ...]) -> tuple[str, ...]:
    """
    The SASL mechanisms in ``AUTH`` (RFC 4954 §3) and old-style ``AUTH=`` EHLO lines.
    """
    found: dict[str, None] = {}
    for line in extensions:
        keyword, _, params = line.partition(" ")
        if keyword.upper().startswith("AUTH="):
            params = line[5:]
        elif keyword.upper() != "AUTH":
            continue
        found.update(dict.fromkeys(m.upper() for m in params.split()))
    return tuple(found)


def keyword(line: str) -> str:
    """
    The EHLO keyword of an extension line (RFC 5321 §4.1.1.1), upper-cased.
    """
    return line.split(" ", 1)[0].upper()


def clip(text: str, limit: int = 512) -> str:
    """
    Bound a server-supplied string for reports.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def note_tls(notes: Notes) -> None:
    """
    Keep the negotiated version, cipher and DH group and the server's certificate
    (DER), as the handshake clock saw them when the handshake completed.
    """
    clock = notes.handshake
    if clock is None or clock.version is None:
        return
    cipher = clock.cipher or ""
    # OpenSSL names finite-field DHE suites DHE-... (EDH-... for old ones).
    dhe = cipher.startswith(("DHE-", "EDH-"))
    notes.tls = TlsInfo(
        version=clock.version,
        cipher=cipher,
        bits=clock.bits,
        dh_bits=clock.dh_bits if dhe else None,
    )
    notes.der = clock.der
    # Decoded by the stdlib only when the chain verified; empty after a capture.
    notes.peercert = clock.peercert
