"""
What one answered message costs, counted (never timed): Redis commands (the server's
own INFO commandstats, on a Redis of the test's own) and Slack Web API calls, with the
bot as real processes (`run --http --workers 2`) answering a backlog of support pastes
queued by the front's intake. A change that adds a Redis command or a Web API call per
message fails here rather than only in the benchmark (bench/slack_bench.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.metrics import Metrics
from bot.slack.intake import Intake
from tests.support.bot import make_settings
from tests.support.front import bot_env, front_process, until, wait_workers
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import wait_healthy
from tests.support.redis import new_prefix, redis_server
from tests.support.slack import (
    FakeSlack,
    answer_counts,
    event_request,
    message_event,
    verified,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]
# Pastes queued before the workers start (a worker's first read could take a full
# batch of them).
PASTES = 200
# Per message today: the front's append script (EVAL: XLEN, SET of the replay key,
# XADD, EXPIRE) and the worker's two pipelines (SET NX of two dedupe keys, LRANGE;
# RPUSH, LTRIM, EXPIRE, and the learning counters' HINCRBY, ZINCRBY, EXPIRE): 14.
MAX_COMMANDS_PER_MESSAGE = 14
# Whatever the number of messages: three processes starting (the escalation desk's
# first look) and each batch's XACK, XDEL and progress note. One more command per
# message (200) goes over.
FIXED_COMMANDS = 100
# Commands whose number follows the clock, not the traffic: reads that wait for work,
# the token guard's look at most once a second per process, connection set-up. Not
# counted.
POLLING = frozenset(
    {"xreadgroup", "xautoclaim", "xpending", "xinfo|groups", "xgroup|create", "ping"}
    | {"exists", "hello", "select", "info", "client|setname", "client|setinfo"}
    | {"role"}
)


async def command_counts(client: aioredis.Redis) -> dict[str, int]:
    """
    Calls per command since the server started (``cmdstat_get`` -> ``get``).
    """
    stats = await client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(values["calls"])
        for name, values in stats.items()
    }


async def test_an_answered_paste_costs_one_post_and_a_bounded_number_of_commands(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    A backlog of pastes is answered once each, with one chat.postMessage per paste,
    at most one auth.test per process (not one per message of a worker's first
    batch), and at most MAX_COMMANDS_PER_MESSAGE Redis commands per paste (plus a
    fixed allowance).
    """
    with redis_server(tmp_path) as (url, _):
        prefix = new_prefix()
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            before = await command_counts(client)
            intake = Intake(
                make_settings(fake_slack, url, prefix), client, metrics=Metrics()
            )
            stamps = [f"1700004{n:03d}.000100" for n in range(PASTES)]
            assert stamps == sorted(stamps)
            for ts in stamps:
                payload = message_event(STARTTLS_PASTE, ts=ts)
                response = await intake.offer(verified(*event_request(payload)))
                assert response is not None and response.status == 200
            # The desk's reminder tick once, at start (a tick is not a message's cost).
            env = {
                **bot_env(fake_slack, url, prefix),
                "ESCALATION_TICK_SECONDS": "3600",
            }
            with front_process(env, tmp_path, workers=2) as front:
                await wait_healthy(front.base, front.process, timeout=30)
                await wait_workers(front, 2, timeout=20)
                await until(
                    lambda: set(stamps) <= set(answer_counts(fake_slack)),
                    timeout=120,
                    what="every paste answered",
                )
                await fake_slack.settle(1.0)
                after = await command_counts(client)
        finally:
            await client.aclose()
    counts = answer_counts(fake_slack)
    assert sorted(counts) == stamps
    assert set(counts.values()) == {1}
    calls: dict[str, int] = {}
    for call in fake_slack.calls:
        calls[call.method] = calls.get(call.method, 0) + 1
    assert calls.pop("chat.postMessage") == PASTES
    # The front and each worker ask who the bot token is at most once.
    assert calls.get("auth.test", 0) <= 3, calls
    assert sum(calls.values()) <= 3, calls
    spent = {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if name not in POLLING and calls > before.get(name, 0)
    }
    total = sum(spent.values())
    assert total <= MAX_COMMANDS_PER_MESSAGE * PASTES + FIXED_COMMANDS, spent
