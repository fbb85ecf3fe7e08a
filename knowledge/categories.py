"""
The fixed error taxonomy (shared/corpus/TAXONOMY.md): the vocabulary that entries, the
matcher, the probe, metrics and tests share.
"""

from __future__ import annotations

from typing import Final

# id -> one-line meaning, in TAXONOMY.md order; ``none`` is the answer, never an entry's
# category.
CATEGORIES: Final[dict[str, str]] = {
    "starttls-required": (
        "the server refuses plaintext commands until the client issues STARTTLS"
    ),
    "starttls-unavailable": (
        "the client wants TLS but the server does not offer or cannot start it"
    ),
    "tls-port-mismatch": (
        "implicit TLS (465) versus STARTTLS (25/587) mode or port mismatch"
    ),
    "tls-cert-untrusted": (
        "the certificate chain is not trusted (self-signed, unknown CA, "
        "missing intermediate)"
    ),
    "tls-cert-hostname": "the certificate is valid but for another name",
    "tls-cert-expired": "the certificate has expired or is not yet valid",
    "tls-handshake-failed": (
        "TLS negotiation fails (protocol version, cipher, handshake alert)"
    ),
    "auth-required": "the server wants SMTP AUTH and the client did not authenticate",
    "auth-failed": "the credentials were rejected",
    "auth-policy-blocked": (
        "the provider blocks this sign-in method (app password, SMTP AUTH "
        "disabled, OAuth needed)"
    ),
    "relay-denied": (
        "the server will not relay to a non-local recipient for this client"
    ),
    "sender-not-permitted": "the authenticated user may not send as this From address",
    "recipient-unknown": "the recipient mailbox does not exist",
    "mailbox-full": "the recipient is over quota",
    "message-too-large": "the message exceeds a size limit",
    "rate-limited": "sending quota, throttling, too many connections or messages",
    "sender-authentication": (
        "the receiver rejects for SPF / DKIM / DMARC / PTR failures"
    ),
    "sender-blocklisted": (
        "the sending IP or domain is on a blocklist or judged as spam"
    ),
    "connection-timeout": (
        "the TCP connection times out (port blocked by ISP, cloud or firewall)"
    ),
    "connection-refused": "nothing is listening, or the connection is actively refused",
    "dns-failure": "the mail server name does not resolve",
    "client-logging": "how to turn on client transport or protocol logging to debug",
}

# The answer when nothing matches confidently.
NONE: Final = "none"
