"""
TLS contexts for the probe and a clock that sees when the handshake starts and ends.

Two contexts: ``verify`` judges the chain like a mail client (system trust store plus
``--cafile``); ``capture`` accepts any certificate so that a failed verification can
still show what the server presents. Both accept TLS 1.0 and 1.1, so an old server is
reported as a warning with its version rather than as an unexplained handshake failure.
"""

from __future__ import annotations

import contextvars
import os
import re
import ssl
import time
from dataclasses import dataclass

from bot.errors import InputError

# OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) above security level 0; the probe
# must see such servers to warn about them. Verification still happens, only algorithm
# floors drop.
_LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"
# _ssl.ENCODING_DER: the private Certificate objects of Python < 3.13 give DER with it.
_ENCODING_DER = 2
# OpenSSL's name for a CA in a hashed directory: subject hash, dot, sequence number.
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


@dataclass(slots=True)
class HandshakeClock:
    """
    When the TLS handshake of one connection started and finished (``perf_counter``
    seconds).
    """

    started: float | None = None
    finished: float | None = None


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


@dataclass(frozen=True, slots=True)
class TlsContexts:
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
    return TlsContexts(verify=verify, capture=capture)


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


def presented_chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    """
    The certificates the server sent, DER, leaf first (verified or not).

    Python 3.13 has ``SSLObject.get_unverified_chain()``; 3.10-3.12 keep the same
    OpenSSL call (``SSL_get_peer_cert_chain``) on the private ``_sslobj``. Without
    either, the leaf alone is returned.
    """
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(
            getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None
        )
    if getter is not None:
        try:
            certs = getter() or []
        except (ssl.SSLError, ValueError):
            certs = []
        chain = tuple(
            c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER) for c in certs
        )
        if chain:
            return chain
    leaf = ssl_object.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()
