"""
The desk at a glance, for the App Home tab and ``smtpbot report``: open escalations
with age and assignee, knowledge-base gaps, this week's top categories, and how each
entry fares.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TextIO

from bot.escalation.cards import duration, slack_date
from bot.escalation.learning import EntryStats, Learning
from bot.escalation.model import Escalation, Status
from bot.escalation.store import EscalationStore
from bot.slack.blocks import SECTION_LIMIT, cut, escape

# Home tab lists stop here: Slack allows 100 blocks in a view, and a long list helps no
# one.
LIST_LIMIT: Final = 15


@dataclass(frozen=True, slots=True)
class Overview:
    """
    The numbers behind the Home tab and the report.
    """

    active: tuple[Escalation, ...]
    gaps: tuple[str, ...]
    top: tuple[tuple[str, int], ...]
    entries: tuple[EntryStats, ...]


async def gather(escalations: EscalationStore, learning: Learning) -> Overview:
    """
    Read everything the overview shows.
    """
    active, gaps, top, entries = await asyncio.gather(
        escalations.active(),
        learning.gaps(limit=LIST_LIMIT),
        learning.top_categories(limit=5),
        learning.entries(),
    )
    return Overview(tuple(active), tuple(gaps), tuple(top), tuple(entries))


def _assignee(escalation: Escalation) -> str:
    if escalation.status == Status.CLAIMED:
        return f"claimed by <@{escalation.claimed_by}>"
    return "unclaimed"


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)},
    }


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _escalation_line(escalation: Escalation, now: float) -> str:
    link = (
        f"<{escalation.permalink}|thread>"
        if escalation.permalink
        else f"<#{escalation.key.channel_id}>"
    )
    return (
        f"• <@{escalation.asker}> ({link}) for {duration(escalation.age(now))}, "
        f"{_assignee(escalation)}"
    )


def home_view(
    data: Overview, *, user_id: str, admin: bool, now: float
) -> dict[str, Any]:
    """
    The Home tab: the whole desk for admins, a person's own open threads otherwise.
    """
    blocks: list[dict[str, Any]] = []
    if not admin:
        mine = [e for e in data.active if user_id in {e.asker, e.requested_by}]
        blocks.append(_header("Your open threads"))
        lines = [_escalation_line(e, now) for e in mine[:LIST_LIMIT]]
        blocks.append(
            _section(
                "\n".join(lines)
                or "You have no open threads with the support team. Paste a mail "
                "error in a support channel and I'll answer in its thread."
            )
        )
        return {"type": "home", "blocks": blocks}
    blocks.append(_header(f"Open escalations ({len(data.active)})"))
    lines = [_escalation_line(e, now) for e in data.active[:LIST_LIMIT]]
    blocks.append(_section("\n".join(lines) or "None open."))
    blocks.append(_header("Knowledge-base gaps"))
    gaps = [f"• `{escape(g.splitlines()[0] if g else g)}`" for g in data.gaps]
    blocks.append(_section("\n".join(gaps) or "No unmatched errors recorded."))
    blocks.append(_header("Top categories this week"))
    top = [f"• `{escape(c)}`: {n}" for c, n in data.top]
    blocks.append(_section("\n".join(top) or "No answers yet this week."))
    blocks.append(_header("Entries"))
    rows = [
        f"• `{escape(s.entry_id)}`: suggested {s.suggested}, helpful {s.helpful}, "
        f"rejected {s.rejected}, escalated {s.escalated}"
        for s in data.entries[:LIST_LIMIT]
    ]
    blocks.append(_section("\n".join(rows) or "No answers recorded yet."))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Updated {slack_date(now)}"}],
        }
    )
    return {"type": "home", "blocks": blocks}


def report_text(data: Overview, *, now: float) -> str:
    """
    The same overview as plain text for the terminal.
    """
    out = [f"Open escalations ({len(data.active)})"]
    for e in data.active:
        who = (
            f"claimed by {e.claimed_by}" if e.status == Status.CLAIMED else "unclaimed"
        )
        out.append(f"  {e.id}  asked by {e.asker}  for {duration(e.age(now))}  {who}")
    if not data.active:
        out.append("  none")
    out.append("")
    out.append("Knowledge-base gaps (newest unmatched errors)")
    out += [f"  {g.splitlines()[0] if g else g}" for g in data.gaps] or ["  none"]
    out.append("")
    out.append("Top categories this week")
    out += [f"  {c}: {n}" for c, n in data.top] or ["  none"]
    out.append("")
    out.append("Entries (suggested / helpful / rejected / escalated)")
    out += [
        f"  {s.entry_id}: {s.suggested} / {s.helpful} / {s.rejected} / {s.escalated}"
        for s in data.entries
    ] or ["  none"]
    return "\n".join(out)


def report_command(environ: Mapping[str, str], *, out: TextIO, err: TextIO) -> int:
    """
    ``smtpbot report``: print the overview from the Redis at REDIS_URL.
    """
    from bot.config import load_settings
    from bot.errors import ConfigError, StateUnavailableError
    from bot.state.redis_store import RedisStore

    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code
    if not settings.redis_url:
        print(
            "error: smtpbot report reads the bot's Redis; set REDIS_URL "
            "(e.g. redis://localhost:6379/0).",
            file=err,
        )
        return 2

    async def main() -> str:
        store = RedisStore.from_url(
            settings.redis_url or "",
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout,
        )
        try:
            data = await gather(
                EscalationStore(store.client, prefix=settings.redis_prefix),
                Learning(store.client, prefix=settings.redis_prefix),
            )
        finally:
            await store.close()
        return report_text(data, now=time.time())

    try:
        print(asyncio.run(main()), file=out)
    except StateUnavailableError as exc:
        print(f"error: {exc}", file=err)
        return 1
    return 0
