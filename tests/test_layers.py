"""
Imports run one way: Slack sits at the edge of the code.

The knowledge base and the conversation layer know nothing of Slack or of how
escalations are delivered; escalation records and storage know nothing of Slack. Every
import counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Slack's own libraries and our Slack edge.
SLACK = ("bot.slack", "slack_sdk", "slack_bolt")
# (folder, modules nothing under it may import)
RULES = [
    ("knowledge", (*SLACK, "bot.escalation", "bot.conversation", "bot.console")),
    ("bot/conversation", (*SLACK, "bot.escalation", "bot.console", "bot.cli")),
    ("bot/escalation", SLACK),
]
# The only modules outside bot/slack that may import it: the command line and the
# terminal console, which start things.
SLACK_IMPORTERS = {"bot/cli.py", "bot/console.py"}


def module_of(path: Path) -> str:
    """
    The dotted module name of a file under ROOT.
    """
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(source: str, module: str, *, package: bool = False) -> set[str]:
    """
    Every module a source file imports, relative imports resolved, at any depth.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if package else 0)
                base = ".".join([*parts[:keep], *([base] if base else [])])
            names.add(base)
            # ``from bot import slack`` imports bot.slack.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def offends(name: str, banned: tuple[str, ...]) -> bool:
    """
    True when ``name`` is one of ``banned`` or inside one of them.
    """
    return any(name == b or name.startswith(b + ".") for b in banned)


def sources(folder: str) -> list[Path]:
    """
    The Python files under a folder of the repository.
    """
    return sorted((ROOT / folder).rglob("*.py"))


def violations(folder: str, banned: tuple[str, ...]) -> list[str]:
    """
    ``file: module`` for each banned import under a folder.
    """
    found = []
    for path in sources(folder):
        names = imported(
            path.read_text(encoding="utf-8"),
            module_of(path),
            package=path.name == "__init__.py",
        )
        found += [
            f"{path.relative_to(ROOT)}: {n}"
            for n in sorted(names)
            if offends(n, banned)
        ]
    return found


@pytest.mark.parametrize(("folder", "banned"), RULES, ids=[r[0] for r in RULES])
def test_layer_does_not_import_the_edges(folder: str, banned: tuple[str, ...]) -> None:
    """
    The knowledge base, conversation layer and escalation records import no edge.
    """
    assert sources(folder), f"{folder} has no Python files"
    assert violations(folder, banned) == []


def test_only_the_starters_import_the_slack_edge() -> None:
    """
    Outside bot/slack only the command line and the console import bot.slack.
    """
    outside = [
        p
        for p in sources("bot")
        if "slack" not in p.relative_to(ROOT / "bot").parts[:1]
        and str(p.relative_to(ROOT)) not in SLACK_IMPORTERS
    ]
    found = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in outside
        for n in sorted(imported(p.read_text(encoding="utf-8"), module_of(p)))
        if offends(n, ("bot.slack",))
    ]
    assert found == []


def test_the_check_sees_every_kind_of_import() -> None:
    """
    Imports inside functions, under TYPE_CHECKING and relative ones are all caught.
    """
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from bot.escalation.learning import Learning\n"
        "def f():\n"
        "    import slack_sdk.web\n"
        "from ..slack import blocks\n"
        "from bot import slack\n"
    )
    names = imported(source, "bot.conversation.engine")
    assert offends("bot.escalation.learning", ("bot.escalation",))
    assert {"bot.escalation.learning", "slack_sdk.web", "bot.slack.blocks"} <= names
    assert "bot.slack" in names
    assert not offends("bot.slackware", ("bot.slack",))
