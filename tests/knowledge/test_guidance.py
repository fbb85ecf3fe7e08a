"""
Every point of the Outlook SMTP/TLS guidance is knowledge that cites it.

Each row names a passage of knowledge/guidance/outlook-smtp-tls-troubleshooting.txt and
the entry that carries it; the test checks the passage is really in the guidance, the
entry cites the file, and a paste or question about the point finds that entry's
category.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher

GUIDANCE = "guidance/outlook-smtp-tls-troubleshooting.txt"

# (passage in the guidance, entry carrying it, what a user would paste or ask)
POINTS = [
    (
        "Issue a STARTTLS command first",
        "outlook-530-issue-starttls-first",
        "Verify the email address in your account properties. Server responded: 530 "
        "5.7.0 Issue a STARTTLS command first",
    ),
    (
        "unable to send email but they can still receive email",
        "outlook-530-issue-starttls-first",
        "I can receive email but cannot send, server says issue a STARTTLS command "
        "first",
    ),
    (
        "advanced tab of the More Settings dialog box",
        "outlook-0x800ccc1a-encryption-type",
        "Your server does not support the connection encryption type you have "
        "specified. (0x800CCC1A)",
    ),
    (
        "Enable mail logging",
        "outlook-enable-mail-logging",
        "how do I turn on mail logging in Outlook?",
    ),
    (
        "different port other than the default (SMTP) port 25",
        "outlook-secure-connection-port-other-than-25",
        "Outlook 2000 cannot send after ticking This server requires a secure "
        "connection, port changed from 25",
    ),
    (
        "non-delivery reports (NDR) will be generated",
        "ndr-encryption-level-mismatch",
        "messages are returned with an NDR because the client does not use the "
        "encryption level the server enforces",
    ),
    (
        "Use TLS encryption for servers that require basic authentication",
        "auth-requires-tls-encryption",
        "smtplib.SMTPAuthenticationError: (538, b'5.7.11 Encryption required for "
        "requested authentication mechanism')",
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    """The matcher over the shipped knowledge base."""
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(load_knowledge(), rerank=False)


@pytest.mark.parametrize(("passage", "entry_id", "paste"), POINTS)
def test_guidance_point_is_knowledge_citing_it(
    matcher: Matcher, passage: str, entry_id: str, paste: str
) -> None:
    """The passage is in the guidance; its entry cites the file and a paste finds it."""
    guidance = (KNOWLEDGE_ROOT / GUIDANCE).read_text(encoding="utf-8")
    assert " ".join(passage.split()) in " ".join(guidance.split())
    entry = matcher.kb.get(entry_id)
    assert entry is not None
    assert any(source.file == GUIDANCE for source in entry.sources)
    diagnosis = matcher.diagnose(paste)
    ranked = [diagnosis.category] + [c.entry.category for c in diagnosis.alternatives]
    assert entry.category in ranked[:2], (diagnosis.category, diagnosis.alternatives)
