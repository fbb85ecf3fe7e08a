"""
Records of a probe: what was asked, what each phase saw, and what went wrong.

Pure data: no I/O and no third-party imports, so the verdict and the renderers can be
tested without a network, and the Slack side can hold results without importing
aiosmtplib.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.probe.frozen import Frozen


class Mode(StrEnum):
    """
    How TLS is started: detect it, STARTTLS after a plaintext greeting, or implicit TLS.
    """

    AUTO = "auto"
    STARTTLS = "starttls"
    TLS = "tls"


class Problem(StrEnum):
    """
    The fact that stopped a probe; ``verdict`` turns it into a finding and a category.
    """

    DNS_FAILURE = "dns-failure"
    CONNECT_REFUSED = "connect-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    NO_GREETING = "no-greeting"
    CLOSED_BEFORE_GREETING = "closed-before-greeting"
    NOT_SMTP = "not-smtp"
    GREETING_REJECTED = "greeting-rejected"
    EHLO_FAILED = "ehlo-failed"
    STARTTLS_NOT_OFFERED = "starttls-not-offered"
    STARTTLS_REJECTED = "starttls-rejected"
    STARTTLS_NO_ANSWER = "starttls-no-answer"
    HANDSHAKE_FAILED = "handshake-failed"
    HANDSHAKE_TIMEOUT = "handshake-timeout"
    STALLED = "stalled"
    CLOSED = "closed"


class Failure(Frozen):
    """
    Where and why a probe stopped.
    """

    phase: str
    problem: Problem
    detail: str
    code: int | None = None
    waited_s: float | None = None


class Phase(Frozen):
    """
    One step of the session, timed; ``ok`` is False for the step that failed.
    """

    name: str
    ok: bool
    ms: float
    detail: str = ""


class TlsInfo(Frozen):
    """
    The negotiated TLS session.
    """

    version: str
    cipher: str
    bits: int | None = None
    # The DH group's size, for a finite-field DHE suite (TLS 1.2 and older).
    dh_bits: int | None = None


class CertInfo(Frozen):
    """
    The server's leaf certificate as parsed by ``certs.parse_certificate``.
    """

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_signed: bool
    key_type: str
    key_size: int | None
    serial: str
    sha256: str
    common_name: str | None = None


class CertCheck(Frozen):
    """
    How a verifying client judges the certificate: chain, dates and name.
    """

    info: CertInfo | None
    trusted: bool
    verify_code: int | None = None
    verify_message: str | None = None
    name: str | None = None
    hostname_match: bool | None = None
    # How many certificates the server sent (read from its Certificate message); when
    # it sent only its own, the issuer it left out and where that issuer is published
    # (the leaf's AIA caIssuers URL), if the certificate says.
    chain_sent: int | None = None
    missing_issuer: str | None = None
    issuer_url: str | None = None


class ProbeResult(Frozen):
    """
    Everything one probe of one port observed; a failed probe is data, not an exception.
    """

    host: str
    port: int
    address: str | None
    servername: str | None
    requested_mode: Mode
    mode: Mode | None
    phases: tuple[Phase, ...]
    failure: Failure | None
    checked_at: datetime
    total_ms: float
    banner: str | None = None
    extensions_before_tls: tuple[str, ...] = ()
    extensions_after_tls: tuple[str, ...] = ()
    auth_before_tls: tuple[str, ...] = ()
    auth_after_tls: tuple[str, ...] = ()
    tls: TlsInfo | None = None
    cert: CertCheck | None = None
    timeout_s: float = 10.0
    addresses: tuple[str, ...] = ()
    # The server sent a CertificateRequest (it asks for, or requires, a client
    # certificate), and the TLS alerts it sent (RFC 8446 §6 codes).
    client_cert_requested: bool = False
    tls_alerts: tuple[int, ...] = ()
    # The certificates the server sent (DER, in the order sent), for DANE
    # (bot.mxcheck.dane).
    chain: tuple[bytes, ...] = ()

    def phase(self, name: str) -> Phase | None:
        """
        Return the phase called ``name``, if the probe reached it.
        """
        return next((p for p in self.phases if p.name == name), None)
