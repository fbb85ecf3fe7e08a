"""
TLS contexts for the probe, and a record of what one handshake showed.

Two contexts: ``verify`` judges the chain like a mail client (system trust store plus
``--cafile``); ``capture`` accepts any certificate so that a failed verification can
still show what the server presents. Both accept TLS 1.0/1.1 and small keys and groups
(``@SECLEVEL=0``), so an old server is named with its version, key size or DH group
(``verdict`` judges them as default clients do) instead of failing without a reason.

``HandshakeClock`` records when the handshake started and finished and, through
OpenSSL's message callback, the handshake messages a default client never shows: the
server's CertificateRequest, the certificate list it sent, its DH group and the alerts
it sent. The session facts (version, cipher, certificate) are kept the moment the
handshake completes, before a post-handshake alert (TLS 1.3 ``certificate_required``)
can tear the connection down.
"""

from __future__ import annotations

import contextvars
import os
import re
import ssl
import time
from typing import Any

from bot.errors import InputError
from bot.probe.frozen import Frozen

# OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) above security level 0; the probe
# must see such servers to warn about them. Verification still happens, only algorithm
# floors drop.
_LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"
# OpenSSL's name for a CA in a hashed directory: subject hash, dot, sequence number.
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


# RFC 8446 §4 / RFC 5246 §7.4 handshake message types, and the record content types.
_CERTIFICATE = 11
_SERVER_KEY_EXCHANGE = 12
_CERTIFICATE_REQUEST = 13
_HANDSHAKE_RECORD = 22
_ALERT_RECORD = 21
# A server's Certificate message larger than this is not kept (a chain is a few KiB).
_MAX_CERTIFICATE_MESSAGE = 64 * 1024


class HandshakeClock:
    """
    What the TLS handshake of one connection showed: when it started and finished
    (``perf_counter`` seconds), the session it set up, and the server's own messages.
    """

    started: float | None = None
    finished: float | None = None
    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    der: bytes | None = None
    peercert: dict[str, Any] | None = None
    # The server sent a CertificateRequest (RFC 8446 §4.3.2, RFC 5246 §7.4.4).
    cert_requested: bool = False
    # The certificates of the server's Certificate message, in the order sent.
    chain: tuple[bytes, ...] | None = None
    # The DH prime's size from a TLS 1.2 ServerKeyExchange (DHE suites only).
    dh_bits: int | None = None
    # Alert descriptions the server sent (RFC 8446 §6), first one first.
    alerts: list[int]

    def __init__(self) -> None:
        """
        A clock for a connection whose handshake has not started.
        """
        self.alerts = []


# The clock of the connection being probed. asyncio runs the handshake in callbacks that
# copy the probing task's context, so each concurrent probe sees its own clock.
CLOCK: contextvars.ContextVar[HandshakeClock | None] = contextvars.ContextVar(
    "smtpbot_probe_handshake_clock", default=None
)


class _TimedSSLObject(ssl.SSLObject):
    """
    An SSLObject that notes in ``CLOCK`` when the handshake starts and completes.
    """

    def do_handshake(self) -> None:
        """
        Run one handshake step, timing the first call and the successful one.
        """
        clock = CLOCK.get()
        if clock is not None and clock.started is None:
            clock.started = time.perf_counter()
        super().do_handshake()
        if clock is not None:
            clock.finished = time.perf_counter()
            # Kept now: a TLS 1.3 server may reject us right after this (e.g. with
            # certificate_required) and the object then has nothing left to tell.
            name, _protocol, bits = self.cipher() or ("", "", None)
            clock.version, clock.cipher, clock.bits = self.version(), name, bits
            clock.der = self.getpeercert(binary_form=True)
            clock.peercert = self.getpeercert() or None


def _on_message(
    conn: object,
    direction: str,
    version: object,
    content_type: int,
    msg_type: int,
    data: bytes,
) -> None:
    """
    OpenSSL's message callback: note the server's handshake messages and alerts.

    Must never raise: an exception here would surface inside the TLS read.
    """
    clock = CLOCK.get()
    if clock is None or direction != "read":
        return
    try:
        if content_type == _ALERT_RECORD and len(data) >= 2:
            clock.alerts.append(data[1])
        elif content_type != _HANDSHAKE_RECORD:
            return
        elif msg_type == _CERTIFICATE_REQUEST:
            clock.cert_requested = True
        elif msg_type == _CERTIFICATE and clock.chain is None:
            if len(data) <= _MAX_CERTIFICATE_MESSAGE:
                clock.chain = certificate_list(data)
        elif msg_type == _SERVER_KEY_EXCHANGE and len(data) > 6:
            # RFC 5246 §7.4.3 ServerDHParams: opaque dh_p<1..2^16-1> comes first; for
            # ECDHE the same bytes are a curve type, which ``dh_bits`` is ignored for.
            length = int.from_bytes(data[4:6], "big")
            clock.dh_bits = int.from_bytes(data[6 : 6 + length], "big").bit_length()
    # The callback runs inside OpenSSL's read; losing one fact beats breaking the read.
    except Exception:  # pragma: no cover - defensive: the parsers above are bounded
        return


