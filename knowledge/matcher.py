"""
Match a pasted error against the knowledge base.

Pure and deterministic: the same knowledge base and text always give the same answer.
Pipeline: pick the error-bearing lines → normalise → find exact evidence (codes, hex codes,
exception names) → fuzzy-score signatures that share a distinctive word with the paste
(rapidfuzz) → combine with the evidence → decide confident / ambiguous / none, falling back
to the code tables when no entry fits but codes are present.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, process

from bot.errors import InputError
from knowledge.categories import NONE
from knowledge.loader import KnowledgeBase
from knowledge.normalize import MAX_TEXT, Evidence, error_lines, find_evidence, normalise
from knowledge.schema import CodeInfo, Entry
from knowledge.servers import ServerRef, find_server

# Decision thresholds on the 0-100 score, tuned on the dev corpus (bench/eval.py).
CONFIDENT: Final = 70.0
AMBIGUOUS: Final = 55.0
# A confident answer must beat the best other category by this much, unless it is this high.
MARGIN: Final = 4.0
CERTAIN: Final = 88.0
# Fuzzy scores below this are not worth combining with evidence.
FUZZY_CUTOFF: Final = 50.0
# Evidence weights: exact codes outweigh wording, contradicting codes count against.
HEX_BONUS: Final = 30.0
EXCEPTION_BONUS: Final = 12.0
ENHANCED_BONUS: Final = 12.0
REPLY_BONUS: Final = 5.0
ENHANCED_CONFLICT: Final = 10.0
# Categories whose wording also appears in non-mail software (databases, HTTP, VPNs): they
# need mail context in the paste, and lose heavily when the paste is clearly about other
# software (PostgreSQL on 5432 refusing a connection is not our problem).
GENERIC: Final = frozenset({"connection-timeout", "connection-refused", "dns-failure",
                            "tls-cert-untrusted", "tls-cert-hostname", "tls-cert-expired",
                            "tls-handshake-failed", "auth-failed", "client-logging"})
NO_MAIL_PENALTY: Final = 12.0
OTHER_SOFTWARE_PENALTY: Final = 45.0
ALTERNATIVES: Final = 3

_MAIL_CONTEXT: Final = re.compile(
    r"smtp|e-?mail|\bmail|mailer|postfix|exim|sendmail|outlook|gmail|thunderbird|starttls|"
    r"\behlo\b|\bhelo\b|\bmx\b|nodemailer|smtplib|mailkit|\bimap|\bpop3?\b|exchange|office ?365|"
    r"[:\s](?:25|465|587|2525)\b|port:? ?(?:25|465|587|2525)\b|mailbox|recipient|sender",
    re.IGNORECASE,
)
_OTHER_SOFTWARE: Final = re.compile(
    r"postgres|psycopg|pg_hba|mysql|mariadb|redis|mongo|rabbitmq|amqp|kafka|elasticsearch|"
    r"[:\s](?:5432|3306|6379|27017|5672|9200|9092|8080|8443|3000|5000)\b|\bhttp/\d|"
    r"\bgit\b|docker|kubectl|npm err|pip install|openvpn|\bvpn\b",
    re.IGNORECASE,
)


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

    def to_json(self) -> dict[str, object]:
        """The DESIGN.md ``diagnose --json`` object."""
        return {
            "category": self.category,
            "entry": self.entry.id if self.entry else None,
            "score": round(self.score, 1),
            "decision": str(self.decision),
            "alternatives": [
                {"entry": c.entry.id, "category": c.entry.category, "score": round(c.score, 1)}
                for c in self.alternatives
            ],
            "codes": [info.code for info in self.explanations],
            "server": self.server.to_json() if self.server else None,
        }


@dataclass(frozen=True, slots=True)
class _Signature:
    entry_index: int
    text: str
    original: str


_STOP: Final = frozenset(
    "the a an to of for in on at by is are was be this that with and or not no from your you "
    "please error host ip email url server message could can t s".split()
)


class Matcher:
    """Ranks knowledge-base entries for a paste. Build once; ``diagnose`` is thread-safe."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._entries = kb.entries
        self._signatures: list[_Signature] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        for entry_index, entry in enumerate(kb.entries):
            for original in (*entry.signatures, entry.title):
                text = normalise(original)
                if len(text) < 6:
                    continue
                sig_index = len(self._signatures)
                self._signatures.append(_Signature(entry_index, text, original))
                for word in set(text.split()):
                    if len(word) > 2 and word not in _STOP:
                        self._by_word[word].append(sig_index)
        # Words in very many signatures say little; index only the distinctive ones.
        limit = max(12, len(self._signatures) // 12)
        self._by_word = {w: s for w, s in self._by_word.items() if len(s) <= limit}
        self._exceptions = [
            (i, name) for i, e in enumerate(kb.entries) for name in e.exceptions
        ]

    def diagnose(self, text: str) -> Diagnosis:
        """Rank the entries for ``text`` and decide; raises InputError for unusable input."""
        if len(text) > MAX_TEXT:
            raise InputError(f"text is {len(text):,} characters; the limit is {MAX_TEXT:,}")
        lines = error_lines(text)
        joined = "\n".join(lines)
        evidence = find_evidence(joined)
        scores = self._fuzzy(lines)
        mail = bool(_MAIL_CONTEXT.search(joined)) or bool(evidence.enhanced_codes)
        other = bool(_OTHER_SOFTWARE.search(joined)) and not mail
        ranked: list[Candidate] = []
        for entry_index, (fuzzy, signature) in scores.items():
            entry = self._entries[entry_index]
            score = fuzzy + self._evidence_score(entry, evidence, joined)
            if entry.category in GENERIC:
                if other:
                    score -= OTHER_SOFTWARE_PENALTY
                elif not mail:
                    score -= NO_MAIL_PENALTY
            ranked.append(Candidate(entry, min(100.0, score), signature))
        for entry_index, name in self._exceptions:
            if entry_index not in scores and name in joined:
                entry = self._entries[entry_index]
                score = 45.0 + self._evidence_score(entry, evidence, joined)
                ranked.append(Candidate(entry, min(100.0, score), name))
        ranked.sort(key=lambda c: (-c.score, c.entry.id))
        return self._decide(ranked, evidence, find_server(text))

    def _fuzzy(self, lines: list[str]) -> dict[int, tuple[float, str]]:
        """Best fuzzy score per entry over the paste's lines (only plausible signatures)."""
        normal = [n for n in (normalise(line) for line in lines) if n]
        words = {w for n in normal for w in n.split()}
        wanted = sorted({s for w in words for s in self._by_word.get(w, ())})
        best: dict[int, tuple[float, str]] = {}
        if not normal or not wanted:
            return best
        texts = [self._signatures[i].text for i in wanted]
        matrix = process.cdist(texts, normal, scorer=fuzz.partial_ratio, processor=None,
                               score_cutoff=FUZZY_CUTOFF, workers=1)
        for row, sig_index in enumerate(wanted):
            signature = self._signatures[sig_index]
            for col, value in enumerate(matrix[row]):
                if not value:
                    continue
                # partial_ratio aligns the shorter string inside the longer: a short line
                # inside a long signature is weak evidence, so scale by coverage.
                coverage = min(1.0, len(normal[col]) / len(signature.text))
                score = float(value) * coverage**0.5
                current = best.get(signature.entry_index)
                if current is None or score > current[0]:
                    best[signature.entry_index] = (score, signature.original)
        return best

    @staticmethod
    def _evidence_score(entry: Entry, evidence: Evidence, joined: str) -> float:
        """Bonus for codes and exception names the entry lists; malus for contradicting codes."""
        bonus = 0.0
        if evidence.hex_codes & set(entry.hex_codes):
            bonus += HEX_BONUS
        if any(name in joined for name in entry.exceptions):
            bonus += EXCEPTION_BONUS
        if entry.enhanced_codes and evidence.enhanced_codes:
            if evidence.enhanced_codes & set(entry.enhanced_codes):
                bonus += ENHANCED_BONUS
            else:
                bonus -= ENHANCED_CONFLICT
        if evidence.reply_codes & set(entry.reply_codes):
            bonus += REPLY_BONUS
        return bonus

    def _fallback(self, evidence: Evidence) -> tuple[CodeInfo, ...]:
        """Explanations of the codes in the paste, most specific first."""
        found: list[CodeInfo] = []
        for code in sorted(evidence.hex_codes):
            if info := self.kb.hex_codes.get(code):
                found.append(info)
        for code in sorted(evidence.enhanced_codes, key=lambda c: (c[2:] == "0.0", c)):
            if info := self.kb.enhanced(code):
                found.append(info)
        for reply in sorted(evidence.reply_codes):
            if info := self.kb.reply_codes.get(str(reply)):
                found.append(info)
        return tuple(found)

    def _decide(self, ranked: list[Candidate], evidence: Evidence,
                server: ServerRef | None) -> Diagnosis:
        """Turn the ranking into a decision with up to three other-category alternatives."""
        explanations = self._fallback(evidence)
        top = ranked[0] if ranked else None
        others: list[Candidate] = []
        seen = {top.entry.id} if top else set()
        for candidate in ranked[1:]:
            if candidate.entry.id not in seen and candidate.score >= AMBIGUOUS - 15:
                seen.add(candidate.entry.id)
                others.append(candidate)
            if len(others) == ALTERNATIVES:
                break
        rival = next((c.score for c in ranked if top and c.entry.category != top.entry.category),
                     0.0)
        if top and top.score >= CONFIDENT and (top.score - rival >= MARGIN
                                               or top.score >= CERTAIN):
            return Diagnosis(Decision.CONFIDENT, top.entry.category, top.entry, top.score,
                             tuple(others), evidence, explanations, server)
        coded = next((info for info in explanations if info.category), None)
        if coded is not None and (top is None or top.score < AMBIGUOUS
                                  or top.entry.category == coded.category):
            # No entry fits but a code says what it is (IANA registry, RFC 5321, Outlook).
            alternatives = tuple(c for c in ([top] if top else []) + others)[:ALTERNATIVES]
            return Diagnosis(Decision.CONFIDENT, coded.category or NONE, None, CONFIDENT,
                             alternatives, evidence, explanations, server)
        if top and top.score >= AMBIGUOUS:
            return Diagnosis(Decision.AMBIGUOUS, NONE, None, top.score,
                             tuple([top, *others])[:ALTERNATIVES], evidence, explanations,
                             server)
        return Diagnosis(Decision.NONE, NONE, None, top.score if top else 0.0,
                         tuple([top, *others])[:ALTERNATIVES] if top else (), evidence,
                         explanations, server)
