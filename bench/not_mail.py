"""
Train and measure the learned not-mail check (knowledge/learned.py).

    python bench/not_mail.py train            # writes knowledge/learned/not-mail.tsv.gz
    python bench/not_mail.py kfold [--folds 5] [--thresholds 0.3,0.4,0.5,0.6]

``train`` fits a logistic regression (scikit-learn) over ``knowledge.learned.features``
on every labelled file of real pastes in tests/corpus (``real-*.jsonl``): `none` against
all mail categories. The shared ``dev.jsonl`` and the sealed sets are left out, so both
still measure the check on pastes it never saw. The model records a digest of its
training files; ``tests/knowledge/test_learned.py`` fails when they change and the
model was not trained again.

``kfold`` measures the check the way a new paste meets it: the pastes are split into
folds by repository (or site), each fold is scored by a model trained on the other
folds, and the matcher's answers with and without the check are compared at each
threshold (top-1 and false triggers on `none` pastes). The matcher itself was developed
on these files, so its own figures here are better than on new pastes; the change the
check makes is the figure to read.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval import load_rows  # noqa: E402  (bench/eval.py, beside this script)

from knowledge.learned import (  # noqa: E402
    MODEL_PATH,
    NotMailModel,
    features,
    write_model,
)

CORPUS = ROOT / "tests" / "corpus"
THRESHOLD = 0.4
C = 10.0
MAX_FEATURES = 40_000
MIN_DF = 2


def training_files() -> list[Path]:
    """The labelled files of real pastes the check learns from."""
    return sorted(CORPUS.glob("real-*.jsonl"))


def inputs_digest(files: list[Path]) -> str:
    """A digest of the training files' names and contents."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def pipeline(texts: list[str], labels: list[Any]) -> tuple[Any, Any]:
    """
    The fitted TfidfVectorizer and LogisticRegression of the check (labels True for
    not mail), or of the category model (labels the categories).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        analyzer=features,
        min_df=MIN_DF,
        sublinear_tf=True,
        max_features=MAX_FEATURES,
    )
    matrix = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=C, max_iter=3000)
    classifier.fit(matrix, labels)
    return vectorizer, classifier


def fit(texts: list[str], not_mail: list[bool], inputs: str) -> NotMailModel:
    """Fit the check on labelled texts and export it as a NotMailModel."""
    return export(*pipeline(texts, not_mail), inputs)


def export(vectorizer: Any, classifier: Any, inputs: str) -> NotMailModel:
    """A fitted TfidfVectorizer and binary LogisticRegression as a NotMailModel."""
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    # The positive class, "not mail", is True: the last of classes_.
    if list(classifier.classes_) != [False, True]:
        raise ValueError(f"expected classes [False, True], got {classifier.classes_}")
    idf = vectorizer.idf_
    coefficients = classifier.coef_[0]
    return NotMailModel(
        {
            gram: (float(idf[index]), float(coefficients[index]))
            for gram, index in vocabulary.items()
        },
        float(classifier.intercept_[0]),
        THRESHOLD,
        inputs,
    )


def group_of(source: str) -> str:
    """The repository of a GitHub source, the site of a page: pastes of one fold."""
    if "#" in source and not source.startswith("http"):
        return source.split("#")[0].lower()
    site = re.search(r"https?://([^/\s]+)", source)
    return site.group(1).lower() if site else source


def train() -> int:
    files = training_files()
    rows = load_rows(*files)
    started = time.perf_counter()
    model = fit(
        [r["text"] for r in rows],
        [r["label"] == "none" for r in rows],
        inputs_digest(files),
    )
    write_model(MODEL_PATH, model)
    print(
        f"trained on {len(rows)} pastes from {len(files)} files in "
        f"{time.perf_counter() - started:.1f} s: {len(model.weights)} n-grams, "
        f"threshold {model.threshold}; wrote {MODEL_PATH.relative_to(ROOT)} "
        f"({MODEL_PATH.stat().st_size / 1024:.0f} KiB)"
    )
    return 0


def kfold(folds: int, thresholds: list[float]) -> int:
    from knowledge.loader import load_knowledge
    from knowledge.matcher import Matcher

    kb = load_knowledge()
    rows = load_rows(*training_files())
    groups = sorted({group_of(r["source"]) for r in rows})
    # Groups are dealt to folds by a digest of their name: stable across runs.
    fold_of = {
        g: int(hashlib.sha256(g.encode()).hexdigest(), 16) % folds for g in groups
    }
    alone = Matcher(kb, not_mail=False, rerank=False)
    answers = {"matcher alone": [alone.diagnose(r["text"]).category for r in rows]}
    for threshold in thresholds:
        answers[f"with the check at {threshold:.2f}"] = [""] * len(rows)
    for fold in range(folds):
        train_rows = [r for r in rows if fold_of[group_of(r["source"])] != fold]
        model = fit(
            [r["text"] for r in train_rows],
            [r["label"] == "none" for r in train_rows],
            "",
        )
        held = [i for i, r in enumerate(rows) if fold_of[group_of(r["source"])] == fold]
        for threshold in thresholds:
            matcher = Matcher(kb, not_mail=replace(model, threshold=threshold))
            column = answers[f"with the check at {threshold:.2f}"]
            for index in held:
                column[index] = matcher.diagnose(rows[index]["text"]).category
        print(f"fold {fold + 1}/{folds} scored", file=sys.stderr)
    nones = [i for i, r in enumerate(rows) if r["label"] == "none"]
    print(f"{len(rows)} pastes, {len(groups)} repositories or sites, {folds} folds")
    for name, predicted in answers.items():
        top1 = sum(p == r["label"] for p, r in zip(predicted, rows, strict=True))
        false = sum(predicted[i] != "none" for i in nones)
        print(
            f"  {name:<26} top-1 {top1 / len(rows):.3f}  false trigger "
            f"{false / len(nones):.3f} ({false} of {len(nones)})"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train on tests/corpus and write the model")
    measure = sub.add_parser("kfold", help="measure by folds of repositories")
    measure.add_argument("--folds", type=int, default=5)
    measure.add_argument("--thresholds", default="0.3,0.4,0.5,0.6")
    args = parser.parse_args(argv)
    if args.command == "train":
        return train()
    return kfold(args.folds, [float(t) for t in args.thresholds.split(",")])


if __name__ == "__main__":
    sys.exit(main())
