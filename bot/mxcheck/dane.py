"""
DANE for SMTP (RFC 7672): which TLSA records a sender can use, and whether the
certificate chain an MX host presented matches them. Pure: no network.

DANE-EE(3) matches the server's own certificate or key, ignoring chain, names and
dates (RFC 7672 §3.1.1). DANE-TA(2) matches a certificate the server sent in its chain;
the chain from the leaf up to that anchor must verify, and the leaf must carry the MX
host name (§3.1.2, §3.2). PKIX-TA(0) and PKIX-EE(1) are not for SMTP (§3.1.3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.probe import certs

# RFC 7218 names of the TLSA fields.
DANE_TA = 2
DANE_EE = 3
USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
# RFC 6698 §2.1.3: matching type -> (name, digest length); 0 is the data itself.
MATCHING = {0: ("Full", None), 1: ("SHA2-256", 32), 2: ("SHA2-512", 64)}


@dataclass(frozen=True, slots=True)
class Tlsa:
    """
    One TLSA record: usage, selector, matching type, certificate association data.
    """

    usage: int
    selector: int
    mtype: int
    data: bytes

    @classmethod
    def from_rdata(cls, rdata: Any) -> Tlsa:
        """
        From a dnspython TLSA rdata.
        """
        return cls(int(rdata.usage), int(rdata.selector), int(rdata.mtype), rdata.cert)

    def __str__(self) -> str:
        """
        Presentation form, the data shortened: ``3 1 1 1f2e…9a0b``.
        """
        data = self.data.hex()
        if len(data) > 16:
            data = f"{data[:8]}…{data[-8:]}"
        return f"{self.usage} {self.selector} {self.mtype} {data}"

    def unusable(self) -> str | None:
        """
        Why a sender skips this record (RFC 7672 §3.1.3, RFC 6698 §2.1), or None.
        """
        if self.usage not in (DANE_TA, DANE_EE):
            name = USAGES.get(self.usage, f"usage {self.usage}")
            return f"{self} is {name}, which SMTP senders do not use (RFC 7672 §3.1.3)"
        if self.selector not in SELECTORS:
            return f"{self} has unknown selector {self.selector}"
        if self.mtype not in MATCHING:
            return f"{self} has unknown matching type {self.mtype}"
        length = MATCHING[self.mtype][1]
        if length is not None and len(self.data) != length:
            return (
                f"{self} holds {len(self.data)} bytes where "
                f"{MATCHING[self.mtype][0]} has {length}"
            )
        return None


@dataclass(frozen=True, slots=True)
class Match:
    """
    The record the chain matched, or why no record matched.
    """

    record: Tlsa | None
    problems: tuple[str, ...] = ()


def association(der: bytes, selector: int, mtype: int) -> bytes:
    """
    The certificate association data of a DER certificate (RFC 6698 §2.1.2-2.1.3).
    """
    selected = der if selector == 0 else spki(der)
    if mtype == 1:
        return hashlib.sha256(selected).digest()
    if mtype == 2:
        return hashlib.sha512(selected).digest()
    return selected


def spki(der: bytes) -> bytes:
    """
    The DER SubjectPublicKeyInfo of a certificate, as encoded in it (RFC 5280 §4.1).

    Raises:
        ValueError: the certificate is not valid DER.
    """
    try:
        _, start, _ = _tlv(der, 0)  # Certificate
        _, pos, _ = _tlv(der, start)  # TBSCertificate
        if der[pos] == 0xA0:  # [0] EXPLICIT version
            pos = _tlv(der, pos)[2]
        for _field in ("serialNumber", "signature", "issuer", "validity", "subject"):
            pos = _tlv(der, pos)[2]
        return der[pos : _tlv(der, pos)[2]]
    except IndexError:
        raise ValueError("truncated certificate") from None


def _tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """
    A DER header at ``pos`` (X.690 §8.1): tag, content start, content end.
    """
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > len(der):
        raise ValueError("truncated certificate")
    return tag, pos, pos + length


def authenticate(
    records: Sequence[Tlsa],
    chain: Sequence[bytes],
    name: str,
    now: datetime,
    *,
    expanded: str | None = None,
) -> Match:
    """
    Match the presented chain (leaf first) against the usable records.

    DANE-EE records are tried first: they need only the leaf. A DANE-TA match needs
    the leaf to carry ``name`` (the MX host) or, when the host is an alias, its
    CNAME-expanded name ``expanded`` (RFC 7672 §3.2.2).
    """
    names = (name, expanded) if expanded else (name,)
    usable = sorted(
        (r for r in records if r.unusable() is None), key=lambda r: -r.usage
    )
    if not chain:
        return Match(None, ("no certificate was presented",))
    problems: list[str] = []
    for record in usable:
        if record.usage == DANE_EE:
            if _matches(chain[0], record):
                return Match(record)
            continue
        anchored = [i for i, der in enumerate(chain) if _matches(der, record)]
        if not anchored:
            continue
        problem = _check_path(chain, anchored[0], names, now)
        if problem is None:
            return Match(record)
        problems.append(f"{record}: {problem}")
    if not problems:
        problems.append(
            "neither the certificate nor a CA certificate in the chain it sent matches"
        )
    return Match(None, tuple(problems))


def _matches(der: bytes, record: Tlsa) -> bool:
    """
    True when the certificate's association data equals the record's.
    """
    try:
        return association(der, record.selector, record.mtype) == record.data
    except ValueError:
        return False


def _check_path(
    chain: Sequence[bytes], anchor: int, names: Sequence[str], now: datetime
) -> str | None:
    """
    Check the chain from the leaf up to the trust anchor, and the leaf's name.

    From the leaf up, each certificate must be signed by another one the server sent
    (in whatever order it sent them) until the anchor is reached; the leaf and the
    intermediates must be within their dates (the anchor is trusted through DNS,
    RFC 7671 §5.2.2).
    """
    from cryptography import x509

    try:
        parsed = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError as exc:
        return f"a certificate in the chain cannot be read ({exc})"
    current, seen = 0, {0}
    while current != anchor:
        cert = parsed[current]
        subject = cert.subject.rfc4514_string()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return (
                f"{subject} is outside its dates ({cert.not_valid_before_utc:%Y-%m-%d}"
                f" to {cert.not_valid_after_utc:%Y-%m-%d})"
            )
        issuer = next(
            (
                i
                for i, other in enumerate(parsed)
                if i not in seen and _issued_by(cert, other)
            ),
            None,
        )
        if issuer is None:
            return (
                f"no certificate the server sent signed {subject}, so the chain does "
                "not lead to the trust anchor"
            )
        current = issuer
        seen.add(issuer)
    leaf = parsed[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    common = [
        a.value for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    ]
    # RFC 7672 §3.2.3: DNS-ID names, or the CN when there are none (RFC 6125 rules).
    cn = str(common[0]) if common else None
    if not any(certs.hostname_matches(name, sans, cn) for name in names):
        shown = ", ".join(sans) or (cn or "no names")
        wanted = " or ".join(names)
        return f"the certificate is not valid for {wanted} (it names {shown})"
    return None


def _issued_by(cert: Any, issuer: Any) -> bool:
    """
    True when ``issuer``'s key signed ``cert`` (and the names link them).
    """
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
