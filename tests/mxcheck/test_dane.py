"""
TLSA records and certificate matching (RFC 6698, RFC 7672), with chains built by
trustme and cryptography; the expected digests come from cryptography, not from the
product's own DER reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.mxcheck.dane import Tlsa, association, authenticate, spki
from tests.probe.servers import make_cert

NOW = dt.datetime.now(dt.UTC)


def der(pem: bytes) -> bytes:
    """
    The DER form of a PEM certificate.
    """
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def chain_of(leaf: trustme.LeafCert) -> tuple[bytes, ...]:
    """
    A trustme leaf with its intermediates, DER, leaf first (what a server sends).
    """
    return tuple(der(p.bytes()) for p in leaf.cert_chain_pems)


def key_sha256(pem: bytes) -> bytes:
    """
    SHA-256 of the SubjectPublicKeyInfo as cryptography encodes it.
    """
    key = x509.load_pem_x509_certificate(pem).public_key()
    spki_der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki_der).digest()


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA])
def test_spki_is_the_certificates_own_key_info(key_type: trustme.KeyType) -> None:
    """The SPKI read from DER equals cryptography's encoding, for EC and RSA keys."""
    ca = trustme.CA(key_type=key_type)
    pem = ca.issue_cert("mx.example", key_type=key_type).cert_chain_pems[0].bytes()
    assert hashlib.sha256(spki(der(pem))).digest() == key_sha256(pem)


def test_association_for_each_selector_and_type() -> None:
    """Selector 0/1 and matching type 0/1/2 give the data RFC 6698 §2.1 defines."""
    pem = trustme.CA().issue_cert("mx.example").cert_chain_pems[0].bytes()
    cert = der(pem)
    assert association(cert, 0, 0) == cert
    assert association(cert, 0, 1) == hashlib.sha256(cert).digest()
    assert association(cert, 0, 2) == hashlib.sha512(cert).digest()
    assert association(cert, 1, 1) == key_sha256(pem)


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (Tlsa(0, 0, 1, b"\0" * 32), "PKIX-TA"),
        (Tlsa(1, 1, 1, b"\0" * 32), "PKIX-EE"),
        (Tlsa(3, 2, 1, b"\0" * 32), "selector 2"),
        (Tlsa(3, 1, 3, b"\0" * 32), "matching type 3"),
        (Tlsa(3, 1, 1, b"\0" * 31), "31 bytes"),
        (Tlsa(2, 0, 2, b"\0" * 32), "SHA2-512 has 64"),
    ],
)
def test_unusable_records(record: Tlsa, why: str) -> None:
    """Records SMTP senders skip say why (RFC 7672 §3.1.3)."""
    reason = record.unusable()
    assert reason is not None and why in reason


def test_dane_ee_ignores_chain_name_and_dates() -> None:
    """A 3 1 1 record matches an expired self-signed certificate for another name."""
    pem, _key = make_cert(
        issuer=None,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=1),
        names=("elsewhere.example",),
    )
    record = Tlsa(3, 1, 1, key_sha256(pem))
    match = authenticate(
        [Tlsa(3, 1, 1, b"\1" * 32), record], [der(pem)], "mx.example", NOW
    )
    assert match.record == record


def test_dane_ta_anchor_in_the_sent_chain() -> None:
    """A 2 0 1 record for the intermediate the server sends authenticates its leaf."""
    inter = trustme.CA().create_child_ca()
    chain = chain_of(inter.issue_cert("mx.example"))
    anchor = der(inter.cert_pem.bytes())
    record = Tlsa(2, 0, 1, hashlib.sha256(anchor).digest())
    assert authenticate([record], chain, "mx.example", NOW).record == record
    by_key = Tlsa(2, 1, 1, key_sha256(inter.cert_pem.bytes()))
    assert authenticate([by_key], chain, "mx.example", NOW).record == by_key


def test_dane_ta_accepts_the_cname_expanded_name() -> None:
    """
    RFC 7672 §3.2.2: for an MX host that is an alias, a DANE-TA leaf may carry the
    CNAME-expanded name instead of the alias; any other name still fails.
    """
    inter = trustme.CA().create_child_ca()
    chain = chain_of(inter.issue_cert("mx.example"))
    record = Tlsa(2, 0, 1, hashlib.sha256(der(inter.cert_pem.bytes())).digest())
    alone = authenticate([record], chain, "alias.example", NOW)
    assert alone.record is None
    assert "not valid for alias.example" in alone.problems[0]
    expanded = authenticate(
        [record], chain, "alias.example", NOW, expanded="mx.example"
    )
    assert expanded.record == record
    other = authenticate([record], chain, "alias.example", NOW, expanded="x.example")
    assert "not valid for alias.example or x.example" in other.problems[0]


def test_dane_ta_checks_name_and_dates() -> None:
    """DANE-TA needs the MX name on the leaf, and the leaf within its dates."""
    inter = trustme.CA().create_child_ca()
    record = Tlsa(2, 0, 1, hashlib.sha256(der(inter.cert_pem.bytes())).digest())
    wrong = authenticate(
        [record], chain_of(inter.issue_cert("other.example")), "mx.example", NOW
    )
    assert wrong.record is None
    assert "not valid for mx.example" in wrong.problems[0]
    expired = inter.issue_cert(
        "mx.example",
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=1),
    )
    old = authenticate([record], chain_of(expired), "mx.example", NOW)
    assert old.record is None
    assert "outside its dates" in old.problems[0]


def test_dane_ta_chain_must_link_to_the_anchor() -> None:
    """An anchor that did not sign the chain below it does not authenticate it."""
    inter = trustme.CA().create_child_ca()
    stranger = trustme.CA().create_child_ca()
    leaf = der(stranger.issue_cert("mx.example").cert_chain_pems[0].bytes())
    anchor = der(inter.cert_pem.bytes())
    record = Tlsa(2, 0, 1, hashlib.sha256(anchor).digest())
    match = authenticate([record], (leaf, anchor), "mx.example", NOW)
    assert match.record is None
    assert "does not lead to the trust anchor" in match.problems[0]


def test_dane_ta_chain_sent_out_of_order() -> None:
    """A chain sent out of order still leads from the leaf to the anchor."""
    root = trustme.CA()
    middle = root.create_child_ca()
    lower = middle.create_child_ca()
    leaf = der(lower.issue_cert("mx.example").cert_chain_pems[0].bytes())
    anchor = der(middle.cert_pem.bytes())
    record = Tlsa(2, 0, 1, hashlib.sha256(anchor).digest())
    shuffled = (leaf, anchor, der(lower.cert_pem.bytes()))
    assert authenticate([record], shuffled, "mx.example", NOW).record == record


def test_no_certificate_matches_nothing() -> None:
    """Without a presented certificate no record can match."""
    match = authenticate([Tlsa(3, 1, 1, b"\0" * 32)], (), "mx.example", NOW)
    assert match.record is None
    assert match.problems == ("no certificate was presented",)


def test_presentation_form_is_short() -> None:
    """Records print as "3 1 1 " and the data shortened."""
    assert str(Tlsa(3, 1, 1, bytes(range(32)))) == "3 1 1 00010203…1c1d1e1f"
