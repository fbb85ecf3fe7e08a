"""
Fixtures for the probe tests: one server thread, trustme and hand-built certificates,
the servers of the test matrix, and a guard that fails a test on any network connection.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.selector_events
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from bot.probe import ProbePolicy, TlsContexts, build_contexts
from tests.probe.servers import (
    HOSTNAME,
    ScriptedSmtp,
    ServerThread,
    make_cert,
    server_context,
    trustme_context,
)

# The probe tests reach local servers only: loopback, any port.
LOCAL = ProbePolicy(
    allow_cidrs=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    any_port=True,
)


@dataclass(frozen=True)
class Pki:
    """
    The test CA, its file, and server contexts for the certificate cases.
    """

    ca: trustme.CA
    cafile: str
    good: ssl.SSLContext
    workdir: Path


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerThread]:
    """
    The thread that hosts every test server for the session.
    """
    thread = ServerThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """
    A trustme CA (given to the probe as --cafile) and a good mail.test certificate.
    """
    workdir = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cafile = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    good = trustme_context(ca.issue_cert(HOSTNAME, "127.0.0.1", "::1"))
    return Pki(ca=ca, cafile=str(cafile), good=good, workdir=workdir)


@pytest.fixture(scope="session")
def contexts(pki: Pki) -> TlsContexts:
    """
    The probe's TLS contexts, trusting the test CA.
    """
    return build_contexts(cafile=pki.cafile)


def _dated(pki: Pki, name: str, *, days_before: int, days_after: int) -> ssl.SSLContext:
    """
    A server context whose CA-signed certificate is valid from/to days relative to now.
    """
    now = dt.datetime.now(dt.UTC)
    cert, key = make_cert(
        issuer=pki.ca,
        not_before=now + dt.timedelta(days=days_before),
        not_after=now + dt.timedelta(days=days_after),
    )
    return server_context(cert, key, pki.workdir, name)


@pytest.fixture(scope="session")
def ports(servers: ServerThread, pki: Pki) -> dict[str, int]:
    """
    Ports of the well-behaved and certificate-case servers (aiosmtpd on 127.0.0.1).
    """
    now = dt.datetime.now(dt.UTC)
    self_signed = server_context(
        *make_cert(
            issuer=None,
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=90),
        ),
        pki.workdir,
        "self-signed",
    )
    other_ca = trustme.CA()
    untrusted = trustme_context(other_ca.issue_cert(HOSTNAME, "127.0.0.1"))
    wrong_name = trustme_context(pki.ca.issue_cert("other.example"))
    return {
        "starttls": servers.serve_aiosmtpd(starttls=pki.good),
        "plain": servers.serve_aiosmtpd(),
        "auth-before-tls": servers.serve_aiosmtpd(
            starttls=pki.good, auth_before_tls=True
        ),
        "implicit": servers.serve_aiosmtpd(implicit=pki.good),
        "self-signed": servers.serve_aiosmtpd(starttls=self_signed),
        "untrusted": servers.serve_aiosmtpd(starttls=untrusted),
        "wrong-name": servers.serve_aiosmtpd(starttls=wrong_name),
        "expired": servers.serve_aiosmtpd(
            starttls=_dated(pki, "expired", days_before=-90, days_after=-2)
        ),
        "not-yet-valid": servers.serve_aiosmtpd(
            starttls=_dated(pki, "future", days_before=10, days_after=100)
        ),
        "expiring": servers.serve_aiosmtpd(
            starttls=_dated(pki, "expiring", days_before=-80, days_after=5)
        ),
        "implicit-self-signed": servers.serve_aiosmtpd(implicit=self_signed),
    }


@pytest.fixture
def scripted(servers: ServerThread, pki: Pki) -> Any:
    """
    Start a ``ScriptedSmtp`` server (with the good certificate for STARTTLS); returns
    a function giving (port, script).
    """

    def start(**script: Any) -> tuple[int, ScriptedSmtp]:
        server = ScriptedSmtp(tls=pki.good, **script)
        return servers.serve_streams(server), server

    return start


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Fail the test on any attempt to connect or resolve: a guard, so that a policy test
    cannot send a packet even if the code under test were wrong.
    """

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"network access attempted: {args[1:]!r}")

    async def refuse_async(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"network access attempted: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(
        asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", refuse_async
    )
    monkeypatch.setattr(
        asyncio.base_events.BaseEventLoop, "create_connection", refuse_async
    )
    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", refuse_async)


def ipv6_loopback() -> bool:
    """
    True when this host can listen on ::1.
    """
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
