"""
Certificate reading: host name matching (RFC 6125), RFC 4514 names, the DER key reader,
and agreement between the stdlib path (verified peers) and the cryptography path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import trustme
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from bot.probe import x509
from bot.probe.certs import (
    format_name,
    from_peercert,
    hostname_matches,
    public_key_info,
)
from tests.probe.conftest import Pki
from tests.probe.servers import ServerThread, make_cert, server_context


@pytest.mark.parametrize(
    ("name", "sans", "cn", "expected"),
    [
        ("mail.example.com", ("mail.example.com",), None, True),
        ("MAIL.Example.com.", ("mail.example.com",), None, True),
        ("mail.example.com", ("*.example.com",), None, True),
        ("a.b.example.com", ("*.example.com",), None, False),
        ("example.com", ("*.example.com",), None, False),
        ("mail.example.com", ("*.com",), None, False),
        ("mail.example.com", ("m*.example.com",), None, False),
        ("mail.example.com", ("*.*.com",), None, False),
        ("mail.example.com", ("other.example.com",), None, False),
        ("mail.example.com", (), "mail.example.com", True),
        ("mail.example.com", ("other.example.com",), "mail.example.com", False),
        ("192.0.2.1", ("192.0.2.1",), None, True),
        ("192.0.2.1", ("mail.example.com",), "192.0.2.1", False),
        ("::1", ("0:0:0:0:0:0:0:1",), None, True),
        ("192.0.2.1", ("*.example.com", "192.0.2.2"), None, False),
    ],
)
def test_hostname_matches(
    name: str, sans: tuple[str, ...], cn: str | None, expected: bool
) -> None:
    """Names match as RFC 6125 says: one whole-label wildcard, CN only without SANs."""
    assert hostname_matches(name, sans, cn) is expected


def test_format_name_escapes_rfc4514() -> None:
    """Special characters are escaped and the last RDN comes first (RFC 4514 §2)."""
    rdns = [[("C", "DE")], [("O", 'Acme, "Mail" <Inc>')], [("CN", " mail+x#")]]
    assert format_name(rdns) == 'CN=\\ mail\\+x#,O=Acme\\, \\"Mail\\" \\<Inc\\>,C=DE'
    assert format_name([[("CN", "#a "), ("OU", "b")]]) == "CN=\\#a\\ +OU=b"


def _self_signed_der(key: object) -> bytes:
    """A self-signed certificate for ``key``, DER-encoded."""
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "k.test")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    fixed = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
    algorithm = None if isinstance(key, fixed) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.DER)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (rsa.generate_private_key(65537, 2048), ("RSA", 2048)),
        (rsa.generate_private_key(65537, 1024), ("RSA", 1024)),
        (ec.generate_private_key(ec.SECP256R1()), ("EC secp256r1", 256)),
        (ec.generate_private_key(ec.SECP384R1()), ("EC secp384r1", 384)),
        (ed25519.Ed25519PrivateKey.generate(), ("Ed25519", 256)),
    ],
    ids=["rsa2048", "rsa1024", "p256", "p384", "ed25519"],
)
def test_public_key_info_agrees_with_cryptography(
    key: object, expected: tuple[str, int]
) -> None:
    """The DER key reader names type and size exactly as the cryptography path does."""
    der = _self_signed_der(key)
    assert public_key_info(der) == expected
    info = x509.parse_certificate(der)
    assert (info.key_type, info.key_size) == expected
    assert info.self_signed is True


def test_public_key_info_survives_garbage() -> None:
    """Bytes that are not a certificate give "unknown", not an exception."""
    assert public_key_info(b"\x30\x82\xff\xff") == ("unknown", None)
    assert public_key_info(b"") == ("unknown", None)


def test_parse_certificate_rejects_garbage() -> None:
    """The cryptography path raises ValueError for non-certificates."""
    with pytest.raises(ValueError):
        x509.parse_certificate(b"not a certificate")


def _peercert(
    servers: ServerThread, context: ssl.SSLContext, cafile: str
) -> tuple[dict, bytes]:  # type: ignore[type-arg]
    """Handshake with a local TLS server; return getpeercert() both ways."""
    port = servers.serve(lambda: _Quiet(), tls=context)
    client = ssl.create_default_context(cafile=cafile)
    client.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        client.wrap_socket(raw) as tls,
    ):
        decoded, der = tls.getpeercert(), tls.getpeercert(binary_form=True)
    assert decoded and der
    return decoded, der


class _Quiet(asyncio.Protocol):
    """A protocol that accepts a TLS connection and says nothing."""


def test_stdlib_and_cryptography_paths_agree(servers: ServerThread, pki: Pki) -> None:
    """A verified peer read via getpeercert() matches the cryptography reading."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pem, key = make_cert(
        issuer=pki.ca,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        names=("mail.test", "*.mail.test", "192.0.2.7", "::1"),
    )
    context = server_context(pem, key, pki.workdir, "agree")
    decoded, der = _peercert(servers, context, pki.cafile)
    assert from_peercert(decoded, der) == x509.parse_certificate(der)


