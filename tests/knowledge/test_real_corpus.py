"""
Format checks for the labelled corpora of real pastes (`tests/corpus/real-*.jsonl`).

Each line is one paste somebody posted publicly when mail sending failed (or a near-miss
that is not about mail), labelled with one category of the fixed taxonomy in
`shared/corpus/TAXONOMY.md`. The checks keep the files usable as evaluation sets: they
parse, every label is known, and no public source is counted twice, within a file,
across the files, or in the shared `dev.jsonl` they extend.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL_DEV = REPO / "tests" / "corpus" / "real-dev.jsonl"
# Sealed sets, each measured blind once, then folded into the dev material.
REAL_SEALED1 = REPO / "tests" / "corpus" / "real-sealed1.jsonl"
REAL_SEALED3 = REPO / "tests" / "corpus" / "real-sealed3.jsonl"
REAL_SEALED4 = REPO / "tests" / "corpus" / "real-sealed4.jsonl"
REAL_SEALED5 = REPO / "tests" / "corpus" / "real-sealed5.jsonl"
REAL_SEALED6 = REPO / "tests" / "corpus" / "real-sealed6.jsonl"
REAL_SEALED7 = REPO / "tests" / "corpus" / "real-sealed7.jsonl"
REAL_SEALED8 = REPO / "tests" / "corpus" / "real-sealed8.jsonl"
REAL_SEALED9 = REPO / "tests" / "corpus" / "real-sealed9.jsonl"
REAL_SEALED10 = REPO / "tests" / "corpus" / "real-sealed10.jsonl"
REAL_SEALED11 = REPO / "tests" / "corpus" / "real-sealed11.jsonl"
REAL_SEALED12 = REPO / "tests" / "corpus" / "real-sealed12.jsonl"
REAL_SEALED13 = REPO / "tests" / "corpus" / "real-sealed13.jsonl"
REAL_SEALED14 = REPO / "tests" / "corpus" / "real-sealed14.jsonl"
REAL_SEALED15 = REPO / "tests" / "corpus" / "real-sealed15.jsonl"
REAL_SEALED16 = REPO / "tests" / "corpus" / "real-sealed16.jsonl"
REAL_SEALED17 = REPO / "tests" / "corpus" / "real-sealed17.jsonl"
REAL_SEALED18 = REPO / "tests" / "corpus" / "real-sealed18.jsonl"
REAL_SEALED19 = REPO / "tests" / "corpus" / "real-sealed19.jsonl"
REAL_SEALED20 = REPO / "tests" / "corpus" / "real-sealed20.jsonl"
# Sets still sealed (tests/corpus/sealed/README.md): checked here for their form and
# their sources only; failures name lines and sources, never texts.
SEALED = tuple(sorted((REPO / "tests" / "corpus" / "sealed").glob("real-sealed*.gz")))
REAL_FILES = (
    REAL_DEV,
    REAL_SEALED1,
    REAL_SEALED3,
    REAL_SEALED4,
    REAL_SEALED5,
    REAL_SEALED6,
    REAL_SEALED7,
    REAL_SEALED8,
    REAL_SEALED9,
    REAL_SEALED10,
    REAL_SEALED11,
    REAL_SEALED12,
    REAL_SEALED13,
    REAL_SEALED14,
    REAL_SEALED15,
    REAL_SEALED16,
    REAL_SEALED17,
    REAL_SEALED18,
    REAL_SEALED19,
    REAL_SEALED20,
    *SEALED,
)
# The shared folder sits beside every checkout (worktrees, /work/main and CI's clone).
SHARED_CORPUS = REPO.parent / "shared" / "corpus"

# The fixed taxonomy (shared/corpus/TAXONOMY.md): 22 categories and `none`.
LABELS = frozenset(
    {
        "starttls-required",
        "starttls-unavailable",
        "tls-port-mismatch",
        "tls-cert-untrusted",
        "tls-cert-hostname",
        "tls-cert-expired",
        "tls-handshake-failed",
        "auth-required",
        "auth-failed",
        "auth-policy-blocked",
        "relay-denied",
        "sender-not-permitted",
        "recipient-unknown",
        "mailbox-full",
        "message-too-large",
        "rate-limited",
        "sender-authentication",
        "sender-blocklisted",
        "connection-timeout",
        "connection-refused",
        "dns-failure",
        "client-logging",
        "none",
    }
)
REQUIRED_KEYS = frozenset({"text", "label", "source", "lang"})
# "thread_says": the category the thread's confirmed fix points to, where the paste
# itself shows another.
OPTIONAL_KEYS = frozenset({"notes", "thread_says"})
# A source is a GitHub thread ("owner/repo#N") or the address of a public page.
SOURCE_RE = re.compile(r"^(?:[\w.-]+/[\w.-]+#\d+|https?://\S+)$")
# ISO 639-1 language code.
LANG_RE = re.compile(r"^[a-z]{2}$")
# An SMTP AUTH line that still carries its base64 credentials.
AUTH_SECRET_RE = re.compile(r"\bAUTH (?:PLAIN|LOGIN|XOAUTH2) [A-Za-z0-9+/]{12,}={0,2}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL file, failing with the line number of the first bad line."""
    records: list[dict[str, Any]] = []
    text = (
        gzip.decompress(path.read_bytes()).decode("utf-8")
        if path.suffix == ".gz"
        else path.read_text(encoding="utf-8")
    )
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{path.name}:{number}: not JSON: {exc}")
        if not isinstance(record, dict):
            pytest.fail(f"{path.name}:{number}: not a JSON object")
        records.append(record)
    return records


