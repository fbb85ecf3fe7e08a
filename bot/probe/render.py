"""
Probe results for people and programs: the JSON object of DESIGN.md (``smtpbot check
--json``) and a rich table with a tick per phase, the verdict in plain words and advice.

``rich`` is imported only when a table is drawn, so ``--json`` never loads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.probe.kb import KbLink, link_for
from bot.probe.model import ProbeResult
from bot.probe.verdict import Finding, Severity, Verdict, days_left

if TYPE_CHECKING:
    from rich.console import Console

# Phase names in JSON and how the table calls them, in session order.
PHASE_TITLES = {
    "resolve": "DNS lookup",
    "connect": "TCP connect",
    "banner": "greeting",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "handshake": "TLS handshake",
    "certificate": "certificate",
    "ehlo_tls": "EHLO over TLS",
    "quit": "QUIT",
}
_VERDICT_WORDS = {
    "ok": "OK: a mail client can connect with TLS and trust the certificate",
    "warn": "WARN: it works, but something needs attention",
    "fail": "FAIL: a mail client would fail here",
}
_MARKS = {Severity.FAIL: "✗", Severity.WARN: "!", Severity.INFO: "i"}


def result_json(
    result: ProbeResult, verdict: Verdict, links: dict[str, KbLink] | None = None
) -> dict[str, Any]:
    """
    The DESIGN.md ``--json`` object for one probed port.
    """
    links = links or {}
    timings = {p.name: p.ms for p in result.phases}
    timings["total"] = result.total_ms
    return {
        "target": {
            "host": result.host,
            "port": result.port,
            "address": result.address,
            "servername": result.servername,
        },
        "mode": str(result.mode or result.requested_mode),
        "requested_mode": str(result.requested_mode),
        "verdict": verdict.verdict,
        "category": verdict.category,
        "findings": [_finding_json(f, links) for f in verdict.findings],
        "banner": result.banner,
        "extensions_before_tls": list(result.extensions_before_tls),
        "extensions_after_tls": list(result.extensions_after_tls),
        "auth_before_tls": list(result.auth_before_tls),
        "auth_after_tls": list(result.auth_after_tls),
        "tls": None
        if result.tls is None
        else {"version": result.tls.version, "cipher": result.tls.cipher},
        "certificate": _certificate_json(result),
        "timings_ms": timings,
        "phases": [
            {"name": p.name, "ok": p.ok, "ms": p.ms, "detail": p.detail}
            for p in result.phases
        ],
        "addresses": list(result.addresses),
        "checked_at": _iso(result.checked_at),
    }


def _finding_json(finding: Finding, links: dict[str, KbLink]) -> dict[str, Any]:
    """
    One finding; a failing one names the knowledge-base entry that explains it
    (``kb_entry``, ``kb_title``), when the base has one.
    """
    data = {
        "id": finding.id,
        "severity": str(finding.severity),
        "message": finding.message,
        "advice": finding.advice,
    }
    if finding.category:
        data["category"] = finding.category
        link = link_for(finding.entry, finding.category, links)
        if link is not None:
            data["kb_entry"] = link.id
            data["kb_title"] = link.title
    return data


def _certificate_json(result: ProbeResult) -> dict[str, Any] | None:
    """
    The certificate as seen, and whether a verifying client accepts it.
    """
    check = result.cert
    if check is None:
        return None
    data: dict[str, Any] = {
        "trusted": check.trusted,
        "hostname_match": check.hostname_match,
        "name": check.name,
        "verify_error": check.verify_message,
    }
    info = check.info
    if info is not None:
        data |= {
            "subject": info.subject,
            "issuer": info.issuer,
            "sans": list(info.sans),
            "not_before": _iso(info.not_before),
            "not_after": _iso(info.not_after),
            "days_left": days_left(info.not_after, result.checked_at),
            "self_signed": info.self_signed,
            "key_type": info.key_type,
            "key_size": info.key_size,
            "sha256": info.sha256,
        }
    return data


def _iso(moment: datetime) -> str:
    """
    An aware UTC datetime as ``2027-01-01T00:00:00Z``.
    """
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def print_report(
    console: Console,
    result: ProbeResult,
    verdict: Verdict,
    links: dict[str, KbLink] | None = None,
) -> None:
    """
    Print one port's report: the phase table, the verdict in words, then the findings.
    """
    from rich.table import Table
    from rich.text import Text

    links = links or {}
    mode = result.mode or result.requested_mode
    title = Text(f"{result.host} port {result.port} ({mode})", style="bold")
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column, justify in (
        ("step", "left"),
        ("", "center"),
        ("ms", "right"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    rows = [(p.name, p.ok, f"{p.ms:.1f}", p.detail) for p in result.phases]
    certificate = _certificate_row(result)
    if certificate is not None:
        at = next((i + 1 for i, r in enumerate(rows) if r[0] == "handshake"), len(rows))
        rows.insert(at, certificate)
    for name, ok, ms, detail in rows:
        mark = Text("✓", style="green") if ok else Text("✗", style="red")
        table.add_row(PHASE_TITLES.get(name, name), mark, ms, Text(detail))
    console.print(table)
    style = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red"}[
        verdict.verdict
    ]
    words = _VERDICT_WORDS[verdict.verdict]
    if verdict.category:
        words += f" ({verdict.category})"
    console.print(Text(words, style=style))
    for finding in verdict.findings:
        line = Text(f" {_MARKS[finding.severity]} {finding.message}")
        console.print(line)
        console.print(Text(f"   → {finding.advice}", style="dim"))
        link = link_for(finding.entry, finding.category, links)
        if link is not None and finding.severity is Severity.FAIL:
            console.print(
                Text(f"   knowledge base: {link.title} [{link.id}]", style="dim")
            )
    console.print()


def _certificate_row(result: ProbeResult) -> tuple[str, bool, str, str] | None:
    """
    A table row summing up the certificate: trusted, matching, dates.
    """
    check = result.cert
    if check is None:
        return None
    info = check.info
    problems = []
    if not check.trusted:
        problems.append(check.verify_message or "not trusted")
    if check.hostname_match is False:
        problems.append(f"not valid for {check.name}")
    if info is None:
        return ("certificate", False, "", "; ".join(problems) or "not captured")
    left = days_left(info.not_after, result.checked_at)
    if not problems and not info.not_before <= result.checked_at <= info.not_after:
        problems.append("outside its validity dates")
    name = info.common_name or (info.sans[0] if info.sans else info.subject)
    summary = f"{name}, {left} days left, {info.key_type} {info.key_size or ''}".strip()
    if problems:
        summary = "; ".join(problems) + f" ({summary})"
    return ("certificate", not problems, "", summary)
