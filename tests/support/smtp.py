"""
A local SMTP server (aiosmtpd) on 127.0.0.1 for real probes: STARTTLS with a trustme
certificate, or plaintext only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import trustme
from aiosmtpd.smtp import SMTP


class Sink:
    """
    An aiosmtpd handler that accepts and drops every message.
    """

    async def handle_DATA(
        self, server: object, session: object, envelope: object
    ) -> str:  # noqa: N802 - aiosmtpd's hook name
        return "250 OK"


@dataclass(frozen=True)
class SmtpServer:
    """
    A running local server.
    """

    port: int
    cafile: str
    starttls: bool


@contextlib.asynccontextmanager
async def smtp_server(
    workdir: Path, *, starttls: bool = True
) -> AsyncIterator[SmtpServer]:
    """
    Serve SMTP on 127.0.0.1 (port chosen by the OS) until the block ends.
    """
    ca = trustme.CA()
    cert = ca.issue_cert("mail.test", "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    cafile = workdir / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            Sink(),
            hostname="mail.test",
            tls_context=context if starttls else None,
            ident="test ESMTP",
        )

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer(port, str(cafile), starttls)
    finally:
        server.close()
        await server.wait_closed()
