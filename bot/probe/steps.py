"""
The steps of one SMTP session, each translating aiosmtplib's exceptions into a named
``Problem``: greeting (plaintext or inside implicit TLS), EHLO, STARTTLS and handshake,
EHLO again inside TLS, QUIT.

Only EHLO, STARTTLS and QUIT are ever sent: never MAIL, RCPT, AUTH or any credential.
"""

from __future__ import annotations

import asyncio
import ssl
import time

import aiosmtplib

from bot.probe.model import Mode, Phase, Problem
from bot.probe.notes import (
    MAX_EXTENSION_CHARS,
    MAX_EXTENSIONS,
    QUIT_CAP_S,
    Next,
    Notes,
    clip,
    keyword,
    note_tls,
)
from bot.probe.tls import HandshakeClock, elapsed_ms

# What the probe says when a server hangs up before greeting.
NO_GREETING_CLOSED = (
    "connected, but the server closed the connection without a greeting"
)
# How often the greeting's bytes are looked at while aiosmtplib waits for a line end.
GREETING_POLL_S = 0.02
# OpenSSL's words for "the peer's bytes are not TLS at all" (e.g. an SMTP greeting).
NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
    }
)


async def open_plain(
    notes: Notes, smtp: aiosmtplib.SMTP, start: float, wait: float | None
) -> Next | None:
    """
    Read the plaintext greeting, then EHLO; None when both worked.

    RFC 5321 §4.2: 220 means go on, 4xx/5xx mean go away. §4.5.3.2.1 lets a greeting
    take minutes, so only the deadline (or ``wait``) bounds it.
    """
    notes.mode = Mode.STARTTLS
    budget = notes.remaining() if wait is None else min(wait, notes.remaining())
    try:
        response = await _greeting(notes, smtp, budget)
    except _Foreign as exc:
        return notes.fail("banner", start, Problem.NOT_SMTP, str(exc))
    except aiosmtplib.SMTPConnectResponseError as exc:
        notes.banner = clip(f"{exc.code} {exc.message}")
        return notes.fail(
            "banner", start, Problem.GREETING_REJECTED, notes.banner, code=exc.code
        )
    except TimeoutError:
        waited = round(time.perf_counter() - start, 1)
        received = notes.received()
        text = f"connected, but no greeting within {waited:g} s"
        if received:
            # The server began a reply (the first line of a multi-line greeting, or a
            # line that never ends) and stopped.
            text = (
                f"connected, but the greeting did not end within {waited:g} s: "
                f"it began {_shown(received)}"
            )
        return notes.fail("banner", start, Problem.NO_GREETING, text)
    except aiosmtplib.SMTPResponseException as exc:
        return notes.fail(
            "banner", start, Problem.NOT_SMTP, _not_smtp_text(exc.message, "HTTP")
        )
    except (aiosmtplib.SMTPException, OSError):
        return notes.fail(
            "banner",
            start,
            Problem.CLOSED_BEFORE_GREETING,
            NO_GREETING_CLOSED,
        )
    notes.banner = clip(f"{response.code} {response.message}")
    notes.done("banner", start, notes.banner)
    return await _ehlo(notes, smtp, "ehlo")


class _Foreign(Exception):
    """
    The server's first bytes cannot begin an SMTP reply; the message says what they
    are.
    """


async def _greeting(
    notes: Notes, smtp: aiosmtplib.SMTP, budget: float
) -> aiosmtplib.SMTPResponse:
    """
    Read the greeting, given up as soon as the bytes the server sent cannot be SMTP.

    aiosmtplib reads up to a line end; a server speaking a binary protocol (an HTTP/2
    server's preface has none) would otherwise hold the probe until its deadline.

    Raises:
        _Foreign: the bytes are not SMTP.
    """
    task = asyncio.ensure_future(asyncio.wait_for(smtp.connect(timeout=budget), budget))
    try:
        while True:
            done, _pending = await asyncio.wait({task}, timeout=GREETING_POLL_S)
            if done:
                return task.result()
            foreign = foreign_bytes(notes.received())
            if foreign is not None:
                raise _Foreign(foreign)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def foreign_bytes(data: bytes) -> str | None:
    """
    What a server's first bytes are, when they cannot begin an SMTP reply; None
    while they still could.

    RFC 5321 §4.2: a reply starts with three digits and then a space, a hyphen or the
    line's end. RFC 9113 §3.4: an HTTP/2 server's first frame is a SETTINGS frame
    (type 4) on stream 0, sent without waiting for the client.
    """
    if not data:
        return None
    head = data[:3]
    if all(0x30 <= b <= 0x39 for b in head) and data[3:4] in (
        b"",
        b" ",
        b"-",
        b"\r",
        b"\n",
    ):
        return None
    if data[0] == 0 and len(data) < 9:
        return None  # perhaps an HTTP/2 frame header still arriving
    if len(data) >= 9 and data[3] == 4 and data[5:9] == b"\0\0\0\0":
        return "the port answers HTTP/2, not SMTP: it is a web server"
    if b"HTTP/".startswith(data[:5]) and len(data) < 5:
        return None
    if data.startswith(b"HTTP/"):
        return f"the port answers HTTP, not SMTP: it is a web server ({_shown(data)})"
    return f"greeting is not SMTP: it begins {_shown(data)}"


