"""
Fetching an MTA-STS policy the way senders do (RFC 8461 §3.3): HTTPS to
``mta-sts.<domain>`` on port 443, certificate chain and name validated, only ``200``
accepted, redirects never followed, no HTTP caching, and the answer bounded in size and
time.

The policy host is a probe target like an MX host: the caller resolves it once, runs
every address through the probe policy, and passes the allowed addresses here; the
connection goes to exactly one of them, so nothing is resolved again.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
from dataclasses import dataclass

from bot import __version__
from bot.mxcheck.mtasts import POLICY_PATH
from bot.probe import net

# RFC 8461 §3.3: the policy is served over HTTPS on the default port.
POLICY_PORT = 443
# RFC 8461 §3.3 lets senders bound the policy body; 64 KiB is what they use.
MAX_POLICY_BYTES = 64 * 1024
# Bounds on the response head: one line, all header lines, and how many.
MAX_LINE_BYTES = 8 * 1024
MAX_HEAD_BYTES = 32 * 1024
MAX_HEADERS = 100
# Each connection attempt gets at most this long (the whole fetch has its own deadline).
CONNECT_CAP_S = 5.0
# RFC 9110 §15: the status line of HTTP/1.x.
_STATUS = re.compile(r"HTTP/1\.[01] ([1-5][0-9]{2})(?: (.*))?")
# RFC 9110 §8.6: Content-Length = 1*DIGIT (ASCII digits, not what str.isdigit allows).
_LENGTH = re.compile(r"[0-9]{1,12}")
# RFC 9112 §7.1: chunk-size = 1*HEXDIG.
_CHUNK_SIZE = re.compile(r"[0-9A-Fa-f]{1,12}")


class HttpError(Exception):
    """
    The server's answer is not a usable HTTP response; the message says how.
    """


@dataclass(frozen=True, slots=True)
class Fetched:
    """
    What the policy URL answered, or why nothing usable came back.
    """

    url: str
    address: str | None = None
    status: int | None = None
    reason: str | None = None
    body: bytes | None = None
    content_type: str | None = None
    location: str | None = None
    error: str | None = None


def https_context(*, cafile: str | None = None) -> ssl.SSLContext:
    """
    A client context as a sender's: system trust store (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` apply) plus ``cafile``, host name checked, TLS 1.2 or later.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # name and chain checked
    paths = ssl.get_default_verify_paths()
    if os.environ.get(paths.openssl_cafile_env) or not paths.capath:
        # OpenSSL's own defaults, SSL_CERT_FILE included (read in full, as asked).
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        # The hashed CA directory (SSL_CERT_DIR or the system's): OpenSSL reads only
        # the CAs a chain needs, instead of parsing the whole bundle up front.
        context.load_verify_locations(capath=paths.capath)
    if cafile is not None:
        context.load_verify_locations(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def fetch_policy(
    host: str,
    addresses: tuple[str, ...],
    *,
    context: ssl.SSLContext,
    timeout: float,
) -> Fetched:
    """
    GET ``https://<host>/.well-known/mta-sts.txt`` from the first address that answers.

    Failures are data: ``error`` names the host, address or URL and the cause.
    """
    url = f"https://{host}{POLICY_PATH}"
    address = None
    try:
        async with asyncio.timeout(timeout):
            sock, address = await _connect(addresses)
            reader, writer = await asyncio.open_connection(
                sock=sock,
                ssl=context,
                server_hostname=host,
                ssl_handshake_timeout=CONNECT_CAP_S,
                limit=MAX_LINE_BYTES,
            )
            try:
                writer.write(_request(host))
                status, reason, headers = await _read_head(reader)
                body = None
                if status == 200:
                    body = await _read_body(reader, headers)
            finally:
                # Nothing more is read: drop the connection without waiting for TLS
                # close_notify.
                writer.transport.abort()
    except TimeoutError:
        return Fetched(url, address, error=f"{url}: no answer within {timeout:g} s")
    except ssl.SSLCertVerificationError as exc:
        return Fetched(
            url,
            address,
            error=f"the certificate of {host} is not valid: "
            f"{(exc.verify_message or str(exc)).rstrip('.')}",
        )
    except ssl.SSLError as exc:
        return Fetched(
            url,
            address,
            error=f"the TLS handshake with {host} ({address}) port {POLICY_PORT} "
            f"failed: {exc.reason or exc}",
        )
    except HttpError as exc:
        return Fetched(url, address, error=f"{url}: {exc}")
    except OSError as exc:
        where = f"{host} ({address or ', '.join(addresses)})"
        cause = os.strerror(exc.errno) if exc.errno else str(exc)
        return Fetched(
            url,
            address,
            error=f"cannot fetch the policy from {where} port {POLICY_PORT}: {cause}",
        )
    return Fetched(
        url,
        address,
        status=status,
        reason=reason,
        body=body,
        content_type=headers.get("content-type"),
        location=headers.get("location"),
    )


async def _connect(addresses: tuple[str, ...]) -> tuple[socket.socket, str]:
    """
    Connect to the first address that answers, in resolver order.

    Raises:
        OSError: none answered (the last address's error).
    """
    error: OSError = ConnectionRefusedError("no address to connect to")
    for address in addresses:
        try:
            sock = await net.connect(address, POLICY_PORT, timeout=CONNECT_CAP_S)
        except TimeoutError:
            error = OSError(f"no answer within {CONNECT_CAP_S:g} s")
        except OSError as exc:
            error = exc
        else:
            return sock, address
    raise error


def _request(host: str) -> bytes:
    """
    The GET request; no conditional headers, since senders use no HTTP caching.
    """
    return (
        f"GET {POLICY_PATH} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"User-Agent: smtpbot/{__version__} (MTA-STS check)\r\n"
        "Accept: text/plain\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")


async def _line(reader: asyncio.StreamReader) -> str:
    """
    One CRLF-terminated line, bounded by the reader's limit.
    """
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise HttpError(
                "the server closed the connection without answering"
            ) from None
        raise HttpError("the server closed the connection mid-line") from None
    except asyncio.LimitOverrunError:
        raise HttpError(
            f"a header line is longer than {MAX_LINE_BYTES} bytes"
        ) from None
    return raw.decode("latin-1").rstrip("\r\n")


async def _read_head(
    reader: asyncio.StreamReader,
) -> tuple[int, str, dict[str, str]]:
    """
    The status line and headers (names lower-cased; the first of a repeated one wins).
    """
    status_line = await _line(reader)
    match = _STATUS.fullmatch(status_line)
    if match is None:
        raise HttpError(f"the answer is not HTTP/1.x: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    size = len(status_line)
    for _ in range(MAX_HEADERS + 1):
        line = await _line(reader)
        size += len(line)
        if not line:
            return int(match[1]), (match[2] or "").strip(), headers
        if size > MAX_HEAD_BYTES:
            break
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(f"malformed header line {line[:80]!r}")
        headers.setdefault(name.lower(), value.strip())
    raise HttpError(f"more than {MAX_HEADERS} header lines or {MAX_HEAD_BYTES} bytes")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """
    The body, by chunks, length, or up to the end; never more than the policy limit.
    """
    too_big = HttpError(
        f"the policy is larger than {MAX_POLICY_BYTES // 1024} KiB, "
        "more than senders read"
    )
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, too_big)
    length = headers.get("content-length")
    if length is not None:
        if not _LENGTH.fullmatch(length):
            raise HttpError(f"bad Content-Length {length[:40]!r}")
        if int(length) > MAX_POLICY_BYTES:
            raise too_big
        try:
            return await reader.readexactly(int(length))
        except asyncio.IncompleteReadError:
            raise HttpError("the body is shorter than its Content-Length") from None
    body = await reader.read(MAX_POLICY_BYTES + 1)
    while body and len(body) <= MAX_POLICY_BYTES:
        more = await reader.read(MAX_POLICY_BYTES + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > MAX_POLICY_BYTES:
        raise too_big
    return body


async def _read_chunked(reader: asyncio.StreamReader, too_big: HttpError) -> bytes:
    """
    A chunked body (RFC 9112 §7.1), trailers skipped.
    """
    body = b""
    while True:
        size_text = (await _line(reader)).split(";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise HttpError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > MAX_POLICY_BYTES:
            raise too_big
        try:
            body += await reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise HttpError("the body ended inside a chunk") from None
        await _line(reader)
    for _ in range(MAX_HEADERS):
        if not await _line(reader):
            break
    return body
