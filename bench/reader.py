"""
How far is the matcher from a careful reader who sees only the paste?

    python bench/reader.py tests/corpus/real-sealed4.jsonl \
        tests/corpus/readers/real-sealed4.jsonl

The corpus's labels were given with the whole public thread at hand (what the fix
turned out to be). A second reader labelled the same pastes from the text alone, the
way the bot meets them, without the labels, the thread or the bot's answers (``label``,
two ``alts`` and a ``confidence`` per record, joined to the corpus by ``source``). This
prints both
readers' top-1, top-3 and none false-trigger rate against the corpus labels, and how
often each is right where the other is not: what the paste alone allows, and where the
matcher stands below it.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher


def _rows(path: Path) -> list[dict[str, object]]:
    text = (
        gzip.decompress(path.read_bytes()).decode("utf-8")
        if path.suffix == ".gz"
        else path.read_text(encoding="utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _rates(labels: list[str], firsts: list[str], threes: list[list[str]]) -> str:
    n = len(labels)
    top1 = sum(a == b for a, b in zip(labels, firsts, strict=True)) / n
    # As bench/eval.py counts it: a none paste is right only when answered none.
    top3 = (
        sum(
            (a in r[:3]) if a != "none" else f == a
            for a, f, r in zip(labels, firsts, threes, strict=True)
        )
        / n
    )
    none = [f for a, f in zip(labels, firsts, strict=True) if a == "none"]
    false = sum(f != "none" for f in none)
    rate = false / max(len(none), 1)
    return (
        f"top-1 {top1:.3f}  top-3 {top3:.3f}  "
        f"none false-trigger {rate:.3f} ({false} of {len(none)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("reader", type=Path)
    args = parser.parse_args()
    corpus = _rows(args.corpus)
    reader = {str(r["source"]): r for r in _rows(args.reader)}
    rows = [r for r in corpus if str(r["source"]) in reader]
    if len(rows) != len(corpus):
        parser.error(f"{len(corpus) - len(rows)} corpus records have no reader label")
    matcher = Matcher(load_knowledge())
    labels = [str(r["label"]) for r in rows]
    said = [reader[str(r["source"])] for r in rows]
    diagnoses = [matcher.diagnose(str(r["text"])) for r in rows]
    bot_first = [d.category for d in diagnoses]
    bot_three = [
        [d.category] + [c.entry.category for c in d.alternatives] for d in diagnoses
    ]
    reader_first = [str(s["label"]) for s in said]
    reader_three = [[str(s["label"]), *map(str, s.get("alts", []))] for s in said]
    print(f"{args.corpus.name}: {len(rows)} pastes")
    print(f"  second reader, paste alone: {_rates(labels, reader_first, reader_three)}")
    print(f"  matcher:                    {_rates(labels, bot_first, bot_three)}")
    both = Counter(
        (r == g, b == g)
        for g, r, b in zip(labels, reader_first, bot_first, strict=True)
    )
    print(
        f"  both right {both[(True, True)]}, reader only {both[(True, False)]}, "
        f"matcher only {both[(False, True)]}, neither {both[(False, False)]}"
    )
    by_confidence: dict[str, list[bool]] = {}
    for g, s in zip(labels, said, strict=True):
        by_confidence.setdefault(str(s.get("confidence", "?")), []).append(
            s["label"] == g
        )
    for level, hits in sorted(by_confidence.items()):
        print(
            f"  reader {level}-confidence: {len(hits)} pastes, "
            f"top-1 {sum(hits) / len(hits):.3f}"
        )


if __name__ == "__main__":
    main()
