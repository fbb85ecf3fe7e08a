"""
A domain report for programs (the ``check DOMAIN --mx --json`` object) and for
people (the per-MX probe tables, then the domain's verdict, policies and advice in
plain words).

``rich`` is imported only when text is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.mxcheck.model import DomainReport, Level, Reason
from bot.probe.kb import KbLink, kb_links
from bot.probe.render import print_report, result_json
from bot.probe.verdict import Severity

if TYPE_CHECKING:
    from rich.console import Console

VERDICT_WORDS = {
    "ok": "OK: senders can deliver to every MX host the way the domain's policies ask",
    "warn": "WARN: mail gets through, but something needs attention",
    "fail": "FAIL: some or all senders will defer or bounce mail to this domain",
}
_MARKS = {Level.FAIL: "✗", Level.WARN: "!", Level.INFO: "i"}
_STYLES = {
    "ok": "bold green",
    "pass": "bold green",
    "warn": "bold yellow",
    "fail": "bold red",
    "none": "bold",
}


class Links:
    """
    Knowledge-base links for a report: per probe category and per entry id.
    """

    def __init__(self, report: DomainReport) -> None:
        """
        Load what the report's failures and warnings refer to (nothing when all is
        well).
        """
        self.categories: dict[str, KbLink] = kb_links(
            name
            for check in report.mx
            if check.verdict is not None
            for f in check.verdict.findings
            if f.severity is Severity.FAIL
            for name in (f.entry, f.category)
        )
        wanted = {
            r.kb_entry
            for r in _all_reasons(report)
            if r.kb_entry and r.level is not Level.INFO
        }
        # A missing TLS-RPT record is advice worth linking even though it never fails.
        wanted |= {r.kb_entry for r in report.tls_rpt.reasons if r.kb_entry}
        self.entries: dict[str, KbLink] = kb_links(wanted)


def _all_reasons(report: DomainReport) -> Iterable[Reason]:
    """
    Every reason in the report.
    """
    yield from report.reasons
    yield from report.mta_sts.reasons
    yield from report.dane.reasons
    yield from report.tls_rpt.reasons


def report_json(report: DomainReport, links: Links | None = None) -> dict[str, Any]:
    """
    The ``check DOMAIN --mx --json`` object.
    """
    links = links or Links(report)
    sts, dane, rpt = report.mta_sts, report.dane, report.tls_rpt
    return {
        "domain": report.domain,
        "verdict": report.verdict,
        "reasons": [r.text for r in report.reasons],
        "mx": [
            {
                "preference": check.mx.preference,
                "host": check.mx.host,
                "implicit": check.mx.implicit,
                "probe": None
                if check.probe is None or check.verdict is None
                else result_json(check.probe, check.verdict, links.categories),
            }
            for check in report.mx
        ],
        "mta_sts": {
            "result": str(sts.result),
            "mode": sts.mode,
            "policy_id": sts.policy_id,
            "policy_url": sts.policy_url,
            "mx_patterns": list(sts.mx_patterns),
            "max_age": sts.max_age,
            "record": sts.record,
            "hosts": [
                {"host": h.host, "pattern": h.pattern, "valid": h.valid}
                for h in sts.hosts
            ],
            **_reasons_json(sts.reasons, links),
        },
        "dane": {
            "result": str(dane.result),
            "dnssec": dane.dnssec,
            "tlsa": [
                {
                    "host": h.host,
                    "name": h.name,
                    "result": str(h.result),
                    "dnssec": h.dnssec,
                    "in_effect": h.in_effect,
                    "records": list(h.records),
                    "matched": h.matched,
                    "reasons": [r.text for r in h.reasons],
                }
                for h in dane.hosts
            ],
            **_reasons_json(dane.reasons, links),
        },
        "tls_rpt": {
            "result": str(rpt.result),
            "record": rpt.record,
            "rua": list(rpt.rua),
            **_reasons_json(rpt.reasons, links),
        },
        "checked_at": report.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "total_ms": report.total_ms,
    }


def _reasons_json(reasons: tuple[Reason, ...], links: Links) -> dict[str, Any]:
    """
    Reasons as sentences, the advice for them, and the knowledge entry that explains
    them.
    """
    advice = list(dict.fromkeys(r.advice for r in reasons if r.advice))
    entry = next(
        (links.entries[r.kb_entry] for r in reasons if r.kb_entry in links.entries),
        None,
    )
    return {
        "reasons": [r.text for r in reasons],
        "advice": advice,
        "kb_entry": entry.id if entry else None,
    }


def print_domain(console: Console, report: DomainReport, links: Links) -> None:
    """
    Print each MX's probe table, then the domain's verdict, MX list and policies.
    """
    from rich.text import Text

    for check in report.mx:
        if check.probe is not None and check.verdict is not None:
            print_report(console, check.probe, check.verdict, links.categories)
    console.print(
        Text(
            f"{report.domain}: {VERDICT_WORDS[report.verdict]}",
            style=_STYLES[report.verdict],
        )
    )
    console.print(Text("MX hosts", style="bold"))
    for check in report.mx:
        verdict = check.verdict
        state = "not probed" if verdict is None else verdict.verdict
        if verdict is not None and verdict.category:
            state += f" ({verdict.category})"
        implicit = (
            " (no MX records: the domain itself, RFC 5321 §5.1)"
            if check.mx.implicit
            else ""
        )
        console.print(f"  {check.mx.preference:>5} {check.mx.host}  {state}{implicit}")
    _print_reasons(console, report.reasons, links)
    sts = report.mta_sts
    detail = ", ".join(
        x
        for x in (
            f"mode {sts.mode}" if sts.mode else "",
            f"id {sts.policy_id}" if sts.policy_id else "",
            f"mx {' '.join(sts.mx_patterns)}" if sts.mx_patterns else "",
            sts.policy_url or "",
        )
        if x
    )
    _print_section(console, "MTA-STS", str(sts.result), detail, sts.reasons, links)
    dane = report.dane
    signed = (
        "MX records DNSSEC-validated"
        if dane.dnssec
        else "MX records not DNSSEC-validated"
    )
    _print_section(console, "DANE", str(dane.result), signed, dane.reasons, links)
    rpt = report.tls_rpt
    _print_section(
        console, "TLS-RPT", str(rpt.result), ", ".join(rpt.rua), rpt.reasons, links
    )


def _print_section(
    console: Console,
    title: str,
    result: str,
    detail: str,
    reasons: tuple[Reason, ...],
    links: Links,
) -> None:
    """
    One mechanism: its result, the facts, then each reason with advice and link.
    """
    from rich.text import Text

    line = Text(f"{title}: ", style="bold")
    line.append(result.upper(), style=_STYLES.get(result, "bold"))
    if detail:
        line.append(f" ({detail})")
    console.print(line)
    _print_reasons(console, reasons, links)


def _print_reasons(console: Console, reasons: tuple[Reason, ...], links: Links) -> None:
    """
    Each reason, then its advice and knowledge-base entry (once per piece of advice).
    """
    from rich.text import Text

    shown: set[str] = set()
    for reason in reasons:
        console.print(Text(f" {_MARKS[reason.level]} {reason.text}"))
        if reason.advice and reason.advice not in shown:
            shown.add(reason.advice)
            console.print(Text(f"   → {reason.advice}", style="dim"))
            link = links.entries.get(reason.kb_entry or "")
            if link is not None:
                console.print(
                    Text(f"   knowledge base: {link.title} [{link.id}]", style="dim")
                )
