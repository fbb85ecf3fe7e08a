"""
A small, stable knowledge base for the Slack and state tests (the shipped one is still
being written, and its wording changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from knowledge.loader import load_knowledge
from knowledge.model import KnowledgeBase

# Two entries in different categories share this wording, so a paste of part of it is
# ambiguous between them whatever the matcher's tuning.
SHARED_SIGNATURE = "the mail server dropped the smtp session without any reply at all"

ENTRIES: tuple[dict[str, Any], ...] = (
    {
        "id": "starttls-530-must-issue",
        "title": "530 5.7.0 Must issue a STARTTLS command first",
        "category": "starttls-required",
        "signatures": ["530 5.7.0 Must issue a STARTTLS command first"],
        "reply_codes": [530],
        "enhanced_codes": ["5.7.0"],
        "cause": "The server wants TLS before it accepts mail <and> logins "
        "& passwords.",
        "fix": ["Turn on STARTTLS in the mail client.", "Use port 587 with STARTTLS."],
        "probe_helps": True,
        "sources": [
            {"title": "RFC 3207", "url": "https://www.rfc-editor.org/rfc/rfc3207"}
        ],
    },
    {
        "id": "gmail-535-bad-credentials",
        "title": "Gmail: 535 5.7.8 Username and Password not accepted",
        "category": "auth-failed",
        "signatures": ["535-5.7.8 Username and Password not accepted"],
        "reply_codes": [535],
        "enhanced_codes": ["5.7.8"],
        "cause": "Gmail rejected the user name or password.",
        "fix": ["Use an app password.", "Check the user name is the full address."],
        "sources": [{"title": "Gmail help", "url": "https://support.google.com/mail"}],
    },
    {
        "id": "starttls-not-offered",
        "title": "The server does not offer STARTTLS",
        "category": "starttls-unavailable",
        "signatures": ["STARTTLS extension not supported by server"],
        "cause": "The server did not advertise STARTTLS after EHLO.",
        "fix": [
            "Ask the mail provider to enable STARTTLS.",
            "Use port 465 if offered.",
        ],
        "probe_helps": True,
        "sources": [
            {"title": "RFC 3207", "url": "https://www.rfc-editor.org/rfc/rfc3207"}
        ],
    },
    {
        "id": "cert-self-signed",
        "title": "The server's certificate is not trusted",
        "category": "tls-cert-untrusted",
        "signatures": [
            "SSL: CERTIFICATE_VERIFY_FAILED self signed certificate in smtp"
        ],
        "cause": "The certificate chain does not lead to a trusted authority.",
        "fix": ["Install a certificate from a public CA.", "Send the full chain."],
        "probe_helps": True,
        "sources": [{"title": "TLS notes", "url": "https://example.org/tls"}],
    },
    {
        "id": "smtp-timeout-port-blocked",
        "title": "Connection to the SMTP server timed out (port blocked)",
        "category": "connection-timeout",
        "signatures": [
            "smtp connection timed out while connecting to mail server port",
            SHARED_SIGNATURE,
        ],
        "cause": "A firewall or the ISP drops the connection.",
        "fix": ["Try port 587.", "Ask the network team to open the port."],
        "probe_helps": True,
        "sources": [{"title": "Port notes", "url": "https://example.org/ports"}],
    },
    {
        "id": "smtp-refused-nothing-listening",
        "title": "Connection to the SMTP server refused (nothing listening)",
        "category": "connection-refused",
        "signatures": [
            "smtp connection refused while connecting to mail server port",
            SHARED_SIGNATURE,
        ],
        "cause": "Nothing listens on that port.",
        "fix": ["Check the port number.", "Check the server is running."],
        "probe_helps": True,
        "sources": [{"title": "Port notes", "url": "https://example.org/ports"}],
    },
)

CODES = {
    "reply": [
        {
            "code": "554",
            "title": "Transaction failed",
            "meaning": "The server refused.",
            "source": "RFC 5321",
        }
    ],
    "enhanced": [
        {
            "code": "X.3.4",
            "title": "Message too big for system",
            "meaning": "The message is larger than the server accepts.",
            "category": "message-too-large",
            "source": "RFC 3463",
        }
    ],
}

# Pastes and what the test knowledge base makes of them.
STARTTLS_PASTE = (
    "Sending failed: 530 5.7.0 Must issue a STARTTLS command first. "
    "Server smtp.example.com:587"
)
AMBIGUOUS_PASTE = "mail server dropped the smtp session without reply"
CHATTER = "good morning everyone, who wants coffee?"


def write_kb(root: Path) -> KnowledgeBase:
    """
    Write the entries and code tables under ``root`` and load them.
    """
    for entry in ENTRIES:
        path = root / "entries" / entry["category"] / f"{entry['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(entry, sort_keys=False), encoding="utf-8")
    (root / "codes").mkdir(parents=True, exist_ok=True)
    for kind, rows in CODES.items():
        text = yaml.safe_dump({"kind": kind, "codes": rows}, sort_keys=False)
        (root / "codes" / f"{kind}.yaml").write_text(text, encoding="utf-8")
    return load_knowledge(root)
