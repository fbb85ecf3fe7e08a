"""
Remove secrets from pasted text before it is stored, logged or reposted.

People paste SMTP transcripts with their credentials in them: ``AUTH PLAIN`` carries the
user name and password in base64 (RFC 4616), ``AUTH LOGIN`` sends them as base64 answers
to
``334`` challenges (draft-murchison-sasl-login), and configuration snippets carry
``password=...``, Slack tokens, bearer tokens and cloud API keys. Pure; no I/O.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[redacted]"

# RFC 4954 §4: AUTH mechanism [initial-response]; the response is base64 (or "=" for
# empty).
_AUTH_INITIAL: Final = re.compile(
    r"(\bAUTH[ \t]+"
    r"(?:PLAIN|LOGIN|XOAUTH2?|OAUTHBEARER|CRAM-MD5|DIGEST-MD5|NTLM|GSSAPI)[ \t]+)"
    r"(?!\[redacted\])[A-Za-z0-9+/=._-]{2,}",
    re.IGNORECASE,
)
# A client line in a transcript: "C: dXNlcg==", ">>> dXNlcg==", "-> dXNlcg==", "[client]
# ...".
_CLIENT_B64: Final = re.compile(
    r"^(?P<lead>.*?(?:\bC:|>>>?|->|\bclient\b\]?:?|\bSEND\b:?|\bsent\b:?)\s*)"
    r"(?P<b64>[A-Za-z0-9+/]{4,}={0,2})(?P<tail>\s*(?:/\*.*\*/)?\s*)$",
    re.IGNORECASE,
)
# A whole line that is only base64 (a bare answer to a 334 challenge).
_BARE_B64: Final = re.compile(
    r"^(?P<lead>\s*)(?P<b64>[A-Za-z0-9+/]{4,}={0,2})(?P<tail>\s*)$"
)
# RFC 4954 §4: "334" is the server's continuation challenge.
_CHALLENGE: Final = re.compile(r"(?:^|[\s:>\]])334(?:[ -]|$)")
# SMTP command verbs that are never credentials.
_VERBS: Final = frozenset(
    {
        "EHLO",
        "HELO",
        "QUIT",
        "RSET",
        "NOOP",
        "DATA",
        "STARTTLS",
        "HELP",
        "VRFY",
        "EXPN",
        "AUTH",
        "MAIL",
        "RCPT",
        "BDAT",
        "TURN",
    }
)
# key = value / key: value / "key": "value" / 'key' => 'value' for secret-looking keys.
_KEY_VALUE: Final = re.compile(
    r"""(?P<key>\b[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|api[_-]?key|apikey|"""
    r"""access[_-]?key|auth[_-]?token|access[_-]?token|client[_-]?secret|credentials?)"""
    r"""[\w.-]*["']?)(?P<sep>\s*(?:=>|[:=])\s*)(?P<quote>["']?)"""
    r"""(?P<value>(?!\[redacted\])(?:(?<=")[^"\n]+|(?<=')[^'\n]+|[^\s"',;}&)\]]+))""",
    re.IGNORECASE,
)
# Values after a secret-looking key that are really SMTP codes or prose, not secrets.
_NOT_SECRET: Final = re.compile(
    r"^(?:[2-5]\d\d|[245]\.\d{1,3}\.\d{1,3}|\*+|<[^>]*>|none|null|"
    r"true|false|required|incorrect|invalid|wrong)$",
    re.IGNORECASE,
)
_TOKENS: Final = re.compile(
    "|".join(
        (
            # Slack tokens (api.slack.com/authentication/token-types).
            r"\bxox[abpres]-[A-Za-z0-9-]{8,}",
            r"\bxapp-\d-[A-Za-z0-9-]{8,}",
            # SendGrid API keys: SG.<22>.<43>.
            r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
            # AWS access key ids.
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            # Mailgun keys.
            r"\bkey-[0-9a-f]{32}\b",
            # GitHub and Google API tokens.
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
            r"\bAIza[0-9A-Za-z_-]{35}\b",
        )
    )
)
# Only a text with a 334 challenge or a client-line marker can hold a transcript answer;
# most pastes have neither, and the line-by-line pass is the costly one.
TRANSCRIPT_HINTS: Final = ("334", "c:", ">>", "->", "client", "send", "sent")
# The markers _CLIENT_B64 needs on the line itself.
CLIENT_LINE_HINTS: Final = ("c:", ">>", "->", "client", "send", "sent")
# Each pass below runs only when the case-folded text holds a word its pattern cannot
# match without: scanning every word boundary with _KEY_VALUE costs ~70 us on a
# typical paste, a substring test well under one.
AUTH_HINTS: Final = ("auth",)
BEARER_HINTS: Final = ("bearer", "basic")
TOKEN_HINTS: Final = (
    "xox",
    "xapp-",
    "sg.",
    "akia",
    "asia",
    "key-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "aiza",
)
KEY_HINTS: Final = ("pass", "pwd", "secret", "key", "token", "credential")
# Every _KEY_VALUE match holds one of KEY_HINTS, the rest of its key and a separator;
# this finds that much quickly, which prose ("Password not accepted") never has.
_KEY_THEN_SEPARATOR: Final = re.compile(
    r"""(?:pass|pwd|secret|key|token|credential)[\w.-]*["']?\s*(?:=>|[:=])""",
    re.IGNORECASE,
)
# RFC 6750 §2.1 bearer tokens, and HTTP Basic credentials.
_BEARER: Final = re.compile(
    r"(\b(?:Bearer|Basic)\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE
)
# user:password@ in URLs (smtp://me:secret@host).
_URL_CREDENTIALS: Final = re.compile(
    r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)(?!\[redacted\])"
    r"[^\s@/]+(@)",
    re.IGNORECASE,
)


