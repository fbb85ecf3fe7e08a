"""
What a token looks like once decoded: the tests that tell a base64 credential or a
random key from an ordinary word. Pure; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from typing import Final

# RFC 4648 §4 alphabet (and the URL-safe one of §5), with optional padding.
BASE64: Final = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# Characters SASL responses carry besides printable text: NUL separates the PLAIN
# fields (RFC 4616 §2), ^A separates the XOAUTH2 ones.
_SASL_CONTROLS: Final = frozenset("\x00\x01\t")
# Shannon entropy (bits per character) above which a token reads as random rather
# than as a word or an identifier; detect-secrets uses 4.5 for base64 strings and 3.0
# for hex over whole strings, which short tokens cannot reach (log2(20) = 4.3), so the
# bar scales with the length.
ENTROPY_MARGIN: Final = 0.9
HEX_ENTROPY: Final = 3.0


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


def entropy(token: str) -> float:
    """
    Shannon entropy of the token's characters, in bits per character.
    """
    if not token:
        return 0.0
    size = len(token)
    return -sum(n / size * math.log2(n / size) for n in Counter(token).values())


def random_looking(token: str) -> bool:
    """
    True when a token of 16+ characters mixes letters and digits with near the
    entropy of a random string of its length (API keys, secret access keys, SMTP
    passwords), which words, host names and error identifiers do not reach.
    """
    if len(token) < 16 or token.isalpha() or token.isdigit():
        return False
    if not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
        return False
    bits = entropy(token)
    if re.fullmatch(r"[0-9a-fA-F]+", token):
        return bits >= HEX_ENTROPY
    return bits >= min(4.5, math.log2(len(token)) - ENTROPY_MARGIN)
