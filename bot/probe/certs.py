"""
Certificate details from what the standard library gives, and the host name check.

After a verified handshake, ``SSLObject.getpeercert()`` has already decoded the
certificate; reading it here (plus the key from the DER) spares ``cryptography``'s
import on every healthy probe. Certificates that failed verification are read by
``bot.probe.x509`` instead; both build the same ``CertInfo``, with names formatted by
``format_name``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.probe.model import CertInfo

# X.520/RFC 4519 attributes: dotted OID, OpenSSL's long name, the RFC 4514 §3 short
# name.
_ATTRIBUTES = (
    ("2.5.4.3", "commonName", "CN"),
    ("2.5.4.7", "localityName", "L"),
    ("2.5.4.8", "stateOrProvinceName", "ST"),
    ("2.5.4.10", "organizationName", "O"),
    ("2.5.4.11", "organizationalUnitName", "OU"),
    ("2.5.4.6", "countryName", "C"),
    ("2.5.4.9", "streetAddress", "STREET"),
    ("0.9.2342.19200300.100.1.25", "domainComponent", "DC"),
    ("0.9.2342.19200300.100.1.1", "userId", "UID"),
    ("1.2.840.113549.1.9.1", "emailAddress", "emailAddress"),
    ("2.5.4.5", "serialNumber", "serialNumber"),
    ("2.5.4.15", "businessCategory", "businessCategory"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC", "jurisdictionC"),
    ("2.5.4.97", "organizationIdentifier", "organizationIdentifier"),
)
SHORT_BY_OID = {oid: short for oid, _long, short in _ATTRIBUTES}
_SHORT_BY_LONG = {long: short for _oid, long, short in _ATTRIBUTES}

# SubjectPublicKeyInfo algorithm OIDs (DER content bytes) -> key type, fixed size.
_KEY_ALGORITHMS: dict[bytes, tuple[str, int | None]] = {
    bytes.fromhex("2a864886f70d010101"): ("RSA", None),  # rsaEncryption, RFC 8017
    bytes.fromhex("2a864886f70d01010a"): ("RSA", None),  # RSASSA-PSS, RFC 4055
    bytes.fromhex("2b6570"): ("Ed25519", 256),  # RFC 8410
    bytes.fromhex("2b6571"): ("Ed448", 456),  # RFC 8410
    bytes.fromhex("2a8648ce380401"): ("DSA", None),  # RFC 3279
}
_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # id-ecPublicKey, RFC 5480
_EC_CURVES = {
    bytes.fromhex("2a8648ce3d030107"): ("secp256r1", 256),
    bytes.fromhex("2b81040022"): ("secp384r1", 384),
    bytes.fromhex("2b81040023"): ("secp521r1", 521),
}


def from_peercert(decoded: dict[str, Any], der: bytes) -> CertInfo:
    """
    Build ``CertInfo`` from ``getpeercert()`` (a verified peer) and its DER bytes.
    """
    subject = decoded.get("subject", ())
    issuer = decoded.get("issuer", ())
    sans = []
    addresses = []
    for kind, value in decoded.get("subjectAltName", ()):
        if kind == "DNS":
            sans.append(str(value))
        elif kind == "IP Address":
            addresses.append(str(ipaddress.ip_address(str(value).strip())))
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    key_type, key_size = public_key_info(der)
    return CertInfo(
        subject=format_name(_by_long_name(subject)),
        issuer=format_name(_by_long_name(issuer)),
        sans=(*sans, *addresses),
        not_before=_cert_time(decoded["notBefore"]),
        not_after=_cert_time(decoded["notAfter"]),
        self_signed=subject == issuer,
        key_type=key_type,
        key_size=key_size,
        serial=format(int(decoded.get("serialNumber", "0"), 16), "x"),
        sha256=hashlib.sha256(der).hexdigest(),
        common_name=str(names[0]) if names else None,
    )


def _by_long_name(
    rdns: Iterable[Iterable[tuple[str, str]]],
) -> list[list[tuple[str, str]]]:
    """
    Replace OpenSSL long attribute names with RFC 4514 short ones where there is one.
    """
    return [
        [(_SHORT_BY_LONG.get(key, key), value) for key, value in rdn] for rdn in rdns
    ]


def format_name(rdns: Sequence[Sequence[tuple[str, str]]]) -> str:
    """
    An RFC 4514 string: last RDN first, "+" inside an RDN, special characters escaped.
    """
    return ",".join(
        "+".join(f"{key}={_escape(value)}" for key, value in rdn)
        for rdn in reversed(rdns)
    )


def _escape(value: str) -> str:
    """
    Escape an attribute value as RFC 4514 §2.4 requires.
    """
    for char in '\\"+,;<>':
        value = value.replace(char, "\\" + char)
    value = value.replace("\0", "\\00")
    if value[:1] in ("#", " "):
        value = "\\" + value
    if value.endswith(" "):
        value = value[:-1] + "\\ "
    return value


# Month names as OpenSSL prints them (ASN1_TIME_print), always English.
_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]


def _cert_time(text: str) -> datetime:
    """
    ``getpeercert()``'s "Jan  1 00:00:00 2030 GMT" as an aware UTC datetime.

    Parsed here rather than with ``ssl.cert_time_to_seconds``, which imports
    ``calendar`` (and its locale machinery) on every healthy probe.
    """
    try:
        month, day, clock, year, zone = text.split()
        hour, minute, second = (int(part) for part in clock.split(":"))
        if zone != "GMT":
            raise ValueError(zone)
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            hour,
            minute,
            second,
            tzinfo=UTC,
        )
    except ValueError:
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(text), UTC)


def public_key_info(der: bytes) -> tuple[str, int | None]:
    """
    Key type and size from a certificate's SubjectPublicKeyInfo (RFC 5280 §4.1).
    """
    try:
        _, start, _ = _tlv(der, 0)  # Certificate
        _, pos, end = _tlv(der, start)  # TBSCertificate
        if der[pos] == 0xA0:  # [0] EXPLICIT version
            pos = _tlv(der, pos)[2]
        for _field in ("serialNumber", "signature", "issuer", "validity", "subject"):
            pos = _tlv(der, pos)[2]
        _, spki, _ = _tlv(der, pos)
        _, algorithm, after_algorithm = _tlv(der, spki)
        _, oid_start, oid_end = _tlv(der, algorithm)
        oid = der[oid_start:oid_end]
        if oid == _EC_PUBLIC_KEY:
            _, curve_start, curve_end = _tlv(der, oid_end)
            curve, bits = _EC_CURVES.get(der[curve_start:curve_end], ("unknown", None))
            return f"EC {curve}", bits
        key_type, bits = _KEY_ALGORITHMS.get(oid, (oid.hex(), None))
        if key_type == "DSA":  # RFC 3279 §2.3.2: Dss-Parms ::= SEQUENCE { p, q, g }
            _, params, _ = _tlv(der, oid_end)
            _, p_start, p_end = _tlv(der, params)
            bits = int.from_bytes(der[p_start:p_end], "big").bit_length()
        if key_type == "RSA":
            _, key_start, _ = _tlv(der, after_algorithm)  # BIT STRING
            _, seq, _ = _tlv(
                der, key_start + 1
            )  # RSAPublicKey, after the unused-bits byte
            _, mod_start, mod_end = _tlv(der, seq)  # modulus INTEGER
            bits = int.from_bytes(der[mod_start:mod_end], "big").bit_length()
        return key_type, bits
    except (IndexError, ValueError):
        return "unknown", None


def _tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """
    Read a DER tag-length header (X.690 §8.1): (tag, content start, content end).
    """
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > len(der):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def hostname_matches(name: str, sans: tuple[str, ...], common_name: str | None) -> bool:
    """
    Check a host name or IP address against a certificate's names, as TLS clients do.

    RFC 6125 §6.4: compare DNS names case-insensitively; a wildcard is only the whole
    left-most label and matches exactly one label; the subject CN counts only when the
    certificate has no DNS names (§6.4.4), never for IP addresses (RFC 5280 §4.2.1.6).
    """
    address = _address(name)
    if address is not None:
        return any(_address(san) == address for san in sans)
    wanted = name.rstrip(".").lower()
    dns_names = [san for san in sans if _address(san) is None]
    if not dns_names and common_name is not None:
        dns_names = [common_name]
    return any(_dns_name_matches(wanted, presented) for presented in dns_names)


def _dns_name_matches(wanted: str, presented: str) -> bool:
    """
    Match one presented DNS name, with RFC 6125 §6.4.3 wildcard rules.
    """
    presented = presented.rstrip(".").lower()
    if not presented.startswith("*."):
        return "*" not in presented and wanted == presented
    suffix = presented[2:]
    # A wildcard needs two labels after it ("*.com" covers nothing), and no other "*".
    if "*" in suffix or "." not in suffix:
        return False
    head, dot, rest = wanted.partition(".")
    return bool(head) and bool(dot) and rest == suffix


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """
    The IP address ``text`` spells, or None for a DNS name.
    """
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
