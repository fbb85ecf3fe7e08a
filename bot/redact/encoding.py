"""
What a token looks like once decoded: the tests that tell a base64 credential from an
ordinary word. Pure; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

# RFC 4648 §4 alphabet (and the URL-safe one of §5), with optional padding.
BASE64: Final = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# Characters SASL responses carry besides printable text: NUL separates the PLAIN
# fields (RFC 4616 §2), ^A separates the XOAUTH2 ones.
_SASL_CONTROLS: Final = frozenset("\x00\x01\t")


def decode_base64(token: str) -> bytes | None:
    """
    The bytes a base64 token stands for (standard or URL-safe, padding optional),
    or None when it is not base64.
    """
    if not BASE64.fullmatch(token):
        return None
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def credential_like(token: str, *, minimum: int = 3) -> bool:
    """
    True when ``token`` is base64 of readable text: a user name, a password, a SASL
    PLAIN or XOAUTH2 response. Base64 of a credential is the credential.
    """
    raw = decode_base64(token)
    if raw is None or len(raw) < minimum:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in _SASL_CONTROLS for c in text)


def wordlike(token: str) -> bool:
    """
    True for an ordinary word (letters only, in one case or capitalised).
    """
    return token.isalpha() and (token.islower() or token.isupper() or token.istitle())


def padded_base64(token: str) -> bool:
    """
    True for unmistakable base64 of at least 8 characters: padded with "=" to a
    multiple of four, as clients send SASL responses, and not a word before an "="
    ("message="). Whatever the bytes are (a password in Latin-1, an NTLM or GSSAPI
    blob), a lone one is a credential.
    """
    return (
        len(token) >= 8
        and len(token) % 4 == 0
        and token.endswith("=")
        and not wordlike(token.rstrip("="))
        and decode_base64(token) is not None
    )
