"""
One connection of a probe: connect to the resolved address, see who speaks first, run
the steps through aiosmtplib (``start_tls=False``, so each failure can be named), and
close the connection at once, whatever happened.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import aiosmtplib

from bot.probe import net
from bot.probe.model import Problem
from bot.probe.notes import PHASE_CAP_S, Next, Notes, Plan
from bot.probe.recording import RecordingSocket
from bot.probe.steps import (
    after_tls,
    open_plain,
    open_tls,
    starttls,
)
from bot.probe.tls import CLOCK, HandshakeClock


async def run_session(
    notes: Notes,
    addresses: tuple[str, ...],
    port: int,
    *,
    plan: Plan,
    context: ssl.SSLContext,
    server_name: str | None,
    greeting_wait: float | None = None,
    connected: tuple[RecordingSocket, float] | None = None,
) -> Next:
    """
    Connect once and go as far as the server lets us, recording each step in ``notes``.

    ``greeting_wait`` bounds the plaintext greeting (default: the rest of the deadline).
    ``connected`` is a socket already connected to ``addresses[0]`` (and when), handed
    over by the quick path with nothing read from it yet.
    """
    start = time.perf_counter()
    if connected is not None:
        sock, start = connected
        sock.setblocking(False)
        notes.address = addresses[0]
        return await _converse(
            notes, sock, start, plan, context, server_name, greeting_wait
        )
    try:
        sock, notes.address = await _connect(addresses, port, notes)
    except TimeoutError:
        waited = round(time.perf_counter() - start, 1)
        return notes.fail(
            "connect",
            start,
            Problem.CONNECT_TIMEOUT,
            f"no answer to connect on port {port} within {waited:g} s",
        )
    except ConnectionRefusedError:
        return notes.fail(
            "connect",
            start,
            Problem.CONNECT_REFUSED,
            f"port {port} refused the connection",
        )
    except OSError as exc:
        return notes.fail(
            "connect",
            start,
            Problem.CONNECT_TIMEOUT,
            f"cannot connect: {exc.strerror or exc}",
        )
    notes.done("connect", start, notes.address)
    return await _converse(
        notes, sock, time.perf_counter(), plan, context, server_name, greeting_wait
    )


async def _converse(
    notes: Notes,
    sock: RecordingSocket,
    connected_at: float,
    plan: Plan,
    context: ssl.SSLContext,
    server_name: str | None,
    greeting_wait: float | None,
) -> Next:
    """
    Run the SMTP steps on a connected socket, then close it whatever happened.
    """
    start = connected_at
    smtp: aiosmtplib.SMTP | None = None
    clock = HandshakeClock()
    notes.handshake, notes.sock = clock, sock
    notes.connected_at = connected_at
    token = CLOCK.set(clock)
    try:
        implicit = plan is Plan.TLS
        local = _address_literal(sock)
        smtp = _ProbeSMTP(
            hostname=server_name or notes.address,
            sock=sock,
            use_tls=implicit,
            start_tls=False,
            tls_context=context,
            local_hostname=local,
            timeout=PHASE_CAP_S,
        )
        if implicit:
            step = await open_tls(notes, smtp, clock, start)
        else:
            step = await open_plain(notes, smtp, connected_at, greeting_wait)
            if step is None:
                step = await starttls(notes, smtp, clock, server_name)
        if step is not None:
            return step
        return await after_tls(notes, smtp)
    finally:
        CLOCK.reset(token)
        await _close(smtp, sock)


async def _connect(
    addresses: tuple[str, ...], port: int, notes: Notes
) -> tuple[RecordingSocket, str]:
    """
    Connect to the first address that answers, in resolver order.
    """
    error: OSError | None = None
    for address in addresses:
        try:
            return await net.connect(address, port, timeout=notes.budget()), address
        except OSError as exc:
            error = exc
        if notes.remaining() <= 0:
            break
    raise error or TimeoutError()


def _address_literal(sock: socket.socket) -> str:
    """
    Our EHLO name: the local address as an RFC 5321 §4.1.3 literal, no DNS needed.
    """
    host = str(sock.getsockname()[0])
    return f"[IPv6:{host}]" if ":" in host else f"[{host}]"


class _ProbeSMTP(aiosmtplib.SMTP):
    """
    aiosmtplib's client, but closing means abort: a probe has nothing more to say.

    aiosmtplib closes a TLS transport politely on every error and after QUIT, and
    asyncio then keeps the socket until the server's close_notify (up to 30 s). Aborting
    frees it at once, whichever path (``connect``, a command, ``quit``) closed the
    client.
    """

    def close(self) -> None:
        """
        Close the client and abort its transport (TLS and TCP together).
        """
        transport = self.transport
        super().close()
        if isinstance(transport, asyncio.Transport):
            transport.abort()


async def _close(smtp: aiosmtplib.SMTP | None, sock: socket.socket) -> None:
    """
    Drop the connection and make sure the socket is closed exactly once.
    """
    if smtp is not None:
        smtp.close()
    # Let the aborted transports' connection_lost callbacks run: they close the socket.
    await asyncio.sleep(0)
    if sock.fileno() != -1:
        # No transport took the socket over (or it failed to): detach and close it here.
        loop = asyncio.get_running_loop()
        loop.remove_reader(sock.fileno())
        loop.remove_writer(sock.fileno())
        sock.close()
