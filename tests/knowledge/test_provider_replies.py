"""
Providers' and MTAs' own reply texts, as their reference pages and sources publish
them: ``outside/provider_replies.jsonl`` (text, label, lang, source). Google
Workspace's "Gmail SMTP errors and codes", Microsoft Exchange Online's NDR reference
and SMTP AUTH pages, Apple iCloud, Yahoo, GoDaddy and Orange bounce texts with their
documentation URLs (as Sisimai collects them), ZeptoMail's error codes, NetEase, QQ,
Alibaba and Coremail reply lists, Postfix, Exim and sendmail sources. They stand for
pastes nobody has collected yet: each must be answered with its category.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import category_rates

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = [
    json.loads(line)
    for line in (Path(__file__).parent / "outside" / "provider_replies.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]

# Replies whose words lose to a code that means something else in the registry, or
# that name no cause the matcher can read. Each is asserted to be still missed, so a
# fix fails its test until the entry is removed here.
KNOWN_MISSES = {
    # Orange reuses 5.1.1 (bad mailbox) for a full mailbox and 5.5.0 / 5.5.3 for
    # SPF and sender-ownership refusals; the registry's meaning of the code wins.
    "552 5.1.1 Boite du destinataire pleine.": "5.1.1 read as an unknown mailbox",
    "550 5.5.0 SPF: *** is not allowed": "5.5.0 read as mailbox unavailable",
    "5.5.3 Mail from not owned by user.": "5.5.3 read as too many recipients",
    # "blocked ... for failing both SPF and DKIM": the block wins over its cause.
    "554 5.7.1 [HME1] This message was blocked": "block read before its SPF/DKIM cause",
    # GoDaddy's inbound servers refuse AUTH: no word says the method is disabled.
    "535 Authentication not allowed on IBSMTP": "read as a refused login",
    # "too many messages containing content judged to be spam": both readings named.
    "554 This IP has been temporarily blocked for attempting to send too many": (
        "the volume words outweigh the spam verdict"
    ),
}


def _known(text: str) -> str | None:
    return next(
        (why for head, why in KNOWN_MISSES.items() if text.startswith(head)), None
    )


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


def test_records_are_well_formed() -> None:
    """Every record names its label, language and source; no text is repeated."""
    labels = {p.parent.name for p in (KNOWLEDGE_ROOT / "entries").glob("*/*.yaml")}
    assert len(RECORDS) >= 150
    assert len({r["text"] for r in RECORDS}) == len(RECORDS)
    for record in RECORDS:
        assert set(record) == {"text", "label", "lang", "source"}, record
        assert record["label"] in labels, record
        assert record["source"].strip(), record


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(r, id=f"{r['label']}:{r['text'][:50]}")
        for r in RECORDS
        if not _known(r["text"])
    ],
)
def test_provider_reply_gets_its_category(shipped: Matcher, record: dict) -> None:
    """A provider's or MTA's published reply is answered with its category."""
    diagnosis = shipped.diagnose(record["text"])
    assert diagnosis.category == record["label"], (
        diagnosis.category,
        diagnosis.signals,
    )


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(r, id=f"{r['label']}:{r['text'][:50]}")
        for r in RECORDS
        if _known(r["text"])
    ],
)
def test_known_misses_are_still_missed(shipped: Matcher, record: dict) -> None:
    """The listed misses, as recorded: a fix must take its entry off the list."""
    assert len([r for r in RECORDS if _known(r["text"])]) == len(KNOWN_MISSES)
    diagnosis = shipped.diagnose(record["text"])
    assert diagnosis.category != record["label"], (
        f"fixed ({_known(record['text'])}): remove it from KNOWN_MISSES"
    )


def test_per_category_report(shipped: Matcher, capsys: pytest.CaptureFixture) -> None:
    """Top-1 per category (printed with -s); every category keeps 0.8 or more."""
    with capsys.disabled():
        overall, per_category = category_rates(shipped, RECORDS, "provider replies")
    assert overall >= 0.95
    for label, rate in per_category.items():
        assert rate >= 0.8, label
