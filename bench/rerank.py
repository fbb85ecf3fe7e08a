"""
Train and measure the learned category model and reranker (knowledge/learned.py,
knowledge/rerank.py).

    python bench/rerank.py answers     # the first-look answers, from git history
    python bench/rerank.py train [--none-bias 0.5] [--margin 1.0]
    python bench/rerank.py measure [--none-bias 0,0.5] [--margin 0,1,2]

``answers`` diagnoses each labelled set of real pastes with the matcher of the commit
at which that set was first measured, before anything was fixed from it (FIRST_LOOK),
and writes what it answered to bench/first-look.jsonl.gz (the recogniser alone: the
learned parts left out where the commit has them). Those are the recogniser's
answers on pastes it had never seen: the inputs the reranker meets on a new paste. It
needs the git history (a worktree per commit, removed afterwards).

``train`` fits the category model on every labelled file of real pastes
(tests/corpus/real-*.jsonl) and writes knowledge/learned/categories.bin.gz; then, for
each first-look set, a category model trained on every other file scores that set's
pastes, and the reranker is fitted on those scores and the first-look answers and
written to knowledge/learned/rerank.json.

``measure`` scores the reranker the way a new set meets it: each first-look set is
reranked by a reranker fitted on the other sets (and category probabilities from
models that never saw it), and top-1, top-3 and false triggers on `none` pastes are
printed beside the first-look answers, each also with a not-mail check after it (the
shipped check's rule, read from the held-out category model's "none" at 0.4). Pastes
longer than the reranker reads, or whose words the shipped category model mostly does
not know, keep their first-look answer. The labelled texts had their secrets redacted
by hand, so they are read as they are.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval import load_rows  # noqa: E402  (bench/eval.py, beside this script)
from not_mail import (  # noqa: E402  (bench/not_mail.py, beside this script)
    inputs_digest,
    pipeline,
    training_files,
)

from knowledge.categories import NONE  # noqa: E402
from knowledge.context import mail_context  # noqa: E402
from knowledge.learned import (  # noqa: E402
    CATEGORY_MODEL_PATH,
    READ,
    CategoryModel,
    read_category_model,
    write_category_model,
    write_gzip,
)
from knowledge.rerank import (  # noqa: E402
    MIN_KNOWN,
    RERANK_PATH,
    Reranker,
    candidates,
    says_failure,
    write_reranker,
)
from knowledge.rerank import features as candidate_features  # noqa: E402

ANSWERS = ROOT / "bench" / "first-look.jsonl.gz"
# The commit whose matcher first measured each set, before any fix from it (the first
# looks recorded in tests/corpus/README.md).
FIRST_LOOK = {
    "8d101c1": ["real-sealed1.jsonl"],
    "5670465": ["real-sealed3.jsonl"],
    "0c7cfa6": ["real-sealed4.jsonl"],
    "5ae6373": ["real-sealed5.jsonl"],
    "00dd429": ["real-sealed6.jsonl", "real-sealed7.jsonl"],
    "4b6d40f": ["real-sealed8.jsonl"],
    "62be37c": ["real-sealed9.jsonl"],
    "e6a3337": ["real-sealed10.jsonl", "real-sealed11.jsonl", "real-sealed12.jsonl"],
    "21827d3": ["real-sealed13.jsonl", "real-sealed14.jsonl"],
    "098a923": ["real-sealed15.jsonl"],
    "3ec645d": ["real-sealed16.jsonl"],
    "48bda16": ["real-sealed17.jsonl", "real-sealed18.jsonl", "real-sealed19.jsonl"],
    "0dbad50": ["real-sealed20.jsonl"],
}
# Coefficients smaller than this are left out of the shipped category model.
PRUNE = 0.02
NONE_BIAS = 0.5
MARGIN = 1.0
STACK_C = 1.0
# The not-mail check as shipped, for the comparison in ``measure``.
CHECK = 0.4
CORPUS = ROOT / "tests" / "corpus"

_DUMP = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/bench")
from eval import load_rows
from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher
# The recogniser alone: commits since the learned parts take switches to leave them out.
for switches in ({"not_mail": False, "rerank": False}, {"not_mail": False}, {}):
    try:
        matcher = Matcher(load_knowledge(), **switches)
        break
    except TypeError:
        continue
with open(sys.argv[2], "a", encoding="utf-8") as out:
    for name in sys.argv[3:]:
        for row in load_rows(Path(name)):
            answer = matcher.diagnose(row["text"]).to_json()
            out.write(json.dumps({"file": Path(name).name, "source": row["source"],
                                  "label": row["label"], "answer": answer}) + "\\n")
"""


