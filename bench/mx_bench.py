"""
Timing of ``smtpbot check DOMAIN --mx`` in the test lab's network namespace
(tests/mxcheck: local DNS, STARTTLS MX servers on port 25, HTTPS policy hosts on 443).

    python bench/mx_bench.py [--runs 50] [--process-runs 10]

(a) the domain check itself (``total_ms`` of the report: DNS, preflight, two MX probes,
TLSA lookups and the MTA-STS policy fetch) for a healthy enforce domain and a DANE
domain, p50/p99 over in-process runs; (b) the whole process ``python -m bot check
enforce.test --mx --json`` as a user runs it, wall time per run (start-up included),
interleaved with ``check mx1.mail.test:25 --json`` (one host, one port) for scale.
Needs root or unprivileged user namespaces (``unshare``). Prints a table and writes
bench/results/mx.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mxcheck.conftest import Lab, namespace_command  # noqa: E402
from tests.mxcheck.world import build_world  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "mx.json"


def percentile(values: list[float], share: float) -> float:
    """
    The value below which ``share`` of the values fall (nearest rank).
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    """
    Start the lab, time the runs, print and save the figures.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--process-runs", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mxbench-"))
    world = build_world(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBE_")}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    with (root / "lab.log").open("w") as log:
        process = subprocess.Popen(
            [*namespace_command(), sys.executable, "-m", "tests.mxcheck.lab"]
            + [str(world.spec_path())],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdin is not None and process.stdout is not None
    process.stdout.readline()
    lab = Lab(world, process)
    figures: dict[str, object] = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
    }
    try:
        for domain in ("enforce.test", "ee-ok.dane.test"):
            lab.mx(domain)  # warm up: imports, trust store
            totals = [lab.mx(domain).json["total_ms"] for _ in range(args.runs)]
            figures[f"check {domain} ms"] = {
                "p50": round(statistics.median(totals), 1),
                "p99": round(percentile(totals, 0.99), 1),
                "runs": args.runs,
            }
        # Interleaved, so that the machine's load weighs on both alike.
        walls: dict[str, list[float]] = {"domain": [], "host": []}
        for _ in range(args.process_runs):
            for name, command in (
                ("domain", ("enforce.test", "--mx")),
                ("host", ("mx1.mail.test:25",)),
            ):
                started = time.perf_counter()
                run = lab.check(
                    *command, "--json", "--cafile", world.cafile, subprocess=True
                )
                walls[name].append((time.perf_counter() - started) * 1000)
                assert run.code == 0, run.stderr
        for name, label in (
            ("domain", "process check enforce.test --mx"),
            ("host", "process check mx1.mail.test:25"),
        ):
            figures[f"{label} ms"] = {
                "median": round(statistics.median(walls[name]), 1),
                "min": round(min(walls[name]), 1),
                "runs": args.process_runs,
            }
    finally:
        process.stdin.close()
        process.wait(10)
        process.stdout.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
    for name, value in figures.items():
        print(f"{name:32} {value}")


if __name__ == "__main__":
    main()
