"""
The shipped knowledge base (``knowledge/``): it loads and lints clean, every entry is
found by its own signatures, every category is covered, and the code tables explain
what issue #2 asks.

These tests read the real content, which is still being written; they fail until it is
complete.
"""

from __future__ import annotations

import subprocess

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.categories import CATEGORIES
from knowledge.context import server_answered
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from knowledge.model import Entry, KnowledgeBase

GUIDANCE = "guidance/outlook-smtp-tls-troubleshooting.txt"
OUTLOOK_HEX_CODES = [
    "0x800CCC0B",
    "0x800CCC0E",
    "0x800CCC0F",
    "0x800CCC13",
    "0x800CCC1A",
    "0x800CCC67",
    "0x800CCC78",
    "0x80042108",
    "0x80042109",
    "0x8004210A",
    "0x8004210B",
]
# RFC 5321 §4.2.2-§4.2.3: every reply code the standard defines.
RFC5321_REPLY_CODES = [
    *("211", "214", "220", "221", "250", "251", "252", "354"),
    *("421", "450", "451", "452", "455"),
    *("500", "501", "502", "503", "504", "550", "551", "552", "553", "554", "555"),
]
REQUIRED_ENHANCED = ["X.7.8", "X.1.1", "X.2.2", "X.3.4"]
MIN_ENTRIES = 60
MIN_PER_CATEGORY = 2
MIN_ENHANCED = 60

# Collected once at import so that the per-entry tests can be parametrized by id.
SHIPPED_KB, SHIPPED_ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
ENTRIES: dict[str, Entry] = {entry.id: entry for entry in SHIPPED_KB.entries}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge base (the valid part of it, if some files are broken)."""
    return SHIPPED_KB


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase) -> Matcher:
    """
    The recogniser over the shipped knowledge base, built once for this module: a
    signature alone is no paste, so the learned not-mail check (test_learned) is off.
    """
    return Matcher(kb, not_mail=False, rerank=False)


def test_loads_without_errors() -> None:
    """Every shipped entry and code table file is valid."""
    assert [str(error) for error in SHIPPED_ERRORS] == []


def test_kb_lint_exits_0(shipped_lint: subprocess.CompletedProcess[bytes]) -> None:
    """``smtpbot kb lint`` passes: no invalid files and no shadowed signatures."""
    assert shipped_lint.returncode == 0, shipped_lint.stdout.decode()[-4000:]


def test_enough_entries(kb: KnowledgeBase) -> None:
    """The knowledge base has at least 60 entries."""
    assert len(kb.entries) >= MIN_ENTRIES


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_category_has_two_entries(kb: KnowledgeBase, category: str) -> None:
    """Each of the 22 taxonomy categories has at least two entries."""
    ids = [e.id for e in kb.entries if e.category == category]
    assert len(ids) >= MIN_PER_CATEGORY, f"{category}: {ids}"


@pytest.mark.parametrize("entry_id", sorted(ENTRIES))
def test_entry_is_found_by_its_own_signatures(matcher: Matcher, entry_id: str) -> None:
    """Each signature gives the entry's category top-1, or the entry among the top."""
    entry = ENTRIES[entry_id]
    missed: list[str] = []
    for signature in entry.signatures:
        diagnosis = matcher.diagnose(signature)
        alternatives = [c.entry.id for c in diagnosis.alternatives]
        if diagnosis.category != entry.category and entry.id not in alternatives:
            top = diagnosis.entry.id if diagnosis.entry else None
            missed.append(
                f"{signature!r} -> category {diagnosis.category}, entry {top}, "
                f"alternatives {alternatives}"
            )
    assert missed == [], f"{entry_id} ({entry.category}):\n" + "\n".join(missed)


def test_guidance_is_shipped_and_cited(kb: KnowledgeBase) -> None:
    """The Outlook guidance is in knowledge/guidance/ and some entry cites it."""
    assert (KNOWLEDGE_ROOT / GUIDANCE).is_file()
    citing = [e.id for e in kb.entries if any(s.file == GUIDANCE for s in e.sources)]
    assert citing


@pytest.mark.parametrize("code", OUTLOOK_HEX_CODES)
def test_outlook_hex_code_is_explained_with_category(
    kb: KnowledgeBase, code: str
) -> None:
    """Each required Outlook hex code is in the hex table with a taxonomy category."""
    info = kb.hex_codes.get(code)
    assert info is not None, f"{code} missing from the hex table"
    assert info.title and info.meaning
    assert info.category in CATEGORIES, f"{code} has category {info.category!r}"


@pytest.mark.parametrize("code", RFC5321_REPLY_CODES)
def test_rfc5321_reply_code_is_explained(kb: KnowledgeBase, code: str) -> None:
    """Every RFC 5321 reply code is in the reply table with a title and a meaning."""
    info = kb.reply_codes.get(code)
    assert info is not None, f"{code} missing from the reply table"
    assert info.title and info.meaning


