"""
``--mx``: MX records in preference order, the implicit MX (RFC 5321 §5.1), null MX
(RFC 7505), answered by a real DNS server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, cast

import dns.asyncresolver
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from bot.errors import InputError
from bot.probe.command import CheckRequest, run_check
from bot.probe.mx import MxHost, lookup_mx, order_mx
from tests.probe.conftest import Pki
from tests.probe.servers import ServerThread

# The test zone: MX answers by name; "nxdomain.test" does not exist.
ZONE: dict[str, list[str]] = {
    "example.test.": ["20 mx2.localhost.", "10 mx1.localhost.", "10 mx0.localhost."],
    "nomx.test.": [],
    "null.test.": ["0 ."],
}


class _Dns(asyncio.DatagramProtocol):
    """A tiny authoritative DNS server for ``ZONE`` (MX only)."""

    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the socket."""
        # asyncio's selector datagram transport is no DatagramTransport in 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Answer one query."""
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        name = query.question[0].name.to_text()
        if name not in ZONE:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif ZONE[name] and query.question[0].rdtype == dns.rdatatype.MX:
            reply.answer.append(dns.rrset.from_text(name, 60, "IN", "MX", *ZONE[name]))
        self.transport.sendto(reply.to_wire(), addr)


@pytest.fixture(scope="module")
def resolver(servers: ServerThread) -> dns.asyncresolver.Resolver:
    """A resolver that asks only the local test DNS server."""

    port = servers.serve_datagram(_Dns)
    local = dns.asyncresolver.Resolver(configure=False)
    local.nameservers = ["127.0.0.1"]
    local.port = port
    return local


def test_order_mx_sorts_and_dedupes() -> None:
    """Lower preference first, then name; duplicates and trailing dots go."""
    records = [
        (20, "b.example."),
        (10, "c.example"),
        (10, "a.example."),
        (10, "a.example"),
    ]
    assert order_mx(records, "example") == [
        MxHost(10, "a.example"),
        MxHost(10, "c.example"),
        MxHost(20, "b.example"),
    ]


def test_order_mx_implicit_and_null() -> None:
    """No MX means the domain itself (RFC 5321 §5.1); null MX is an error (RFC 7505)."""
    assert order_mx([], "example.org") == [MxHost(0, "example.org", implicit=True)]
    with pytest.raises(InputError, match="null MX"):
        order_mx([(0, ".")], "example.org")


async def test_lookup_mx_from_local_dns(resolver: dns.asyncresolver.Resolver) -> None:
    """MX hosts come back in preference order."""
    hosts = await lookup_mx("example.test", timeout=2, resolver=resolver)
    assert [(h.preference, h.host) for h in hosts] == [
        (10, "mx0.localhost"),
        (10, "mx1.localhost"),
        (20, "mx2.localhost"),
    ]


async def test_lookup_mx_falls_back_to_the_domain(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    """A domain without MX records is its own mail exchanger."""
    hosts = await lookup_mx("nomx.test", timeout=2, resolver=resolver)
    assert hosts == [MxHost(0, "nomx.test", implicit=True)]


@pytest.mark.parametrize(
    ("domain", "message"),
    [("nxdomain.test", "does not exist"), ("null.test", "null MX")],
)
async def test_lookup_mx_errors(
    resolver: dns.asyncresolver.Resolver, domain: str, message: str
) -> None:
    """A missing domain or a null MX is an input error with the reason."""
    with pytest.raises(InputError, match=message):
        await lookup_mx(domain, timeout=2, resolver=resolver)


def test_check_mx_probes_every_exchanger(
    resolver: dns.asyncresolver.Resolver, ports: dict[str, int], pki: Pki
) -> None:
    """``check DOMAIN --mx`` probes each MX host and prints an array, one per host."""
    out, err = io.StringIO(), io.StringIO()
    request = CheckRequest(
        target="example.test",
        port=ports["starttls"],
        mx=True,
        json=True,
        allow_private=True,
        cafile=pki.cafile,
        timeout=3,
    )
    code = run_check(request, env={}, out=out, err=err, resolver=resolver)
    assert code == 1, (
        err.getvalue()
    )  # the certificate is for mail.test, not mx0.localhost
    data = json.loads(out.getvalue())
    assert [item["target"]["host"] for item in data] == [
        "mx0.localhost",
        "mx1.localhost",
        "mx2.localhost",
    ]
    assert {item["target"]["address"] for item in data} == {"127.0.0.1"}
    assert {item["category"] for item in data} == {"tls-cert-hostname"}
