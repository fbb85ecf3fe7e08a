"""
Each failing finding links the knowledge-base entry that explains that finding: a name
that does not exist is not a "temporary DNS failure", a server that accepted the
connection and then said nothing is not "unable to connect", a hang-up after the
connect is not "connection refused", an SSH banner is not a TLS-mode mismatch, and a
421 from any server is not Gmail's.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bot.probe import TlsContexts, probe
from bot.probe.output import emit
from tests.probe.conftest import LOCAL
from tests.probe.servers import ServerThread


async def first_link(target: str, contexts: TlsContexts, timeout: float) -> Any:
    """Probe ``target`` and return its first failing finding as the JSON shows it."""
    result = await probe(target, policy=LOCAL, contexts=contexts, timeout=timeout)
    out = io.StringIO()
    emit([result], as_json=True, several=False, out=out)
    data = json.loads(out.getvalue())
    return next(f for f in data["findings"] if f["severity"] == "fail")


def sends(first: bytes, *, then_close: bool = False) -> Any:
    """A server that sends ``first`` on accept, then waits (or hangs up)."""

    async def serve(reader: Any, writer: Any) -> None:
        writer.write(first)
        await writer.drain()
        if then_close:
            writer.close()
            return
        await reader.read()

    return serve


async def test_reserved_name_links_a_name_not_found_entry(
    contexts: TlsContexts,
) -> None:
    """A name that never resolves links an entry about a name not found, not a
    temporary failure."""
    finding = await first_link("smtp.example.invalid:587", contexts, 2)
    assert finding["id"] == "dns-failure"
    assert finding["kb_entry"] == "smtp-host-name-not-found"
    assert "temporary" not in finding["kb_title"].lower()


async def test_silent_server_links_a_no_greeting_entry(
    scripted: Any, contexts: TlsContexts
) -> None:
    """Connected, no greeting: the entry says the server does not greet."""
    port, _server = scripted(greeting=None)
    finding = await first_link(f"127.0.0.1:{port}", contexts, 1.2)
    assert finding["id"] == "no-greeting"
    assert finding["kb_entry"] == "smtp-server-stops-answering"


async def test_silence_after_ehlo_links_the_same_entry(
    scripted: Any, contexts: TlsContexts
) -> None:
    """Greets, then never answers EHLO: stalled, linked to the stops-answering entry."""
    port, _server = scripted(ehlo=None)
    finding = await first_link(f"127.0.0.1:{port}", contexts, 1.5)
    assert finding["id"] == "stalled"
    assert finding["kb_entry"] == "smtp-server-stops-answering"


async def test_hang_up_links_a_closed_connection_entry(
    servers: ServerThread, contexts: TlsContexts
) -> None:
    """Accepted, then closed without a greeting: not the connection-refused entry."""
    port = servers.serve_streams(sends(b"", then_close=True))
    finding = await first_link(f"127.0.0.1:{port}", contexts, 3)
    assert finding["id"] == "closed-before-greeting"
    assert finding["kb_entry"] == "smtp-server-closes-connection"


@pytest.mark.parametrize(
    "banner",
    [
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",  # OpenSSH's identification
        b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n",  # an IMAP server
        b"+OK Dovecot ready.\r\n",  # a POP3 server
    ],
)
async def test_other_protocol_links_an_other_protocol_entry(
    servers: ServerThread, contexts: TlsContexts, banner: bytes
) -> None:
    """An SSH, IMAP or POP3 banner on the port: not a TLS-mode mismatch entry."""
    port = servers.serve_streams(sends(banner))
    finding = await first_link(f"127.0.0.1:{port}", contexts, 3)
    assert finding["id"] == "not-smtp"
    assert finding["kb_entry"] == "smtp-port-answers-other-protocol"


@pytest.mark.parametrize(
    "greeting",
    [
        b"421 4.3.2 Service shutting down and closing transmission channel\r\n",
        b"421 mail.example.com Service not available, closing transmission channel\r\n",
    ],
)
async def test_421_greeting_links_a_generic_421_entry(
    scripted: Any, contexts: TlsContexts, greeting: bytes
) -> None:
    """A 421 greeting from any server links the 421-at-connect entry, not Gmail's."""
    port, _server = scripted(greeting=greeting)
    finding = await first_link(f"127.0.0.1:{port}", contexts, 3)
    assert finding["id"] == "rate-limited"
    assert finding["kb_entry"] == "smtp-421-service-not-available"
    assert "gmail" not in finding["kb_title"].lower()


async def test_454_to_starttls_links_the_454_entry(
    scripted: Any, contexts: TlsContexts
) -> None:
    """454 to STARTTLS links the 454 entry, not "STARTTLS not advertised"."""
    port, _server = scripted(starttls="454")
    finding = await first_link(f"127.0.0.1:{port}", contexts, 3)
    assert finding["id"] == "starttls-refused"
    assert finding["kb_entry"] == "server-454-tls-not-available"
