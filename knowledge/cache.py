"""
A compiled-matcher cache, so a one-shot ``smtpbot diagnose`` does not re-read,
re-validate and re-index the knowledge base on every run.

The cache key is a fingerprint of every knowledge file (path, size, mtime) and of the
matcher's own source, so editing an entry or upgrading the code invalidates it. A cache
that cannot be read or written (read-only file system, another user's file) is simply
skipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path

from knowledge import KNOWLEDGE_ROOT
from knowledge.matcher import Matcher

log = logging.getLogger(__name__)

# Bump when the pickled layout changes in a way file fingerprints cannot see.
FORMAT = 1


def cache_dir(env: dict[str, str] | None = None) -> Path:
    """
    The cache directory: ``SMTPBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/smtpbot``.

    Without either, it is ``~/.cache/smtpbot``.
    """
    env = dict(os.environ) if env is None else env
    if env.get("SMTPBOT_CACHE_DIR"):
        return Path(env["SMTPBOT_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smtpbot"


def fingerprint(root: Path) -> str:
    """
    A digest of the knowledge files, the matcher code and the learned weights.

    Each knowledge file counts with its path, size and mtime.
    """
    digest = hashlib.sha256(f"format={FORMAT}".encode())
    code = Path(__file__).resolve().parent
    files = [
        *(root / "entries").rglob("*.y*ml"),
        *(root / "codes").glob("*.y*ml"),
        *(root / "signals").glob("*.y*ml"),
        *(
            code / name
            for name in (
                "matcher.py",
                "normalize.py",
                "model.py",
                "servers.py",
                "context.py",
                "decision.py",
                "structure.py",
                "clients.py",
                "other_software.py",
                "learned.py",
                "rerank.py",
            )
        ),
        # The learned weights (knowledge/learned.py, knowledge/rerank.py).
        code / "learned" / "not-mail.tsv.gz",
        code / "learned" / "categories.bin.gz",
        code / "learned" / "rerank.json",
    ]
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def load_matcher(
    root: Path = KNOWLEDGE_ROOT, *, directory: Path | None = None
) -> Matcher:
    """
    The matcher for ``root``, from the cache when it is current.

    Otherwise it is built and cached.
    """
    directory = cache_dir() if directory is None else directory
    path = directory / f"matcher-{fingerprint(root)}.pickle"
    try:
        with path.open("rb") as handle:
            matcher = pickle.load(handle)
        if isinstance(matcher, Matcher):
            return matcher
    except FileNotFoundError:
        pass
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
    ) as exc:
        log.debug("event=kb_cache_unreadable path=%s error=%s", path, exc)
    from knowledge.learned import read_category_model, read_model
    from knowledge.loader import load_knowledge
    from knowledge.rerank import read_reranker

    # The learned weights go into the cached matcher: unpickling them is several times
    # quicker than reading their files on every run.
    matcher = Matcher(
        load_knowledge(root),
        not_mail=read_model(),
        rerank=(read_category_model(), read_reranker()),
    )
    _store(matcher, path)
    return matcher


def _store(matcher: Matcher, path: Path) -> None:
    """
    Write atomically (temp file + rename).

    Concurrent runs thus never see half a file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob("matcher-*.pickle"):
            stale.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            pickle.dump(matcher, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError as exc:
        log.debug("event=kb_cache_unwritable path=%s error=%s", path, exc)
