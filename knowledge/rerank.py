"""
A learned choice between the recogniser's answer and its runners-up.

The recogniser reads what a paste is made of (codes, error names, TLS reasons, the
protocol step) and ranks categories; the category model (``knowledge.learned``) reads
the paste's words and gives each category a probability. They go wrong in different
places: the recogniser on wording no table lists, the category model on rare shapes.
The reranker weighs the two for each candidate category (the recogniser's answer and
alternatives, the category model's three most likely, and "none") with a logistic
regression, and the candidates are taken in the order of its scores.

It is trained (``python bench/rerank.py train``) on what the recogniser answered at the
first look at each labelled set, before anything was fixed from that set, with category
probabilities from models that never saw the set: the inputs it meets on a new paste.
The features below are read from the ``diagnose --json`` object, for training and
serving alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from knowledge.categories import NONE
from knowledge.context import GENERIC
from knowledge.normalize import CUE_PHRASES, CUE_WORDS, words_of

RERANK_PATH: Final = Path(__file__).resolve().parent / "learned" / "rerank.json"
# The category model's most likely categories join the candidates.
MODEL_CANDIDATES: Final = 3
# A confident answer from a known message scoring this much may be withheld by the
# reranker but not exchanged for another category: on first-look answers those
# exchanges broke nearly as many answers as they fixed, and on software's own strings
# (tests/knowledge/outside) more.
KEEP_ENTRY: Final = 85.0
# The reranker judges only pastes whose words the category model mostly knows: in a
# language or wording it never learned from, its probabilities are only the prior.
# (Real pastes: 95% know 0.62 of their words or more; software's own strings in 50
# languages, tests/knowledge/outside/library_strings.jsonl: half know 0.43 or less.)
MIN_KNOWN: Final = 0.5
# Signals of a reason read verbatim from a TLS library's or the system's catalogue.
KEPT_SIGNALS: Final = ("tls:", "network:")
# Signals of a mail program's own words or of a rule about mail's structure.
MAIL_SIGNALS: Final = ("smtp:", "rule:")
# Categories whose words other software shares: transport failures, size limits and
# rate limits (an HTTP API's "too many requests").
SHARED: Final = GENERIC | {"message-too-large", "rate-limited"}

FEATURES: Final = (
    "answer",
    "answer_score",
    "answer_confident",
    "answer_ambiguous",
    "answer_from_entry",
    "answer_uncertain",
    "alternative_score",
    "alternative_rank",
    "probability",
    "log_probability",
    "most_probable",
    "none",
    "none_recogniser_none",
    "none_decision_none",
    "none_coded",
    "none_answer_score",
    "coded",
    "none_mail_words",
    "none_probability_without_mail_words",
    "none_other_program",
)


def coded(answer: Mapping[str, Any]) -> bool:
    """True when the recogniser found an SMTP code in the paste."""
    return bool(answer.get("codes")) or any(
        str(signal).startswith("code:") for signal in answer.get("signals") or ()
    )


def kept(answer: Mapping[str, Any]) -> bool:
    """
    True when the recogniser's answer may be withheld but not exchanged: a confident
    answer from a known message scoring KEEP_ENTRY or more, or one read from a TLS
    library's or the operating system's own reason (a ``tls:`` or ``network:``
    signal: the catalogues of GnuTLS, OpenSSL, Schannel and Winsock in every
    language, which pastes seldom carry and the category model barely knows; on the
    first-look answers keeping them changed no answer's score).
    """
    if answer.get("decision") != "confident":
        return False
    if answer.get("basis") == "entry" and float(answer.get("score") or 0) >= KEEP_ENTRY:
        return True
    return any(
        str(signal).startswith(KEPT_SIGNALS) for signal in answer.get("signals") or ()
    )


def mail_only(answer: Mapping[str, Any]) -> bool:
    """
    True for a confident answer that only mail has, read from a mail program's own
    words or a rule about mail's structure (a client's "server does not support
    secure connections" in French, gen_smtp's missing-requirement tuple): no other
    program says them, so neither learned part withholds it.
    """
    return (
        answer.get("decision") == "confident"
        and answer.get("category") not in SHARED
        and any(
            str(signal).startswith(MAIL_SIGNALS)
            for signal in answer.get("signals") or ()
        )
    )


def bare(answer: Mapping[str, Any]) -> bool:
    """True when the recogniser found nothing to read: no answer, signal or code."""
    return (
        answer.get("decision") == "none"
        and not answer.get("signals")
        and not coded(answer)
    )


def says_failure(text: str) -> bool:
    """
    True when ``text`` has a word of failure (error, failed, cannot, refused, ...;
    in Chinese, Japanese and Korean their phrases): "my mail client says:" and "how
    do I export my contacts from Outlook?" have none.
    """
    return bool(CUE_WORDS.intersection(words_of(text.lower()))) or any(
        phrase in text for phrase in CUE_PHRASES
    )


def succeeded(answer: Mapping[str, Any]) -> bool:
    """
    True when no SMTP reply the recogniser found is negative: all are successes (2xx)
    or the positive intermediate replies of DATA and AUTH (3xx, RFC 5321 4.2.1).
    """
    codes = map(str, answer.get("codes") or ())
    replies = [code for code in codes if len(code) == 3 and code.isdigit()]
    return bool(replies) and all(code[0] in "23" for code in replies)


def candidates(
    answer: Mapping[str, Any], probabilities: Mapping[str, float]
) -> list[str]:
    """The categories to choose among, the recogniser's first, "none" always."""
    chosen: list[str] = []
    if answer["category"] != NONE:
        chosen.append(str(answer["category"]))
    for alternative in answer.get("alternatives") or ():
        if alternative["category"] not in chosen:
            chosen.append(str(alternative["category"]))
    likely = sorted(probabilities.items(), key=lambda pair: (-pair[1], pair[0]))
    for category, _ in likely[:MODEL_CANDIDATES]:
        if category not in chosen:
            chosen.append(category)
    if NONE not in chosen:
        chosen.append(NONE)
    return chosen


def features(
    answer: Mapping[str, Any],
    category: str,
    probabilities: Mapping[str, float],
    *,
    mail_words: bool,
    other_program: bool,
) -> list[float]:
    """The reranker's features of ``category`` for one paste, in FEATURES order."""
    found = answer["category"]
    decision = answer.get("decision")
    score = float(answer.get("score") or 0.0) / 100
    alternatives = answer.get("alternatives") or ()
    alternative_scores = [
        float(a["score"]) for a in alternatives if a["category"] == category
    ]
    rank = next(
        (i for i, a in enumerate(alternatives) if a["category"] == category), None
    )
    probability = float(probabilities.get(category, 0.0))
    is_answer = float(category == found and found != NONE)
    is_none = float(category == NONE)
    has_code = float(coded(answer))
    return [
        is_answer,
        is_answer * score,
        is_answer * (decision == "confident"),
        is_answer * (decision == "ambiguous"),
        is_answer * (answer.get("basis") == "entry"),
        is_answer * bool(answer.get("uncertain")),
        max(alternative_scores) / 100 if alternative_scores else 0.0,
        1.0 / (1 + rank) if rank is not None else 0.0,
        probability,
        math.log(probability + 1e-4),
        float(probability == max(probabilities.values(), default=0.0)),
        is_none,
        is_none * (found == NONE),
        is_none * (decision == "none"),
        is_none * has_code,
        is_none * score * (found != NONE),
        (1 - is_none) * has_code,
        is_none * mail_words,
        is_none * (not mail_words) * probability,
        is_none * other_program,
    ]


@dataclass(frozen=True, slots=True)
class Reranker:
    """
    A logistic regression over FEATURES, scoring each candidate category.

    ``none_bias`` is added to the score of "none": it trades answers for false
    triggers. ``margin`` is how much a candidate must outscore the recogniser's answer
    to replace it: it trades answers on pastes like the labelled ones for answers on
    text unlike them (other languages, software's own strings). Both are chosen by
    ``bench/rerank.py``; ``inputs`` is the digest of what it was trained on.
    """

    weights: tuple[float, ...]
    intercept: float
    none_bias: float
    margin: float
    inputs: str

    def order(
        self,
        answer: Mapping[str, Any],
        probabilities: Mapping[str, float],
        *,
        mail_words: bool,
        other_program: bool,
    ) -> list[tuple[str, float]]:
        """The candidate categories, best first, with their scores."""
        scored: list[tuple[str, float]] = []
        for category in candidates(answer, probabilities):
            values = features(
                answer,
                category,
                probabilities,
                mail_words=mail_words,
                other_program=other_program,
            )
            score = self.intercept + sum(
                w * v for w, v in zip(self.weights, values, strict=True)
            )
            scored.append(
                (category, score + (self.none_bias if category == NONE else 0.0))
            )
        # Stable: equal scores keep the recogniser's order.
        return sorted(scored, key=lambda pair: -pair[1])

    def choose(
        self,
        answer: Mapping[str, Any],
        probabilities: Mapping[str, float],
        *,
        mail_words: bool,
        other_program: bool,
        failure_words: bool,
    ) -> list[str]:
        """
        The candidate categories, the chosen one first, then the others by score.

        The best-scored candidate replaces the recogniser's answer only when it
        outscores it by ``margin``; an answer ``kept`` (a confident known message, a
        TLS library's or the system's own reason) only by "none" and, in a paste whose
        words name mail, not at all, nor one that only mail has (``mail_only``); and
        where the recogniser found nothing in a paste whose words name no mail (a
        sentence of chat), or answered nothing where the paste's replies are all
        positive (a delivery log, a transcript that went well), or found nothing at all
        in a paste with no word of failure (``says_failure``: a half-paste, a how-to
        question), nothing is answered: no first-look paste was of the second kind.
        """
        order = self.order(
            answer, probabilities, mail_words=mail_words, other_program=other_program
        )
        scores = dict(order)
        found = str(answer["category"])
        best = order[0][0]
        if best != found and scores[best] - scores[found] < self.margin:
            best = found
        if best not in (NONE, found) and kept(answer):
            best = found
        if best == NONE and (mail_only(answer) or (mail_words and kept(answer))):
            best = found
        if found == NONE and (
            succeeded(answer)
            or (answer.get("decision") == "none" and not mail_words)
            or (bare(answer) and not failure_words)
        ):
            best = found
        return [best, *(category for category, _ in order if category != best)]


def write_reranker(path: Path, reranker: Reranker) -> None:
    """Write ``reranker`` as JSON, its weights named."""
    document = {
        "model": "smtpbot learned reranker",
        "weights": dict(zip(FEATURES, reranker.weights, strict=True)),
        "intercept": reranker.intercept,
        "none_bias": reranker.none_bias,
        "margin": reranker.margin,
        "inputs": reranker.inputs,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def read_reranker(path: Path = RERANK_PATH) -> Reranker:
    """Read a reranker written by ``write_reranker``; ValueError if malformed."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        named = document["weights"]
        if set(named) != set(FEATURES):
            raise ValueError(f"features differ: {sorted(set(named) ^ set(FEATURES))}")
        return Reranker(
            tuple(float(named[name]) for name in FEATURES),
            float(document["intercept"]),
            float(document["none_bias"]),
            float(document["margin"]),
            str(document["inputs"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name}: malformed: {exc}") from exc