def answers() -> int:
    """Diagnose each set with its first-look matcher; write ANSWERS."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "answers.jsonl"
        for commit, names in FIRST_LOOK.items():
            tree = Path(scratch) / commit
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    "-q",
                    str(tree),
                    commit,
                ],
                check=True,
            )
            try:
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        _DUMP,
                        str(tree),
                        str(out),
                        *(str(CORPUS / name) for name in names),
                    ],
                    check=True,
                    cwd=tree,
                    env={
                        "PYTHONPATH": str(tree),
                        "PATH": "/usr/bin:/bin",
                        "SMTPBOT_CACHE_DIR": str(Path(scratch) / "cache"),
                    },
                )
            finally:
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(ROOT),
                        "worktree",
                        "remove",
                        "--force",
                        str(tree),
                    ],
                    check=True,
                )
            print(f"{commit}: {', '.join(names)}", file=sys.stderr)
        lines = out.read_text(encoding="utf-8").splitlines()
    write_gzip(ANSWERS, ("\n".join(lines) + "\n").encode("utf-8"))
    print(
        f"wrote {len(lines)} first-look answers to {ANSWERS.relative_to(ROOT)} in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


def export(vectorizer: Any, classifier: Any, inputs: str) -> CategoryModel:
    """A fitted TfidfVectorizer and multinomial LogisticRegression, exported."""
    coefficients = classifier.coef_
    grams: dict[str, int] = {}
    idf, starts = array("f"), array("I", [0])
    columns, values = array("B"), array("f")
    for gram, column in sorted(vectorizer.vocabulary_.items()):
        kept = [
            (index, float(value))
            for index, value in enumerate(coefficients[:, column])
            if abs(value) >= PRUNE
        ]
        if not kept:
            continue
        grams[gram] = len(grams)
        idf.append(float(vectorizer.idf_[column]))
        columns.extend(index for index, _ in kept)
        values.extend(value for _, value in kept)
        starts.append(len(values))
    return CategoryModel(
        tuple(str(name) for name in classifier.classes_),
        tuple(float(value) for value in classifier.intercept_),
        grams,
        idf,
        starts,
        columns,
        values,
        inputs,
    )


def fit(rows: list[dict[str, str]], inputs: str) -> CategoryModel:
    """The category model fitted on labelled rows."""
    return export(
        *pipeline([r["text"] for r in rows], [r["label"] for r in rows]), inputs
    )


def first_look() -> list[dict[str, Any]]:
    """The first-look answers joined with their pastes' texts."""
    if not ANSWERS.exists():
        raise SystemExit(f"{ANSWERS.relative_to(ROOT)} is missing: run 'answers'")
    texts = {
        (path.name, row["source"]): row["text"]
        for path in training_files()
        for row in load_rows(path)
    }
    joined = []
    for line in gzip.decompress(ANSWERS.read_bytes()).decode("utf-8").splitlines():
        record = json.loads(line)
        text = texts.get((record["file"], record["source"]))
        if text is None:
            raise SystemExit(f"{record['file']}: {record['source']} is no longer there")
        record["text"] = text
        joined.append(record)
    return joined


def unseen_probabilities(
    records: list[dict[str, Any]],
) -> dict[tuple[str, str], dict[str, float]]:
    """Each first-look paste's category probabilities, by a model blind to its set."""
    rows_of = {path.name: load_rows(path) for path in training_files()}
    probabilities: dict[tuple[str, str], dict[str, float]] = {}
    for held in sorted({r["file"] for r in records}):
        started = time.perf_counter()
        model = fit(
            [row for name, rows in rows_of.items() if name != held for row in rows], ""
        )
        for record in records:
            if record["file"] == held:
                probabilities[(held, record["source"])] = model.probabilities(
                    record["text"]
                )
        print(f"  {held}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return probabilities


def examples(
    records: list[dict[str, Any]],
    probabilities: dict[tuple[str, str], dict[str, float]],
) -> tuple[list[list[float]], list[bool], list[tuple[int, str]]]:
    """One row per (paste, candidate category): features, correct, (paste, category)."""
    matrix: list[list[float]] = []
    correct: list[bool] = []
    keys: list[tuple[int, str]] = []
    for number, record in enumerate(records):
        answer = record["answer"]
        chances = probabilities[(record["file"], record["source"])]
        mail_words, other = mail_context(record["text"])
        for category in candidates(answer, chances):
            matrix.append(
                candidate_features(
                    answer,
                    category,
                    chances,
                    mail_words=bool(mail_words),
                    other_program=bool(other),
                )
            )
            correct.append(category == record["label"])
            keys.append((number, category))
    return matrix, correct, keys


def stack(matrix: list[list[float]], correct: list[bool], inputs: str) -> Reranker:
    """The reranker fitted on candidate rows."""
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=STACK_C, max_iter=5000).fit(matrix, correct)
    return Reranker(
        tuple(float(value) for value in fitted.coef_[0]),
        float(fitted.intercept_[0]),
        NONE_BIAS,
        MARGIN,
        inputs,
    )


