"""
Match a pasted error against the knowledge base.

Pure and deterministic: the same knowledge base and text always give the same answer.
Pipeline: pick the error-bearing lines → normalise → find exact evidence (codes, hex
codes, exception names) → fuzzy-score signatures that share a distinctive word with the
paste (rapidfuzz) → combine with the evidence → decide confident / ambiguous / none,
falling back to the code tables when no entry fits but codes are present.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Final

from rapidfuzz import fuzz

from bot.errors import InputError
from bot.redact import redact
from knowledge.categories import NONE
from knowledge.clients import families, runtimes
from knowledge.context import (
    ANSWERED_PENALTY,
    GENERIC,
    GENERIC_PENALTY,
    NO_MAIL_PENALTY,
    OTHER_SOFTWARE_CEILING,
    OTHER_SOFTWARE_PENALTY,
    PRIOR,
    UNREACHED,
    mail_context,
    server_answered,
)
from knowledge.decision import Thresholds, decide, explain_codes
from knowledge.diagnosis import Candidate, Decision, Diagnosis
from knowledge.learned import (
    READ,
    CategoryModel,
    NotMailModel,
    read_category_model,
    read_model,
)
from knowledge.model import Entry, KnowledgeBase
from knowledge.normalize import (
    CUE_WORDS,
    MAX_TEXT,
    Evidence,
    find_evidence,
    hex_codes,
    normalise,
    select_lines,
    stem,
)
from knowledge.rerank import (
    MIN_KNOWN,
    Reranker,
    mail_only,
    read_reranker,
    says_failure,
)
from knowledge.servers import ServerRef, find_server
from knowledge.structure import Recogniser, Structure, names_step, step_of

# Decision thresholds on the 0-100 score, tuned on the dev corpus (bench/eval.py).
CONFIDENT: Final = 70.0
AMBIGUOUS: Final = 55.0
# A confident answer must beat the best other category by this much, unless it is this
# high.
MARGIN: Final = 4.0
CERTAIN: Final = 88.0
TIE: Final = 0.01
# Fuzzy scores below this are not worth combining with evidence.
FUZZY_CUTOFF: Final = 50.0
# Evidence weights: exact codes outweigh wording, contradicting codes count against.
HEX_BONUS: Final = 30.0
EXCEPTION_BONUS: Final = 12.0
ENHANCED_BONUS: Final = 12.0
REPLY_BONUS: Final = 5.0
ENHANCED_CONFLICT: Final = 15.0
# ... and more when the paste's code names one category that is not the entry's.
CODE_CATEGORY_CONFLICT: Final = 10.0
# A signature that names an Outlook/Windows error number the paste does not carry,
# matched only because the paste carries another ("0x800CCC6F" read as "0x800CCC0F"):
# the numbers name different failures.
HEX_CONFLICT: Final = 40.0
REPLY_CONFLICT: Final = 20.0
ALTERNATIVES: Final = 3
# The category of "how do I see what the server says" questions.
LOGGING: Final = "client-logging"
# What an HTTPS or database client's error shares with mail's: transport failures and
# size limits. A mail provider's API reached over HTTPS answers with the others only.
TRANSPORT: Final = GENERIC | {"message-too-large"}
# Pastes longer than this are read for context around their error lines only.
LOCAL_CONTEXT: Final = 8_000
CONTEXT_RADIUS: Final = 3
# A candidate line of a long log is judged "another program's" with this many lines
# either side (a pasted error's other-protocol words often stand a few lines away).
NEAR: Final = 4
WIDE: Final = 8
# An error's own message after its class ("AxiosError: self-signed certificate",
# "[cause]: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match ...").
_ERROR_MESSAGE: Final = re.compile(
    r"(?:error|exception)(?: \[[\w-]+\])?: (.{8,})$", re.IGNORECASE
)
# The server is looked for in the error lines, then in the head and tail of a long
# paste.
SERVER_SCAN: Final = 2_000
# A pasted configuration (port and TLS mode) is looked for in the paste's head.
SETTINGS_SCAN: Final = 4_000


@dataclass(frozen=True, slots=True)
class _Signature:
    entry_index: int
    text: str
    original: str


_STOP_TEXT: Final = (
    "the a an to of for in on at by is are was be this that with and or not no from "
    "your you please host ip email url could can t s it i my we our has have had been "
    "when while any all were"
)
_STOP: Final = frozenset(_STOP_TEXT.split())
# Coverage of a signature's words (IDF-weighted) scales its character-level score: a
# line that shares only common words with a signature ("access denied" vs "relay access
# denied") is not a match even when partial_ratio aligns it well.
COVERAGE_FLOOR: Final = 0.35
# Rarer matched words are more convincing: up to this many points for explaining more of
# the paste with distinctive words ("getaddrinfo" beats "failed to connect").
INFO_CAP: Final = 8.0
INFO_PER_BIT: Final = 0.6
# Signatures sharing less than this part of their word weight with a line cannot reach
# an alternative's score, so they are not scored at all.
MIN_SHARE: Final = 0.3
# How many of its rarest words file a signature in the trigger index.
TRIGGERS: Final = 2
# Score of an entry whose regex pattern (an intent such as "how do I turn on logging")
# matches.
PATTERN_SCORE: Final = 74.0
# Score of an entry known only by a specific code it lists (a 5.7.139 in a foreign
# language).
CODE_ONLY_SCORE: Final = 52.0
# An exception name listed by entries of more categories than this is a wrapper.
GENERIC_EXCEPTION: Final = 2
# ... and one listed by entries of this many categories is not even a word of the paste
# worth matching (MessagingException, SmtpException, MailSendException).
WRAPPER_EXCEPTION: Final = 5
# How much the structure's vote for an entry's category adds to the entry's score.
STRUCTURE_SHARE: Final = 0.25
STRUCTURE_CAP: Final = 12.0
# The least vote with which the structure answers on its own when no entry is
# confident.
STRUCTURE_ANSWER: Final = 20.0
# An entry of the answered category for the paste's own runtime is taken instead of
# another runtime's when it scores at least this (knowledge.clients).
CLIENT_FIT: Final = 40.0
# The runtime is read from the error lines and the paste's head (a traceback's first
# line, the command that was run).
RUNTIME_HEAD: Final = 1_500
# What an entry loses when the structure explains its category's evidence as the
# consequence of another failure (knowledge.structure, ``Structure.explained``).
EXPLAINED_PENALTY: Final = 30.0
# What an entry loses when the signature it matched names a failure at another SMTP
# command than the paste does ("SMTP ERROR: Password command failed: 535" read
# against "SMTP ERROR: DATA END command failed: 552", "Invalid login" against "Mail
# command failed"): the client's frame is alike, the failure is not.
STEP_CONFLICT_PENALTY: Final = 20.0


@functools.lru_cache(maxsize=8192)
def _signature_step(signature: str) -> str | None:
    """The SMTP command a matched signature names a failure at, if any."""
    return step_of(signature) if signature else None


class Matcher:
    """
    Ranks knowledge-base entries for a paste.

    Build once; ``diagnose`` is thread-safe.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        not_mail: NotMailModel | bool = True,
        rerank: tuple[CategoryModel, Reranker] | bool = True,
    ) -> None:
        """
        Index ``kb``. ``not_mail`` is the learned not-mail check (knowledge/learned.py):
        True for the shipped model, False for none, or a model of one's own.
        ``rerank`` is the learned reranker with its category model
        (knowledge/rerank.py), likewise. Both False: the recogniser alone.
        """
        self.kb = kb
        # The shipped weights are read when the check is first needed: a paste that
        # names mail never needs them.
        self._not_mail: NotMailModel | bool = not_mail
        self._rerank: tuple[CategoryModel, Reranker] | bool = rerank
        self._entries = kb.entries
        self._signatures: list[_Signature] = []
        words_of: list[frozenset[str]] = []
        document_frequency: dict[str, int] = defaultdict(int)
        for entry_index, entry in enumerate(kb.entries):
            for original in (*entry.signatures, entry.title):
                text = normalise(original)
                if len(text) < 6:
                    continue
                words = frozenset(
                    stem(w) for w in text.split() if len(w) > 1 and w not in _STOP
                )
                self._signatures.append(_Signature(entry_index, text, original))
                words_of.append(words)
                for word in words:
                    document_frequency[word] += 1
        total = max(1, len(self._signatures))
        self._idf = {
            w: math.log2(1 + total / df) for w, df in document_frequency.items()
        }
        self._sig_words = [{w: self._idf[w] for w in words} for words in words_of]
        self._sig_mass = [sum(weights.values()) or 1.0 for weights in self._sig_words]
        self._sig_sets = [frozenset(weights) for weights in self._sig_words]
        # Prefix filtering: each signature is filed under its rarest words only, so a
        # line wakes up just the signatures whose most distinctive words it contains.
        self._triggers: dict[str, list[int]] = defaultdict(list)
        for sig_index, weights in enumerate(self._sig_words):
            rarest = sorted(weights, key=lambda w: (-weights[w], w))[:TRIGGERS]
            for word in rarest:
                self._triggers[word].append(sig_index)
        # An exception class that entries of several categories list is a wrapper
        # (MessagingException, SmtpException, SocketException): it says nothing about
        # the cause, so it is neither evidence nor a reason to consider an entry.
        categories_of: dict[str, set[str]] = defaultdict(set)
        for entry in kb.entries:
            for name in entry.exceptions:
                categories_of[name].add(entry.category)
        self._generic_exceptions = frozenset(
            n for n, c in categories_of.items() if len(c) > GENERIC_EXCEPTION
        )
        # The same wrappers as words of a pasted line ("javax mail messaging
        # exception"): a line that is only a wrapper around an unexplained message
        # must not match an entry by the wrapper's name.
        names = sorted(
            {
                normalise(n)
                for n, c in categories_of.items()
                if len(c) >= WRAPPER_EXCEPTION
            },
            key=len,
            reverse=True,
        )
        self._wrapper_words = (
            re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
            if names
            else None
        )
        self._exceptions = [
            (i, n)
            for i, e in enumerate(kb.entries)
            for n in e.exceptions
            if n not in self._generic_exceptions
        ]
        self._patterns = [
            (i, re.compile(p, re.IGNORECASE))
            for i, e in enumerate(kb.entries)
            for p in e.patterns
        ]
        self._recogniser = Recogniser(kb)
        self._cues = CUE_WORDS | self._recogniser.cue_words
        # Each category's answer for any client, and the runtimes each entry is for.
        self._generic = {e.category: e for e in reversed(kb.entries) if e.generic}
        self._families = {e.id: families(e) for e in kb.entries}
        self._by_code: dict[str, list[int]] = defaultdict(list)
        for entry_index, entry in enumerate(kb.entries):
            for code in (*entry.enhanced_codes, *entry.hex_codes):
                self._by_code[code].append(entry_index)
        # Entries by (category, reply or enhanced code they list): a coded answer's
        # other readings are offered through them.
        self._by_reading: dict[tuple[str, str], int] = {}
        for entry_index, entry in enumerate(kb.entries):
            for listed in (*map(str, entry.reply_codes), *entry.enhanced_codes):
                self._by_reading.setdefault((entry.category, listed), entry_index)

    def diagnose(self, text: str) -> Diagnosis:
        """
        Rank the entries for ``text`` and decide.

        Raises InputError for unusable input.
        """
        if len(text) > MAX_TEXT:
            raise InputError(
                f"text is {len(text):,} characters; the limit is {MAX_TEXT:,}"
            )
        selection = select_lines(
            text, cues=self._cues, phrases=self._recogniser.cue_phrases
        )
        lines = selection.windows()
        if len(text) <= LOCAL_CONTEXT:
            context, other = mail_context(text)
        else:
            # A long log is read line by line: a candidate line that is plainly
            # another program's (a registry, a database, a web server) is passed
            # over, and whether the rest is about mail is read around those lines
            # only, not from the whole log.
            own = [mail_context(near) for near in selection.neighbourhoods(NEAR)]
            # One error dumped whole (Node's util.inspect of an AxiosError or a
            # MongoServerSelectionError with its request, socket and cause: 30 KB)
            # repeats its message in nested "[cause]: Error: ..." lines far from the
            # words that name its program: a message already passed over as another
            # program's is passed over wherever it is repeated.
            foreign = {
                found.group(1).strip().lower()
                for line, (_, other_near) in zip(lines, own, strict=True)
                if other_near and (found := _ERROR_MESSAGE.search(line))
            }
            kept = [
                line
                for line, (_, other_near) in zip(lines, own, strict=True)
                if not other_near
                and not (
                    (found := _ERROR_MESSAGE.search(line))
                    and found.group(1).strip().lower() in foreign
                )
            ]
            other = bool(lines) and not kept
            lines = kept
            context = (
                any(m for m, _ in own)
                or mail_context(selection.around(CONTEXT_RADIUS))[0]
            )

        joined = "\n".join(lines)
        evidence = find_evidence(joined)
        base = self._fuzzy(lines)
        for entry_index, pattern in self._patterns:
            if (
                pattern.search(joined)
                and base.get(entry_index, (0.0, ""))[0] < PATTERN_SCORE
            ):
                base[entry_index] = (PATTERN_SCORE, pattern.pattern)
        for entry_index, name in self._exceptions:
            if entry_index not in base and name in joined:
                base[entry_index] = (CODE_ONLY_SCORE, name)
        for code in (*evidence.enhanced_codes, *evidence.hex_codes):
            entries = self._by_code.get(code, ())
            # Only codes few entries share are specific enough to stand alone.
            if 0 < len(entries) <= 4 and not code.endswith(".0.0"):
                for entry_index in entries:
                    if entry_index not in base:
                        base[entry_index] = (CODE_ONLY_SCORE, code)
        answered = server_answered(joined)
        mail = context or bool(evidence.enhanced_codes)
        structure = self._recogniser.recognise(
            joined, evidence, mail=context, settings=text[:SETTINGS_SCAN]
        )
        # A specific enhanced code whose table names one category speaks against
        # entries of other categories that list other codes (5.7.139 is a policy
        # block, whatever an entry for 5.7.3 says about the same words).
        coded = {
            info.category
            for code in evidence.enhanced_codes
            if not code.endswith(".0.0")
            and (info := self.kb.enhanced(code)) is not None
            and info.category
        }
        ranked: list[tuple[float, Candidate]] = []
        for entry_index, (fuzzy, signature) in base.items():
            entry = self._entries[entry_index]
            raw = fuzzy + self._evidence_score(
                entry, evidence, joined, self._generic_exceptions
            )
            if (
                len(coded) == 1
                and entry.category not in coded
                and entry.enhanced_codes
                and not evidence.enhanced_codes & set(entry.enhanced_codes)
            ):
                raw -= CODE_CATEGORY_CONFLICT
            if (
                evidence.hex_codes
                and "0x" in signature.lower()
                and (numbers := hex_codes(signature))
                and not numbers & evidence.hex_codes
            ):
                raw -= HEX_CONFLICT
            raw += PRIOR.get(entry.category, 0.0)
            raw += min(STRUCTURE_CAP, STRUCTURE_SHARE * structure.vote(entry.category))
            if answered and entry.category in UNREACHED:
                raw -= ANSWERED_PENALTY
            if entry.category in structure.explained:
                raw -= EXPLAINED_PENALTY
            if (
                structure.step
                and (named := _signature_step(signature))
                and named != structure.step
                and not names_step(joined, named)
            ):
                raw -= STEP_CONFLICT_PENALTY
            if other and (not context or entry.category in TRANSPORT):
                # Plainly another program's error: shown at most as a low alternative.
                raw = min(raw - OTHER_SOFTWARE_PENALTY, OTHER_SOFTWARE_CEILING)
            elif not mail:
                raw -= NO_MAIL_PENALTY + (
                    GENERIC_PENALTY if entry.category in GENERIC else 0.0
                )
            ranked.append(
                (raw, Candidate(entry, max(0.0, min(100.0, raw)), signature, raw))
            )
        # Equal scores: the longer matched signature is the more specific evidence.
        ranked.sort(
            key=lambda pair: (-pair[0], -len(pair[1].signature), pair[1].entry.id)
        )
        ranked.extend(self._readings(structure, ranked))
        # "Here is the debug output: <error>": the error is what needs answering, and
        # client logging is the answer only when nothing else is confidently found.
        if ranked and ranked[0][1].entry.category == LOGGING:
            for index, (raw, candidate) in enumerate(ranked):
                if candidate.entry.category != LOGGING and raw >= CONFIDENT:
                    ranked.insert(0, ranked.pop(index))
                    break
        server = find_server(joined)
        if server is None and len(text) > len(joined):
            server = find_server(text[:SERVER_SCAN] + "\n" + text[-SERVER_SCAN:])
        candidates = [c for _, c in ranked]
        diagnosis = self._decide(
            candidates,
            evidence,
            server,
            mail=context,
            text=joined,
            structure=(
                None
                if other and not context
                else structure.without(TRANSPORT)
                if other
                else structure
            ),
        )
        diagnosis = self._for_client(
            diagnosis, candidates, text[:RUNTIME_HEAD] + "\n" + joined
        )
        # The reranker reads the whole paste, so it judges pastes a person writes or
        # copies, not long logs (those are decided by the lines picked above).
        if len(text) <= READ and (models := self._rerank_models()) is not None:
            diagnosis = self._reranked(
                diagnosis,
                candidates,
                *models,
                text=text,
                mail_words=bool(context),
                other_program=bool(other),
            )
        # The learned check speaks only where the paste's own words do not name mail
        # (a bare TLS, connection or lookup error): "smtplib" or "SMTP" settle it.
        if (
            diagnosis.category != NONE
            and not context
            and not mail_only(diagnosis.to_json())
            and (model := self._not_mail_model()) is not None
            and model.not_mail(text)
        ):
            return _withheld(diagnosis, candidates)
        return diagnosis

    def _not_mail_model(self) -> NotMailModel | None:
        """The learned not-mail check's model, or None when it is off."""
        if self._not_mail is True:
            return _shipped_not_mail()
        return self._not_mail or None

    def _rerank_models(self) -> tuple[CategoryModel, Reranker] | None:
        """The category model and reranker, or None when reranking is off."""
        if self._rerank is True:
            return _shipped_rerank()
        return self._rerank or None

    def _reranked(
        self,
        diagnosis: Diagnosis,
        ranked: list[Candidate],
        model: CategoryModel,
        reranker: Reranker,
        *,
        text: str,
        mail_words: bool,
        other_program: bool,
    ) -> Diagnosis:
        """
        ``diagnosis`` with its category chosen again by the reranker.

        When the reranker agrees, only the alternatives change: the other categories
        in the reranker's order (``Reranker.choose``). When it prefers "none", the
        answer is withheld and offered; when it prefers another category, that
        category's best-ranked entry (else its generic entry, else no entry: the
        category's meaning) is the answer, marked uncertain, with the recogniser's
        answer among the alternatives. A paste the recogniser found nothing in and the
        reranker agrees on is left as it is, and so is a paste whose words the
        category model mostly does not know.
        """
        # The model learned from pastes whose secrets were replaced by "<redacted>":
        # it reads the paste the same way, so a pasted key or password moves nothing.
        probabilities = model.judge(redact(text), MIN_KNOWN)
        if probabilities is None:
            return diagnosis
        order = reranker.choose(
            diagnosis.to_json(),
            probabilities,
            mail_words=mail_words,
            other_program=other_program,
            failure_words=says_failure(text),
        )

        def pick(category: str) -> Candidate | None:
            found = next((c for c in ranked if c.entry.category == category), None)
            if found is not None:
                return found
            generic = self._generic.get(category)
            if generic is None:
                return None
            score = round(100 * probabilities.get(category, 0.0), 1)
            return Candidate(generic, score, "", score)

        best = order[0]
        others = [
            candidate
            for category in order
            if category not in (NONE, best)
            and (candidate := pick(category)) is not None
        ][:ALTERNATIVES]
        if best == diagnosis.category:
            if best == NONE and diagnosis.decision is Decision.NONE:
                return diagnosis
            return replace(diagnosis, alternatives=tuple(others))
        if best == NONE:
            return _withheld(
                diagnosis,
                ranked,
                signal="learned:rerank",
                offered=[c for c in others if c.entry.category != diagnosis.category],
            )
        # A category no entry was ranked for (and that has no generic entry) is
        # answered by its meaning, as an answer read from the codes is.
        chosen = pick(best)
        meaning = round(100 * probabilities.get(best, 0.0), 1)
        return replace(
            diagnosis,
            decision=Decision.AMBIGUOUS,
            category=best,
            entry=chosen.entry if chosen else None,
            score=chosen.score if chosen else meaning,
            alternatives=tuple(others),
            basis="learned",
            uncertain=True,
            signals=(*diagnosis.signals, "learned:rerank"),
        )

    def _for_client(
        self, diagnosis: Diagnosis, ranked: list[Candidate], text: str
    ) -> Diagnosis:
        """
        The diagnosis with an entry for the runtime the paste shows.

        When the chosen entry is written for other runtimes than the paste's (or the
        paste shows none), an entry of the same category for the paste's runtime is
        taken, else the category's generic entry. The category and score stay.
        """
        generic = self._generic.get(diagnosis.category)
        if generic is None or diagnosis.decision is not Decision.CONFIDENT:
            return diagnosis
        entry = diagnosis.entry
        if entry is not None and not self._families[entry.id]:
            return diagnosis
        seen = runtimes(text)
        if entry is not None and self._families[entry.id] & seen:
            return diagnosis
        fitting = next(
            (
                c.entry
                for c in ranked
                if c.entry.category == diagnosis.category
                and self._families[c.entry.id] & seen
                and c.score >= CLIENT_FIT
            ),
            None,
        )
        return replace(diagnosis, entry=fitting or generic)

    def _readings(
        self, structure: Structure, ranked: list[tuple[float, Candidate]]
    ) -> list[tuple[float, Candidate]]:
        """
        The code's other readings as low alternatives.

        A coded paste's runner-up categories (552: message-too-large, then
        mailbox-full) that no entry matched are offered through the entry of that
        category listing one of the paste's codes, at the alternatives' floor.
        """
        if not structure.coded:
            return []
        present = {candidate.entry.category for _, candidate in ranked}
        floor = AMBIGUOUS - 15
        extra: list[tuple[float, Candidate]] = []
        for category, _ in structure.votes[: ALTERNATIVES + 1]:
            if category in present or category not in structure.allowed:
                continue
            for code in structure.codes:
                index = self._by_reading.get((category, code))
                if index is not None:
                    entry = self._entries[index]
                    extra.append((floor, Candidate(entry, floor, code, floor)))
                    break
        return extra

    def _fuzzy(self, lines: list[str]) -> dict[int, tuple[float, str]]:
        """
        Best fuzzy score per entry over the paste's lines.

        Only plausible signatures are scored.
        """
        best: dict[int, tuple[float, str]] = {}
        seen: set[str] = set()
        for line in lines:
            normal = normalise(line)
            if self._wrapper_words is not None:
                normal = " ".join(self._wrapper_words.sub(" ", normal).split())
            if not normal or normal in seen:
                continue
            seen.add(normal)
            words = {stem(w) for w in normal.split()}
            hits = {s for w in words for s in self._triggers.get(w, ())}
            idf = self._idf.__getitem__
            for sig_index in hits:
                mass = sum(map(idf, words & self._sig_sets[sig_index]))
                share = mass / self._sig_mass[sig_index]
                if share < MIN_SHARE:
                    continue
                signature = self._signatures[sig_index]
                value = fuzz.partial_ratio(
                    signature.text, normal, processor=None, score_cutoff=FUZZY_CUTOFF
                )
                if not value:
                    continue
                # partial_ratio aligns the shorter string inside the longer: a short
                # line inside a long signature is weak evidence, so scale by coverage.
                length = min(1.0, len(normal) / len(signature.text))
                score = (
                    value
                    * length**0.5
                    * (COVERAGE_FLOOR + (1 - COVERAGE_FLOOR) * share)
                )
                score += min(INFO_CAP, mass * INFO_PER_BIT)
                current = best.get(signature.entry_index)
                if current is None or score > current[0]:
                    best[signature.entry_index] = (score, signature.original)
        return best

    @staticmethod
    def _evidence_score(
        entry: Entry, evidence: Evidence, joined: str, generic: frozenset[str]
    ) -> float:
        """
        Bonus for codes and exception names the entry lists.

        Contradicting codes give a malus.
        """
        bonus = 0.0
        if evidence.hex_codes & set(entry.hex_codes):
            bonus += HEX_BONUS
        if any(name in joined for name in entry.exceptions if name not in generic):
            bonus += EXCEPTION_BONUS
        if entry.enhanced_codes and evidence.enhanced_codes:
            if evidence.enhanced_codes & set(entry.enhanced_codes):
                bonus += ENHANCED_BONUS
            else:
                bonus -= ENHANCED_CONFLICT
        if evidence.reply_codes & set(entry.reply_codes):
            bonus += REPLY_BONUS
        elif (
            entry.reply_codes
            and evidence.server_replies
            and not {r // 100 for r in evidence.server_replies}
            & {c // 100 for c in entry.reply_codes}
        ):
            # The server answered 5xx (permanent) where the entry's reply is 4xx
            # (temporary), or the reverse: "550 ... try again later" is no 421.
            bonus -= REPLY_CONFLICT
        return bonus

    def _decide(
        self,
        ranked: list[Candidate],
        evidence: Evidence,
        server: ServerRef | None,
        *,
        mail: bool,
        structure: Structure | None = None,
        text: str = "",
    ) -> Diagnosis:
        """
        Turn the ranking into a decision (``knowledge.decision``).

        The thresholds are read here on every call, so assigning this module's
        constants (bench scripts, tests) still tunes the decision.
        """
        limits = Thresholds(
            confident=CONFIDENT,
            ambiguous=AMBIGUOUS,
            margin=MARGIN,
            certain=CERTAIN,
            tie=TIE,
            alternatives=ALTERNATIVES,
            structure=STRUCTURE_ANSWER,
        )
        explanations = explain_codes(self.kb, evidence)
        return decide(
            ranked,
            evidence,
            server,
            explanations,
            mail=mail,
            limits=limits,
            structure=structure,
            text=text,
        )


__all__ = ["Candidate", "Decision", "Diagnosis", "Matcher", "mail_context"]


@functools.cache
def _shipped_not_mail() -> NotMailModel:
    """The shipped not-mail model, read once per process."""
    return read_model()


@functools.cache
def _shipped_rerank() -> tuple[CategoryModel, Reranker]:
    """The shipped category model and reranker, read once per process."""
    return read_category_model(), read_reranker()


def _withheld(
    diagnosis: Diagnosis,
    ranked: list[Candidate],
    *,
    signal: str = "learned:not-mail",
    offered: list[Candidate] | None = None,
) -> Diagnosis:
    """
    ``diagnosis`` for a paste judged not about mail: no answer, the answer that was
    found offered first among the choices ("is it one of these?"), then ``offered``
    (by default the diagnosis's own alternatives).
    """
    limit = ALTERNATIVES if offered else len(diagnosis.alternatives) + 1
    offered = list(diagnosis.alternatives if offered is None else offered)
    if diagnosis.entry is not None:
        found = next((c for c in ranked if c.entry is diagnosis.entry), None)
        chosen = found or Candidate(
            diagnosis.entry, diagnosis.score, "", diagnosis.score
        )
        offered = [chosen, *(c for c in offered if c.entry is not chosen.entry)]
    return replace(
        diagnosis,
        decision=Decision.AMBIGUOUS,
        category=NONE,
        entry=None,
        alternatives=tuple(offered[:limit]),
        basis=None,
        uncertain=True,
        signals=(*diagnosis.signals, signal),
    )
