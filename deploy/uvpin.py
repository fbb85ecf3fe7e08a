"""
Print a hash-pinned pip requirement for the uv release that uv.lock itself locks.

The installer is bootstrapped from the same lock it installs: `make install`, `.ci/run`
and the container build run ``python deploy/uvpin.py > pin.txt`` and then
``pip install --require-hashes --no-deps -r pin.txt``, so pip can only install the
exact uv files whose hashes the committed lock records. Standard library only.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"


def uv_requirement(lock_text: str) -> str:
    """
    The ``uv==VERSION --hash=...`` line for the locked uv package.

    Raises:
        SystemExit: the lock has no uv package or no hashes for it.
    """
    lock = tomllib.loads(lock_text)
    for package in lock.get("package", []):
        if package.get("name") == "uv":
            files = [*package.get("wheels", []), package.get("sdist") or {}]
            hashes = sorted({f["hash"] for f in files if f.get("hash")})
            if not hashes:
                break
            pins = " ".join(f"--hash={h}" for h in hashes)
            return f"uv=={package['version']} {pins}"
    raise SystemExit(
        "uv.lock locks no uv release with hashes: add uv to the dev extra in "
        "pyproject.toml and relock (make lock)"
    )


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK
    print(uv_requirement(path.read_text(encoding="utf-8")))
