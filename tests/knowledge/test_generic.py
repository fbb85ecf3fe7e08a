"""
Every category has one entry for any client (``generic: true``), and it is what the
matcher answers with when the learned reranker chooses a category for which the
recogniser ranked no entry: the reply then carries that entry's numbered fix steps.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.conversation.replies import ReplyKind, diagnosis_reply, render_text
from knowledge import KNOWLEDGE_ROOT
from knowledge.categories import CATEGORIES, NONE
from knowledge.clients import families
from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher
from knowledge.model import KnowledgeBase
from tests.knowledge.test_rerank import FOLLOWER, toy_model

TAXONOMY = sorted(c for c in CATEGORIES if c != NONE)


def word(category: str) -> str:
    """A made-up word that only the toy category model knows, one per category."""
    return f"zq{chr(ord('a') + TAXONOMY.index(category))}x"


def paste(category: str) -> str:
    """A paste about mail whose only telling word is ``category``'s made-up word."""
    return f"Mail delivery issue: {word(category)}"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge base."""
    return load_knowledge(KNOWLEDGE_ROOT)


@pytest.fixture(scope="module")
def plain(kb: KnowledgeBase) -> Matcher:
    """The recogniser alone."""
    return Matcher(kb, not_mail=False, rerank=False)


@pytest.fixture(scope="module")
def learned(kb: KnowledgeBase) -> Matcher:
    """A matcher whose reranker follows a toy model: each made-up word, its category."""
    model = toy_model(
        {f"w:{word(c)}": {c: 8.0} for c in TAXONOMY},
        knows=tuple(paste(c) for c in TAXONOMY),
    )
    return Matcher(kb, not_mail=False, rerank=(model, FOLLOWER))


def test_every_category_has_exactly_one_generic_entry(kb: KnowledgeBase) -> None:
    """Each of the 22 categories (not none) has one entry for any client."""
    generic = Counter(e.category for e in kb.entries if e.generic)
    assert dict(generic) == dict.fromkeys(TAXONOMY, 1)


@pytest.mark.parametrize("category", TAXONOMY)
def test_generic_entry_is_written_for_any_client(
    kb: KnowledgeBase, category: str
) -> None:
    """It names no client in its title, applies to any, and has 3-6 steps."""
    entry = next(e for e in kb.entries if e.generic and e.category == category)
    assert entry.applies_to == ("any",)
    assert not families(entry), entry.title
    assert 3 <= len(entry.fix) <= 6
    assert entry.sources


@pytest.mark.parametrize("category", TAXONOMY)
def test_a_learned_category_with_no_ranked_entry_answers_with_its_generic_entry(
    plain: Matcher, learned: Matcher, category: str
) -> None:
    """The reranker's category, no entry of it ranked: the generic entry's steps."""
    text = paste(category)
    found = plain.diagnose(text)
    assert found.category == NONE and not found.alternatives
    diagnosis = learned.diagnose(text)
    assert diagnosis.category == category
    assert diagnosis.basis == "learned" and diagnosis.uncertain
    assert diagnosis.entry is not None
    assert diagnosis.entry.generic and diagnosis.entry.category == category
    reply = diagnosis_reply(diagnosis, server=None)
    assert reply is not None and reply.kind is ReplyKind.ANSWER
    assert reply.steps == diagnosis.entry.fix
    shown = render_text(reply)
    assert f"  1. {diagnosis.entry.fix[0]}" in shown
