"""
Load the knowledge base from disk: entries and code tables, validated, with file and
line for every problem.

``load_knowledge`` is the only code that reads knowledge files.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import KnowledgeError
from knowledge import KNOWLEDGE_ROOT
from knowledge.model import CodeInfo, Entry, KnowledgeBase, Signal
from knowledge.schema import (
    CodeTableSchema,
    EntrySchema,
    SignalTableSchema,
    to_code_info,
)

# libyaml is ~10x faster than the pure-Python parser; fall back when it is not
# compiled in.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """
    Walk a YAML node tree along a pydantic error location.

    Return the 1-based line.
    """
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _parse(text: str, path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text; errors carry the file and line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise KnowledgeError(
            str(path), f"invalid YAML: {exc.problem}", line=line
        ) from exc
    return data, node


def _validate(
    model: type[EntrySchema] | type[CodeTableSchema] | type[SignalTableSchema],
    data: Any,
    node: yaml.Node | None,
    path: Path,
) -> Any:
    """Validate parsed data; the first error is reported with its line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = f"{where}: {first['msg']}" if where else first["msg"]
        raise KnowledgeError(
            str(path), message, line=_line_of(node, first["loc"])
        ) from exc


def parse_entry(text: str, path: Path) -> Entry:
    """Parse and validate one entry file's text. Pure: ``path`` is only for messages."""
    data, node = _parse(text, path)
    entry: Entry = _validate(EntrySchema, data, node, path).to_entry()
    if entry.id != path.stem:
        raise KnowledgeError(
            str(path),
            f"id {entry.id!r} must equal the file name {path.stem!r}",
            line=_line_of(node, ("id",)),
        )
    return entry


def parse_code_table(text: str, path: Path) -> CodeTableSchema:
    """Parse and validate one code table file's text."""
    data, node = _parse(text, path)
    table: CodeTableSchema = _validate(CodeTableSchema, data, node, path)
    return table


def parse_signal_table(text: str, path: Path) -> SignalTableSchema:
    """Parse and validate one signal table file's text."""
    data, node = _parse(text, path)
    table: SignalTableSchema = _validate(SignalTableSchema, data, node, path)
    return table


def entry_files(root: Path) -> list[Path]:
    """All entry files under ``root/entries``, in a stable order."""
    return sorted((root / "entries").rglob("*.y*ml"))


def load_knowledge(root: Path = KNOWLEDGE_ROOT) -> KnowledgeBase:
    """Read, validate and return the knowledge base; the first bad file raises."""
    kb, errors = collect_knowledge(root)
    if errors:
        raise errors[0]
    return kb


def collect_knowledge(
    root: Path = KNOWLEDGE_ROOT,
) -> tuple[KnowledgeBase, list[KnowledgeError]]:
    """
    Read every file, keeping the good ones and collecting every error.

    This is for ``kb lint``.
    """
    errors: list[KnowledgeError] = []
    entries: list[Entry] = []
    paths: dict[str, str] = {}
    for path in entry_files(root):
        try:
            text = path.read_text(encoding="utf-8")
            entry = parse_entry(text, path)
        except KnowledgeError as exc:
            errors.append(exc)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(KnowledgeError(str(path), f"cannot read: {exc}"))
            continue
        node = yaml.compose(text, Loader=_Loader)
        if entry.id in paths:
            errors.append(
                KnowledgeError(
                    str(path),
                    f"duplicate id {entry.id!r} (also in {paths[entry.id]})",
                    line=_line_of(node, ("id",)),
                )
            )
            continue
        for index, source in enumerate(entry.sources):
            if source.file and not (root / source.file).is_file():
                errors.append(
                    KnowledgeError(
                        str(path),
                        f"source file {source.file} not found",
                        line=_line_of(node, ("sources", index, "file")),
                    )
                )
        paths[entry.id] = str(path)
        entries.append(entry)
    tables: dict[str, dict[str, CodeInfo]] = {"reply": {}, "enhanced": {}, "hex": {}}
    for path in sorted((root / "codes").glob("*.y*ml")):
        try:
            table = parse_code_table(path.read_text(encoding="utf-8"), path)
        except KnowledgeError as exc:
            errors.append(exc)
            continue
        tables[table.kind].update(
            {info.code: to_code_info(info) for info in table.codes}
        )
    signals: list[Signal] = []
    for path in sorted((root / "signals").glob("*.y*ml")):
        try:
            signals.extend(
                parse_signal_table(path.read_text(encoding="utf-8"), path).to_signals()
            )
        except KnowledgeError as exc:
            errors.append(exc)
    if not entries and not errors:
        errors.append(KnowledgeError(str(root / "entries"), "no entries found"))
    kb = KnowledgeBase(
        entries=tuple(entries),
        paths=paths,
        reply_codes=tables["reply"],
        enhanced_codes=tables["enhanced"],
        hex_codes=tables["hex"],
        signals=tuple(signals),
    )
    return kb, errors


def _main(argv: Iterable[str]) -> int:
    """``python -m knowledge.loader [ROOT]``: validate and print a one-line summary."""
    args = list(argv)
    root = Path(args[0]) if args else KNOWLEDGE_ROOT
    kb, errors = collect_knowledge(root)
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(kb.entries)} entries, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