@pytest.fixture(scope="module", params=REAL_FILES, ids=lambda path: path.name)
def real_dev(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """One real-paste corpus, parsed."""
    path = request.param
    assert isinstance(path, Path)
    return read_jsonl(path)


def test_every_line_is_a_record_with_the_known_fields(
    real_dev: list[dict[str, Any]],
) -> None:
    """Every line has text, label, source and lang (notes, thread_says optional)."""
    for number, record in enumerate(real_dev, start=1):
        keys = set(record)
        assert keys >= REQUIRED_KEYS, f"line {number}: missing {REQUIRED_KEYS - keys}"
        assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, (
            f"line {number}: unknown keys {keys}"
        )
        assert all(isinstance(record[key], str) for key in keys), (
            f"line {number}: non-string"
        )
        assert record["text"].strip(), f"line {number}: empty text"


def test_every_label_is_a_taxonomy_category(real_dev: list[dict[str, Any]]) -> None:
    """Every record is labelled with one of the 22 categories or `none`."""
    unknown = {record["label"] for record in real_dev} - LABELS
    unknown |= {r["thread_says"] for r in real_dev if "thread_says" in r} - LABELS
    assert not unknown, f"labels outside the taxonomy: {sorted(unknown)}"


def test_labels_match_the_shared_taxonomy() -> None:
    """The label set here is exactly the ids listed in TAXONOMY.md."""
    taxonomy = (SHARED_CORPUS / "TAXONOMY.md").read_text(encoding="utf-8")
    ids = set(re.findall(r"^\| ([a-z][a-z-]*) \|", taxonomy, flags=re.MULTILINE)) - {
        "id"
    }
    assert ids == LABELS


def test_sources_and_languages_are_well_formed(real_dev: list[dict[str, Any]]) -> None:
    """Sources name a GitHub thread or a public URL; languages are ISO 639-1 codes."""
    for number, record in enumerate(real_dev, start=1):
        assert SOURCE_RE.match(record["source"]), (
            f"line {number}: source {record['source']!r}"
        )
        assert LANG_RE.match(record["lang"]), f"line {number}: lang {record['lang']!r}"


def test_no_source_counts_twice(real_dev: list[dict[str, Any]]) -> None:
    """Each public source appears once here and never in the shared dev.jsonl."""
    counts = Counter(record["source"] for record in real_dev)
    repeated = sorted(source for source, count in counts.items() if count > 1)
    assert not repeated, f"sources used twice: {repeated}"
    shared = {record["source"] for record in read_jsonl(SHARED_CORPUS / "dev.jsonl")}
    overlap = sorted(set(counts) & shared)
    assert not overlap, f"sources already in shared dev.jsonl: {overlap}"


def test_no_source_counts_twice_across_the_real_files() -> None:
    """A public source is used by one real-paste file only."""
    owner: dict[str, str] = {}
    shared: list[str] = []
    for path in REAL_FILES:
        for record in read_jsonl(path):
            source = record["source"]
            if source in owner and owner[source] != path.name:
                shared.append(f"{source} ({owner[source]}, {path.name})")
            owner.setdefault(source, path.name)
    assert not shared, f"sources in two files: {shared}"


def test_credentials_are_redacted(real_dev: list[dict[str, Any]]) -> None:
    """No paste keeps the base64 credentials of an SMTP AUTH command."""
    leaks = [
        record["source"] for record in real_dev if AUTH_SECRET_RE.search(record["text"])
    ]
    assert not leaks, f"unredacted AUTH lines in: {leaks}"
