"""
The end of ``smtpbot check``: verdicts, knowledge-base links, the JSON or the report,
and the exit code of DESIGN.md (0 ok/warn, 1 fail). Shared by the engine's path and the
quick path (``bot.probe.quick``), so both print the same thing.
"""

from __future__ import annotations

import json
from typing import TextIO

from bot.probe.kb import KbLink, kb_links
from bot.probe.model import ProbeResult
from bot.probe.render import print_report, result_json
from bot.probe.verdict import Severity, Verdict, assess


def emit(
    results: list[ProbeResult], *, as_json: bool, several: bool, out: TextIO
) -> int:
    """
    Print the results (one JSON object, an array for several, or the report) and
    return the exit code.
    """
    verdicts = [assess(r) for r in results]
    failing = [
        name
        for v in verdicts
        for f in v.findings
        if f.severity is Severity.FAIL
        for name in (f.entry, f.category)
    ]
    links = kb_links(failing)
    if as_json:
        objects = [
            result_json(r, v, links) for r, v in zip(results, verdicts, strict=True)
        ]
        out.write(
            json.dumps(objects if several else objects[0], ensure_ascii=False) + "\n"
        )
    else:
        _print_human(out, results, verdicts, links, summary=several)
    # A sweep asks "which port can a client use?": one working port is enough.
    return 0 if any(v.verdict != "fail" for v in verdicts) else 1


def _print_human(
    out: TextIO,
    results: list[ProbeResult],
    verdicts: list[Verdict],
    links: dict[str, KbLink],
    *,
    summary: bool,
) -> None:
    """
    Print a report per port and, for several, one line saying which to use.
    """
    from rich.console import Console

    console = Console(file=out, highlight=False, soft_wrap=False)
    for result, verdict in zip(results, verdicts, strict=True):
        print_report(console, result, verdict, links)
    if not summary:
        return
    usable = [
        f"{r.host} port {r.port} ({r.mode}, {v.verdict})"
        for r, v in zip(results, verdicts, strict=True)
        if v.verdict != "fail"
    ]
    console.print("Use: " + "; ".join(usable) if usable else "No probed port works.")
