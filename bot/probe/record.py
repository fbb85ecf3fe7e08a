"""
From the running notes of a probe to its ``ProbeResult``: what was asked, what the
connections saw, and the certificate judged by chain, dates and name.

No I/O and no asyncio, so the engine and the quick path share it.
"""

from __future__ import annotations

from datetime import datetime

from bot.probe import certs
from bot.probe.frozen import Frozen
from bot.probe.model import CertCheck, Mode, Phase, ProbeResult
from bot.probe.notes import Notes, auth_mechanisms
from bot.probe.recording import RecordingSocket
from bot.probe.target import Target
from bot.probe.tls import elapsed_ms

# OpenSSL verify codes for "the issuer of a certificate in the chain is not at hand":
# X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT (2), _LOCALLY (20), UNABLE_TO_VERIFY_LEAF (21).
_ISSUER_NOT_FOUND = frozenset({2, 20, 21})


class Handover(Frozen):
    """
    A plaintext connection the quick path opened and read nothing from, for the engine
    to go on with (a server that has not greeted yet), and the phases timed so far.
    """

    port: int
    address: str
    sock: RecordingSocket
    connected_at: float
    phases: tuple[Phase, ...]


class Asked(Frozen):
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


def freeze(meta: Asked, notes: Notes, addresses: tuple[str, ...] = ()) -> ProbeResult:
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
        cert=cert_check(notes, servername or notes.address),
        timeout_s=meta.timeout,
        addresses=addresses,
        client_cert_requested=bool(clock and clock.cert_requested),
        tls_alerts=tuple(clock.alerts) if clock else (),
        chain=(clock.chain or ()) if clock else (),
    )


def cert_check(notes: Notes, name: str | None) -> CertCheck | None:
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