def certificate_list(message: bytes) -> tuple[bytes, ...] | None:
    """
    The DER certificates of a Certificate handshake message (TLS 1.2 or 1.3 layout).

    RFC 5246 §7.4.2: a 3-byte list length, then 3-byte-length certificates. RFC 8446
    §4.4.2 adds a request context before the list and extensions after each entry.
    """
    body = message[4:]
    for tls13 in (False, True):
        pos = 0
        if tls13:
            if not body:
                return None
            pos = 1 + body[0]
        if pos + 3 > len(body):
            continue
        end = pos + 3 + int.from_bytes(body[pos : pos + 3], "big")
        if end != len(body):
            continue
        pos += 3
        certs: list[bytes] = []
        while pos + 3 <= end:
            size = int.from_bytes(body[pos : pos + 3], "big")
            certs.append(body[pos + 3 : pos + 3 + size])
            pos += 3 + size
            if tls13 and pos + 2 <= end:
                pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
        if pos == end:
            return tuple(certs)
    return None


class TlsContexts(Frozen):
    """
    The verifying context and the capturing (non-verifying) one; build once, share
    freely.
    """

    verify: ssl.SSLContext
    capture: ssl.SSLContext


def build_contexts(*, cafile: str | None = None) -> TlsContexts:
    """
    Build the probe's TLS contexts once, and reuse them for every probe.

    Raises:
        InputError: ``cafile`` cannot be read as PEM certificates.
    """
    verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _load_system_trust(verify)
    if cafile is not None:
        try:
            verify.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                f"--cafile {cafile}: cannot load certificates ({exc})"
            ) from exc
    # The name is checked by certs.hostname_matches, so that an untrusted chain and a
    # wrong name are reported separately instead of whichever OpenSSL meets first.
    verify.check_hostname = False
    capture = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    capture.check_hostname = False
    capture.verify_mode = ssl.CERT_NONE
    for context in (verify, capture):
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers(_LEGACY_CIPHERS)
        context.sslobject_class = _TimedSSLObject
        watch_messages(context)
    return TlsContexts(verify=verify, capture=capture)


def watch_messages(context: ssl.SSLContext) -> None:
    """
    Have OpenSSL report handshake messages and alerts to ``HandshakeClock``.

    CPython exposes OpenSSL's message callback only as the private
    ``SSLContext._msg_callback`` (since 3.8, used by its own test suite); without it
    the probe still works, it just cannot name a client-certificate request, the chain
    as sent, or the DH group.
    """
    if hasattr(context, "_msg_callback"):
        context._msg_callback = _on_message


def _load_system_trust(context: ssl.SSLContext) -> None:
    """
    Trust the system's CAs, lazily when the platform allows it.

    ``load_default_certs`` parses the whole CA bundle up front (tens of milliseconds,
    more than a local probe). A hashed CA directory (OpenSSL
    ``c_rehash``/``update-ca-certificates`` layout, as on Debian) holds the same CAs and
    OpenSSL reads only those a chain needs. ``SSL_CERT_FILE``, when set, is OpenSSL's
    own override and is honoured as usual.
    """
    paths = ssl.get_default_verify_paths()
    capath = paths.capath
    if (
        capath
        and not os.environ.get(paths.openssl_cafile_env)
        and _is_hashed_dir(capath)
    ):
        context.load_verify_locations(capath=capath)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)


def _is_hashed_dir(path: str) -> bool:
    """
    True when ``path`` is a directory of OpenSSL subject-hash links ("5ad8a5d6.0").
    """
    try:
        with os.scandir(path) as entries:
            return any(_HASH_NAME.match(entry.name) for entry in entries)
    except OSError:
        return False


def elapsed_ms(start: float, end: float | None = None) -> float:
    """
    Milliseconds from ``start`` to ``end`` (default: now), rounded to 0.1 ms.
    """
    return round(((time.perf_counter() if end is None else end) - start) * 1000, 1)
