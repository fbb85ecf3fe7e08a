"""
Evaluate the matcher on labelled corpora (JSON Lines with ``text`` and ``label``, and
optionally ``source``).

    python bench/eval.py [CORPUS ...] [--misses] [--json] [--by-category]
                         [--kfold K] [--calibration]

Prints top-1 and top-3 category accuracy, the false-trigger rate on ``none`` cases and a
confusion table. CORPUS defaults to ../shared/corpus/dev.jsonl next to the checkout;
several corpora are pooled.

``--by-category`` prints top-1, top-3 and false triggers (none-labelled pastes answered
with that category) per category.

``--kfold K`` measures the knowledge signatures the way an outside paste meets them:
the pastes are split into K folds by source (``source`` field; a paste without one is
its own source), and each fold is diagnosed by a knowledge base from which every
signature that fold's pastes contain nearly verbatim (4 or more words) has been
removed, so no paste is answered by a string memorised from it or from its own source.
With ``--strict`` the signal tables' phrases of 4 or more words found in the fold go too
(even a library's own reason string), leaving codes, identifiers and short phrases. The
folds are diagnosed by the recogniser alone: the learned not-mail check was trained on
these pastes (``bench/not_mail.py kfold`` measures it by folds).

``--without rerank`` and ``--without not-mail`` leave out a learned part (both: the
recogniser alone). For a sealed set only the figures are printed, not the confusions.

``--calibration`` sweeps the answer threshold: a paste is answered only when its
score reaches the threshold, and top-1 and the false-trigger rate are printed for each.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

# The checkout this script sits in, ahead of the installed one: run from a worktree of
# another commit (git worktree add), it measures that commit's matcher.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz  # noqa: E402

from knowledge.loader import load_knowledge  # noqa: E402
from knowledge.matcher import Matcher  # noqa: E402
from knowledge.model import KnowledgeBase  # noqa: E402
from knowledge.normalize import error_lines, normalise  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev.jsonl"
# A signature of this many words or more, found nearly verbatim in a paste, counts as
# memorised from it for --kfold.
MEMORISED_WORDS = 4
MEMORISED_RATIO = 92.0


def read_corpus(corpus: Path) -> str:
    """A corpus file's text; a sealed set is kept gzipped (tests/corpus/sealed)."""
    if corpus.suffix == ".gz":
        return gzip.decompress(corpus.read_bytes()).decode("utf-8")
    return corpus.read_text(encoding="utf-8")


def is_sealed(corpus: Path) -> bool:
    """True for a sealed set: its figures may be read, its texts not."""
    return corpus.parent.name == "sealed"


def load_rows(*corpora: Path) -> list[dict[str, str]]:
    """The labelled rows of one or more JSON Lines corpora."""
    rows: list[dict[str, str]] = []
    for corpus in corpora:
        for number, line in enumerate(read_corpus(corpus).splitlines()):
            if line.strip():
                row = json.loads(line)
                row.setdefault("source", f"{corpus.name}:{number}")
                rows.append(row)
    return rows


def score_rows(rows: list[dict[str, str]], matcher: Matcher) -> list[dict[str, object]]:
    """Diagnose each row: label, answer, ranked categories and the answer's score."""
    scored: list[dict[str, object]] = []
    for row in rows:
        diagnosis = matcher.diagnose(row["text"])
        ranked = [diagnosis.category] + [
            c.entry.category for c in diagnosis.alternatives
        ]
        scored.append(
            {
                "label": row["label"],
                "predicted": diagnosis.category,
                "ranked": ranked,
                "score": diagnosis.score,
                "entry": diagnosis.entry.id if diagnosis.entry else None,
                "alternatives": [
                    (c.entry.id, round(c.score)) for c in diagnosis.alternatives
                ],
                "best_guess": (
                    (
                        diagnosis.alternatives[0].entry.category,
                        diagnosis.alternatives[0].score,
                    )
                    if diagnosis.category == "none" and diagnosis.alternatives
                    else (diagnosis.category, diagnosis.score)
                ),
                "source": row.get("source", ""),
                "text": row["text"],
            }
        )
    return scored