def _key_value(match: re.Match[str]) -> str:
    """
    Replace the value of a secret-looking key unless it is clearly not a secret.
    """
    if _NOT_SECRET.match(match.group("value")):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{REDACTED}"


def _hinted(folded: str, hints: tuple[str, ...]) -> bool:
    return any(hint in folded for hint in hints)


def _transcript(lines: list[str]) -> list[str]:
    """
    Redact base64 answers to 334 challenges and base64 client lines of a transcript.
    """
    out: list[str] = []
    after_challenge = False
    for line in lines:
        folded = line.casefold()
        client = _CLIENT_B64.match(line) if _hinted(folded, CLIENT_LINE_HINTS) else None
        bare = _BARE_B64.match(line) if after_challenge else None
        found = client or bare
        if (
            found is not None
            and found.group("b64").upper() not in _VERBS
            and (after_challenge or len(found.group("b64")) >= 8)
        ):
            line = f"{found.group('lead')}{REDACTED}{found.group('tail')}"
        if _CHALLENGE.search(line):
            after_challenge = True
        elif re.search(r"(?:^|[\s:>\]])[245]\d\d(?:[ -]|$)", line):
            after_challenge = False
        out.append(line)
    return out


def redact(text: str) -> str:
    """
    Return ``text`` with credentials and tokens replaced by ``[redacted]``; idempotent.
    """
    # Substitutions only ever insert "[redacted]", which holds no hint word, so the
    # hints of the original text decide every pass.
    folded = text.casefold()
    if _hinted(folded, AUTH_HINTS):
        text = _AUTH_INITIAL.sub(lambda m: m.group(1) + REDACTED, text)
    if _hinted(folded, TRANSCRIPT_HINTS):
        text = "\n".join(_transcript(text.split("\n")))
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
    if _hinted(folded, BEARER_HINTS):
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    if _hinted(folded, TOKEN_HINTS):
        text = _TOKENS.sub(REDACTED, text)
    if _hinted(folded, KEY_HINTS) and _KEY_THEN_SEPARATOR.search(text):
        text = _KEY_VALUE.sub(_key_value, text)
    return text
