"""
Rebuild ``tests/knowledge/outside/client_matrix.jsonl``: run every client on this
machine against every fault and keep what each printed (not collected by pytest; run by
hand from the repository root, as root: the endpoints listen on ports 25, 465 and 587):

    .venv/bin/python -m tests.knowledge.clientmatrix.build

A run the fault did not stop (the client sent the message anyway, or checks less than
the fault needs) or that printed nothing before it was stopped is no paste: it is left
out and named on stderr. Each record: the text as printed (stdout and stderr as the
terminal shows them), its category (the fault's), the client and its version, the
fault, the command run and its exit code.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.knowledge.clientmatrix.matrix import run_matrix

OUT = Path(__file__).resolve().parents[1] / "outside" / "client_matrix.jsonl"


def recorded(result: dict[str, Any]) -> bool:
    """A failure a user could paste: the client failed and said something."""
    return result["exit"] not in (0, None) and bool(result["text"].strip())


def main() -> int:
    """Run the matrix and write the records."""
    with tempfile.TemporaryDirectory(prefix="clientmatrix-") as workdir:
        results = run_matrix(Path(workdir))
    kept = [result for result in results if recorded(result)]
    for result in results:
        if not recorded(result):
            why = "succeeded" if result["exit"] == 0 else "printed nothing"
            print(
                f"left out: {result['client']} x {result['fault']}: {why}",
                file=sys.stderr,
            )
    keys = (
        "text",
        "label",
        "client",
        "version",
        "fault",
        "fault_detail",
        "command",
        "exit",
    )
    with OUT.open("w", encoding="utf-8") as out:
        for result in kept:
            out.write(
                json.dumps({key: result[key] for key in keys}, ensure_ascii=False)
                + "\n"
            )
    print(f"{len(kept)} records of {len(results)} runs -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
