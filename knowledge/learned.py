"""
A learned check for pastes that are not about mail.

Some errors read the same from a mail client and from any other program: a bare
"certificate verify failed", "Connection timed out", "getaddrinfo ENOTFOUND". Whether
they are mail is written in the words around them (a registry, a push gateway, an HTTP
agent, a database pool), in more ways than rules can list. Real pastes labelled by hand
show those words: a logistic regression over the paste's character and word n-grams,
trained on them (``python bench/not_mail.py train``), gives the probability that a paste
is not about mail, and the matcher withholds its answer when that probability reaches
the model's threshold (offering the answer as a choice instead).

At run time the model is a table of n-gram weights read in pure Python: ``features``
below is the one function that turns a paste into n-grams, for training and scoring
alike, so both see the same text the same way.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import re
import sys
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# Only the head of a paste is read: the check is for pastes a person writes or copies,
# not for whole logs (a long log is decided by the lines the recogniser picks).
READ: Final = 6_000
# Ids, hashes and queue ids say nothing about the program.
_IDS: Final = re.compile(r"\b[0-9a-f]{12,}\b")
# Words (identifiers with dots and underscores), enhanced codes and three-digit numbers.
_WORDS: Final = re.compile(r"[a-z][a-z0-9_.]+|\d\.\d+\.\d+|\d{3}")
# Character n-grams are taken within each whitespace-separated word, padded with a
# space on each side, from each word's first characters only (base64 runs and URLs).
_NGRAMS: Final = (2, 3, 4, 5)
_WORD_HEAD: Final = 40

MODEL_PATH: Final = Path(__file__).resolve().parent / "learned" / "not-mail.tsv.gz"
CATEGORY_MODEL_PATH: Final = (
    Path(__file__).resolve().parent / "learned" / "categories.bin.gz"
)


def features(text: str) -> list[str]:
    """The n-grams of a paste's head: characters within words, words and word pairs."""
    head = _IDS.sub(" ", text[:READ].lower())
    grams: list[str] = []
    for word in head.split():
        padded = f" {word[:_WORD_HEAD]} "
        for size in _NGRAMS:
            if len(padded) < size:
                break
            grams.extend(
                padded[start : start + size] for start in range(len(padded) - size + 1)
            )
    words = _WORDS.findall(head)
    grams.extend(f"w:{word}" for word in words)
    grams.extend(f"w:{first} {second}" for first, second in itertools.pairwise(words))
    return grams


@dataclass(frozen=True, slots=True)
class NotMailModel:
    """
    A binary logistic regression over TF-IDF n-gram features (sublinear counts, l2
    norm), as exported by ``bench/not_mail.py``.

    ``weights`` maps each n-gram to its inverse document frequency and its
    coefficient; ``inputs`` is the digest of the labelled files it was trained on.
    """

    weights: dict[str, tuple[float, float]]
    intercept: float
    threshold: float
    inputs: str

    def probability(self, text: str) -> float:
        """The probability that ``text`` is not about mail."""
        dot = 0.0
        norm = 0.0
        for gram, count in Counter(features(text)).items():
            found = self.weights.get(gram)
            if found is None:
                continue
            idf, coefficient = found
            value = (1.0 + math.log(count)) * idf
            norm += value * value
            dot += value * coefficient
        logit = self.intercept + (dot / math.sqrt(norm) if norm else 0.0)
        # A logistic function that cannot overflow for large negative logits.
        if logit >= 0:
            return 1.0 / (1.0 + math.exp(-logit))
        exp = math.exp(logit)
        return exp / (1.0 + exp)

    def not_mail(self, text: str) -> bool:
        """True when ``text`` is short enough to judge and most likely not mail."""
        return len(text) <= READ and self.probability(text) >= self.threshold


@dataclass(frozen=True, slots=True)
class CategoryModel:
    """
    A multinomial logistic regression over the same TF-IDF n-gram features: the
    probability of each category (``none`` among them) from a paste's words alone.

    ``grams`` maps each n-gram to its row; row ``r`` has the inverse document
    frequency ``idf[r]`` and the coefficients ``values[k]`` of classes
    ``columns[k]`` for ``k`` in ``starts[r]:starts[r + 1]`` (the others are zero).
    ``classes`` and ``intercepts`` are in the same order; ``inputs`` is the digest of
    the labelled files. Arrays, not tuples: the model loads in milliseconds.
    """

    classes: tuple[str, ...]
    intercepts: tuple[float, ...]
    grams: dict[str, int]
    idf: array[float]
    starts: array[int]
    columns: array[int]
    values: array[float]
    inputs: str

    def known_share(self, text: str) -> float:
        """The share of the paste's distinct words that the model has weights for."""
        return self._known(Counter(features(text)))

    def probabilities(self, text: str) -> dict[str, float]:
        """Each category's probability for ``text`` (they sum to 1)."""
        return self._probabilities(Counter(features(text)))

    def judge(self, text: str, least_known: float) -> dict[str, float] | None:
        """
        The probabilities, or None when less than ``least_known`` of the paste's
        words are known to the model; the paste's n-grams are read once.
        """
        counts = Counter(features(text))
        if self._known(counts) < least_known:
            return None
        return self._probabilities(counts)

    def _known(self, counts: Counter[str]) -> float:
        words = [gram for gram in counts if gram.startswith("w:") and " " not in gram]
        return sum(gram in self.grams for gram in words) / len(words) if words else 0.0

    def _probabilities(self, counts: Counter[str]) -> dict[str, float]:
        logits = list(self.intercepts)
        found: list[tuple[float, int]] = []
        norm = 0.0
        for gram, count in counts.items():
            row = self.grams.get(gram)
            if row is None:
                continue
            value = (1.0 + math.log(count)) * self.idf[row]
            norm += value * value
            found.append((value, row))
        if norm:
            scale = 1.0 / math.sqrt(norm)
            starts, columns, values = self.starts, self.columns, self.values
            for value, row in found:
                weight = value * scale
                start, end = starts[row], starts[row + 1]
                for column, coefficient in zip(
                    columns[start:end], values[start:end], strict=True
                ):
                    logits[column] += weight * coefficient
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        total = sum(exps)
        return {name: e / total for name, e in zip(self.classes, exps, strict=True)}


