"""
Certificate details via ``cryptography``, for certificates a verifying client rejected.

When verification fails, ``getpeercert()`` decodes nothing, so the probe captures the
DER bytes in a second, non-verifying handshake and reads them here. Imported lazily: a
healthy probe never loads ``cryptography`` (see ``bot.probe.certs``).
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    NameOID,
    PublicKeyAlgorithmOID,
)

from bot.probe.certs import SHORT_BY_OID, format_name, public_key_info
from bot.probe.model import CertInfo

# Key sizes that the key type fixes (RFC 8032 §5.1 and §5.2).
_FIXED_KEY_SIZES = {"Ed25519": 256, "Ed448": 456}

# Key algorithms read through cryptography's key classes. Any other (DSA, whose classes
# cryptography deprecates from release 51 on) goes to the project's own DER reader, so
# a legacy certificate is described without a deprecated or removed API.
_CURRENT_KEY_ALGORITHMS = frozenset(
    oid.dotted_string
    for oid in (
        PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5,
        PublicKeyAlgorithmOID.RSASSA_PSS,
        PublicKeyAlgorithmOID.EC_PUBLIC_KEY,
        PublicKeyAlgorithmOID.ED25519,
        PublicKeyAlgorithmOID.ED448,
    )
)


def parse_certificate(der: bytes) -> CertInfo:
    """
    Read subject, issuer, names, validity and key of a DER-encoded X.509 certificate.

    Raises:
        ValueError: the bytes are not a certificate.
    """
    cert = x509.load_der_x509_certificate(der)
    key_type, key_size = _describe_key(cert, der)
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common_names[0].value) if common_names else None
    return CertInfo(
        subject=format_name(_rdns(cert.subject)),
        issuer=format_name(_rdns(cert.issuer)),
        sans=_subject_alt_names(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=_is_self_signed(cert),
        key_type=key_type,
        key_size=key_size,
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(der).hexdigest(),
        common_name=common_name,
    )


def _rdns(name: x509.Name) -> list[list[tuple[str, str]]]:
    """
    A name's RDNs as (short name, value) pairs, in certificate order.
    """
    return [
        [
            (
                SHORT_BY_OID.get(attr.oid.dotted_string, attr.oid.dotted_string),
                _text(attr.value),
            )
            for attr in rdn
        ]
        for rdn in name.rdns
    ]


def _text(value: str | bytes) -> str:
    """
    An attribute value as text (RFC 4514 §2.4 hex form for raw bytes).
    """
    return value if isinstance(value, str) else "#" + value.hex()


def _subject_alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    """
    DNS names, then IP addresses, of the subjectAltName extension (RFC 5280 §4.2.1.6).
    """
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = extension.value.get_values_for_type(x509.DNSName)
    addresses = extension.value.get_values_for_type(x509.IPAddress)
    return (*names, *(str(address) for address in addresses))


def _is_self_signed(cert: x509.Certificate) -> bool:
    """
    True when the certificate names itself as issuer and its own key signed it.
    """
    if cert.issuer != cert.subject:
        return False
    if cert.public_key_algorithm_oid.dotted_string not in _CURRENT_KEY_ALGORITHMS:
        # A legacy key's signature is not checked: the names decide, as on the
        # stdlib path.
        return True
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _describe_key(cert: x509.Certificate, der: bytes) -> tuple[str, int | None]:
    """
    Name the public key type and its size in bits.
    """
    if cert.public_key_algorithm_oid.dotted_string not in _CURRENT_KEY_ALGORITHMS:
        return public_key_info(der)
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return public_key_info(der)
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", _FIXED_KEY_SIZES["Ed25519"]
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", _FIXED_KEY_SIZES["Ed448"]
    return public_key_info(der)


def missing_issuer(chain: tuple[bytes, ...]) -> tuple[str, str | None] | None:
    """
    The issuer a server that sent only its own certificate left out, and where the
    certificate says that issuer is published (AIA caIssuers, RFC 5280 §4.2.2.1).

    None when the server sent more than the leaf, or a self-issued certificate, or
    bytes that are not a certificate.
    """
    if len(chain) != 1:
        return None
    try:
        cert = x509.load_der_x509_certificate(chain[0])
    except ValueError:
        return None
    if cert.issuer == cert.subject:
        return None
    url = None
    try:
        access = cert.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        )
    except x509.ExtensionNotFound:
        access = None
    if access is not None:
        for description in access.value:
            location = description.access_location
            if (
                description.access_method == AuthorityInformationAccessOID.CA_ISSUERS
                and isinstance(location, x509.UniformResourceIdentifier)
            ):
                url = location.value
                break
    return format_name(_rdns(cert.issuer)), url
