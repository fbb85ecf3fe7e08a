"""
The matcher's answer: the decision, the chosen entry, the ranked alternatives, the
evidence and the mail server named in the paste. Pure records.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from knowledge.model import CodeInfo, Entry
from knowledge.normalize import Evidence
from knowledge.servers import ServerRef


class Decision(enum.StrEnum):
    """How sure the matcher is."""

    CONFIDENT = "confident"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked entry with its combined score and the signature that matched best."""

    entry: Entry
    score: float
    signature: str
    # The uncapped score: ranks and separates candidates that both show 100.
    raw: float = 0.0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The matcher's answer for one paste."""

    decision: Decision
    category: str
    entry: Entry | None
    score: float
    alternatives: tuple[Candidate, ...]
    evidence: Evidence
    explanations: tuple[CodeInfo, ...]
    server: ServerRef | None
    # What the answer rests on: "entry" (a knowledge-base entry matched), "codes" (the
    # meaning of the error codes) or "structure" (signals such as errno names, TLS
    # reasons, codes and the protocol step); None for no answer.
    basis: str | None = None
    # True when no entry was confident and the answer comes from the codes' meaning
    # or the structure: the alternatives are worth offering.
    uncertain: bool = False
    # What the recogniser found ("code:5.2.2", "network:ECONNREFUSED", "step:rcpt").
    signals: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The DESIGN.md ``diagnose --json`` object."""
        return {
            "category": self.category,
            "entry": self.entry.id if self.entry else None,
            "score": round(self.score, 1),
            "decision": str(self.decision),
            "alternatives": [
                {
                    "entry": c.entry.id,
                    "category": c.entry.category,
                    "score": round(c.score, 1),
                }
                for c in self.alternatives
            ],
            "codes": [info.code for info in self.explanations],
            "server": self.server.to_json() if self.server else None,
            "basis": self.basis,
            "uncertain": self.uncertain,
            "signals": list(self.signals),
        }
