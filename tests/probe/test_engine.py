"""
The probe against real servers on 127.0.0.1: aiosmtpd with trustme certificates for the
healthy and certificate cases, scripted servers for broken STARTTLS.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest

from bot.probe import Mode, ProbeResult, TlsContexts, assess, probe
from bot.probe.model import Problem
from tests.probe.conftest import LOCAL, ipv6_loopback
from tests.probe.servers import ServerThread, free_port


async def run(port: int, contexts: TlsContexts, **options: Any) -> ProbeResult:
    """Probe 127.0.0.1:port as mail.test, with the test CA trusted."""
    options.setdefault("servername", "mail.test")
    options.setdefault("timeout", 5.0)
    host = options.pop("host", "127.0.0.1")
    return await probe(f"{host}:{port}", policy=LOCAL, contexts=contexts, **options)


def phases(result: ProbeResult) -> list[tuple[str, bool]]:
    """The phase names and ticks, in order."""
    return [(p.name, p.ok) for p in result.phases]


async def test_starttls_ok(ports: dict[str, int], contexts: TlsContexts) -> None:
    """A healthy STARTTLS server: every phase ticks, TLS 1.3, trusted, matching: ok."""
    result = await run(ports["starttls"], contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category, verdict.findings) == ("ok", None, ())
    assert result.mode is Mode.STARTTLS
    assert phases(result) == [
        ("resolve", True),
        ("connect", True),
        ("banner", True),
        ("ehlo", True),
        ("starttls", True),
        ("handshake", True),
        ("ehlo_tls", True),
        ("quit", True),
    ]
    assert result.banner == "220 mail.test aiosmtpd test ESMTP"
    assert "STARTTLS" in result.extensions_before_tls
    assert "STARTTLS" not in result.extensions_after_tls
    assert result.auth_before_tls == ()
    assert set(result.auth_after_tls) == {"LOGIN", "PLAIN"}
    assert result.tls is not None and result.tls.version == "TLSv1.3"
    assert (
        result.cert is not None and result.cert.trusted and result.cert.hostname_match
    )
    assert result.cert.info is not None and "mail.test" in result.cert.info.sans
    assert result.address == "127.0.0.1"
    assert result.total_ms < 5000


async def test_starttls_by_address_checks_ip_san(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """Without --servername an IP target is checked against the IP SANs."""
    result = await run(ports["starttls"], contexts, servername=None)
    assert result.servername is None
    assert result.cert is not None and result.cert.name == "127.0.0.1"
    assert result.cert.hostname_match is True
    assert assess(result).verdict == "ok"


async def test_starttls_not_advertised(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """A server without STARTTLS fails as starttls-unavailable, before any TLS."""
    result = await run(ports["plain"], contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "starttls-unavailable")
    assert verdict.findings[0].id == "starttls-not-offered"
    assert result.tls is None and result.cert is None
    assert phases(result)[-1] == ("starttls", False)


async def test_starttls_454(scripted: Any, contexts: TlsContexts) -> None:
    """A 454 reply to STARTTLS is starttls-unavailable, quoting the reply."""
    port, _server = scripted(starttls="454")
    result = await run(port, contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "starttls-unavailable")
    assert result.failure is not None and result.failure.code == 454
    assert "454 4.7.0 TLS not available" in verdict.findings[0].message


async def test_disconnect_after_220(scripted: Any, contexts: TlsContexts) -> None:
    """A hang-up right after 220 to STARTTLS is a failed handshake (right port)."""
    port, _server = scripted(starttls="close")
    result = await run(port, contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    assert ("starttls", True) in phases(result)
    assert phases(result)[-1] == ("handshake", False)


async def test_garbage_after_220(scripted: Any, contexts: TlsContexts) -> None:
    """Non-TLS bytes after 220 ("wrong version number") are tls-handshake-failed."""
    port, _server = scripted(starttls="garbage")
    result = await run(port, contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    assert verdict.findings[0].message == "TLS handshake failed: wrong version number"


@pytest.mark.parametrize(
    ("server", "category", "message"),
    [
        ("self-signed", "tls-cert-untrusted", "certificate is self-signed"),
        (
            "untrusted",
            "tls-cert-untrusted",
            "certificate chain is not trusted: the server sent only its own "
            "certificate, and its issuer",
        ),
        (
            "wrong-name",
            "tls-cert-hostname",
            "certificate is for other.example, not mail.test",
        ),
        ("expired", "tls-cert-expired", "certificate expired on"),
        ("not-yet-valid", "tls-cert-expired", "certificate is not valid before"),
    ],
)
async def test_certificate_cases(
    ports: dict[str, int],
    contexts: TlsContexts,
    server: str,
    category: str,
    message: str,
) -> None:
    """Each bad certificate fails with its category; its details are still captured."""
    result = await run(ports[server], contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", category)
    assert verdict.findings[0].message.startswith(message)
    assert result.cert is not None and result.cert.info is not None
    assert result.tls is not None
    assert result.extensions_after_tls, "the capture session still reads EHLO over TLS"


async def test_untrusted_certificate_details(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """A self-signed certificate is shown in full even though it did not verify."""
    result = await run(ports["self-signed"], contexts)
    assert result.cert is not None and result.cert.info is not None
    info = result.cert.info
    assert not result.cert.trusted and result.cert.verify_code == 18
    assert info.self_signed and info.subject == info.issuer == "CN=mail.test"
    assert info.key_type == "EC secp256r1" and info.key_size == 256
    assert result.cert.hostname_match is True


async def test_expiring_certificate_warns(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """A trusted certificate with 5 days left is a warning, not a failure."""
    result = await run(ports["expiring"], contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("warn", None)
    assert [f.id for f in verdict.findings] == ["cert-expiring"]
    assert "expires in 4 days" in verdict.findings[0].message or (
        "expires in 5 days" in verdict.findings[0].message
    )


async def test_plaintext_auth_warns(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """AUTH offered before STARTTLS is a warning naming the mechanisms."""
    result = await run(ports["auth-before-tls"], contexts)
    verdict = assess(result)
    assert (verdict.verdict, [f.id for f in verdict.findings]) == (
        "warn",
        ["auth-before-tls"],
    )
    assert set(result.auth_before_tls) == {"LOGIN", "PLAIN"}


async def test_auto_detects_implicit_tls(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """A port that waits silently for a ClientHello is reported as implicit TLS."""
    result = await run(ports["implicit"], contexts, timeout=2.0)
    verdict = assess(result)
    assert result.mode is Mode.TLS
    assert verdict.verdict == "ok"
    assert [f.id for f in verdict.findings] == ["implicit-tls"]
    assert result.banner == "220 mail.test aiosmtpd test ESMTP"
    assert result.extensions_before_tls == () and result.extensions_after_tls
    assert result.total_ms < 1500, "the quiet wait is a quarter of the deadline at most"


async def test_starttls_mode_on_implicit_port(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """--mode starttls against an implicit-TLS port is tls-port-mismatch."""
    result = await run(ports["implicit"], contexts, mode=Mode.STARTTLS, timeout=2.0)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-port-mismatch")
    assert "speaks implicit TLS" in verdict.findings[0].message


async def test_tls_mode_on_starttls_port(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """--mode tls on a STARTTLS port is tls-port-mismatch; STARTTLS is still checked."""
    result = await run(ports["starttls"], contexts, mode=Mode.TLS)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-port-mismatch")
    assert result.mode is Mode.STARTTLS
    assert "expects STARTTLS" in verdict.findings[0].message
    assert result.tls is not None and result.cert is not None and result.cert.trusted


async def test_tls_mode_on_implicit_port(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """--mode tls sends the ClientHello at once: no quiet wait, ok."""
    result = await run(ports["implicit"], contexts, mode=Mode.TLS)
    assert assess(result).verdict == "ok"
    assert result.total_ms < 1000


async def test_implicit_tls_self_signed(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """Implicit TLS with a self-signed certificate: untrusted, details captured."""
    result = await run(ports["implicit-self-signed"], contexts, mode=Mode.TLS)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-cert-untrusted")
    assert result.cert is not None and result.cert.info is not None


async def test_slow_greeter_is_not_mistaken_for_tls(
    scripted: Any, contexts: TlsContexts
) -> None:
    """A server that greets after the quiet wait answers our ClientHello in plaintext,
    so the probe retries in plaintext and reports STARTTLS."""
    port, _server = scripted(greeting_delay=0.7)
    result = await run(port, contexts, timeout=2.0)
    assert result.mode is Mode.STARTTLS
    assert assess(result).verdict == "ok"


async def test_closed_port(contexts: TlsContexts) -> None:
    """Nothing listening: connection-refused at once."""
    result = await run(free_port(), contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "connection-refused")
    assert (
        result.failure is not None and result.failure.problem is Problem.CONNECT_REFUSED
    )
    assert result.total_ms < 1000


async def test_unresolvable_name(no_network: None, contexts: TlsContexts) -> None:
    """A name under .invalid is a dns-failure, answered locally without any lookup."""
    result = await probe("mail.invalid:587", policy=LOCAL, contexts=contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "dns-failure")
    assert "never resolves" in verdict.findings[0].message
    assert result.address is None


async def test_resolver_failure_is_dns_failure(
    monkeypatch: pytest.MonkeyPatch, contexts: TlsContexts
) -> None:
    """An NXDOMAIN from the system resolver is a dns-failure quoting the resolver."""

    def nxdomain(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    result = await probe("smtp.nowhere.test:587", policy=LOCAL, contexts=contexts)
    verdict = assess(result)
    assert verdict.category == "dns-failure"
    assert "Name or service not known" in verdict.findings[0].message


async def test_resolves_once_and_connects_to_that_address(
    monkeypatch: pytest.MonkeyPatch, ports: dict[str, int], contexts: TlsContexts
) -> None:
    """The name is resolved once; every connection (here: probe and capture) goes to the
    address resolved then, even if DNS answers differently later (no rebinding)."""
    answers = iter(["127.0.0.1", "10.9.9.9", "10.9.9.9", "10.9.9.9"])
    lookups: list[str] = []
    connects: list[object] = []

    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 0))]

    real_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> Any:
        connects.append(address)
        assert address[0] == "127.0.0.1", f"connected to {address}"
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    result = await probe(
        f"mail.test:{ports['self-signed']}", policy=LOCAL, contexts=contexts, timeout=5
    )
    assert lookups == ["mail.test"]
    assert result.address == "127.0.0.1" and result.addresses == ("127.0.0.1",)
    assert len(connects) == 2, "the probe, then the certificate capture"
    assert result.servername == "mail.test"
    assert result.cert is not None and result.cert.hostname_match is True


async def test_name_resolving_to_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, contexts: TlsContexts
) -> None:
    """A name that resolves to a private address is refused without connecting."""
    from bot.errors import ProbeRefusedError
    from bot.probe import ProbePolicy

    def private(host: str, *args: object, **kwargs: object) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", 0))]

    def refuse(*args: object) -> None:
        raise AssertionError("connect attempted")

    monkeypatch.setattr(socket, "getaddrinfo", private)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(ProbeRefusedError, match="10.0.0.8 is a private address"):
        await probe("mail.example.com:25", policy=ProbePolicy(), contexts=contexts)


@pytest.mark.skipif(not ipv6_loopback(), reason="this host cannot listen on ::1")
async def test_ipv6_target(
    servers: ServerThread, pki: Any, contexts: TlsContexts
) -> None:
    """[::1]:port works end to end and is checked against the ::1 IP SAN."""
    port = servers.serve_aiosmtpd(starttls=pki.good, host="::1")
    result = await probe(f"[::1]:{port}", policy=LOCAL, contexts=contexts)
    assert result.address == "::1"
    assert assess(result).verdict == "ok"
    assert result.cert is not None and result.cert.name == "::1"


async def test_sweep_reports_each_port(
    ports: dict[str, int], contexts: TlsContexts
) -> None:
    """A sweep probes its ports side by side and reports each, in order."""
    from bot.probe import probe_ports

    closed = free_port()
    order = [ports["starttls"], closed, ports["implicit"]]
    results = await probe_ports(
        "127.0.0.1",
        order,
        policy=LOCAL,
        contexts=contexts,
        servername="mail.test",
        timeout=2,
    )
    assert [r.port for r in results] == order
    assert [assess(r).verdict for r in results] == ["ok", "fail", "ok"]
    assert [r.mode for r in results] == [Mode.STARTTLS, None, Mode.TLS]


async def test_never_sends_mail_rcpt_or_credentials(
    scripted: Any, contexts: TlsContexts
) -> None:
    """The whole session is EHLO, STARTTLS, EHLO, QUIT: no MAIL, RCPT or AUTH."""
    port, server = scripted()
    result = await run(port, contexts)
    assert assess(result).verdict == "ok"
    verbs = [line.split(b" ")[0].strip().upper() for line in server.lines]
    assert verbs == [b"EHLO", b"STARTTLS", b"EHLO", b"QUIT"]
    assert server.lines[0] == b"EHLO [127.0.0.1]\r\n"


@pytest.mark.skipif(
    not ssl.HAS_TLSv1, reason="the local OpenSSL cannot build a TLS 1.0 peer (no TLSv1)"
)
async def test_tls10_only_peer_fails(
    servers: ServerThread, pki: Any, contexts: TlsContexts
) -> None:
    """A TLS 1.0-only server fails (default clients refuse it), naming the version."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # Building the deprecated peer is the point of this test: expect the warning.
        with pytest.warns(DeprecationWarning, match="TLSv1"):
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.load_cert_chain(*_good_chain(pki))
    except (ssl.SSLError, ValueError) as exc:
        pytest.skip(f"the local OpenSSL refuses a TLS 1.0 server context: {exc}")
    port = servers.serve_aiosmtpd(starttls=context)
    result = await run(port, contexts)
    if (
        result.failure is not None
        and result.failure.problem is Problem.HANDSHAKE_FAILED
    ):
        pytest.skip(
            f"the local OpenSSL cannot negotiate TLS 1.0: {result.failure.detail}"
        )
    verdict = assess(result)
    assert result.tls is not None and result.tls.version == "TLSv1"
    assert (verdict.verdict, [f.id for f in verdict.findings]) == (
        "fail",
        ["tls-legacy"],
    )
    assert verdict.category == "tls-handshake-failed"
    assert "TLS 1.0" in verdict.findings[0].message


def _good_chain(pki: Any) -> tuple[str, str]:
    """Files with a good mail.test certificate chain and key."""
    leaf = pki.ca.issue_cert("mail.test", "127.0.0.1")
    chain, key = pki.workdir / "tls10.crt", pki.workdir / "tls10.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return str(chain), str(key)
