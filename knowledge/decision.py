"""
The matcher's decision step: turn a ranking into confident / ambiguous / none, falling
back to the code tables when no entry fits but codes are present.

Pure. The thresholds come from the caller (``knowledge.matcher`` passes its module
constants on every call, so tuning them there still takes effect).
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.categories import NONE
from knowledge.diagnosis import Candidate, Decision, Diagnosis
from knowledge.model import CodeInfo, KnowledgeBase
from knowledge.normalize import Evidence
from knowledge.servers import ServerRef


@dataclass(frozen=True, slots=True)
class Thresholds:
    """
    The decision thresholds on the 0-100 score (see ``knowledge.matcher``).
    """

    confident: float
    ambiguous: float
    margin: float
    certain: float
    tie: float
    alternatives: int


def explain_codes(kb: KnowledgeBase, evidence: Evidence) -> tuple[CodeInfo, ...]:
    """Explanations of the codes in the paste, most specific first."""
    found: list[CodeInfo] = []
    for code in sorted(evidence.hex_codes):
        if info := kb.hex_codes.get(code):
            found.append(info)
    for code in sorted(evidence.enhanced_codes, key=lambda c: (c[2:] == "0.0", c)):
        if info := kb.enhanced(code):
            found.append(info)
    for reply in sorted(evidence.reply_codes):
        if info := kb.reply_codes.get(str(reply)):
            found.append(info)
    return tuple(found)


def decide(
    ranked: list[Candidate],
    evidence: Evidence,
    server: ServerRef | None,
    explanations: tuple[CodeInfo, ...],
    *,
    mail: bool,
    limits: Thresholds,
) -> Diagnosis:
    """
    Turn the ranking into a decision.

    It carries up to three other-category alternatives.
    """
    top = ranked[0] if ranked else None
    others: list[Candidate] = []
    seen = {top.entry.id} if top else set()
    for candidate in ranked[1:]:
        if candidate.entry.id not in seen and candidate.score >= limits.ambiguous - 15:
            seen.add(candidate.entry.id)
            others.append(candidate)
        if len(others) == limits.alternatives:
            break
    rival = next(
        (c for c in ranked if top and c.entry.category != top.entry.category), None
    )
    lead = top.raw - rival.raw if top and rival else (top.raw if top else 0.0)
    # A dead heat (same score, equally long evidence) between two categories is a
    # question, however high the score.
    heat = bool(
        top
        and rival
        and lead <= limits.tie
        and len(rival.signature) == len(top.signature)
    )
    if (
        top
        and top.score >= limits.confident
        # A dead heat between two categories is a question, however high.
        and (lead >= limits.margin or (top.score >= limits.certain and not heat))
    ):
        return Diagnosis(
            Decision.CONFIDENT,
            top.entry.category,
            top.entry,
            top.score,
            tuple(others),
            evidence,
            explanations,
            server,
        )
    # A bare number is only a code in a mail context: "I paid 535 dollars" is chat.
    trusted = (bool(evidence.pairs or evidence.hex_codes) or mail) and bool(
        explanations
    )
    coded = (
        next((info for info in explanations if info.category), None)
        if trusted
        else None
    )
    if coded is not None and (
        top is None
        or top.score < limits.ambiguous
        or top.entry.category == coded.category
    ):
        # No entry fits but a code says what it is (IANA registry, RFC 5321,
        # Outlook).
        alternatives = tuple(c for c in ([top] if top else []) + others)[
            : limits.alternatives
        ]
        return Diagnosis(
            Decision.CONFIDENT,
            coded.category or NONE,
            None,
            limits.confident,
            alternatives,
            evidence,
            explanations,
            server,
        )
    if top and top.score >= limits.ambiguous:
        return Diagnosis(
            Decision.AMBIGUOUS,
            NONE,
            None,
            top.score,
            tuple([top, *others])[: limits.alternatives],
            evidence,
            explanations,
            server,
        )
    return Diagnosis(
        Decision.NONE,
        NONE,
        None,
        top.score if top else 0.0,
        tuple([top, *others])[: limits.alternatives] if top else (),
        evidence,
        explanations,
        server,
    )
