# ruff: noqa: E501 (record keys are kept whole on their lines)
"""
Bounces as the bounce-mail analyser Sisimai knows them (github.com/sisimai/go-sisimai,
BSD 2-Clause), two sets of outside material no labelled corpus here was built from:

- ``outside/sisimai_phrases.jsonl``: the server reply wordings Sisimai's reason modules
  recognise (``reason/why-*.go``), for the reasons that mean one of our categories
  (userunknown, mailboxfull, mesgtoobig, exceedlimit, norelaying, blocked,
  badreputation, spamdetected, authfailure, requireptr, toomanyconn, speeding) and the
  hand-picked wordings of the others that plainly say one (failedstarttls,
  securityerror, rejected). Each is framed as Postfix reports a server's reply.
- ``outside/sisimai_bounces.jsonl``: real (anonymised) bounces of Sisimai's sample set
  (``set-of-emails/maildir/bsd``) from about 60 MTAs and providers, labelled with the
  reason Sisimai's own tests expect (``fact/*_test.go``) where it maps to one category:
  the bounce's readable part as a person pastes it and each recipient's
  delivery-status block.

Each record is answered with its category, except the known misses below, which are
asserted as still missed: a fix makes this test fail until its entry leaves the list.
``outside/build_sisimai.py`` rebuilds both files from a clone of go-sisimai.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import (
    assert_categories,
    assert_well_formed,
    category_rates,
    load,
)

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
PHRASES = load("sisimai_phrases.jsonl")
BOUNCES = load("sisimai_bounces.jsonl")

# (lang, frame, key, what is answered instead).
PHRASE_MISSES: set[tuple[str, str, str, str]] = {
    # "we don't handle mail for" a domain: read as the recipient's, not the relay's.
    ("en", "postfix RCPT TO", "we don't handle mail for", "recipient-unknown"),
    # "550 550 address invalid": no word names the mailbox.
    ("en", "postfix RCPT TO", "550 address invalid", "none"),
    (
        "en",
        "postfix RCPT TO",
        "there is no one at this address",
        "sender-not-permitted",
    ),
}
BOUNCE_MISSES: set[tuple[str, str, str, str]] = {
    # Orange's "550 5.2.0 Mail rejete. Mail rejected. OFR_506": the code's mailbox
    # meaning wins; only Orange's table says 506 is spam.
    ("en", "bounce text", "lhost-einsundeins-03/body", "mailbox-full"),
    ("en", "bounce text", "rhost-franceptt-03/body", "mailbox-full"),
    # Spectrum's "sender rejected ... AUP#In-1310" (a connection limit in its table).
    ("en", "delivery status", "rhost-spectrum-01/dsn1", "sender-not-permitted"),
    # "550 Access denied...<hash>" at the greeting: no word for the listing.
    ("en", "bounce text", "lhost-exim-35/body", "relay-denied"),
    # "554 5.7.0 Reject, id=... - SPAM." after end of data: read as the sender's.
    ("en", "bounce text", "lhost-exim-55/body", "sender-not-permitted"),
    # InterScan's "Unable to deliver message to <x> ... check if address is correct".
    ("en", "bounce text", "lhost-interscanmss-02/body", "none"),
    ("en", "bounce text", "lhost-interscanmss-03/body", "none"),
    # "550 domain [example.com] mismatches client ip": the HELO/SPF check unnamed.
    ("en", "delivery status", "lhost-outlook-09/dsn1", "recipient-unknown"),
    # Postfix's reply wrapped so that "550" ends its line: "Recipient address rejected."
    ("en", "bounce text", "lhost-postfix-46/body", "none"),
    # OCN's bounce: the readable part is its Japanese boilerplate without the error.
    ("en", "bounce text", "lhost-postfix-49/body", "none"),
    # A bounce forwarded with "> " quoting, cut before its transcript.
    ("en", "bounce text", "lhost-sendmail-14/body", "none"),
    # "550 Insecure Mail Relay" and then a timed-out connection to another host.
    ("en", "bounce text", "lhost-v5sendmail-06/body", "connection-timeout"),
    # Verizon's MMS gateway: "No valid recipients for this MM".
    ("en", "bounce text", "lhost-verizon-01/body", "none"),
}


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


def test_records_are_well_formed() -> None:
    """Each record names its category, Sisimai's reason, file, key and commit."""
    assert_well_formed(PHRASES, at_least=250)
    assert_well_formed(BOUNCES, at_least=250)
    for record in PHRASES + BOUNCES:
        assert record["reason"] and record["source"].startswith("sisimai/"), record
    assert len({r["text"] for r in BOUNCES}) == len(BOUNCES)


def test_reason_phrases_get_their_category(shipped: Matcher) -> None:
    """Sisimai's reply wordings, framed as Postfix reports them."""
    assert_categories(shipped, PHRASES, PHRASE_MISSES)


def test_real_bounces_get_their_category(shipped: Matcher) -> None:
    """The sample bounces' readable parts and delivery-status blocks."""
    assert_categories(shipped, BOUNCES, BOUNCE_MISSES)


def test_per_category_report(shipped: Matcher, capsys: pytest.CaptureFixture) -> None:
    """Top-1 per category (printed with -s); the bounces keep 0.95 over all."""
    for name, records in (("phrases", PHRASES), ("bounces", BOUNCES)):
        with capsys.disabled():
            overall, _ = category_rates(shipped, records, f"sisimai {name}")
        assert overall >= 0.95
