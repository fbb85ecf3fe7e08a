"""
Links from probe categories to knowledge-base entries, when the knowledge base is there.

Optional and lazy: the knowledge base (package ``knowledge``) is built separately and
costs a tenth of a second or more to load, so it is only loaded when a probe failed, and
a missing or broken knowledge base just means findings carry no link.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable
from typing import Any

from bot.probe.frozen import Frozen


class KbLink(Frozen):
    """
    The knowledge-base entry that explains a category.
    """

    id: str
    title: str


def kb_links(wanted: Iterable[str | None]) -> dict[str, KbLink]:
    """
    Map each wanted entry id, and each wanted category, to a knowledge-base entry;
    {} when the base cannot load.

    An id maps to that entry, if the base has it. A category maps to one entry in it:
    the one marked ``probe_helps`` wins, then the first by id, so the answer is
    deterministic.
    """
    names = {w for w in wanted if w}
    if not names:
        return {}
    entries = _load_entries()
    chosen: dict[str, Any] = {}
    for entry in sorted(entries, key=lambda e: str(getattr(e, "id", ""))):
        entry_id = str(getattr(entry, "id", ""))
        if entry_id in names:
            chosen[entry_id] = entry
        category = getattr(entry, "category", None)
        if category not in names:
            continue
        current = chosen.get(category)
        if current is None or (
            getattr(entry, "probe_helps", False)
            and not getattr(current, "probe_helps", False)
        ):
            chosen[category] = entry
    return {c: KbLink(str(e.id), str(e.title)) for c, e in chosen.items()}


def link_for(
    entry: str | None, category: str | None, links: dict[str, KbLink]
) -> KbLink | None:
    """
    The entry that explains one finding: its own entry if the base has it, else its
    category's.
    """
    return links.get(entry or "") or links.get(category or "")


class _Head(Frozen):
    """
    The four top-level keys of an entry file that a link needs.
    """

    id: str
    title: str
    category: str
    probe_helps: bool


# An entry file's top-level keys a link needs, one per line (knowledge/schema.py).
_HEAD_KEYS = re.compile(r"^(id|title|category|probe_helps):[ \t]*(.*?)[ \t]*$", re.M)


def _load_entries() -> list[Any]:
    """
    The knowledge base's entries, or [] when it is missing or does not load.

    A probe's report is due by its deadline, so the entries' heads are read straight
    from the files first (about 20 ms: four keys per file, no validation; a test checks
    they agree with the loader). Then the matcher cache (a pickle, ~0.1 s), then the
    YAML loader (pydantic validation, ~0.5 s).
    """
    heads = _scan_heads()
    if heads:
        return heads
    for module, load in (
        ("knowledge.cache", _cached_base),
        ("knowledge.loader", _loaded_base),
    ):
        try:
            base = load(importlib.import_module(module))
        # The knowledge base is optional for the probe: any failure to load it (missing
        # module, invalid files, a changed API) must cost the link, never the result.
        except Exception as exc:
            # logging is imported here only: a healthy probe never needs it.
            import logging

            logging.getLogger(__name__).debug(
                "probe.kb_unavailable module=%s error=%r", module, exc
            )
            continue
        entries = getattr(base, "entries", ())
        return list(entries.values() if isinstance(entries, dict) else entries)
    return []


def _cached_base(module: Any) -> Any:
    """
    The knowledge base inside the cached matcher.
    """
    return module.load_matcher().kb


def _loaded_base(module: Any) -> Any:
    """
    The knowledge base read from its files.
    """
    return module.load_knowledge()


def _scan_heads() -> list[_Head]:
    """
    id, title, category and probe_helps of every entry file; [] if any file does not
    read plainly (the loaders then decide).
    """
    try:
        from knowledge import KNOWLEDGE_ROOT

        paths = sorted((KNOWLEDGE_ROOT / "entries").rglob("*.y*ml"))
        heads = []
        for path in paths:
            found: dict[str, str] = {}
            for key, raw in _HEAD_KEYS.findall(path.read_text(encoding="utf-8")):
                found.setdefault(key, _scalar(raw))
            heads.append(
                _Head(
                    found["id"],
                    found["title"],
                    found["category"],
                    found.get("probe_helps", "false") == "true",
                )
            )
        return heads
    # Optional, like the rest of this module: a missing package, an unreadable file or
    # an unusual scalar sends the caller to the real loaders.
    except Exception:
        return []


def _scalar(raw: str) -> str:
    """
    A one-line YAML scalar: double-quoted (JSON-compatible escapes), single-quoted or
    plain.

    Raises:
        ValueError: a form this reader does not handle.
    """
    if raw.startswith('"'):
        value = json.loads(raw)
        if not isinstance(value, str):
            raise ValueError(raw)
        return value
    if raw.startswith("'"):
        if not raw.endswith("'") or len(raw) < 2:
            raise ValueError(raw)
        return raw[1:-1].replace("''", "'")
    if raw[:1] in "[{|>&*!%@`#" or " #" in raw:
        raise ValueError(raw)
    return raw
