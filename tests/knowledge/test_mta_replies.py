# ruff: noqa: E501 (record keys are kept whole on their lines)
"""
Reply texts of real SMTP server software, as mail clients print the refusal
(``outside/mta_replies.jsonl``): Haraka's core and plugins (relay, dns-list, fcrdns,
helo.checks, spf, limit, auth, spam filters), Nodemailer's smtp-server, aiosmtpd, and
the replies compiled into Debian's Postfix ``smtpd`` and Exim ``exim4`` with Exim's
default ACL messages. Each reply is taken only where its meaning is one of the
categories, with its reply code (and enhanced code where the server adds one), and
framed twice: as Nodemailer, smtplib, PHPMailer, a Postfix bounce or a swaks transcript
shows it, and once more as an Exim log line, Ruby's Net::SMTP or .NET's SmtpClient
shows it (frames held out while the recogniser was improved). Besides, the sending
side's own messages of Postfix (smtp client, DNS and TLS libraries) and Exim as their
logs show them, also held out. No labelled corpus here was built from these servers.

Each record is answered with its category, except the known misses below, which are
asserted as still missed: a fix makes this test fail until its entry leaves the list.
``outside/build_mta_replies.py`` rebuilds the file from the installed packages.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.categories import CATEGORIES
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import (
    Miss,
    assert_categories,
    category_rates,
    load,
)

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = load("mta_replies.jsonl")
SERVERS = {"Haraka", "smtp-server", "aiosmtpd", "postfix", "exim4"}
FRAMES = {"nodemailer", "smtplib", "PHPMailer", "postfix bounce", "swaks"}
# Frames added after the recogniser was improved on the five above: how far the
# improvements carry to clients they were not read from.
HELD_OUT = {"exim log", "Ruby Net::SMTP", ".NET SmtpClient", "postfix log"}

# (lang, frame, key, what is answered instead).
KNOWN_MISSES: set[Miss] = {
    # Haraka's relay plugin refusing a domain it does not accept mail for (its
    # dest_domains check): the words read as the recipient's, not the relay's.
    (
        "en",
        "PHPMailer",
        "Mail for that recipient is not accepted here.",
        "recipient-unknown",
    ),
    (
        "en",
        "postfix bounce",
        "Mail for that recipient is not accepted here.",
        "recipient-unknown",
    ),
    (
        "en",
        "Ruby Net::SMTP",
        "Mail for that recipient is not accepted here.",
        "recipient-unknown",
    ),
    # Postfix's TLS session rate limit inside Nodemailer's "Error upgrading connection
    # with STARTTLS": the wrapper's STARTTLS entries outscore the limit's words.
    (
        "en",
        "nodemailer",
        "454 4.7.0 Error: too many new TLS sessions from %s",
        "starttls-unavailable",
    ),
    # Held-out frames. .NET drops the reply code ("Transaction failed. The server response was: Mail
    # matches a known spam signature"): "spam" alone does not make it mail.
    ("en", ".NET SmtpClient", "Mail matches a known spam signature", "none"),
    # "Too much mail data" fuzzily matches Postfix's "too much mail from" (a rate limit)
    # once the code is gone.
    ("en", ".NET SmtpClient", "552 Error: Too much mail data", "rate-limited"),
}


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


def test_records_are_well_formed() -> None:
    """Each record names its category, server, version, file, key and frame."""
    assert len(RECORDS) >= 190
    assert len({r["text"] for r in RECORDS}) == len(RECORDS)
    for record in RECORDS:
        assert record["label"] in CATEGORIES and record["label"] != "none", record
        assert record["server"] in SERVERS, record
        assert record["frame"] in (HELD_OUT if record["held_out"] else FRAMES), record
        assert record["version"] and record["key"], record
        assert record["source"].startswith(record["server"] + "@"), record
    assert {r["server"] for r in RECORDS} == SERVERS


def test_server_replies_get_their_category(shipped: Matcher) -> None:
    """Every reply, in each of its frames, is answered with its category."""
    assert_categories(shipped, RECORDS, KNOWN_MISSES)


def test_per_category_report(shipped: Matcher, capsys: pytest.CaptureFixture) -> None:
    """Top-1 per category (printed with -s) and over all."""
    with capsys.disabled():
        overall, _ = category_rates(shipped, RECORDS, "mta replies")
    assert overall >= 0.95