def test_stdlib_path_reads_trustme_names(servers: ServerThread, pki: Pki) -> None:
    """Subjects with O and OU, and IP SANs, read the same on both paths."""
    leaf = pki.ca.issue_cert("mail.test", "127.0.0.1", "::1", common_name="mail.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    decoded, der = _peercert(servers, context, pki.cafile)
    info = from_peercert(decoded, der)
    assert info == x509.parse_certificate(der)
    assert info.subject.startswith("CN=mail.test,")
    assert info.sans == ("mail.test", "127.0.0.1", "::1")
    assert info.self_signed is False


def test_trustme_ca_is_self_signed() -> None:
    """A CA certificate is read as self-signed by the cryptography path."""
    ca = trustme.CA()
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())
    assert x509.parse_certificate(der).self_signed is True


def _openssl_dsa_der(workdir: Path) -> bytes:
    """
    A self-signed DSA-2048 certificate made by the openssl command line.

    cryptography deprecates DSA from release 51 on, so the legacy-key fixture comes from
    OpenSSL itself rather than from a deprecated (and later removed) Python API.
    """
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command line is needed (.ci/run installs it)"
    params, key, cert = (workdir / n for n in ("dsa.param", "dsa.key", "dsa.der"))

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    run(
        "genpkey",
        "-genparam",
        "-algorithm",
        "DSA",
        "-pkeyopt",
        "dsa_paramgen_bits:2048",
        "-out",
        str(params),
    )
    run("genpkey", "-paramfile", str(params), "-out", str(key))
    run(
        "req", "-new", "-x509", "-key", str(key), "-subj", "/CN=dsa.test",
        "-days", "2", "-sha256", "-outform", "DER", "-out", str(cert),
    )  # fmt: skip
    return cert.read_bytes()


def test_legacy_dsa_key_reads_alike(tmp_path: Path) -> None:
    """A DSA-2048 certificate reads as DSA 2048 on both paths, with no warning."""
    der = _openssl_dsa_der(tmp_path)
    info = x509.parse_certificate(der)
    assert (info.key_type, info.key_size) == ("DSA", 2048)
    assert public_key_info(der) == ("DSA", 2048)
    assert info.common_name == "dsa.test" and info.self_signed is True


def test_rare_key_ed448_agrees() -> None:
    """Ed448 keys read the same on both paths."""
    der = _self_signed_der(ed448.Ed448PrivateKey.generate())
    info = x509.parse_certificate(der)
    assert public_key_info(der) == (info.key_type, info.key_size) == ("Ed448", 456)


def test_lazy_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hashed CA directory: no CA parsed up front; SSL_CERT_FILE loads eagerly."""
    from bot.probe import tls

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    capath = ssl.get_default_verify_paths().capath
    lazy = tls.build_contexts().verify.cert_store_stats()["x509_ca"]
    if capath and tls._is_hashed_dir(capath):
        assert lazy == 0
    bundle = ssl.get_default_verify_paths().openssl_cafile
    if Path(bundle).is_file():
        monkeypatch.setenv("SSL_CERT_FILE", bundle)
        assert tls.build_contexts().verify.cert_store_stats()["x509_ca"] > 0


def test_hashed_dir_detection(tmp_path: Path) -> None:
    """Only a directory with OpenSSL hash links counts as a lazy CA store."""
    from bot.probe.tls import _is_hashed_dir

    assert not _is_hashed_dir(str(tmp_path / "missing"))
    assert not _is_hashed_dir(str(tmp_path))
    (tmp_path / "5ad8a5d6.0").write_text("")
    assert _is_hashed_dir(str(tmp_path))


def test_bad_cafile_is_input_error(tmp_path: Path) -> None:
    """A --cafile that is not PEM certificates is an input error naming the file."""
    from bot.errors import InputError
    from bot.probe import build_contexts

    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InputError, match="--cafile"):
        build_contexts(cafile=str(bad))


def test_auth_mechanisms_both_styles() -> None:
    """AUTH lines (RFC 4954) and old-style AUTH= lines merge, upper-case, once each."""
    from bot.probe.notes import auth_mechanisms

    lines = ("SIZE 100", "AUTH=LOGIN PLAIN", "auth plain cram-md5", "AUTHX FOO")
    assert auth_mechanisms(lines) == ("LOGIN", "PLAIN", "CRAM-MD5")
