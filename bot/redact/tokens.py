"""
What a lone token is: a key (an API key, a secret access key, a server token, a
generated password) or a name (an identifier, an error constant, a file name). Pure;
no I/O.

A token standing alone, on a line of its own or as the client's data in a transport
log, is a credential unless it reads as a name: that is the rule, so the question asked
of a token is never "is it random enough?" (a random string is sometimes not, and the
Shannon entropy of one short string is a noisy figure) but "is it made of words?".
Words have letters in their usual pairs, several letters each, and digits at most
once per part (``x509_verify_cert``, ``tlsv1_alert_unknown_ca``); keys have none of
that. Measured over uniformly random tokens of the base64url alphabet
(``secrets.token_urlsafe``): about 2 in 100,000 of 16 characters and none of 1,000,000
of 24 or more read as names (``bench/redact_bench.py``).
"""

from __future__ import annotations

import re
from typing import Final

from bot.redact.encoding import BASE64

# Shorter tokens are words, numbers or short passwords nothing tells from words.
MIN_KEY: Final = 16
# The 180 most frequent letter pairs of the knowledge base's English guidance (92% of
# its letter pairs, including the trade's "mt", "tp", "tl", "sl"); a pair of random
# letters is one of them 27% of the time.
_PAIRS: Final = (
    "ab ac ad af ag ai ak al am an ap ar as at au ay ba be bl bo ca ce ch ck cl co cr "
    "ct da de di do ds ea ec ed ee ef el em en ep er es et ev ex fa fi fo fr ft ge gn "
    "gr ha he hi ho hr ht ic id ie if ig il im in io ir is it iv ke ks la ld le li ll "
    "lo ls lt ly ma me mi mo mp mt na nc nd ne ng ni nl nn no ns nt ob oc od of og ok "
    "ol om on oo op or os ot ou ov ow pa pb pe pl po pp pr ps pt py qu ra rd re ri rk "
    "ro rr rs rt ru rv ry sa sc se sh si sl sm so sp ss st su sw ta tc te th ti tl to "
    "tp tr ts tt ue ul un up ur us ut va ve wa we wh wi wo"
)
COMMON_PAIRS: Final = frozenset(_PAIRS.split())
# A name's letter pairs are mostly common ones (identifiers score 0.75 to 1).
COMMON_SHARE: Final = 0.7
# A name's words are several letters long on average; a random token's case changes
# cut it into words of two or three.
MEAN_WORD: Final = 3.5
# Words of an identifier: an acronym, a capitalised or a lower-case word.
_WORD: Final = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]")
_SEPARATORS: Final = re.compile(r"[-_./+=]+")
_DIGITS: Final = re.compile(r"[0-9]+")
# App passwords (Google, Yahoo, Apple): 16 lower-case letters, shown in four groups.
APP_PASSWORD: Final = re.compile(
    r"[a-z]{16}|[a-z]{4}([ -])[a-z]{4}\1[a-z]{4}\1[a-z]{4}"
)


def name_shaped(token: str) -> bool:
    """
    True when ``token`` reads as a name made of words (or is a rule of one or two
    repeated characters) rather than as a key.
    """
    if len(set(token)) <= 4:
        return True  # "--------", "____", "==": rules and underlines
    digits = sum(c.isdigit() for c in token)
    words = _WORD.findall(token)
    if not words or digits * 4 > len(token):
        return False
    parts = sum(1 for part in _SEPARATORS.split(token) if part)
    if len(_DIGITS.findall(token)) > parts:
        return False  # digits scattered through a part: "ab3cd9"
    if sum(map(len, words)) < MEAN_WORD * len(words):
        return False
    short = sum(len(word) <= 2 for word in words)
    if sum(len(word) == 1 for word in words) > 1 or (
        short > 1 and short * 4 > len(words)
    ):
        return False
    pairs = common = 0
    for word in words:
        folded = word.lower()
        for at in range(len(folded) - 1):
            pairs += 1
            common += folded[at : at + 2] in COMMON_PAIRS
    return pairs >= 3 and common >= COMMON_SHARE * pairs


def key_like(token: str) -> bool:
    """
    True when a lone token is a key, a server token or a generated password: 16 or
    more characters of the base64, base64url or hex alphabets, with a letter, that do
    not read as a name; or an app password.
    """
    if len(token) < MIN_KEY or not BASE64.fullmatch(token):
        return False
    if APP_PASSWORD.fullmatch(token):
        return True
    if not any(c.isalpha() for c in token):
        return False  # numbers, dates
    return not name_shaped(token)