def summarise(scored: list[dict[str, object]]) -> dict[str, object]:
    """top-1, top-3, none false-trigger rate, confusion and misses of scored rows."""
    top1 = top3 = none_total = none_false = 0
    confusion: Counter[tuple[str, str]] = Counter()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[dict[str, object]] = []
    for row in scored:
        label, predicted = str(row["label"]), str(row["predicted"])
        ranked = list(row["ranked"])  # type: ignore[call-overload]
        confusion[(label, predicted)] += 1
        hit = predicted == label
        near = label in ranked[:3] if label != "none" else hit
        top1 += hit
        top3 += near
        per[label]["n"] += 1
        per[label]["top1"] += hit
        per[label]["top3"] += near
        if label == "none":
            none_total += 1
            none_false += not hit
            if not hit:
                per[predicted]["false"] += 1
        if not hit:
            misses.append(
                {
                    key: (value[:300] if key == "text" else value)  # type: ignore[index]
                    for key, value in row.items()
                    if key != "ranked"
                }
            )
    n = max(1, len(scored))
    return {
        "n": len(scored),
        "top1": top1 / n,
        "top3": top3 / n,
        "none_false_rate": none_false / none_total if none_total else 0.0,
        "none_cases": none_total,
        "confusion": confusion,
        "per_category": {k: dict(v) for k, v in sorted(per.items())},
        "misses": misses,
    }


def evaluate(corpus: Path, matcher: Matcher) -> dict[str, object]:
    """Score every labelled text of one corpus; returns the figures and the misses."""
    return summarise(score_rows(load_rows(corpus), matcher))


def _fold(source: str, k: int) -> int:
    return int(hashlib.sha256(source.encode()).hexdigest(), 16) % k


def without_memorised(
    kb: KnowledgeBase, texts: list[str], *, strict: bool = False
) -> KnowledgeBase:
    """
    ``kb`` without the signatures and signal phrases that any of ``texts`` contains
    nearly verbatim.
    """
    pastes = [normalise("\n".join(error_lines(t))) for t in texts]

    def memorised(text: str) -> bool:
        normal = normalise(text)
        return len(normal.split()) >= MEMORISED_WORDS and any(
            fuzz.partial_ratio(normal, paste, score_cutoff=MEMORISED_RATIO)
            for paste in pastes
            if len(paste) >= len(normal) * 0.8
        )

    entries = []
    for entry in kb.entries:
        kept = [s for s in entry.signatures if not memorised(s)]
        # An entry keeps at least its title as a signature: the title is a summary,
        # not a copied string.
        entries.append(replace(entry, signatures=tuple(kept) or (entry.title,)))
    if not strict:
        return replace(kb, entries=tuple(entries))
    signals = tuple(s for s in kb.signals if not memorised(s.text))
    return replace(kb, entries=tuple(entries), signals=signals)


def kfold(
    rows: list[dict[str, str]], kb: KnowledgeBase, k: int, *, strict: bool = False
) -> dict[str, object]:
    """
    Diagnose each fold with the signatures memorised from it removed, by the recogniser
    alone: the learned not-mail check is trained on these pastes, and is measured by
    folds in bench/not_mail.py.
    """
    scored: list[dict[str, object]] = []
    removed = 0
    total = sum(len(e.signatures) for e in kb.entries)
    for fold in range(k):
        part = [r for r in rows if _fold(str(r.get("source", "")), k) == fold]
        if not part:
            continue
        reduced = without_memorised(kb, [r["text"] for r in part], strict=strict)
        removed += total - sum(len(e.signatures) for e in reduced.entries)
        scored.extend(score_rows(part, Matcher(reduced, not_mail=False, rerank=False)))
    result = summarise(scored)
    result["signatures_removed_per_fold"] = removed / k
    return result


