"""
Redaction: how often a random key would read as a name, and what redaction costs.

    python bench/redact_bench.py [--keys 1000000] [--runs 3] [--out PATH]

First, ``keys`` random tokens drawn as ``secrets.token_urlsafe`` draws them (seeded, so
the figures replay), at each length from 16 to 64 characters, plus hex keys and
letters-only tokens: how many ``bot.redact.tokens.name_shaped`` calls a name (a lone
one of those would stay). Then the time ``bot.redact.redact`` takes per paste over
every corpus paste (best of ``runs``), and for a 40 KB transcript. One core, in
process. Results go to bench/results/redact.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.redact import redact  # noqa: E402
from bot.redact.tokens import name_shaped  # noqa: E402

# Lengths of base64url keys: the shortest the rule takes, then common key sizes
# (AWS secret 40, token_urlsafe() 43, SES 44, SendGrid's parts).
LENGTHS = (16, 20, 24, 32, 40, 43, 64)


def urlsafe(draw: random.Random, length: int) -> str:
    """
    A base64url token of ``length`` characters from random bytes.
    """
    raw = draw.randbytes(length * 3 // 4 + 1)
    return base64.urlsafe_b64encode(raw).decode()[:length]


def named(keys: int) -> dict[str, dict[str, float]]:
    """
    For each kind and length of random token, how many of ``keys`` read as names.
    """
    draw = random.Random(2024)
    kinds = {
        **{f"base64url-{n}": (lambda n=n: urlsafe(draw, n)) for n in LENGTHS},
        "hex-32": lambda: draw.randbytes(16).hex(),
        "letters-16": lambda: "".join(draw.choices(string.ascii_letters, k=16)),
        "lowercase-20": lambda: "".join(draw.choices(string.ascii_lowercase, k=20)),
    }
    out = {}
    for kind, make in kinds.items():
        count = keys if kind.startswith("base64url") else keys // 10
        hits = sum(name_shaped(make()) for _ in range(count))
        out[kind] = {"tokens": count, "read_as_names": hits, "rate": hits / count}
        print(f"{kind:>16}: {hits} of {count:,} read as names", flush=True)
    return out


def corpus() -> list[str]:
    """
    Every paste of the repository's corpora.
    """
    return [
        json.loads(line)["text"]
        for path in sorted((ROOT / "tests" / "corpus").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def timing(runs: int) -> dict[str, float]:
    """
    Microseconds per corpus paste and milliseconds for a 40 KB transcript.
    """
    texts = corpus()
    best = min(_time(lambda: [redact(t) for t in texts]) for _ in range(runs))
    block = (
        "2024-05-01 10:00:01 CLIENT -> SERVER: AUTH LOGIN\n"
        "2024-05-01 10:00:01 SERVER -> CLIENT: 334 VXNlcm5hbWU6\n"
        "2024-05-01 10:00:01 CLIENT -> SERVER: dXNlckBleGFtcGxlLmNvbQ==\n"
        "2024-05-01 10:00:01 SERVER -> CLIENT: 535 5.7.8 Error: authentication failed\n"
    )
    large = block * (40_000 // len(block))
    big = min(_time(lambda: redact(large)) for _ in range(runs))
    result = {
        "pastes": len(texts),
        "us_per_paste": best / len(texts) * 1e6,
        "ms_40kb_transcript": big * 1e3,
    }
    print(
        f"redact: {result['us_per_paste']:.0f} us per corpus paste "
        f"({len(texts)} pastes), {result['ms_40kb_transcript']:.1f} ms for 40 KB",
        flush=True,
    )
    return result


def _time(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--out", default=str(ROOT / "bench" / "results" / "redact.json")
    )
    args = parser.parse_args()
    result = {"names": named(args.keys), "timing": timing(args.runs)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
