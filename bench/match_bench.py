"""
Matcher latency benchmark.

    python bench/match_bench.py [--runs N] [--json PATH]

Measures, on one core, p50/p99 of ``Matcher.diagnose`` for 1-line, 2 KB and 40 KB pastes
against the shipped knowledge base, next to the naive rapidfuzz baseline
``process.extractOne(text, all_signatures, scorer=fuzz.WRatio)`` on the same pastes;
then how latency grows with a synthetic 5,000-entry knowledge base; then the whole
``smtpbot diagnose TEXT`` process time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from knowledge.loader import load_knowledge
from knowledge.matcher import Matcher
from knowledge.model import Entry, KnowledgeBase, Source

# Transport-log filler in the shape PHPMailer / nodemailer / Postfix logs have.
_FILLER = [
    (
        "2024-05-01 10:00:{s:02d} SERVER -> CLIENT: "
        "250-smtp.example.net Hello client [192.0.2.{n}]"
    ),
    "2024-05-01 10:00:{s:02d} SERVER -> CLIENT: 250-SIZE 35882577",
    "2024-05-01 10:00:{s:02d} SERVER -> CLIENT: 250-8BITMIME",
    "2024-05-01 10:00:{s:02d} CLIENT -> SERVER: EHLO app{n}.example.org",
    "[2024-05-01 10:00:{s:02d}] DEBUG [conn{n}] S: 250-PIPELINING",
    "May  1 10:00:{s:02d} mx postfix/smtpd[{n}]: connect from unknown[198.51.100.{n}]",
    (
        "May  1 10:00:{s:02d} mx postfix/smtpd[{n}]: "
        "disconnect from unknown[198.51.100.{n}] ehlo=1 quit=1"
    ),
    (
        "    at SMTPConnection._onData "
        "(/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:{n}:14)"
    ),
    "2024-05-01 10:00:{s:02d} Connection: opened",
    "INFO  worker-{n} queued message id=<{n}.abc@example.org> size={n}0",
]


def _paste(error: str, size: int, rng: random.Random) -> str:
    """
    A log of about ``size`` characters.

    ``error`` is buried two thirds of the way in.
    """
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(_FILLER).format(s=rng.randrange(60), n=rng.randrange(1, 250))
        lines.append(line)
        total += len(line) + 1
    lines.insert(len(lines) * 2 // 3, error)
    return "\n".join(lines)[: max(size, len(error))]


def _time(fn: Callable[[str], object], texts: list[str], runs: int) -> dict[str, float]:
    """p50/p99/mean in milliseconds over ``runs`` calls cycling through ``texts``."""
    samples = []
    for i in range(runs):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        fn(text)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[int(len(samples) * 0.99) - 1],
        "mean": statistics.fmean(samples),
    }


def _synthetic(kb: KnowledgeBase, size: int, rng: random.Random) -> KnowledgeBase:
    """
    The shipped entries plus generated ones up to ``size`` entries.

    The generated entries' words are shuffled.
    """
    words = sorted(
        {w for e in kb.entries for s in e.signatures for w in s.split() if w.isalpha()}
    )
    entries = list(kb.entries)
    source = Source(title="synthetic", url="https://example.invalid/")
    while len(entries) < size:
        n = len(entries)
        sigs = tuple(
            " ".join(rng.choice(words) for _ in range(rng.randrange(5, 12)))
            + f" syn{n}x{k}"
            for k in range(4)
        )
        entries.append(
            Entry(
                id=f"synthetic-{n}",
                title=f"Synthetic {n}",
                category=rng.choice([e.category for e in kb.entries]),
                signatures=sigs,
                cause="synthetic",
                fix=("synthetic",),
                sources=(source,),
            )
        )
    return KnowledgeBase(
        entries=tuple(entries),
        reply_codes=kb.reply_codes,
        enhanced_codes=kb.enhanced_codes,
        hex_codes=kb.hex_codes,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description="Matcher latency benchmark")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "match.json"
    )
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(
            0, {min(os.sched_getaffinity(0))}
        )  # one core, as the target says
    rng = random.Random(20261128)
    kb = load_knowledge()
    matcher = Matcher(kb)
    errors = [s for e in kb.entries for s in e.signatures[:1]]
    rng.shuffle(errors)
    errors = errors[:40]
    sizes = {"1-line": 0, "2 KB": 2_000, "40 KB": 40_000}
    pastes = {
        name: [_paste(err, size, rng) if size else err for err in errors]
        for name, size in sizes.items()
    }
    signatures = [s for e in kb.entries for s in e.signatures]

    def naive(text: str) -> object:
        return process.extractOne(
            text,
            signatures,
            scorer=fuzz.WRatio,
            processor=utils.default_process,
            score_cutoff=0,
        )

    results: dict[str, object] = {
        "entries": len(kb.entries),
        "signatures": len(signatures),
    }
    print(
        f"knowledge base: {len(kb.entries)} entries, "
        f"{len(signatures)} signatures; one core"
    )
    print(
        f"{'paste':8} {'matcher p50':>12} {'p99':>8} "
        f"{'naive p50':>10} {'p99':>8} {'speed-up':>9}"
    )
    for name, texts in pastes.items():
        ours = _time(matcher.diagnose, texts, args.runs)
        base = _time(naive, texts, max(20, args.runs // 10))
        speedup = base["p50"] / ours["p50"]
        results[name] = {"matcher_ms": ours, "naive_ms": base, "speedup_p50": speedup}
        print(
            f"{name:8} {ours['p50']:10.2f}ms {ours['p99']:6.2f}ms {base['p50']:8.2f}ms "
            f"{base['p99']:6.2f}ms {speedup:8.1f}x"
        )
    growth = {}
    for size in (len(kb.entries), 1_000, 5_000):
        big = Matcher(_synthetic(kb, size, rng)) if size > len(kb.entries) else matcher
        timing = _time(big.diagnose, pastes["40 KB"], max(50, args.runs // 3))
        growth[str(size)] = timing
        print(
            f"{size:5} entries, 40 KB paste: "
            f"p50 {timing['p50']:.2f} ms  p99 {timing['p99']:.2f} ms"
        )
    results["growth_40kb"] = growth
    cmd = [sys.executable, "-m", "bot", "diagnose", "--json", errors[0]]
    walls = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    results["process_s"] = statistics.median(walls)
    print(
        "whole process `smtpbot diagnose --json TEXT`: "
        f"median {statistics.median(walls):.3f} s"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
