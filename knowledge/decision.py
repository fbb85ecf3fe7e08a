"""
The matcher's decision step: turn a ranking into confident / ambiguous / none, falling
back to the code tables when no entry fits but codes are present.

Pure. The thresholds come from the caller (``knowledge.matcher`` passes its module
constants on every call, so tuning them there still takes effect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from knowledge.categories import NONE
from knowledge.diagnosis import Candidate, Decision, Diagnosis
from knowledge.model import CodeInfo, KnowledgeBase
from knowledge.normalize import Evidence
from knowledge.servers import ServerRef
from knowledge.structure import Structure


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
    # The least structural vote that answers on its own (knowledge.structure).
    structure: float = 20.0
    # A confident entry gives way when the structure's decisive answer for another
    # category leads the entry's category by this much.
    override: float = 15.0


def explain_codes(kb: KnowledgeBase, evidence: Evidence) -> tuple[CodeInfo, ...]:
    """Explanations of the codes in the paste, most specific first."""
    found: list[CodeInfo] = []
    for code in sorted(evidence.hex_codes):
        if info := kb.hex_codes.get(code):
            found.append(info)
    for code in sorted(evidence.enhanced_codes, key=lambda c: (c[2:] == "0.0", c)):
        if info := kb.enhanced(code):
            found.append(info)
    for reply in sorted(evidence.server_replies | {r for r, _ in evidence.pairs}):
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
    structure: Structure | None = None,
    text: str = "",
) -> Diagnosis:
    """
    Turn the ranking into a decision.

    It carries up to three other-category alternatives. ``structure`` (None when the
    paste is plainly about other software) answers when no entry is confident.
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
    answer = _from_structure(structure, mail, limits) if structure else None
    yields = bool(
        top
        and structure is not None
        and answer is not None
        and answer[0] != top.entry.category
        and (
            # "Here is my debug log: <error>": the error is what needs answering,
            # when it is an error's identifier or code, not words of the question.
            (top.entry.category == "client-logging" and _identified(structure))
            or (
                # A near-verbatim known message stands, unless the structure's
                # category has its own entry matched as well.
                (
                    top.score < limits.certain
                    or any(
                        c.entry.category == answer[0] and c.score >= limits.certain
                        for c in ranked
                    )
                    # A failure below SMTP (no connection, no TLS) comes first: the
                    # "could not authenticate" after it is its consequence.
                    or (
                        answer[0] in LOWER_LAYER
                        and top.entry.category not in LOWER_LAYER
                        and _identified(structure)
                    )
                    # The structure explains the entry's category as the
                    # consequence of another failure (a policy behind a 535,
                    # STARTTLS "not offered" on the implicit-TLS port).
                    or top.entry.category in structure.explained
                    # Nothing in the paste's words names the entry's category and
                    # none of the words of the signature's reply is there: the
                    # match rests on the wrapper and the code it shares with the
                    # signature ("SMTPSendFailedException: 550 5.7.1"), while the
                    # reply's own words decide another ("rejected due to matching
                    # a prohibited domain" is a content verdict).
                    or (
                        not structure.signal_vote(top.entry.category)
                        and _reply_words_absent(top.signature, text)
                    )
                )
                and _decisive(structure, answer[0])
                and answer[1] - structure.vote(top.entry.category) >= limits.override
            )
        )
    )
    if (
        top
        and not yields
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
            basis="entry",
            signals=tuple(structure.signals()) if structure else (),
        )
    if structure is not None and answer is not None:
        category, vote = answer
        # The best entry of that category, when it was a plausible match by itself.
        chosen = next(
            (
                c
                for c in ranked
                if c.entry.category == category and c.score >= limits.ambiguous
            ),
            None,
        )
        rest = [c for c in ranked if c is not chosen and c.entry.category != category]
        alternatives = _distinct(rest, limits)
        return Diagnosis(
            Decision.CONFIDENT,
            category,
            chosen.entry if chosen else None,
            min(limits.confident - 0.1, limits.ambiguous + vote / 4),
            alternatives,
            evidence,
            explanations,
            server,
            basis="codes" if structure.coded and not structure.hits else "structure",
            uncertain=True,
            signals=tuple(structure.signals()),
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


def _from_structure(
    structure: Structure, mail: bool, limits: Thresholds
) -> tuple[str, float] | None:
    """
    The category the structure alone supports, or None.

    It answers when the paste carries an SMTP error code (never ``none`` then), or
    when it is about mail, or when a decisive signal (an errno name, a TLS library's
    reason) is present.
    """
    best = structure.best
    if best is None:
        return None
    category, vote = best
    decisive = _decisive(structure, category)
    # A bare number is only a code in a mail context ("we shipped 5.1.1 today").
    if structure.coded and (mail or structure.paired or structure.hits):
        return best if vote > 0 else None
    # Without a code, words alone ("what should our SPF record be?") are no error:
    # a decisive signal, or several strong ones, must be there.
    strong = structure.signal_vote(category) >= limits.structure
    if vote >= limits.structure and (decisive or (mail and strong)):
        return best
    return None


# A reply code or enhanced code in a signature: the reply's own words follow the last.
_SIGNATURE_CODE: Final = re.compile(
    r"(?<![\w.])(?:[245]\d\d|[245]\.\d{1,3}\.\d{1,3})[ -]"
)
_REPLY_WORD: Final = re.compile(r"[a-z]{4,}")


def _reply_words_absent(signature: str, text: str) -> bool:
    """
    True when ``signature`` carries a reply after its code and none of that reply's
    words (four letters or more) stands in ``text``.
    """
    parts = _SIGNATURE_CODE.split(signature)
    if len(parts) < 2:
        return False
    words = set(_REPLY_WORD.findall(parts[-1].lower()))
    return bool(words) and not words & set(_REPLY_WORD.findall(text.lower()))


def _identified(structure: Structure) -> bool:
    """True when the paste carries an error code or a system/library identifier."""
    return (
        structure.coded
        or structure.transcript is not None
        or any(
            h.family in {"network", "tls", "providers", "rule"} for h in structure.hits
        )
    )


def _decisive(structure: Structure, category: str) -> bool:
    """True when signals alone give ``category`` a decisive vote (30 or more)."""
    return structure.signal_vote(category) >= DECISIVE


# Categories of failures below the SMTP dialogue: connection, name lookup, TLS.
LOWER_LAYER = frozenset(
    {
        "connection-timeout",
        "connection-refused",
        "dns-failure",
        "tls-port-mismatch",
        "tls-handshake-failed",
        "tls-cert-untrusted",
        "tls-cert-hostname",
        "tls-cert-expired",
        "starttls-unavailable",
    }
)
# A signal vote this high is decisive: one decisive signal (an errno name, a TLS
# reason, a provider's tag) or a strong one confirmed by another.
DECISIVE = 30.0


def _distinct(candidates: list[Candidate], limits: Thresholds) -> tuple[Candidate, ...]:
    """Up to ``limits.alternatives`` candidates, one per entry."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for candidate in candidates:
        if candidate.entry.id in seen or candidate.score < limits.ambiguous - 15:
            continue
        seen.add(candidate.entry.id)
        out.append(candidate)
        if len(out) == limits.alternatives:
            break
    return tuple(out)