def judged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first-look pastes the reranker judges: those short enough to read whole."""
    return [r for r in records if len(r["text"]) <= READ]


def train(none_bias: float, margin: float) -> int:
    files = training_files()
    rows = load_rows(*files)
    started = time.perf_counter()
    model = fit(rows, inputs_digest(files))
    write_category_model(CATEGORY_MODEL_PATH, model)
    print(
        f"category model: {len(rows)} pastes, {len(model.classes)} categories, "
        f"{len(model.grams)} n-grams; wrote {CATEGORY_MODEL_PATH.relative_to(ROOT)} "
        f"({CATEGORY_MODEL_PATH.stat().st_size / 1024:.0f} KiB) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    records = judged(first_look())
    probabilities = unseen_probabilities(records)
    matrix, correct, _ = examples(records, probabilities)
    reranker = stack(matrix, correct, rerank_digest(files))
    write_reranker(RERANK_PATH, replace(reranker, none_bias=none_bias, margin=margin))
    print(
        f"reranker: {len(records)} first-look pastes, {len(matrix)} candidates; "
        f"wrote {RERANK_PATH.relative_to(ROOT)}"
    )
    return 0


def rerank_digest(files: list[Path]) -> str:
    """A digest of the labelled files and the first-look answers."""
    digest = hashlib.sha256(inputs_digest(files).encode())
    digest.update(ANSWERS.read_bytes())
    return digest.hexdigest()


def withheld(record: dict[str, Any], chances: dict[str, float]) -> bool:
    """The not-mail check's verdict, read from the category model's "none"."""
    mail_words, _ = mail_context(record["text"])
    return not mail_words and chances.get(NONE, 0.0) >= CHECK


def measure(settings: list[tuple[float, float]]) -> int:
    records = first_look()
    probabilities = unseen_probabilities(records)
    matrix, correct, keys = examples(records, probabilities)
    sets = sorted({r["file"] for r in records}, key=lambda n: (len(n), n))
    ranked: dict[tuple[float, float], dict[int, list[str]]] = {s: {} for s in settings}
    # Whether the reranker judges a paste is read off the shipped model's vocabulary.
    shipped = read_category_model()
    known = [shipped.known_share(record["text"]) for record in records]
    for held in sets:
        inside = [i for i, (n, _) in enumerate(keys) if records[n]["file"] != held]
        fitted = stack([matrix[i] for i in inside], [correct[i] for i in inside], "")
        for none_bias, margin in settings:
            reranker = replace(fitted, none_bias=none_bias, margin=margin)
            for number, record in enumerate(records):
                if (
                    record["file"] != held
                    or len(record["text"]) > READ
                    or known[number] < MIN_KNOWN
                ):
                    continue
                mail_words, other = mail_context(record["text"])
                ranked[(none_bias, margin)][number] = reranker.choose(
                    record["answer"],
                    probabilities[(held, record["source"])],
                    mail_words=bool(mail_words),
                    other_program=bool(other),
                    failure_words=says_failure(record["text"]),
                )
    print(
        f"{len(records)} first-look pastes of {len(sets)} sets, each reranked by a "
        f"reranker fitted on the other sets; the not-mail check ({CHECK}) after each"
    )
    columns: dict[str, dict[int, list[str]]] = {}
    columns["first look"] = {
        n: [r["answer"]["category"]]
        + [a["category"] for a in r["answer"]["alternatives"]]
        for n, r in enumerate(records)
    }
    for none_bias, margin in settings:
        columns[f"reranked, none bias {none_bias}, margin {margin}"] = {
            **columns["first look"],
            **ranked[(none_bias, margin)],
        }
    for name, column in columns.items():
        for check in (False, True):
            top1 = top3 = nones = false = 0
            for number, record in enumerate(records):
                order = list(dict.fromkeys(column[number]))
                chances = probabilities[(record["file"], record["source"])]
                if (
                    check
                    and order[0] != NONE
                    and len(record["text"]) <= READ
                    and withheld(record, chances)
                ):
                    order = [NONE, *(c for c in order if c != NONE)]
                label = record["label"]
                top1 += order[0] == label
                top3 += label in order[:3]
                if label == NONE:
                    nones += 1
                    false += order[0] != NONE
            count = len(records)
            print(
                f"  {name + (' + check' if check else ''):<46} top-1 "
                f"{top1 / count:.3f}  top-3 {top3 / count:.3f}  false trigger "
                f"{false / nones:.3f} ({false} of {nones})"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("answers", help="diagnose each set with its first-look matcher")
    learn = sub.add_parser("train", help="train and write the models")
    learn.add_argument("--none-bias", type=float, default=NONE_BIAS)
    learn.add_argument("--margin", type=float, default=MARGIN)
    score = sub.add_parser("measure", help="measure by leaving each set out")
    score.add_argument("--none-bias", default=f"{NONE_BIAS}", help="comma-separated")
    score.add_argument("--margin", default=f"{MARGIN}", help="comma-separated")
    args = parser.parse_args(argv)
    if args.command == "answers":
        return answers()
    if args.command == "train":
        return train(args.none_bias, args.margin)
    return measure(
        [
            (float(bias), float(margin))
            for bias in str(args.none_bias).split(",")
            for margin in str(args.margin).split(",")
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