def _not_smtp_text(message: str, web: str) -> str:
    """
    aiosmtplib's "Malformed SMTP response line: ..." in words; an HTTP status line
    names the web server (``web``: HTTP in plaintext, HTTPS inside TLS).
    """
    _, sep, line = message.partition("response line: ")
    if sep and line.startswith("HTTP/"):
        status = clip(line.strip(), 80)
        return f"the port answers {web}, not SMTP: it is a web server ({status})"
    return f"greeting is not SMTP: {message}"


def _shown(data: bytes) -> str:
    """
    The first bytes a server sent, printable.
    """
    return repr(data.decode("latin-1"))


async def starttls(
    notes: Notes, smtp: aiosmtplib.SMTP, clock: HandshakeClock, server_name: str | None
) -> Next | None:
    """
    Ask for STARTTLS (RFC 3207 §4) and run the handshake; None when TLS is up.
    """
    if not any(keyword(line) == "STARTTLS" for line in notes.extensions_before_tls):
        start = time.perf_counter()
        return notes.fail(
            "starttls",
            start,
            Problem.STARTTLS_NOT_OFFERED,
            "STARTTLS is not in the EHLO reply",
        )
    start = time.perf_counter()
    budget = notes.budget()
    try:
        await asyncio.wait_for(
            smtp.starttls(server_hostname=server_name or notes.address, timeout=budget),
            budget + 0.1,
        )
    except aiosmtplib.SMTPResponseException as exc:
        return notes.fail(
            "starttls",
            start,
            Problem.STARTTLS_REJECTED,
            clip(f"{exc.code} {exc.message}"),
            code=exc.code,
        )
    except ssl.SSLCertVerificationError as exc:
        return _verify_failed(notes, clock, start, exc)
    except (
        ssl.SSLError,
        aiosmtplib.SMTPServerDisconnected,
        OSError,
        TimeoutError,
    ) as exc:
        # RFC 3207 §4: after our STARTTLS a 220 reply is the only way the handshake
        # starts, so a started handshake (or a close right after the reply) proves the
        # 220 came.
        after_220 = clock.started is not None or (
            isinstance(exc, aiosmtplib.SMTPServerDisconnected)
            and str(exc) == "Connection lost"
            and exc.__cause__ is None
        )
        if not after_220:
            kind = (
                "no answer"
                if isinstance(exc, TimeoutError)
                else "the connection closed"
            )
            return notes.fail(
                "starttls",
                start,
                Problem.STARTTLS_NO_ANSWER,
                f"{kind} instead of a STARTTLS reply",
            )
        notes.done("starttls", start, "220", end=clock.started)
        hs_start = clock.started or time.perf_counter()
        if clock.finished is not None:
            # The handshake completed, then the server hung up or sent an alert (TLS
            # 1.3 certificate_required arrives this way).
            note_tls(notes)
            notes.done("handshake", hs_start, _tls_detail(notes), end=clock.finished)
            return notes.fail(
                "ehlo_tls", clock.finished, Problem.CLOSED, _closed_text(exc)
            )
        if isinstance(exc, TimeoutError):
            return notes.fail(
                "handshake",
                hs_start,
                Problem.HANDSHAKE_TIMEOUT,
                f"TLS handshake did not complete within {budget:g} s",
            )
        return notes.fail(
            "handshake", hs_start, Problem.HANDSHAKE_FAILED, _tls_error_text(exc)
        )
    except aiosmtplib.SMTPException as exc:
        return notes.fail("starttls", start, Problem.STARTTLS_NO_ANSWER, exc.message)
    notes.done("starttls", start, "220", end=clock.started)
    note_tls(notes)
    notes.done(
        "handshake", clock.started or start, _tls_detail(notes), end=clock.finished
    )
    return None


