"""
Implementation of the ``diagnose`` and ``kb`` commands (imported lazily by ``bot.cli``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import IO, Any, Final

from bot.errors import BotError, InputError
from knowledge.matcher import Diagnosis, Matcher
from knowledge.normalize import MAX_TEXT


@lru_cache(maxsize=1)
def default_matcher() -> Matcher:
    """
    The matcher over the shipped knowledge base.

    It comes from the compiled cache when that is current.
    """
    from knowledge.cache import load_matcher

    return load_matcher()


def decode_input(data: bytes) -> str:
    """
    Decode a paste as UTF-8 (BOM tolerated), else raise a clear error.

    NUL bytes are dropped.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"input is not valid UTF-8 (byte {exc.start}); paste text, "
            "not a binary file"
        ) from exc
    return text.replace("\x00", "")


def diagnose_lines(
    lines: Iterable[bytes], matcher: Matcher
) -> Iterator[dict[str, Any]]:
    """``--jsonl``: one result (or ``{"error": ...}``) per input line, in order."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            yield {"error": f"line {number}: empty line"}
            continue
        try:
            item = json.loads(decode_input(raw))
        except (InputError, ValueError) as exc:
            yield {"error": f"line {number}: not JSON: {exc}"}
            continue
        except RecursionError:
            # json.loads recurses per nesting level: "[[[[..." must not end the
            # whole run.
            yield {"error": f"line {number}: not JSON: nested too deeply"}
            continue
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            yield {"error": f'line {number}: expected an object with a string "text"'}
            continue
        if len(text) > MAX_TEXT:
            yield {
                "error": f"line {number}: text is {len(text):,} characters; "
                f"the limit is {MAX_TEXT:,}"
            }
            continue
        yield matcher.diagnose(text).to_json()


def run_jsonl(stdin: IO[bytes], stdout: IO[str], matcher: Matcher) -> None:
    """Stream ``--jsonl``: each answer is written and flushed as soon as it is ready."""
    for result in diagnose_lines(stdin, matcher):
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()


def render_diagnosis(diagnosis: Diagnosis) -> str:
    """Plain-text answer for a person at a terminal."""
    out: list[str] = []
    entry = diagnosis.entry
    if diagnosis.uncertain and diagnosis.basis == "learned":
        out.append(
            "Most likely (the wording of the paste points here rather than to the "
            "closest known message, listed below):"
        )
    elif diagnosis.uncertain:
        out.append(
            "Most likely (no known message matches closely; read from "
            + (", ".join(diagnosis.signals) or "the codes")
            + "):"
        )
    if entry is not None:
        out.append(f"{entry.title}")
        out.append(
            f"category: {entry.category}   score: {diagnosis.score:.1f}   "
            f"entry: {entry.id}"
        )
        out.append("")
        out.append(f"Why: {entry.cause}")
        out.append("")
        out.append("Fix:")
        out.extend(f"  {n}. {step}" for n, step in enumerate(entry.fix, start=1))
        out.append("")
        out.append("Sources: " + "; ".join(s.title for s in entry.sources))
    elif diagnosis.category != "none":
        reason = (
            "the wording of the paste"
            if diagnosis.basis == "learned"
            else "the codes and error names"
        )
        out.append(f"category: {diagnosis.category} (from {reason})")
    else:
        verdict = (
            "Not sure. Is it one of these?"
            if diagnosis.alternatives and diagnosis.decision == "ambiguous"
            else "No known mail error recognised."
        )
        out.append(verdict)
    for info in diagnosis.explanations:
        out.append(f"  {info.code}: {info.title}. {info.meaning}")
    if diagnosis.alternatives:
        out.append("")
        out.append("Also possible:")
        out.extend(
            f"  - {c.entry.title} [{c.entry.category}, {c.score:.0f}]"
            for c in diagnosis.alternatives
        )
    if diagnosis.server is not None:
        out.append("")
        out.append(
            f"Mail server named: {diagnosis.server}  (smtpbot check {diagnosis.server})"
        )
    return "\n".join(out)


def diagnose_command(text: str | None, *, as_json: bool, jsonl: bool) -> int:
    """Run ``smtpbot diagnose``; returns the exit code."""
    matcher = default_matcher()
    if jsonl:
        run_jsonl(sys.stdin.buffer, sys.stdout, matcher)
        return 0
    try:
        if text is None or text == "-":
            if sys.stdin.isatty():
                raise InputError(
                    "give the error text as an argument, or pipe it on stdin"
                )
            data = sys.stdin.buffer.read(MAX_TEXT * 4 + 1)
            # UTF-8 needs at most 4 bytes a character: more bytes are surely too many
            # characters, and decoding the cut-off prefix could split a character.
            if len(data) > MAX_TEXT * 4:
                raise InputError(
                    f"the text is longer than the limit of {MAX_TEXT:,} characters"
                )
            text = decode_input(data)
        if not text.strip():
            raise InputError("the text is empty")
        diagnosis = matcher.diagnose(text)
    except BotError as exc:
        if as_json:
            print(json.dumps({"error": str(exc)}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(diagnosis.to_json(), ensure_ascii=False)
        if as_json
        else render_diagnosis(diagnosis)
    )
    return 0


def lint_command() -> int:
    """
    ``smtpbot kb lint``: every invalid file with its line.

    Then the entries that shadow others.
    """
    from knowledge.loader import collect_knowledge

    kb, errors = collect_knowledge()
    for error in errors:
        print(f"error: {error}")
    # Signatures are compared by the recogniser alone: the learned not-mail check and
    # reranker judge pastes, not which entry a signature belongs to.
    alone = Matcher(kb, not_mail=False, rerank=False)
    shadows = find_shadows(alone) if kb.entries else []
    for own, other, signature in shadows:
        print(
            f"shadow: {kb.paths[own]}: signature {signature!r} of {own} "
            f"matches {other} better"
        )
    print(
        f"{len(kb.entries)} entries, {len(errors)} errors, "
        f"{len(shadows)} shadowed signatures"
    )
    return 1 if errors or shadows else 0


# Words of class and command names ("System.Net.WebException", "Send-MailMessage"):
# a signature made only of them matches every error that class or command reports.
NAME_ONLY_WORDS: Final = frozenset(
    [
        "system",
        "net",
        "mail",
        "web",
        "sockets",
        "socket",
        "exception",
        "smtp",
        "send",
        "message",
        "error",
        "java",
        "javax",
        "org",
        "com",
        "messaging",
        "python",
        "smtplib",
    ]
)


def find_shadows(matcher: Matcher) -> list[tuple[str, str, str]]:
    """
    Signatures whose own entry does not come first.

    Each is given as (entry, winning entry, signature).
    """
    from knowledge.normalize import normalise

    found: list[tuple[str, str, str]] = []
    for entry in matcher.kb.entries:
        for signature in entry.signatures:
            left = normalise(signature)
            if len(left) < 6 or set(left.split()) <= NAME_ONLY_WORDS:
                # Nothing left once volatile parts and generic wrappers are removed, or
                # only the name of a class or command that many errors share.
                found.append(
                    (entry.id, "(nothing: only generic or volatile text)", signature)
                )
                continue
            diagnosis = matcher.diagnose(signature)
            given = diagnosis.entry
            if (
                given is not None
                and given.generic
                and diagnosis.basis != "entry"
                and given.category != entry.category
            ):
                # Another category's entry for any client, given for what the
                # structure or the codes read: no entry matched the signature better.
                given = None
            winner = given or (
                diagnosis.alternatives[0].entry if diagnosis.alternatives else None
            )
            if (
                winner is not None
                and winner.id != entry.id
                and winner.category != entry.category
            ):
                found.append((entry.id, winner.id, signature))
    return found


def stats_command() -> int:
    """``smtpbot kb stats``: entries and signatures per category, code table sizes."""
    kb = default_matcher().kb
    per = Counter(e.category for e in kb.entries)
    sigs = Counter()  # type: Counter[str]
    for entry in kb.entries:
        sigs[entry.category] += len(entry.signatures)
    print(f"{'category':24} {'entries':>7} {'signatures':>10}")
    for category in sorted(per):
        print(f"{category:24} {per[category]:7} {sigs[category]:10}")
    print(f"{'total':24} {len(kb.entries):7} {sum(sigs.values()):10}")
    print(
        f"code tables: {len(kb.reply_codes)} reply codes, "
        f"{len(kb.enhanced_codes)} enhanced status codes, "
        f"{len(kb.hex_codes)} Outlook hex codes"
    )
    cited = sum(1 for e in kb.entries if any(s.file for s in e.sources))
    print(f"entries citing guidance files: {cited}")
    return 0


def show_command(entry_id: str) -> int:
    """``smtpbot kb show ID``: the whole entry."""
    kb = default_matcher().kb
    entry = kb.get(entry_id)
    if entry is None:
        print(
            f"error: no entry {entry_id!r}; `smtpbot kb stats` lists categories",
            file=sys.stderr,
        )
        return 2
    data = {
        k: v for k, v in dataclasses.asdict(entry).items() if v not in (None, (), [])
    }
    print(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"file: {kb.paths[entry_id]}")
    return 0
