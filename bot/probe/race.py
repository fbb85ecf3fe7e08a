"""
Who speaks first, without disturbing a slow server: the plaintext session waits for its
greeting on its own connection while, after a quiet spell, a TLS attempt runs on a
second one; and a port that behaves like a web server is asked, on yet another
connection, whether it speaks HTTP.

Trade-off: a merely slow SMTP server sees one extra connection that sent it a TLS
ClientHello (and, when that gets no answer, one with an HTTP request); the session that
the report describes is never the one that sent those bytes. A server that greets
within ``quiet_wait`` sees one connection only.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.probe import sniff
from bot.probe.model import Failure, Mode, Problem
from bot.probe.notes import Next, Notes, Plan

# A TLS server answers a ClientHello at once; after this long with no byte back, ask
# (on another connection) whether the port is a plain HTTP server.
HTTP_SNIFF_AFTER_S = 0.75
# An SMTPS server greets as soon as the handshake is done; after this long without a
# greeting, ask (on another connection, inside TLS) whether it is an HTTPS server.
HTTPS_SNIFF_AFTER_S = 0.3
# The most one HTTP question may take.
SNIFF_CAP_S = 1.0
# How often the race looks at its connections (only while nobody has answered yet).
POLL_S = 0.02

# TLS record types a server answers a ClientHello with: alert (21), handshake (22).
_TLS_RECORDS = frozenset({21, 22})
# The start of an SMTP reply (RFC 5321 §4.2): three digits.
_SMTP = re.compile(rb"^\d{3}")

Session = Callable[[Plan, Notes], Coroutine[Any, Any, Next]]


@dataclass(slots=True)
class Sniffer:
    """
    Asks at most once for HTTP and once for HTTPS, each on a connection of its own.
    """

    port: int
    tls_context: ssl.SSLContext
    server_name: str | None
    task: asyncio.Task[bool] | None = None
    asking: str = ""
    asked: set[str] = field(default_factory=set)

    def poll(self, tls: Notes) -> str | None:
        """
        Start a question when the TLS attempt looks like a web server; return "HTTP"
        or "HTTPS" once one is answered yes.
        """
        if self.task is not None:
            if not self.task.done():
                return None
            found = not self.task.cancelled() and self.task.result()
            self.task = None
            return self.asking if found else None
        address, now, clock = tls.address, time.perf_counter(), tls.handshake
        if address is None or tls.connected_at is None:
            return None
        received = tls.received()
        silent = not received and (clock is None or clock.finished is None)
        # Bytes that are neither TLS records nor an SMTP reply, in answer to our
        # ClientHello: some other protocol (Python's http.server answers this way).
        odd = (
            bool(received)
            and received[0] not in _TLS_RECORDS
            and not _SMTP.match(received)
        )
        if odd or (silent and now - tls.connected_at >= HTTP_SNIFF_AFTER_S):
            self._ask("HTTP", address, None, tls)
        elif (
            clock is not None
            and clock.finished is not None
            and not tls.greeted()
            and now - clock.finished >= HTTPS_SNIFF_AFTER_S
        ):
            self._ask("HTTPS", address, self.tls_context, tls)
        return None

    def _ask(
        self, kind: str, address: str, context: ssl.SSLContext | None, tls: Notes
    ) -> None:
        """
        Send the HTTP question, once per kind.
        """
        if kind in self.asked:
            return
        self.asked.add(kind)
        self.asking = kind
        self.task = asyncio.create_task(
            sniff.answers_http(
                address,
                self.port,
                timeout=min(SNIFF_CAP_S, tls.remaining()),
                context=context,
                server_name=self.server_name,
            )
        )

    async def close(self) -> None:
        """
        Drop a question still open.
        """
        await _cancel(self.task)


def web_server(notes: Notes, kind: str, start: float) -> Next:
    """
    Record that the port is a web server: a ``not-smtp`` failure naming HTTP or HTTPS.
    """
    notes.mode = None
    return notes.fail(
        "banner",
        start,
        Problem.NOT_SMTP,
        f"the port answers {kind}, not SMTP: it is a web server",
    )


async def plain_first(
    notes: Notes, session: Session, sniffer: Sniffer, quiet_wait: float
) -> Next:
    """
    Wait for a plaintext greeting on one connection; after ``quiet_wait`` of silence,
    try TLS on a second. The first to show what the port speaks wins.
    """
    start = time.perf_counter()
    plain = asyncio.create_task(session(Plan.PLAIN, notes))
    tls_notes = Notes(deadline=notes.deadline)
    tls: asyncio.Task[Next] | None = None
    tried = False
    try:
        while True:
            # Any byte on the plaintext connection means the server speaks first.
            if plain.done() or notes.received() or notes.greeted():
                return await plain
            # Quiet since the plaintext connection opened (which, handed over by the
            # quick path, may be before this call).
            quiet_since = notes.connected_at or start
            if not tried and time.perf_counter() - quiet_since >= quiet_wait:
                tried = True
                tls = asyncio.create_task(session(Plan.TLS, tls_notes))
            if tls is not None and tls.done():
                step = tls.result()
                if tls_notes.mode is Mode.TLS or _is_web(tls_notes):
                    notes.adopt(tls_notes)
                    return step
                tls = None  # not TLS after all: the plaintext wait goes on
            if tried:
                kind = sniffer.poll(tls_notes)
                if kind is not None:
                    await _cancel(tls)
                    tls_notes.failure = None
                    notes.adopt(tls_notes)
                    return web_server(notes, kind, start)
            waiting = [t for t in (plain, tls, sniffer.task) if t is not None]
            await asyncio.wait(waiting, timeout=POLL_S, return_when="FIRST_COMPLETED")
    finally:
        await _cancel(plain)
        await _cancel(tls)
        await sniffer.close()


async def tls_first(notes: Notes, session: Session, sniffer: Sniffer) -> Next:
    """
    Implicit TLS on one connection, asking about HTTP(S) aside if it looks like one.
    """
    start = time.perf_counter()
    tls = asyncio.create_task(session(Plan.TLS, notes))
    try:
        while not tls.done():
            kind = sniffer.poll(notes)
            if kind is not None:
                await _cancel(tls)
                notes.failure = None
                return web_server(notes, kind, start)
            waiting = [t for t in (tls, sniffer.task) if t is not None]
            await asyncio.wait(waiting, timeout=POLL_S, return_when="FIRST_COMPLETED")
        return tls.result()
    finally:
        await _cancel(tls)
        await sniffer.close()


def _is_web(notes: Notes) -> bool:
    """
    True when a connection found a web server.
    """
    failure: Failure | None = notes.failure
    return failure is not None and failure.problem is Problem.NOT_SMTP


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    """
    Cancel a task (if still running) and wait until it has cleaned up.
    """
    if task is None:
        return
    if not task.done():
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