def calibration(scored: list[dict[str, object]]) -> list[tuple[float, float, float]]:
    """
    (threshold, top-1, none false-trigger rate) as the answer threshold moves.

    At each threshold a paste is answered with its best guess (the answer, or the top
    alternative when the matcher said none) if that scores at least the threshold,
    and with none otherwise. The matcher's own decision (confident at 70, structural
    answers between 55 and 70) is one point on this curve.
    """
    table = []
    for threshold in (40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90):
        moved = []
        for row in scored:
            category, score = row["best_guess"]  # type: ignore[misc]
            answer = category if float(score) >= threshold else "none"
            ranked = list(row["ranked"])  # type: ignore[call-overload]
            moved.append({**row, "predicted": answer, "ranked": [answer, *ranked[1:]]})
        figures = summarise(moved)
        table.append(
            (
                float(threshold),
                float(figures["top1"]),  # type: ignore[arg-type]
                float(figures["none_false_rate"]),  # type: ignore[arg-type]
            )
        )
    return table


def _print_summary(name: str, result: dict[str, object], by_category: bool) -> None:
    print(
        f"{name}: texts: {result['n']}  top-1: {result['top1']:.3f}  "
        f"top-3: {result['top3']:.3f}  "
        f"none false-trigger: {result['none_false_rate']:.3f} "
        f"(of {result['none_cases']} none cases)"
    )
    if by_category:
        print(f"  {'category':22} {'n':>4} {'top-1':>6} {'top-3':>6} {'false':>6}")
        per = result["per_category"]
        assert isinstance(per, dict)
        for category, counts in per.items():
            n = counts.get("n", 0)
            if not n and not counts.get("false"):
                continue
            print(
                f"  {category:22} {n:4d} "
                f"{counts.get('top1', 0) / max(1, n):6.3f} "
                f"{counts.get('top3', 0) / max(1, n):6.3f} "
                f"{counts.get('false', 0):6d}"
            )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--by-category", action="store_true")
    parser.add_argument("--kfold", type=int, default=0, metavar="K")
    parser.add_argument(
        "--strict", action="store_true", help="--kfold removes phrases too"
    )
    parser.add_argument("--calibration", action="store_true")
    parser.add_argument(
        "--without",
        action="append",
        choices=("rerank", "not-mail"),
        default=[],
        help="leave out a learned part (repeat for both: the recogniser alone)",
    )
    args = parser.parse_args(argv)
    corpora = args.corpus or [DEFAULT_CORPUS]
    for corpus in corpora:
        if not corpus.is_file():
            print(f"corpus not found: {corpus}", file=sys.stderr)
            return 2
        if args.misses and is_sealed(corpus):
            print(
                f"{corpus} is sealed: its figures can be measured, its misses not "
                "(tests/corpus/sealed/README.md says how a set is unsealed)",
                file=sys.stderr,
            )
            return 2
    rows = load_rows(*corpora)
    kb = load_knowledge()
    matcher = Matcher(
        kb, not_mail="not-mail" not in args.without, rerank="rerank" not in args.without
    )
    result = summarise(score_rows(rows, matcher))
    kfolded = kfold(rows, kb, args.kfold, strict=args.strict) if args.kfold else None
    if args.json:
        keys = ("n", "top1", "top3", "none_false_rate", "none_cases", "per_category")
        out: dict[str, object] = {k: v for k, v in result.items() if k in keys}
        if kfolded:
            out["kfold"] = {k: v for k, v in kfolded.items() if k in keys}
        print(json.dumps(out))
        return 0
    name = ", ".join(c.name for c in corpora)
    _print_summary(name, result, args.by_category)
    if kfolded:
        _print_summary(
            f"{args.kfold}-fold by source, memorised "
            f"{'signatures and phrases' if args.strict else 'signatures'} removed "
            f"({kfolded['signatures_removed_per_fold']:.0f} per fold)",
            kfolded,
            args.by_category,
        )
    if args.calibration:
        print("\ncalibration (answer only at score >= threshold):")
        print(f"  {'threshold':>9} {'top-1':>6} {'false-trigger':>14}")
        for threshold, top1, false in calibration(score_rows(rows, matcher)):
            print(f"  {threshold:9.0f} {top1:6.3f} {false:14.3f}")
    if any(is_sealed(corpus) for corpus in corpora):
        # Which labels are missed, and as what, is already a reading of a sealed set.
        return 0
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
        misses = (kfolded or result)["misses"]
        for miss in misses:  # type: ignore[attr-defined]
            print("\n", json.dumps(miss, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
