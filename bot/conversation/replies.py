"""
What the bot says, independent of where it is shown: the ``Reply`` model, built from a
diagnosis or a probe, and its plain-text rendering for the terminal console.

Slack's Block Kit rendering lives in ``bot.slack.blocks``. Pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from bot.conversation.checks import DomainSummary, ProbeSummary
from knowledge.categories import CATEGORIES
from knowledge.matcher import Candidate, Diagnosis
from knowledge.model import CodeInfo, Entry


class ReplyKind(enum.StrEnum):
    """
    The kinds of answer the engine gives.
    """

    ANSWER = "answer"  # a knowledge-base entry: title, cause, fix, sources
    CODES = "codes"  # no entry fits, but the codes in the paste are explained
    CHOICES = "choices"  # not sure: "is it one of these?"
    PROBE_OFFER = "probe-offer"  # a follow-up named a server: offer to check it
    REPEAT = "repeat"  # the same error again: point back to the earlier answer


@dataclass(frozen=True, slots=True)
class SourceLink:
    """
    Where advice comes from: a URL, or a guidance file shown by title.
    """

    title: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CodeLine:
    """
    One explained code.
    """

    code: str
    title: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Choice:
    """
    An alternative offered when the match is not sure.
    """

    entry_id: str
    title: str
    category: str


@dataclass(frozen=True, slots=True)
class Reply:
    """
    One answer in a thread; ``server`` set means "offer the STARTTLS check on it".
    """

    kind: ReplyKind
    category: str = "none"
    entry_id: str | None = None
    title: str = ""
    cause: str = ""
    steps: tuple[str, ...] = ()
    sources: tuple[SourceLink, ...] = ()
    codes: tuple[CodeLine, ...] = ()
    choices: tuple[Choice, ...] = ()
    server: str | None = None


def _choices(candidates: tuple[Candidate, ...]) -> tuple[Choice, ...]:
    return tuple(
        Choice(c.entry.id, c.entry.title, c.entry.category) for c in candidates
    )


def _codes(infos: tuple[CodeInfo, ...]) -> tuple[CodeLine, ...]:
    return tuple(CodeLine(i.code, i.title, i.meaning) for i in infos)


def answer_reply(
    entry: Entry, *, server: str | None, explanations: tuple[CodeInfo, ...] = ()
) -> Reply:
    """
    The full answer for one knowledge-base entry.
    """
    return Reply(
        kind=ReplyKind.ANSWER,
        category=entry.category,
        entry_id=entry.id,
        title=entry.title,
        cause=entry.cause,
        steps=tuple(entry.fix),
        sources=tuple(SourceLink(s.title, s.url) for s in entry.sources),
        codes=_codes(explanations),
        server=server,
    )


def diagnosis_reply(diagnosis: Diagnosis, *, server: str | None) -> Reply | None:
    """
    The reply for a diagnosis, or None when the bot should stay silent.
    """
    if diagnosis.entry is not None:
        reply = answer_reply(
            diagnosis.entry, server=server, explanations=diagnosis.explanations
        )
        # Read from the paste's structure rather than a close match: say so.
        return (
            replace(reply, title=f"Most likely: {reply.title}")
            if diagnosis.uncertain
            else reply
        )
    if diagnosis.uncertain and diagnosis.category in CATEGORIES:
        meaning = CATEGORIES[diagnosis.category]
        return Reply(
            kind=ReplyKind.CODES,
            category=diagnosis.category,
            title=f"Most likely: {meaning[:1].upper()}{meaning[1:]}",
            cause=(
                "No known message matches this paste closely; this is what its "
                + (
                    "wording points to."
                    if diagnosis.basis == "learned"
                    else "codes and error names point to."
                )
            ),
            codes=_codes(diagnosis.explanations),
            choices=_choices(diagnosis.alternatives),
            server=server,
        )
    if diagnosis.decision == "ambiguous" and diagnosis.alternatives:
        return Reply(
            kind=ReplyKind.CHOICES,
            title="Not sure yet. Is it one of these?",
            choices=_choices(diagnosis.alternatives),
            server=server,
        )
    if diagnosis.explanations:
        title = "What the codes in your message mean"
        return Reply(
            kind=ReplyKind.CODES,
            category=diagnosis.category,
            title=title,
            codes=_codes(diagnosis.explanations),
            choices=_choices(diagnosis.alternatives),
            server=server,
        )
    return None


def probe_offer_reply(server: str) -> Reply:
    """
    A short reply offering to check a server named in a follow-up.
    """
    return Reply(
        kind=ReplyKind.PROBE_OFFER,
        title=f"I can check {server} for you.",
        server=server,
    )


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """
    A finished (or refused) probe with the knowledge-base advice for its failures.
    """

    target: str
    summaries: tuple[ProbeSummary, ...] = ()
    advice: tuple[Reply, ...] = ()
    refused: str | None = None
    # A mail domain's check (``--mx``): the verdict and MTA-STS, DANE and TLS-RPT.
    domain: DomainSummary | None = None


VERDICT_ICONS = {"ok": "OK", "warn": "WARN", "fail": "FAIL"}
# What a domain's verdict means, in a sender's words.
DOMAIN_VERDICTS = {
    "ok": "senders can deliver to every MX host the way the domain's policies ask",
    "warn": "mail gets through, but something needs attention",
    "fail": "some or all senders will defer or bounce mail to this domain",
}


def domain_head(domain: DomainSummary) -> str:
    """
    The domain's verdict in one line.
    """
    verdict = VERDICT_ICONS.get(domain.verdict, domain.verdict.upper())
    return f"{domain.domain}: {verdict}: {DOMAIN_VERDICTS.get(domain.verdict, '')}"


def policy_lines(domain: DomainSummary) -> list[list[str]]:
    """
    One block of plain lines per mechanism: the result and facts, then the reasons.
    """
    blocks = []
    for policy in domain.policies:
        head = f"{policy.name}: {policy.result.upper()}"
        if policy.detail:
            head += f" ({policy.detail})"
        lines = [head, *(f"  {r}" for r in policy.reasons)]
        lines += [f"  -> {a}" for a in policy.advice]
        blocks.append(lines)
    return blocks


def probe_lines(summary: ProbeSummary) -> list[str]:
    """
    Plain lines describing one probed port.
    """
    verdict = VERDICT_ICONS.get(summary.verdict, summary.verdict.upper())
    head = f"{summary.target}: {verdict}"
    if summary.category:
        head += f" ({summary.category})"
    lines = [head]
    lines.extend(
        f"  {f.severity}: {f.message}" + (f" -> {f.advice}" if f.advice else "")
        for f in summary.findings
    )
    if summary.tls:
        lines.append(f"  TLS: {summary.tls}")
    if summary.certificate:
        lines.append(f"  certificate: {summary.certificate}")
    return lines


def render_text(reply: Reply) -> str:
    """
    The reply as terminal text.
    """
    if reply.kind == ReplyKind.REPEAT:
        return f"{reply.title} {reply.cause}".replace("*", "")
    out: list[str] = [reply.title] if reply.title else []
    if reply.cause:
        out += ["", f"Why: {reply.cause}"]
    if reply.steps:
        out += ["", "Fix:"] + [
            f"  {n}. {step}" for n, step in enumerate(reply.steps, start=1)
        ]
    if reply.codes:
        out += [""] + [f"  {c.code}: {c.title}. {c.meaning}" for c in reply.codes]
    if reply.choices:
        label = (
            "Is it one of these?"
            if reply.kind == ReplyKind.CHOICES
            else "Also possible:"
        )
        out += ["", label] + [
            f"  {n}. {c.title} [{c.category}]"
            for n, c in enumerate(reply.choices, start=1)
        ]
    if reply.sources:
        out += [
            "",
            "Source: "
            + "; ".join(
                s.title + (f" <{s.url}>" if s.url else "") for s in reply.sources
            ),
        ]
    return "\n".join(out)


def render_probe_text(outcome: ProbeOutcome) -> str:
    """
    A probe report as terminal text.
    """
    if outcome.refused:
        return f"Not checked: {outcome.refused}"
    out: list[str] = []
    if outcome.domain is not None:
        out += [
            domain_head(outcome.domain),
            *(f"  {r}" for r in outcome.domain.reasons),
        ]
        for block in policy_lines(outcome.domain):
            out += block
    for summary in outcome.summaries:
        out += probe_lines(summary)
    for advice in outcome.advice:
        out += ["", "What to do: " + advice.title]
        out += [f"  {n}. {step}" for n, step in enumerate(advice.steps, start=1)]
    return "\n".join(out)
