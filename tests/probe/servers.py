"""
Real servers on 127.0.0.1 (and ::1) for the probe tests and the benchmark.

One background thread runs an event loop that serves every test server, so tests (and
subprocesses they start) talk to them over real sockets: aiosmtpd for well-behaved
servers, ``ScriptedSmtp`` for broken and hostile ones, and ``make_cert`` for odd
certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import trustme
from aiosmtpd.smtp import SMTP as AiosmtpdSMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

HOSTNAME = "mail.test"


class ServerThread:
    """
    An event loop in a daemon thread that hosts servers until ``stop``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._endpoints: list[asyncio.BaseTransport] = []
        self._thread = threading.Thread(
            target=self._run, name="probe-test-servers", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """
        Run a coroutine on the server loop and wait for its result.
        """
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serve(
        self,
        factory: Callable[[], asyncio.BaseProtocol],
        *,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> int:
        """
        Listen on ``host`` at a port the OS picks; return the port.
        """

        async def start() -> int:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY, as real MTAs do.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
            sock.listen(1024)
            server = await self.loop.create_server(
                factory, sock=sock, ssl=tls, backlog=1024
            )
            self._servers.append(server)
            return int(sock.getsockname()[1])

        return self.call(start())

    def serve_streams(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> int:
        """
        Serve a raw stream handler (scripted and hostile servers), implicit TLS with
        ``tls``.
        """

        def factory() -> asyncio.BaseProtocol:
            reader = asyncio.StreamReader(limit=2**16, loop=self.loop)
            return asyncio.StreamReaderProtocol(reader, _guard(handler), loop=self.loop)

        return self.serve(factory, host=host, tls=tls)

    def serve_aiosmtpd(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit: ssl.SSLContext | None = None,
        auth_before_tls: bool = False,
        host: str = "127.0.0.1",
    ) -> int:
        """
        Serve aiosmtpd: STARTTLS with ``starttls``, implicit TLS with ``implicit``.
        """

        def factory() -> asyncio.BaseProtocol:
            return AiosmtpdSMTP(
                _Sink(),
                hostname=HOSTNAME,
                ident="aiosmtpd test ESMTP",
                tls_context=starttls,
                auth_require_tls=not auth_before_tls,
                loop=self.loop,
            )

        return self.serve(factory, tls=implicit, host=host)

    def serve_datagram(self, factory: Callable[[], asyncio.DatagramProtocol]) -> int:
        """
        Serve a UDP protocol on 127.0.0.1; return the port.
        """

        async def start() -> int:
            transport, _ = await self.loop.create_datagram_endpoint(
                factory, local_addr=("127.0.0.1", 0)
            )
            self._endpoints.append(transport)
            return int(transport.get_extra_info("sockname")[1])

        return self.call(start())

    def stop(self) -> None:
        """
        Close every server and connection, then end the thread.
        """

        async def close() -> None:
            for server in self._servers:
                server.close()
            for endpoint in self._endpoints:
                endpoint.close()
            current = asyncio.current_task()
            handlers = [t for t in asyncio.all_tasks() if t is not current]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            for server in self._servers:
                await server.wait_closed()

        self.call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


def _guard(handler: Handler) -> Handler:
    """
    Wrap a handler so a client hanging up never leaves a noisy traceback.
    """

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            writer.transport.abort()

    return run


class _Sink:
    """
    An aiosmtpd handler that would accept mail (the probe never sends any).
    """

    async def handle_DATA(
        self, server: object, session: object, envelope: object
    ) -> str:  # noqa: N802 - aiosmtpd's hook name
        return "250 OK"


@dataclass
class ScriptedSmtp:
    """
    A tiny SMTP server that follows a script, records every line, and misbehaves on cue.

    ``starttls``: "ok" (upgrade with ``tls``), "454", "close" (220 then hang up),
    "garbage" (220, then non-TLS bytes in answer to the ClientHello), "stall" (220, then
    silence), "hangup" (close, no reply). ``ehlo=None`` never answers EHLO;
    ``quit_reply=False`` closes without a goodbye.
    """

    greeting: bytes | None = b"220 mail.test ESMTP scripted\r\n"
    greeting_delay: float = 0.0
    ehlo: bytes | None = b"250-mail.test\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n"
    ehlo_tls: bytes = b"250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n"
    starttls: str = "ok"
    quit_reply: bool = True
    tls: ssl.SSLContext | None = None
    lines: list[bytes] = field(default_factory=list)

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """
        Serve one client by the script.
        """
        if self.greeting is None:
            await (
                reader.read()
            )  # a tarpit: accept, say nothing, wait for the client to go
            return
        await asyncio.sleep(self.greeting_delay)
        writer.write(self.greeting)
        in_tls = False
        while line := await reader.readline():
            self.lines.append(line)
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                if self.ehlo is None:
                    await reader.read()  # never answer
                    return
                writer.write(self.ehlo_tls if in_tls else self.ehlo)
            elif verb == b"STARTTLS" and not in_tls:
                if not await self._starttls(reader, writer):
                    return
                in_tls = True
                continue
            elif verb == b"QUIT":
                if self.quit_reply:
                    writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.1 not in this script\r\n")
            await writer.drain()

    async def _starttls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """
        Answer STARTTLS as scripted; True when the session goes on inside TLS.
        """
        if self.starttls == "hangup":
            return False
        if self.starttls == "454":
            writer.write(b"454 4.7.0 TLS not available due to local problem\r\n")
            await writer.drain()
            return True
        writer.write(b"220 2.0.0 Ready to start TLS\r\n")
        await writer.drain()
        if self.starttls == "close":
            return False
        if self.starttls == "stall":
            await reader.read()
            return False
        if self.starttls == "garbage":
            await reader.read(5)  # the start of the ClientHello
            writer.write(b"this is not TLS, it is a plaintext line\r\n" * 4)
            await writer.drain()
            await asyncio.sleep(0.5)
            return False
        assert self.tls is not None
        await writer.start_tls(self.tls)
        return True


@dataclass
class Endless:
    """
    Greet with a line that never ends: up to 50 MB of "A" and no newline; counts what
    the client let it send before hanging up.
    """

    sent: int = 0

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """
        Stream until the client goes away.
        """
        writer.write(b"220 ")
        chunk = b"A" * 65536
        for _ in range(50 * 16):
            writer.write(chunk)
            await writer.drain()
            self.sent += len(chunk)


async def endless_ehlo(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """
    Greet, then answer EHLO with continuation lines that never stop.
    """
    writer.write(b"220 mail.test ESMTP\r\n")
    await reader.readline()
    chunk = b"250-" + b"X" * 200 + b"\r\n"
    for _ in range(50 * 1024 * 1024 // len(chunk)):
        writer.write(chunk)
        await writer.drain()


def server_context(
    cert_pem: bytes, key_pem: bytes, tmp: Path, name: str
) -> ssl.SSLContext:
    """
    A server-side TLS context for a PEM certificate chain and key.
    """
    chain, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    chain.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    return context


def only_tls10(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context`` limited to TLS 1.0 at OpenSSL's lowest security level, in place."""
    with warnings.catch_warnings():
        # A TLS 1.0-only server is the point of the fault.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
    return context


def trustme_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """
    A server-side TLS context for a trustme leaf certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context


def make_cert(
    *,
    issuer: trustme.CA | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    names: tuple[str, ...] = (HOSTNAME, "127.0.0.1", "::1"),
    addresses_as_dns: bool = False,
    chain: bool = True,
) -> tuple[bytes, bytes]:
    """
    Build a leaf certificate with ``cryptography``: signed by ``issuer``, or
    self-signed.

    ``addresses_as_dns`` also names each address as a DNS name (some clients' identity
    checks read only DNS names and the common name). Returns the PEM certificate (with
    the issuer's when ``chain`` and there is one) and the PEM key.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    if issuer is None:
        issuer_name, signing_key = subject, key
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer.cert_pem.bytes())
        issuer_name = issuer_cert.subject
        signing_key = serialization.load_pem_private_key(  # type: ignore[assignment]
            issuer.private_key_pem.bytes(), password=None
        )
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            address = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            sans.append(x509.DNSName(name))
            continue
        if addresses_as_dns:
            sans.append(x509.DNSName(name))
        sans.append(address)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if issuer is not None and chain:
        pem += issuer.cert_pem.bytes()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, key_pem


def free_port() -> int:
    """
    A port on 127.0.0.1 that nothing listens on (bound, then released).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """
    ``count`` different free ports on 127.0.0.1: all are held until all are picked
    (one at a time, a released port could be handed out again).
    """
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports
