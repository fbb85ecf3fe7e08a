"""
The App Home tab in Block Kit: the desk for admins (open escalations, knowledge-base
gaps, this week's top categories, how each entry fares), a person's own open threads
for everyone else. Pure; the numbers come from ``bot.escalation.overview``.
"""

from __future__ import annotations

from typing import Any

from bot.escalation.model import Escalation, Status
from bot.escalation.overview import LIST_LIMIT, Overview, duration
from bot.slack.blocks import SECTION_LIMIT, cut, escape
from bot.slack.escalation.cards import slack_date


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
