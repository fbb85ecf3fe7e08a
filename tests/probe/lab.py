"""
A lab of real-world fault cases for the probe, shared by the tests and the benchmark.

``BlockingSmtp`` runs on blocking sockets in threads, so OpenSSL writes its alerts to
the socket the way Postfix and Exim do (asyncio servers drop a failed handshake
without its alert). The web servers are the standard library's own ``http.server``.
``build_lab`` starts every case: client certificates required (TLS 1.3 and 1.2) or
only asked for, a 1024-bit DH group, TLS 1.0 only, an RSA-1024 key, slow greetings,
HTTP and HTTPS on the port, plaintext on 465, expired, not yet valid, missing
intermediate and wildcard certificates, and healthy controls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import random
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tests.probe.servers import HOSTNAME, ServerThread, trustme_context

# Where the missing intermediate of the incomplete-chain case says it is published.
INTERMEDIATE_URL = "http://ca.example.test/intermediate.der"
# Loopback addresses for the port-465 case. It needs port 465 itself (its finding is
# about what that port speaks), so rather than a fixed address it listens at one picked
# at random per lab (another if that one is taken): binding 465 clashes neither with
# 127.0.0.1 nor with another test run on the machine.
PORT_465_NET = "127.46.0.0/16"


@dataclass
class BlockingSmtp:
    """
    A threaded SMTP server: greet (after ``greeting_delay``), EHLO, STARTTLS with
    ``tls`` (or implicit TLS), QUIT. Handshake failures are OpenSSL's own, alerts
    included.
    """

    tls: ssl.SSLContext | None = None
    implicit: bool = False
    greeting_delay: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    banner: bytes = b"220 mail.test ESMTP lab\r\n"
    _sock: socket.socket | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> int:
        """
        Listen and serve in a daemon thread; return the port.

        ``host`` may be a network ("127.46.0.0/16"): an address in it with the port
        free is picked at random.
        """
        if "/" in self.host:
            self.host, self._sock = _bind_somewhere(self.host, self.port)
        else:
            self._sock = socket.create_server((self.host, self.port), backlog=128)
        self.port = int(self._sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()
        return self.port

    def stop(self) -> None:
        """
        Stop accepting connections.
        """
        self._stopped.set()
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        opened: list[Any] = [raw]
        try:
            conn: socket.socket = raw
            if self.implicit:
                assert self.tls is not None
                conn = self.tls.wrap_socket(raw, server_side=True)
                opened.append(conn)
            time.sleep(self.greeting_delay)
            conn.sendall(self.banner)
            self._session(conn, opened)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for thing in reversed(opened):
                if isinstance(thing, ssl.SSLSocket):
                    # A TLS goodbye (close_notify), as real servers send.
                    with contextlib.suppress(OSError, ValueError):
                        thing.settimeout(0.5)
                        thing.unwrap().close()
                thing.close()

    def _session(self, conn: socket.socket, opened: list[Any]) -> None:
        in_tls = self.implicit
        reader = conn.makefile("rb")
        opened.append(reader)
        while line := reader.readline(4096):
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                starttls = b"250-STARTTLS\r\n" if self.tls and not in_tls else b""
                conn.sendall(b"250-mail.test\r\n" + starttls + b"250 SIZE 1000000\r\n")
            elif verb == b"STARTTLS" and self.tls is not None and not in_tls:
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                conn = self.tls.wrap_socket(conn, server_side=True)
                opened.append(conn)
                reader = conn.makefile("rb")
                opened.append(reader)
                in_tls = True
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.1 Error: command not recognized\r\n")


def _bind_somewhere(network: str, port: int) -> tuple[str, socket.socket]:
    """
    Listen on ``port`` at a random address of a loopback network.
    """
    hosts = ipaddress.ip_network(network)
    error: OSError | None = None
    for _ in range(50):
        host = str(hosts[random.randrange(1, hosts.num_addresses - 1)])
        try:
            return host, socket.create_server((host, port), backlog=128)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """
    A stock handler that does not log to stderr.
    """

    def setup(self) -> None:
        """
        Finish the TLS handshake in this connection's own thread (as real HTTPS
        servers do), so one silent client cannot hold up the others.
        """
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class _QuietServer(http.server.ThreadingHTTPServer):
    """
    The stock threading HTTP server, without printing clients' failed handshakes.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def serve_http(tls: ssl.SSLContext | None = None) -> tuple[int, Any]:
    """
    The standard library's threading HTTP server (HTTPS with ``tls``); (port, server).
    """
    server = _QuietServer(("127.0.0.1", 0), _Quiet)
    if tls is not None:
        server.socket = tls.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1]), server