async def open_tls(
    notes: Notes, smtp: aiosmtplib.SMTP, clock: HandshakeClock, start: float
) -> Next | None:
    """
    Implicit TLS (RFC 8314 §3.3): handshake first, then the greeting inside TLS.
    """
    budget = notes.budget()
    try:
        response = await asyncio.wait_for(smtp.connect(timeout=budget), budget + 0.1)
    except aiosmtplib.SMTPConnectResponseError as exc:
        notes.mode = Mode.TLS
        notes.banner = clip(f"{exc.code} {exc.message}")
        return notes.fail(
            "banner", start, Problem.GREETING_REJECTED, notes.banner, code=exc.code
        )
    except TimeoutError:
        waited = round(time.perf_counter() - start, 1)
        if clock.finished is None:
            return notes.fail(
                "banner",
                start,
                Problem.NO_GREETING,
                f"connected, but no greeting within {waited:g} s (nor a TLS handshake)",
            )
        notes.mode = Mode.TLS
        return notes.fail(
            "banner",
            start,
            Problem.NO_GREETING,
            f"TLS handshake done, but no greeting within {waited:g} s",
        )
    except aiosmtplib.SMTPResponseException as exc:
        notes.mode = Mode.TLS
        return notes.fail(
            "banner", start, Problem.NOT_SMTP, _not_smtp_text(exc.message, "HTTPS")
        )
    except aiosmtplib.SMTPException as exc:
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLCertVerificationError):
            notes.mode = Mode.TLS
            return _verify_failed(notes, clock, clock.started or start, cause)
        if clock.finished is not None:
            notes.mode = Mode.TLS
            note_tls(notes)
            notes.done(
                "handshake", clock.started or start, _tls_detail(notes), clock.finished
            )
            why = _closed_text(exc)
            return notes.fail(
                "banner",
                clock.finished,
                Problem.CLOSED_BEFORE_GREETING,
                f"TLS handshake done, then {why} without a greeting",
            )
        if isinstance(cause, ssl.SSLError) and cause.reason not in NOT_TLS_REASONS:
            notes.mode = Mode.TLS
            return notes.fail(
                "handshake",
                clock.started or start,
                Problem.HANDSHAKE_FAILED,
                _tls_error_text(cause),
            )
        received = notes.received()
        if received.startswith(b"HTTP/"):
            return notes.fail(
                "handshake",
                clock.started or start,
                Problem.NOT_SMTP,
                "the port answers HTTP, not SMTP: it is a web server",
            )
        # Non-TLS bytes or a hang-up in answer to our ClientHello: maybe a plaintext
        # port.
        text = _tls_error_text(cause or exc)
        notes.fail("handshake", clock.started or start, Problem.HANDSHAKE_FAILED, text)
        return Next.RETRY_PLAIN
    notes.mode = Mode.TLS
    note_tls(notes)
    notes.done(
        "handshake", clock.started or start, _tls_detail(notes), end=clock.finished
    )
    notes.banner = clip(f"{response.code} {response.message}")
    notes.done("banner", clock.finished or start, notes.banner)
    return None


async def after_tls(notes: Notes, smtp: aiosmtplib.SMTP) -> Next:
    """
    EHLO again inside TLS, then QUIT.
    """
    # RFC 3207 §4.2: forget what the server said before TLS and ask again.
    step = await _ehlo(notes, smtp, "ehlo_tls")
    if step is not None:
        return step
    start = time.perf_counter()
    try:
        await asyncio.wait_for(smtp.quit(timeout=QUIT_CAP_S), QUIT_CAP_S)
        notes.done("quit", start)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        notes.phases.append(
            Phase("quit", False, elapsed_ms(start), "no goodbye (ignored)")
        )
    return Next.DONE


def _tls_detail(notes: Notes) -> str:
    """
    "TLSv1.3 TLS_AES_256_GCM_SHA384", for the handshake row.
    """
    return f"{notes.tls.version} {notes.tls.cipher}" if notes.tls else ""


async def _ehlo(notes: Notes, smtp: aiosmtplib.SMTP, name: str) -> Next | None:
    """
    Send EHLO and keep the extensions it lists; None when it worked.
    """
    start = time.perf_counter()
    try:
        response = await smtp.ehlo(timeout=notes.budget())
    except aiosmtplib.SMTPHeloError as exc:
        return notes.fail(
            name,
            start,
            Problem.EHLO_FAILED,
            clip(f"{exc.code} {exc.message}"),
            code=exc.code,
        )
    except aiosmtplib.SMTPTimeoutError:
        return notes.fail(name, start, Problem.STALLED, "no EHLO reply in time")
    except aiosmtplib.SMTPResponseException as exc:
        return notes.fail(
            name, start, Problem.NOT_SMTP, f"EHLO reply is not SMTP: {exc.message}"
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return notes.fail(name, start, Problem.CLOSED, _closed_text(exc))
    lines = [
        clip(line.strip(), MAX_EXTENSION_CHARS) for line in response.message.split("\n")
    ]
    extensions = tuple(line for line in lines[1:] if line)[:MAX_EXTENSIONS]
    if name == "ehlo":
        notes.extensions_before_tls = extensions
    else:
        notes.extensions_after_tls = extensions
    notes.done(name, start, f"{len(extensions)} extensions")
    return None


def _verify_failed(
    notes: Notes, clock: HandshakeClock, start: float, exc: ssl.SSLCertVerificationError
) -> Next:
    """
    The chain did not verify: remember why; the engine reconnects to capture the
    certificate.
    """
    notes.verify_error = (exc.verify_code, exc.verify_message or str(exc))
    if notes.mode is Mode.STARTTLS:
        notes.done("starttls", start, "220", end=clock.started)
    notes.done("handshake", clock.started or start, "certificate not verified")
    return Next.CAPTURE


def _closed_text(exc: BaseException) -> str:
    """
    "the server closed the connection", with the TLS alert that came with it, if any.
    """
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return f"the server closed the connection ({_tls_error_text(cause)})"
    return "the server closed the connection"


def _tls_error_text(exc: BaseException) -> str:
    """
    Describe a TLS failure in OpenSSL's words, e.g. "wrong version number".
    """
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, (ConnectionError, aiosmtplib.SMTPServerDisconnected)):
        return "the server closed the connection during the TLS handshake"
    return str(exc) or type(exc).__name__
