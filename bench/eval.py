"""
Evaluate the matcher on a labelled corpus (JSON Lines with ``text`` and ``label``).

    python bench/eval.py [CORPUS] [--misses] [--json]

Prints top-1 and top-3 category accuracy, the false-trigger rate on ``none`` cases and a
confusion table. CORPUS defaults to ../shared/corpus/dev.jsonl next to the checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev.jsonl"


def evaluate(corpus: Path, matcher: Matcher) -> dict[str, object]:
    """Score every labelled text; returns the figures and the misses."""
    rows = [
        json.loads(line)
        for line in corpus.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    top1 = top3 = positives = none_total = none_false = 0
    confusion: Counter[tuple[str, str]] = Counter()
    misses: list[dict[str, object]] = []
    for row in rows:
        label, diagnosis = row["label"], matcher.diagnose(row["text"])
        predicted = diagnosis.category
        confusion[(label, predicted)] += 1
        ranked = [predicted] + [c.entry.category for c in diagnosis.alternatives]
        if label == "none":
            none_total += 1
            none_false += predicted != "none"
        else:
            positives += 1
        top1 += predicted == label
        top3 += label in ranked[:3] if label != "none" else predicted == "none"
        if predicted != label:
            misses.append(
                {
                    "label": label,
                    "predicted": predicted,
                    "score": diagnosis.score,
                    "entry": diagnosis.entry.id if diagnosis.entry else None,
                    "alternatives": [
                        (c.entry.id, round(c.score)) for c in diagnosis.alternatives
                    ],
                    "text": row["text"][:300],
                }
            )
    return {
        "n": len(rows),
        "top1": top1 / len(rows),
        "top3": top3 / len(rows),
        "none_false_rate": none_false / none_total if none_total else 0.0,
        "none_cases": none_total,
        "confusion": confusion,
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    result = evaluate(args.corpus, Matcher(load_knowledge()))
    if args.json:
        print(
            json.dumps(
                {
                    k: v
                    for k, v in result.items()
                    if k in ("n", "top1", "top3", "none_false_rate", "none_cases")
                }
            )
        )
        return 0
    print(
        f"texts: {result['n']}  top-1: {result['top1']:.3f}  "
        f"top-3: {result['top3']:.3f}  "
        f"none false-trigger: {result['none_false_rate']:.3f} "
        f"(of {result['none_cases']} none cases)"
    )
    confusion = result["confusion"]
    assert isinstance(confusion, Counter)
    wrong = sorted(
        ((k, v) for k, v in confusion.items() if k[0] != k[1]),
        key=lambda kv: (-kv[1], kv[0]),
    )
    print("\nconfusion (label -> predicted: count), errors only:")
    for (label, predicted), count in wrong:
        print(f"  {label:22} -> {predicted:22} {count}")
    if args.misses:
        for miss in result["misses"]:  # type: ignore[attr-defined]
            print("\n", json.dumps(miss, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
