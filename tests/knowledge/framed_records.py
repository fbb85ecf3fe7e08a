"""
Checks shared by the tests of strings read from software's own sources
(``outside/*_library_strings.jsonl``: text, label, lang, source ``repo@path``, key,
commit and the mail program's frame around the string).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from knowledge.categories import CATEGORIES
from knowledge.matcher import Matcher

OUTSIDE = Path(__file__).parent / "outside"
# (lang, frame, key, what is answered instead)
Miss = tuple[str, str, str, str]


def load(name: str) -> list[dict[str, str]]:
    """The records of ``outside/<name>``."""
    text = (OUTSIDE / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_well_formed(records: list[dict[str, str]], at_least: int) -> None:
    """Each record says what it is, where it was read and how it is framed."""
    assert len(records) >= at_least
    for record in records:
        assert record["label"] in CATEGORIES and record["label"] != "none", record
        repo, _, path = record["source"].partition("@")
        assert "/" in repo and path, record
        assert len(record["commit"]) == 40 and record["key"] and record["frame"], record


def assert_categories(
    matcher: Matcher, records: list[dict[str, str]], known_misses: set[Miss]
) -> None:
    """Every record answers its category; each known miss is still missed, as listed."""
    wrong: set[Miss] = set()
    by_source: Counter[str] = Counter()
    for record in records:
        got = matcher.diagnose(record["text"]).category
        if got != record["label"]:
            wrong.add((record["lang"], record["frame"], record["key"], str(got)))
            by_source[record["source"].split("@")[0]] += 1
    print(
        f"{len(records) - len(wrong)}/{len(records)} right; "
        f"misses by library: {dict(by_source)}"
    )
    assert not wrong - known_misses, sorted(wrong - known_misses)
    assert not known_misses - wrong, (
        "answered right now, remove from KNOWN_MISSES",
        sorted(known_misses - wrong),
    )


def category_rates(
    matcher: Matcher, records: list[dict[str, str]], name: str
) -> tuple[float, dict[str, float]]:
    """
    Top-1 over ``records`` and per category, printed under ``name`` (run with -s).
    """
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for record in records:
        total[record["label"]] += 1
        right[record["label"]] += (
            matcher.diagnose(record["text"]).category == record["label"]
        )
    overall = sum(right.values()) / len(records)
    print(f"\n{name}: top-1 {overall:.3f}")
    for label in sorted(total):
        print(f"  {label:24s} {total[label]:4d} {right[label] / total[label]:.3f}")
    return overall, {label: right[label] / total[label] for label in total}
