"""
The learning loop: per-entry counters, unmatched errors, the App Home tab and
``smtpbot report``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from bot.config import Settings
from bot.conversation.turns import looks_like_error
from bot.errors import ConfigError
from bot.escalation.overview import duration
from bot.slack import blocks
from tests.escalation.conftest import (
    ENTRY,
    DeskBot,
    answered_thread,
    thread_value,
)
from tests.support.slack import ADMIN, USER, message_event

ROOT = Path(__file__).resolve().parents[2]
GAP = "Error: quux frobnicator refused the widget password=hunter2"


async def test_counters_follow_suggestions_feedback_and_escalations(
    desk_bot: DeskBot,
) -> None:
    """
    Answers, "yes"/"no" and escalations are counted per entry; unmatched errors kept.
    """
    await answered_thread(desk_bot, "1700000300.000100")
    await answered_thread(desk_bot, "1700000301.000100")
    await desk_bot.click(blocks.FEEDBACK_YES, thread_value("1700000300.000100", ENTRY))
    await desk_bot.click(blocks.FEEDBACK_NO, thread_value("1700000301.000100", ENTRY))
    await desk_bot.click(blocks.HUMAN, thread_value("1700000301.000100"))
    await desk_bot.send(message_event(GAP, ts="1700000302.000100"))
    await desk_bot.send(message_event("good morning all", ts="1700000303.000100"))
    await desk_bot.settle()
    learning = desk_bot.desk.learning
    (stats,) = await learning.entries()
    assert (stats.entry_id, stats.suggested, stats.helpful) == (ENTRY, 2, 1)
    assert (stats.rejected, stats.escalated) == (1, 1)
    (gap,) = await learning.gaps()
    assert "quux frobnicator" in gap and "hunter2" not in gap
    assert await learning.top_categories() == [("starttls-required", 2)]


async def test_admins_see_the_desk_on_app_home(desk_bot: DeskBot) -> None:
    """
    An admin's Home tab lists open escalations with age and assignee, gaps and top
    categories.
    """
    await answered_thread(desk_bot, "1700000310.000100")
    await desk_bot.click(blocks.HUMAN, thread_value("1700000310.000100"))
    await desk_bot.send(message_event(GAP, ts="1700000311.000100"))
    await desk_bot.settle()
    desk_bot.clock.advance(600)
    home = message_event("", ts="1700000312.000100")
    home["event"] = {"type": "app_home_opened", "user": ADMIN, "tab": "home"}
    assert await desk_bot.send(home) == 200
    await desk_bot.settle()
    (published,) = desk_bot.fake.of("views.publish")
    assert published.args["user_id"] == ADMIN
    view = json.dumps(published.args["view"])
    assert published.args["view"]["type"] == "home"
    assert "Open escalations (1)" in view
    assert f"<@{USER}>" in view and "for 10 min, unclaimed" in view
    assert "quux frobnicator" in view
    assert "starttls-required" in view


async def test_others_see_their_own_open_threads(desk_bot: DeskBot) -> None:
    """
    A non-admin's Home tab shows only their own open threads.
    """
    await answered_thread(desk_bot, "1700000320.000100")
    await desk_bot.click(blocks.HUMAN, thread_value("1700000320.000100"))
    await desk_bot.settle()
    for user in (USER, "U0STRANGER"):
        event = message_event("", ts="1700000321.000100")
        event["event"] = {"type": "app_home_opened", "user": user, "tab": "home"}
        await desk_bot.send(event)
        await desk_bot.settle()
    mine, theirs = desk_bot.fake.of("views.publish")
    assert "Your open threads" in json.dumps(mine.args["view"])
    assert "unclaimed" in json.dumps(mine.args["view"])
    assert "Open escalations" not in json.dumps(mine.args["view"])
    assert "no open threads" in json.dumps(theirs.args["view"])


async def report(env: dict[str, str]) -> tuple[int, str, str]:
    """
    Run ``python -m bot report`` with the given environment.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "report",
        env={**base, "PYTHONPATH": str(ROOT), **env},
        cwd=tempfile.gettempdir(),  # no .env of the checkout is read
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_report_prints_the_desk(desk_bot: DeskBot, redis_url: str) -> None:
    """
    ``smtpbot report`` prints open escalations, gaps, categories and entry counters.
    """
    await answered_thread(desk_bot, "1700000330.000100")
    await desk_bot.click(blocks.HUMAN, thread_value("1700000330.000100"))
    await desk_bot.send(message_event(GAP, ts="1700000331.000100"))
    await desk_bot.settle()
    code, out, err = await report(
        {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": desk_bot.settings.redis_prefix}
    )
    assert code == 0, err
    assert "Open escalations (1)" in out and "unclaimed" in out
    assert "quux frobnicator" in out
    assert "starttls-required: 1" in out
    assert f"{ENTRY}: 1 / 0 / 0 / 1" in out


@pytest.mark.slow
async def test_report_without_redis_url_says_so() -> None:
    """
    Without REDIS_URL the report explains what it needs and exits 2.
    """
    code, _, err = await report({})
    assert code == 2
    assert "REDIS_URL" in err


def test_reaction_setting_is_validated() -> None:
    """
    ESCALATION_REACTION takes an emoji name (colons allowed) and rejects others.
    """
    assert Settings.from_env({}).escalation_reaction == "sos"
    assert Settings.from_env({"ESCALATION_REACTION": ":fire:"}).escalation_reaction == (
        "fire"
    )
    with pytest.raises(ConfigError, match="ESCALATION_REACTION"):
        Settings.from_env({"ESCALATION_REACTION": "not an emoji"})


def test_durations_and_error_detection() -> None:
    """
    Card durations read naturally; chatter is not an error, codes and words are.
    """
    assert [duration(s) for s in (5, 900, 3900, 3600, 90000)] == [
        "5 s",
        "15 min",
        "1 h 5 min",
        "1 h",
        "1 d 1 h",
    ]
    assert looks_like_error("550 5.1.1 user unknown")
    assert looks_like_error("Outlook says 0x800CCC0E")
    assert not looks_like_error("thanks, that worked!")


async def test_unmatched_errors_expire_and_are_stored_redacted(
    redis_url: str, prefix: str
) -> None:
    """
    The gaps store holds redacted text only, in a key that expires, drops errors
    older than its retention, and removes the old non-expiring list.
    """
    import redis.asyncio as aioredis

    from bot.escalation.learning import GAPS_RETENTION, Learning
    from tests.support.bot import delete_prefix

    now = [1_800_000_000.0]
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    learning = Learning(client, prefix=prefix, clock=lambda: now[0])
    try:
        await client.rpush(f"{prefix}learn:unmatched", "verbatim paste password=x")
        await learning.unmatched("old error: quux refused\nPASS hunter2")
        now[0] += GAPS_RETENTION + 60
        await learning.unmatched(f"{GAP}\nAUTH PLAIN dXNlcjpodW50ZXIy")
        assert await learning.gaps() == [
            "Error: quux frobnicator refused the widget password=[redacted]\n"
            "AUTH PLAIN [redacted]"
        ]
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        assert keys == [f"{prefix}learn:gaps"]
        assert 0 < await client.ttl(keys[0]) <= GAPS_RETENTION
        stored = await client.zrange(keys[0], 0, -1)
        assert all("hunter2" not in s and "dXNlcjpodW50ZXIy" not in s for s in stored)
    finally:
        await delete_prefix(redis_url, prefix)
        await client.aclose()
