"""
Find the mail server (and port) a paste names, for the probe offer.

Recognises ``smtp.office365.com:587``, ``[smtp.gmail.com]:587``, ``host=...``,
``peeraddr=1.2.3.4:587``, ``connect ECONNREFUSED 1.2.3.4:587``, ``ssl://smtp.x.com:465``,
``Could not connect to SMTP host: smtp.gmail.com, port: 465`` and bare ``smtp.x.com``.
Pure; no name resolution here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

# Ports that make a candidate clearly a mail server (RFC 5321, RFC 6409, RFC 8314,
# common alt).
MAIL_PORTS: Final = frozenset({25, 465, 587, 2525})

_NAME: Final = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{1,62}"
)
_IPV4: Final = r"(?:\d{1,3}\.){3}\d{1,3}"
# Cheap token scan first; each token is then checked against the strict shapes.
# Names and IPv4 addresses (a character class first, so re's fast prefix scan applies on
# 40 KB logs), and bracketed IPv6 addresses ("[" first, a literal prefix).
_NAME_TOKEN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+")
_V6_TOKEN: Final = re.compile(r"\[([0-9A-Fa-f:.]{3,45})\]")
_SHAPE: Final = re.compile(rf"{_NAME}|{_IPV4}")
_PORT: Final = re.compile(
    r"(?:\[[0-9A-Fa-f.:]{2,45}\])?(?::|,? port:?\s*|\s+port[=:]\s*)(\d{1,5})\b",
    re.IGNORECASE,
)
# Words just before a name that say it is the server being talked to.
_PREFIX: Final = re.compile(
    r"(?:host[=:]\s*|peeraddr=|smtp host:\s*|opening to |connect(?:ing)? to |relay=|"
    r"server[=:]\s*|\w+://)$",
    re.IGNORECASE,
)
# Names that are never the user's mail server: files, code namespaces, documentation
# sites.
_NOT_SERVER: Final = re.compile(
    r"\.(?:js|py|go|rb|cs|ts|php|java|kt|log|txt|json|ya?ml|conf|cfg|ini|html?|xml|jar|dll|"
    r"exe|so|h|c|cc|cpp|md)$|^(?:support|docs?|www|help|learn|aka|github|stackoverflow|"
    r"community|answers)\.|^(?:javax?|jakarta|com\.sun|org\.|sun\.|system\.|net\.|node\.)|"
    r"spamhaus|barracuda|spamcop|sorbs|uribl|surbl",
    re.IGNORECASE,
)
_MAILISH: Final = re.compile(
    r"^(?:smtp|mail|mx|relay|out|outbound|submission|exchange|"
    r"email|mta|postfix|exim)[\w-]*\.",
    re.IGNORECASE,
)
_KNOWN_TLD: Final = re.compile(
    r"\.(?:com|net|org|io|de|uk|fr|nl|eu|ru|cn|jp|br|in|it|es|"
    r"au|ca|ch|se|no|pl|cz|info|biz|dev|app|edu|gov|cloud|co|"
    r"me|us|at|be|dk|fi|hu|ie|il|nz|pt|sg|za|tw|kr|hk|mx|email|"
    r"local|lan|internal|test|example|invalid)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ServerRef:
    """
    A mail server named in a conversation.

    It has a host (name or address) and a port if given.
    """

    host: str
    port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        return (
            f"[{self.host}]:{self.port}"
            if ":" in self.host
            else f"{self.host}:{self.port}"
        )

    def to_json(self) -> dict[str, object]:
        """JSON form: ``{"host": ..., "port": ...}``."""
        return {"host": self.host, "port": self.port}


def _is_ip(value: str) -> bool:
    if not (value[:1].isdigit() or ":" in value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _tokens(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, host, bracketed) of every name, IPv4 and [IPv6], in order."""
    found = []
    for match in _NAME_TOKEN.finditer(text):
        start, end = match.span()
        bracketed = start > 0 and text[start - 1] == "[" and text[end : end + 1] == "]"
        if bracketed:
            start, end = start - 1, end + 1
        found.append((start, end, match.group(), bracketed))
    if "[" in text:
        found += [
            (m.start(), m.end(), m.group(1), True)
            for m in _V6_TOKEN.finditer(text)
            if ":" in m.group(1)
        ]
        found.sort()
    return found


def find_server(text: str) -> ServerRef | None:
    """The most plausible mail server named in ``text``, or None."""
    best: tuple[int, int, ServerRef] | None = None
    for order, (start, end, token, bracketed) in enumerate(_tokens(text)):
        host = token.rstrip(".")
        if not (_SHAPE.fullmatch(host) or (bracketed and ":" in host)):
            continue
        prefixed = bool(_PREFIX.search(text, max(0, start - 20), start))
        if start > 0 and text[start - 1] in "@/.-_\\" and not prefixed:
            continue  # part of an email address, path or longer token
        port_match = _PORT.match(text, end)
        port = int(port_match.group(1)) if port_match else None
        port = port if port and port < 65536 else None
        is_ip = _is_ip(host)
        if not is_ip and (_NOT_SERVER.search(host) or not _KNOWN_TLD.search(host)):
            continue
        if is_ip and port is None and not prefixed:
            continue
        score = (4 if port in MAIL_PORTS else 0) + (3 if _MAILISH.search(host) else 0)
        score += (2 if prefixed else 0) + (1 if port is not None else 0)
        # An address on another port is likely a client or a database, but "host=<ip>"
        # without a port still names the server (the check then sweeps the mail ports).
        if is_ip and port is not None and port not in MAIL_PORTS:
            score -= 2
        if score <= 0:
            continue
        candidate = (score, -order, ServerRef(host, port))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None
