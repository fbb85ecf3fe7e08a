"""
Accuracy floors of the matcher on labelled corpora, so a knowledge-base or matcher
change that loses recognition (or starts answering chat) fails the build.

``../shared/corpus/dev.jsonl`` is the team's development corpus: it exists next to a
checkout in this workplace and in CI, not for users who clone the project, so those
tests skip when it is absent. ``tests/corpus/challenge.jsonl`` ships with the project.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from knowledge.matcher import Matcher

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from eval import evaluate  # noqa: E402  (bench/ is a folder of scripts, not a package)

DEV = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
CHALLENGE = ROOT / "tests" / "corpus" / "challenge.jsonl"
HOLDOUT = ROOT / "tests" / "corpus" / "holdout.jsonl"
# Written in session 2 by a helper who saw only TAXONOMY.md; first measured blind at
# top-1 0.928, then used to find knowledge-base gaps (so no longer a blind figure).
HOLDOUT2 = ROOT / "tests" / "corpus" / "holdout2.jsonl"
# Written later in session 2 the same way; blind top-1 0.928, then used for gaps too.
HOLDOUT3 = ROOT / "tests" / "corpus" / "holdout3.jsonl"
# Real pastes from public trackers, labelled by hand (tests/corpus/README.md). Each
# batch was measured before anything was changed from it (docs/knowledge.md: 0.867 on
# the first 120, 0.762 on the next 474); the floor sits a little under today's 0.870.
REAL_DEV = ROOT / "tests" / "corpus" / "real-dev.jsonl"
# A later sealed set of real pastes from sources no other set uses, measured blind at
# top-1 0.873, none false-triggers 0.087 (tests/corpus/README.md), then development
# material; the floor sits a little under today's figure (docs/knowledge.md).
REAL_SEALED3 = ROOT / "tests" / "corpus" / "real-sealed3.jsonl"
# The fourth and fifth sealed sets, measured blind at 0.860 / 0.170 and 0.759 / 0.261
# (tests/corpus/README.md), then development material; floors a little under today's
# 0.917 / 0.085 and 0.805 / 0.239.
REAL_SEALED4 = ROOT / "tests" / "corpus" / "real-sealed4.jsonl"
REAL_SEALED5 = ROOT / "tests" / "corpus" / "real-sealed5.jsonl"
# The sixth (forum, Q&A and blog pages) and seventh (new threads of any repository)
# sealed sets, measured blind at 0.725 / 0.227 and 0.878 / 0.238, then development
# material; floors a little under today's 0.881 / 0.227 and 0.955 / 0.095.
REAL_SEALED6 = ROOT / "tests" / "corpus" / "real-sealed6.jsonl"
REAL_SEALED7 = ROOT / "tests" / "corpus" / "real-sealed7.jsonl"
# The eighth (new threads), measured blind at 0.855 / 0.250 on three matchers in a
# row, then development material; floor a little under today's 0.931 / 0.179.
REAL_SEALED8 = ROOT / "tests" / "corpus" / "real-sealed8.jsonl"
# The ninth (new threads and pages), measured blind at 0.850 / 0.160, then development
# material; floor a little under today's 0.899 / 0.140.
REAL_SEALED9 = ROOT / "tests" / "corpus" / "real-sealed9.jsonl"
# The tenth and eleventh (new threads), measured blind at 0.810 / 0.250 and 0.870 /
# 0.105, then development material; floors a little under today's 0.930 / 0.062 and
# 0.940 / 0.053.
REAL_SEALED10 = ROOT / "tests" / "corpus" / "real-sealed10.jsonl"
REAL_SEALED11 = ROOT / "tests" / "corpus" / "real-sealed11.jsonl"
# The twelfth (new threads and pages), measured blind at 0.825 / 0.350, then development
# material; floor a little under today's 0.950 / 0.075.
REAL_SEALED12 = ROOT / "tests" / "corpus" / "real-sealed12.jsonl"
# The thirteenth, measured blind at 0.817 / 0.100 (0.825 with the learned reranker),
# then training material for the learned parts, not fixed from; floor a little under
# today's 0.925 / 0.000, which the learned parts partly remember.
REAL_SEALED13 = ROOT / "tests" / "corpus" / "real-sealed13.jsonl"
REAL_SEALED14 = ROOT / "tests" / "corpus" / "real-sealed14.jsonl"
REAL_SEALED15 = ROOT / "tests" / "corpus" / "real-sealed15.jsonl"
# The sixteenth, measured blind at 0.843 / 0.093, then training material and fixed
# from; floor a little under today's 0.923 / 0.037.
REAL_SEALED16 = ROOT / "tests" / "corpus" / "real-sealed16.jsonl"
# The seventeenth, measured blind at 0.834 / 0.074, then training material and fixed
# from; floor a little under today's 0.934 / 0.015.
REAL_SEALED17 = ROOT / "tests" / "corpus" / "real-sealed17.jsonl"
# The eighteenth, measured blind at 0.746 / 0.077, then training material and fixed
# from; floor a little under today's 0.892 / 0.013.
REAL_SEALED18 = ROOT / "tests" / "corpus" / "real-sealed18.jsonl"
REAL_SEALED19 = ROOT / "tests" / "corpus" / "real-sealed19.jsonl"
REAL_SEALED20 = ROOT / "tests" / "corpus" / "real-sealed20.jsonl"


@pytest.mark.skipif(
    not DEV.is_file(), reason=f"development corpus not present at {DEV}"
)
def test_dev_corpus_accuracy(shipped: Matcher) -> None:
    """
    On the dev corpus, top-1, top-3 and none false-triggers hold their floors.

    Top-1 stays >= 0.90, top-3 >= 0.95 and none false-triggers <= 0.03.
    """
    result = evaluate(DEV, shipped)
    assert result["top1"] >= 0.90, result["misses"]
    assert result["top3"] >= 0.95
    assert result["none_false_rate"] <= 0.03


def test_challenge_corpus_accuracy(shipped: Matcher) -> None:
    """
    On the shipped challenge corpus, top-1 and none false-triggers hold their floors.

    Top-1 stays >= 0.85 and none false-triggers <= 0.05, with the learned reranker
    and without it (with it, one of its 49 hand-written none texts is answered: a
    question about recalling a Gmail message, read as one about logging; successful
    transcripts and delivery logs it leaves alone, knowledge.rerank.succeeded).
    """
    result = evaluate(CHALLENGE, shipped)
    assert result["top1"] >= 0.85, result["misses"]
    assert result["none_false_rate"] <= 0.05
    before = evaluate(CHALLENGE, Matcher(shipped.kb, rerank=False))
    assert before["none_false_rate"] <= 0.05


def test_holdout_corpus_accuracy(shipped: Matcher) -> None:
    """On the holdout corpus, top-1 >= 0.90 and none false-triggers <= 0.03."""
    result = evaluate(HOLDOUT, shipped)
    assert result["top1"] >= 0.90, result["misses"]
    assert result["none_false_rate"] <= 0.03


def test_second_holdout_corpus_accuracy(shipped: Matcher) -> None:
    """
    On the second holdout corpus, top-1 >= 0.90 and none false-triggers <= 0.05.

    Two of its 45 chat questions are answered since the seventeenth set was trained
    on: the category model reads "export my contacts from Outlook to a CSV for the
    CRM" as a connection timeout (0.51) and the reranker offers it, marked ambiguous.
    """
    result = evaluate(HOLDOUT2, shipped)
    assert result["top1"] >= 0.90, result["misses"]
    assert result["none_false_rate"] <= 0.05


def test_third_holdout_corpus_accuracy(shipped: Matcher) -> None:
    """On the third holdout corpus, top-1 >= 0.90 and none false-triggers <= 0.03."""
    result = evaluate(HOLDOUT3, shipped)
    assert result["top1"] >= 0.90, result["misses"]
    assert result["none_false_rate"] <= 0.03


def test_real_paste_corpus_accuracy(shipped: Matcher) -> None:
    """On the real-paste corpus, top-1 >= 0.85 and none false-triggers <= 0.10."""
    result = evaluate(REAL_DEV, shipped)
    assert result["top1"] >= 0.85, result["misses"]
    assert result["none_false_rate"] <= 0.10


def test_later_sealed_set_accuracy(shipped: Matcher) -> None:
    """On the later sealed set, top-1 >= 0.93 and none false-triggers <= 0.05."""
    result = evaluate(REAL_SEALED3, shipped)
    assert result["top1"] >= 0.93, result["misses"]
    assert result["none_false_rate"] <= 0.05


@pytest.mark.parametrize(
    ("corpus", "top1", "false_rate"),
    [
        (REAL_SEALED4, 0.90, 0.10),
        (REAL_SEALED5, 0.79, 0.25),
        (REAL_SEALED6, 0.84, 0.25),
        (REAL_SEALED7, 0.93, 0.13),
        (REAL_SEALED8, 0.92, 0.18),
        (REAL_SEALED9, 0.89, 0.15),
        (REAL_SEALED10, 0.92, 0.07),
        (REAL_SEALED11, 0.93, 0.06),
        (REAL_SEALED12, 0.94, 0.10),
        (REAL_SEALED13, 0.90, 0.04),
        (REAL_SEALED14, 0.82, 0.03),
        (REAL_SEALED15, 0.84, 0.05),
        (REAL_SEALED16, 0.90, 0.06),
        (REAL_SEALED17, 0.91, 0.04),
        (REAL_SEALED18, 0.87, 0.04),
        (REAL_SEALED19, 0.89, 0.08),
        (REAL_SEALED20, 0.90, 0.04),
    ],
    ids=[
        "real-sealed4",
        "real-sealed5",
        "real-sealed6",
        "real-sealed7",
        "real-sealed8",
        "real-sealed9",
        "real-sealed10",
        "real-sealed11",
        "real-sealed12",
        "real-sealed13",
        "real-sealed14",
        "real-sealed15",
        "real-sealed16",
        "real-sealed17",
        "real-sealed18",
        "real-sealed19",
        "real-sealed20",
    ],
)
def test_newer_sealed_sets_keep_their_floor(
    shipped: Matcher, corpus: Path, top1: float, false_rate: float
) -> None:
    """The newer sealed sets, now development material, keep what was reached."""
    result = evaluate(corpus, shipped)
    assert result["top1"] >= top1, result["misses"]
    assert result["none_false_rate"] <= false_rate