def test_enhanced_table_is_large_enough(kb: KnowledgeBase) -> None:
    """The enhanced status code table has at least 60 codes."""
    assert len(kb.enhanced_codes) >= MIN_ENHANCED


@pytest.mark.parametrize("code", REQUIRED_ENHANCED)
def test_required_enhanced_code_is_explained(kb: KnowledgeBase, code: str) -> None:
    """The enhanced codes people paste most are explained."""
    info = kb.enhanced_codes.get(code)
    assert info is not None, f"{code} missing from the enhanced table"
    assert info.title and info.meaning


OUTLOOK_CANNOT_CONNECT = (
    "Task 'me@example.com - Sending' reported error (0x800CCC0E) : 'Outlook cannot "
    "connect to your outgoing (SMTP) e-mail server. If you continue to receive this "
    "message, contact your server administrator or Internet service provider (ISP).'"
)


def test_a_quoted_server_reply_outweighs_the_cannot_connect_wrapper(
    matcher: Matcher,
) -> None:
    """
    Outlook wraps a server's 5xx answer in "cannot connect": when the reply is quoted,
    the server was reached, so the reply decides; without it, the wrapper does (no
    reason given: a port blocked on the way, the code table's reading).
    """
    alone = matcher.diagnose(OUTLOOK_CANNOT_CONNECT)
    assert alone.category == "connection-timeout"
    answered = matcher.diagnose(
        OUTLOOK_CANNOT_CONNECT
        + " The server responded: 535 5.7.3 Authentication unsuccessful"
    )
    assert answered.category == "auth-failed"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The server responded: 530 5.7.0 Authentication required", True),
        ("the server response was: 554 5.7.1 Relay access denied", True),
        ("Server replied: '550 5.1.1 User unknown'", True),
        ("The server responded: 250 OK", False),
        ("421 4.7.0 Try again later, closing connection", False),
        ("connect ETIMEDOUT 192.0.2.1:587", False),
    ],
)
def test_server_answered_spots_quoted_rejections(text: str, expected: bool) -> None:
    """Only a 5xx reply quoted as the server's answer counts."""
    assert server_answered(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "how can I capture the raw SMTP conversation between my app and the server?",
        "Wo finde ich die Protokolldatei von Thunderbird für den Versand?",
        "the logs say nothing, where do I enable debug output in nodemailer",
    ],
)
def test_questions_about_seeing_the_smtp_session_are_client_logging(
    matcher: Matcher, text: str
) -> None:
    """Asking how to see the SMTP session (any word order, German too) finds logging."""
    assert matcher.diagnose(text).category == "client-logging"


def test_other_softwares_logs_are_not_client_logging(matcher: Matcher) -> None:
    """Logs of other software (containers) are not a mail-logging question."""
    text = "where are the docker container logs? kubectl logs shows nothing"
    assert matcher.diagnose(text).category == "none"


def test_an_error_inside_debug_output_is_answered_not_the_logging_how_to(
    matcher: Matcher,
) -> None:
    """
    "Here is my SMTP debug output: <error>" is about the error; the logging how-to is
    only the answer when no other category is confidently found.
    """
    text = (
        "PHPMailer SMTPDebug = 2 output:\n"
        "SMTP ERROR: Failed to connect to server: Connection refused (111)"
    )
    assert matcher.diagnose(text).category == "connection-refused"
    assert matcher.diagnose("how do I set SMTPDebug = 2 in PHPMailer?").category == (
        "client-logging"
    )


def test_package_manager_errors_are_not_mail_problems(matcher: Matcher) -> None:
    """apt's "Unable to locate package" is not ssmtp's "Unable to locate" host."""
    text = "sudo apt install php8.2-imap\nE: Unable to locate package php8.2-imap"
    assert matcher.diagnose(text).category == "none"


POSTFIX_GREETING_TIMEOUT = (
    "postfix/smtp[3112]: 7C1D: conversation with relay.example.net[198.51.100.40] "
    "timed out while receiving the initial server greeting\n"
    "postfix/smtp[3112]: 7C1D: to=<me@example.org>, "
    "relay=relay.example.net[198.51.100.40]:{port}, delay=300, status=deferred"
)


@pytest.mark.parametrize(
    "port,category",
    [("465", "tls-port-mismatch"), ("25", "connection-timeout")],
)
def test_a_greeting_timeout_on_465_is_missing_wrapper_mode(
    matcher: Matcher, port: str, category: str
) -> None:
    """
    Postfix waiting for a greeting on port 465 is plain text against implicit TLS; the
    same timeout on port 25 is a slow or blocked server (the best candidate, and the
    wrapper-mode entry not offered at all).
    """
    diagnosis = matcher.diagnose(POSTFIX_GREETING_TIMEOUT.format(port=port))
    best = diagnosis.entry or diagnosis.alternatives[0].entry
    assert best.category == category
    offered = {best.id, *(c.entry.id for c in diagnosis.alternatives)}
    wrapper = "postfix-relayhost-465-without-wrappermode"
    assert (wrapper in offered) is (port == "465")
