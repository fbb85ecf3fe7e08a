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
from typing import Final, TextIO

from bot.escalation.learning import EntryStats, Learning
from bot.escalation.model import Escalation, Status
from bot.escalation.store import EscalationStore

# Home tab lists stop here: Slack allows 100 blocks in a view, and a long list helps no
# one.
LIST_LIMIT: Final = 15


def duration(seconds: float) -> str:
    """
    A short human duration: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``.
    """
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


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