def write_category_model(path: Path, model: CategoryModel) -> None:
    """
    Write ``model`` gzipped: a JSON header line, one line per n-gram, then the
    arrays (idf, starts, columns, values) little-endian, back to back.
    """
    header = {
        "model": "smtpbot learned category model",
        "classes": list(model.classes),
        "intercepts": list(model.intercepts),
        "inputs": model.inputs,
        "grams": len(model.grams),
        "coefficients": len(model.values),
    }
    rows = sorted(model.grams, key=model.grams.__getitem__)
    parts = [json.dumps(header, sort_keys=True).encode("utf-8")]
    parts.extend(gram.encode("utf-8") for gram in rows)
    blob = b"\n".join(parts) + b"\n"
    for values in (model.idf, model.starts, model.columns, model.values):
        copy = array(values.typecode, values)
        if sys.byteorder == "big":
            copy.byteswap()
        blob += copy.tobytes()
    write_gzip(path, blob)


def read_category_model(path: Path = CATEGORY_MODEL_PATH) -> CategoryModel:
    """Read a model written by ``write_category_model``; ValueError if malformed."""
    data = gzip.decompress(path.read_bytes())
    first, _, rest = data.partition(b"\n")
    try:
        header = json.loads(first)
        classes = tuple(str(name) for name in header["classes"])
        intercepts = tuple(float(value) for value in header["intercepts"])
        inputs = str(header["inputs"])
        size = int(header["grams"])
        count = int(header["coefficients"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name}: malformed header: {exc}") from exc
    if len(classes) != len(intercepts) or not 2 <= len(classes) <= 256:
        raise ValueError(f"{path.name}: classes and intercepts do not match")
    lines = rest.split(b"\n", size)
    if len(lines) != size + 1:
        raise ValueError(f"{path.name}: expected {size} n-grams")
    blob = lines.pop()
    idf: array[float] = array("f")
    starts: array[int] = array("I")
    columns: array[int] = array("B")
    values: array[float] = array("f")
    offset = 0
    for target, length in (
        (idf, size),
        (starts, size + 1),
        (columns, count),
        (values, count),
    ):
        end = offset + length * target.itemsize
        if end > len(blob):
            raise ValueError(f"{path.name}: the arrays are cut short")
        target.frombytes(blob[offset:end])
        if sys.byteorder == "big":
            target.byteswap()
        offset = end
    if (
        offset != len(blob)
        or starts[-1] != count
        or max(columns, default=0) >= len(classes)
    ):
        raise ValueError(f"{path.name}: the arrays do not fit the header")
    grams = {line.decode("utf-8"): row for row, line in enumerate(lines)}
    return CategoryModel(
        classes, intercepts, grams, idf, starts, columns, values, inputs
    )


def write_model(path: Path, model: NotMailModel) -> None:
    """Write ``model`` gzipped: a JSON header line, then n-gram, idf, coefficient."""
    header = {
        "model": "smtpbot learned not-mail check",
        "intercept": model.intercept,
        "threshold": model.threshold,
        "inputs": model.inputs,
    }
    lines = [json.dumps(header, sort_keys=True)]
    lines.extend(
        f"{gram}\t{idf:.6g}\t{coefficient:.6g}"
        for gram, (idf, coefficient) in sorted(model.weights.items())
    )
    write_gzip(path, ("\n".join(lines) + "\n").encode("utf-8"))


def write_gzip(path: Path, data: bytes) -> None:
    """Write ``data`` gzipped, reproducibly: the same data gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # No name and mtime=0 in the gzip header.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out,
    ):
        out.write(data)


def read_model(path: Path = MODEL_PATH) -> NotMailModel:
    """Read a model written by ``write_model``; ValueError names what is malformed."""
    first, _, body = gzip.decompress(path.read_bytes()).decode("utf-8").partition("\n")
    try:
        header = json.loads(first)
        intercept = float(header["intercept"])
        threshold = float(header["threshold"])
        inputs = str(header["inputs"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name}: malformed header: {exc}") from exc
    weights: dict[str, tuple[float, float]] = {}
    for number, line in enumerate(body.split("\n"), start=2):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path.name}:{number}: expected 3 fields")
        weights[fields[0]] = (float(fields[1]), float(fields[2]))
    return NotMailModel(weights, intercept, threshold, inputs)