def _leaf(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: Any,
    names: tuple[str, ...],
    key: Any | None = None,
    days: tuple[int, int] = (-1, 90),
    aia: str | None = None,
) -> tuple[bytes, bytes]:
    """
    A leaf certificate (PEM) and its key (PEM), signed by the given issuer.
    """
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if aia is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(aia),
        )
        builder = builder.add_extension(
            x509.AuthorityInformationAccess([access]), critical=False
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _ca_parts(ca: trustme.CA) -> tuple[x509.Certificate, Any]:
    """
    A trustme CA's certificate and key as cryptography objects.
    """
    cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    return cert, key


def _context(
    chain: bytes,
    key: bytes,
    workdir: Path,
    name: str,
    *,
    ciphers: str | None = None,
    maximum: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """
    A server context for a PEM chain and key (ciphers set first: a small key needs
    ``@SECLEVEL=0`` before it loads).
    """
    (workdir / f"{name}.crt").write_bytes(chain)
    (workdir / f"{name}.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if ciphers:
        context.set_ciphers(ciphers)
    if maximum is not None:
        context.maximum_version = maximum
    context.load_cert_chain(workdir / f"{name}.crt", workdir / f"{name}.key")
    return context


def _require_client_cert(
    context: ssl.SSLContext, ca: trustme.CA, *, required: bool
) -> ssl.SSLContext:
    """
    Ask for (``required``: demand) a client certificate issued by ``ca``.
    """
    context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    ca.configure_trust(context)
    return context


@dataclass(frozen=True)
class Case:
    """
    One lab server and what the probe must say about it.
    """

    name: str
    host: str
    port: int
    verdict: str
    category: str | None
    finding: str | None
    entry: str | None = None
    words: str = ""
    servername: str = HOSTNAME
    timeout: float = 10.0
    within_s: float | None = None


@dataclass
class Lab:
    """
    The running lab: its cases, the CA to trust, and what to stop at the end.
    """

    cases: dict[str, Case]
    cafile: str
    stoppers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """
        Stop every server the lab started.
        """
        for stop in self.stoppers:
            stop()


def _blocking(lab_stoppers: list[Any], **options: Any) -> int:
    """
    Start a ``BlockingSmtp`` and remember to stop it.
    """
    server = BlockingSmtp(**options)
    port = server.start()
    lab_stoppers.append(server.stop)
    return port


def build_lab(
    workdir: Path,
    servers: ServerThread,
    *,
    slow: tuple[tuple[float, float], ...] = ((2.5, 4.0),),
) -> Lab:
    """
    Start every fault case and healthy control; ``slow`` lists (greeting delay,
    timeout) of the slow-greeting cases ("slow-greeting", then "slow-greeting-4s"...).
    """
    ca = trustme.CA()
    cafile = workdir / "lab-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    ca_cert, ca_key = _ca_parts(ca)
    good_leaf = ca.issue_cert(HOSTNAME, "127.0.0.1")
    stops: list[Any] = []

    def good() -> ssl.SSLContext:
        return trustme_context(good_leaf)

    cases: list[Case] = []

    def add(name: str, port: int, **expect: Any) -> None:
        host = expect.pop("host", "127.0.0.1")
        cases.append(Case(name, host, port, **expect))

    # Healthy controls.
    add(
        "healthy-starttls",
        servers.serve_aiosmtpd(starttls=good()),
        verdict="ok",
        category=None,
        finding=None,
    )
    add(
        "healthy-blocking",
        _blocking(stops, tls=good()),
        verdict="ok",
        category=None,
        finding=None,
    )
    add(
        "healthy-implicit",
        _blocking(stops, tls=good(), implicit=True),
        verdict="ok",
        category=None,
        finding="implicit-tls",
    )
    add(
        "client-cert-asked",
        _blocking(stops, tls=_require_client_cert(good(), ca, required=False)),
        verdict="ok",
        category=None,
        finding="client-cert-requested",
    )
    # Client certificate required: real alerts (blocking), and asyncio (no alert).
    cert_required = dict(
        verdict="fail",
        category="tls-handshake-failed",
        finding="client-cert-required",
        entry="client-certificate-required",
        words="client certificate",
    )
    add(
        "client-cert-tls13",
        _blocking(stops, tls=_require_client_cert(good(), ca, required=True)),
        **cert_required,
    )
    tls12 = _require_client_cert(good(), ca, required=True)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    add("client-cert-tls12", _blocking(stops, tls=tls12), **cert_required)
    add(
        "client-cert-implicit",
        _blocking(
            stops, tls=_require_client_cert(good(), ca, required=True), implicit=True
        ),
        **cert_required,
    )
    add(
        "client-cert-asyncio",
        servers.serve_aiosmtpd(
            starttls=_require_client_cert(good(), ca, required=True)
        ),
        **cert_required,
    )
    # What default clients refuse.
    rsa_chain, rsa_key = _leaf(
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        names=(HOSTNAME, "127.0.0.1"),
        key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    dhparams = workdir / "dh1024.pem"
    subprocess.run(
        ["openssl", "dhparam", "-dsaparam", "-out", str(dhparams), "1024"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    dh = _context(
        rsa_chain,
        rsa_key,
        workdir,
        "dh1024",
        ciphers="DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0",
        maximum=ssl.TLSVersion.TLSv1_2,
    )
    dh.load_dh_params(str(dhparams))
    add(
        "weak-dh",
        _blocking(stops, tls=dh),
        verdict="fail",
        category="tls-handshake-failed",
        finding="weak-dh",
        entry="dh-key-too-small",
        words="1024-bit DH",
    )
    with warnings.catch_warnings():
        # Building the deprecated TLS 1.0 peer is the point of this case.
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = _context(
            *_leaf(
                issuer_cert=ca_cert, issuer_key=ca_key, names=(HOSTNAME, "127.0.0.1")
            ),
            workdir,
            "tls10",
            ciphers="DEFAULT:@SECLEVEL=0",
            maximum=ssl.TLSVersion.TLSv1,
        )
        legacy.minimum_version = ssl.TLSVersion.TLSv1
    add(
        "tls10-only",
        _blocking(stops, tls=legacy),
        verdict="fail",
        category="tls-handshake-failed",
        finding="tls-legacy",
        entry="openssl-protocol-version-unsupported",
        words="TLS 1.0",
    )
    small_chain, small_key = _leaf(
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        names=(HOSTNAME, "127.0.0.1"),
        key=rsa.generate_private_key(public_exponent=65537, key_size=1024),
    )
    add(
        "rsa-1024",
        _blocking(
            stops,
            tls=_context(
                small_chain,
                small_key,
                workdir,
                "rsa1024",
                ciphers="DEFAULT:@SECLEVEL=0",
            ),
        ),
        verdict="fail",
        category="tls-handshake-failed",
        finding="weak-key",
        entry="server-certificate-key-too-small",
        words="RSA 1024",
    )
    # Slow greeting: within the deadline it is ok, and takes about the delay.
    for index, (delay, slow_timeout) in enumerate(slow):
        add(
            "slow-greeting" if index == 0 else f"slow-greeting-{delay:g}s",
            _blocking(stops, tls=good(), greeting_delay=delay),
            verdict="ok",
            category=None,
            finding=None,
            timeout=slow_timeout,
            within_s=delay + 1.0,
        )
    # Not SMTP at all.
    http_port, http_server = serve_http()
    stops.extend((http_server.shutdown, http_server.server_close))
    add(
        "http",
        http_port,
        verdict="fail",
        category="tls-port-mismatch",
        finding="not-smtp",
        entry="smtp-port-answers-http",
        words="HTTP,",
        within_s=3.0,
    )
    https_port, https_server = serve_http(tls=good())
    stops.extend((https_server.shutdown, https_server.server_close))
    add(
        "https",
        https_port,
        verdict="fail",
        category="tls-port-mismatch",
        finding="not-smtp",
        entry="smtp-port-answers-http",
        words="HTTPS",
        within_s=3.0,
    )
    # Plaintext with STARTTLS on 465: works with STARTTLS, warns about the port.
    plain_465 = BlockingSmtp(tls=good(), host=PORT_465_NET, port=465)
    plain_465.start()
    stops.append(plain_465.stop)
    add(
        "plain-on-465",
        465,
        host=plain_465.host,
        verdict="warn",
        category=None,
        finding="port-465-starttls",
        words="implicit TLS",
    )

    # Certificates.
    def dated(name: str, days: tuple[int, int]) -> ssl.SSLContext:
        chain, key = _leaf(
            issuer_cert=ca_cert,
            issuer_key=ca_key,
            names=(HOSTNAME, "127.0.0.1"),
            days=days,
        )
        return _context(chain, key, workdir, name)

    add(
        "expired",
        _blocking(stops, tls=dated("expired", (-90, -2))),
        verdict="fail",
        category="tls-cert-expired",
        finding="cert-expired",
        entry="openssl-clients-certificate-expired",
        words="expired on",
    )
    add(
        "not-yet-valid",
        _blocking(stops, tls=dated("future", (10, 100))),
        verdict="fail",
        category="tls-cert-expired",
        finding="cert-expired",
        entry="certificate-not-yet-valid-clock",
        words="not yet valid",
    )
    intermediate = ca.create_child_ca()
    int_cert, int_key = _ca_parts(intermediate)
    leaf_only, leaf_key = _leaf(
        issuer_cert=int_cert,
        issuer_key=int_key,
        names=(HOSTNAME, "127.0.0.1"),
        aia=INTERMEDIATE_URL,
    )
    add(
        "missing-intermediate",
        _blocking(stops, tls=_context(leaf_only, leaf_key, workdir, "leaf-only")),
        verdict="fail",
        category="tls-cert-untrusted",
        finding="cert-untrusted",
        entry="server-missing-intermediate-chain",
        words="intermediate",
    )
    full_chain = leaf_only + intermediate.cert_pem.bytes()
    add(
        "full-chain",
        _blocking(stops, tls=_context(full_chain, leaf_key, workdir, "full-chain")),
        verdict="ok",
        category=None,
        finding=None,
    )
    wildcard = trustme_context(ca.issue_cert("*.example.test"))
    wildcard_port = _blocking(stops, tls=wildcard)
    add(
        "wildcard-two-labels",
        wildcard_port,
        servername="a.b.example.test",
        verdict="fail",
        category="tls-cert-hostname",
        finding="cert-hostname",
        words="exactly one label",
    )
    add(
        "wildcard-apex",
        wildcard_port,
        servername="example.test",
        verdict="fail",
        category="tls-cert-hostname",
        finding="cert-hostname",
        words="bare domain",
    )
    add(
        "wildcard-ok",
        wildcard_port,
        servername="mx.example.test",
        verdict="ok",
        category=None,
        finding=None,
    )
    return Lab({case.name: case for case in cases}, str(cafile), stops)
