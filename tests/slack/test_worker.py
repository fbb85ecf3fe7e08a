"""
The intake stream's consumers: a queued message is answered once, in its thread, by the
workers' Bolt app and acknowledged after; redelivery and reclaim never answer twice; a
payload that breaks the app is acknowledged anyway; a Redis outage is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import pytest
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.metrics import Metrics
from bot.slack.app import build_app, make_web_client
from bot.slack.intake import Intake, stream_key
from bot.slack.probing import make_prober
from bot.slack.runtime import Bot as RuntimeBot
from bot.slack.runtime import make_worker, open_bot
from bot.slack.worker import GROUP, Dispatch, IntakeWorker, bolt_dispatch
from bot.state.redis_store import RedisStore
from knowledge.matcher import Matcher
from tests.support.bot import Bot, StartBot, delete_prefix, make_settings, running_bot
from tests.support.kb import STARTTLS_PASTE
from tests.support.redis import free_port, redis_server
from tests.support.slack import (
    CHANNEL,
    FakeSlack,
    event_request,
    message_event,
    verified,
)


class Running(Protocol):
    """
    A running bot's store and metrics (the test harness's or the runtime's).
    """

    @property
    def store(self) -> RedisStore: ...

    @property
    def metrics(self) -> Metrics: ...


def worker_app(bot: Bot, matcher: Matcher) -> AsyncApp:
    """
    The workers' Bolt app (verified upstream, listeners awaited) on the bot's store,
    Web API and metrics, with an engine of its own (as in another process).
    """
    return build_app(
        bot.settings,
        matcher=matcher,
        store=bot.store,
        prober=make_prober(bot.settings),
        client=make_web_client(bot.settings, metrics=bot.metrics),
        metrics=bot.metrics,
        verified_upstream=True,
    )


def worker_for(
    bot: Bot, dispatch: Dispatch, *, consumer: str = "w1", **options: Any
) -> IntakeWorker:
    """
    A consumer of the bot's intake stream with a short block.
    """
    return IntakeWorker(
        bot.store.client,
        stream_key(bot.settings.redis_prefix),
        dispatch=dispatch,
        metrics=bot.metrics,
        consumer=consumer,
        **{"block_ms": 50, **options},
    )


async def queue_paste(
    settings: Settings, running: Running, text: str = STARTTLS_PASTE, **extra: Any
) -> dict[str, Any]:
    """
    Queue a support-channel message through the front's intake; its payload.
    """
    payload = message_event(text, **extra)
    intake = Intake(settings, running.store.client, metrics=running.metrics)
    response = await intake.offer(verified(*event_request(payload)))
    assert response is not None and response.status == 200
    return payload


async def pending(running: Running, stream: str) -> int:
    """
    Entries delivered to the group and not acknowledged.
    """
    summary = await running.store.client.xpending(stream, GROUP)
    return int(summary["pending"])


async def requeue_first(running: Running, stream: str) -> None:
    """
    Add the stream's first entry again (a redelivery of the same message).
    """
    raw: Any = await running.store.client.xrange(stream, count=1)
    [(_, fields)] = raw
    await running.store.client.xadd(stream, dict(fields))


async def read_as(running: Running, consumer: str, stream: str) -> list[str]:
    """
    Take new entries as ``consumer`` of the group, without acknowledging them (a
    worker that dies); their ids.
    """
    raw: Any = await running.store.client.xreadgroup(
        GROUP, consumer, {stream: ">"}, count=10
    )
    return [str(entry_id) for _, entries in raw for entry_id, _ in entries]


@pytest.fixture
def stream(prefix: str) -> str:
    """
    This test's intake stream.
    """
    return stream_key(prefix)


async def test_queued_paste_is_answered_once_then_acknowledged(
    fake_slack: FakeSlack, redis_url: str, prefix: str, stream: str
) -> None:
    """
    With the runtime's apps (open_bot(worker=True)) and worker: one poll answers a
    queued paste in its thread before it returns (listeners are awaited), and leaves
    nothing pending; a group created after the entry was queued still gets it.
    """
    settings = make_settings(fake_slack, redis_url, prefix)
    try:
        async with open_bot(settings, worker=True) as running:
            assert running.worker_app is not None
            assert running.worker_app is not running.app
            payload = await queue_paste(settings, running)
            worker = make_worker(settings, running)
            await worker.ensure_group()
            assert await worker.poll() == 1
            [call] = fake_slack.of("chat.postMessage")
            assert call.args["channel"] == CHANNEL
            assert call.args["thread_ts"] == payload["event"]["ts"]
            assert "STARTTLS" in call.args["text"]
            assert await pending(running, stream) == 0
            assert running.metrics.events.labels("event:message")._value.get() == 1
            assert await worker.poll() == 0
            await fake_slack.settle()
            assert len(fake_slack.of("chat.postMessage")) == 1
    finally:
        await delete_prefix(redis_url, prefix)


async def test_the_same_entry_twice_in_one_batch_is_answered_once(
    bot: Bot, matcher: Matcher, stream: str
) -> None:
    """
    An entry queued twice (Slack's retry, or a re-added entry) and handled in one
    batch gets one reply; both copies are acknowledged.
    """
    await queue_paste(bot.settings, bot)
    await requeue_first(bot, stream)
    worker = worker_for(bot, bolt_dispatch(worker_app(bot, matcher)))
    await worker.ensure_group()
    assert await worker.poll() == 2
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert bot.metrics.deduplicated._value.get() >= 1
    assert await pending(bot, stream) == 0


async def test_redelivery_to_another_worker_is_not_answered_again(
    bot: Bot, matcher: Matcher, stream: str
) -> None:
    """
    Two workers with apps of their own (as in two processes) each take one copy of the
    same message: only the first answers (the dedupe keys are in Redis).
    """
    await queue_paste(bot.settings, bot)
    await requeue_first(bot, stream)
    first = worker_for(bot, bolt_dispatch(worker_app(bot, matcher)), batch=1)
    second = worker_for(
        bot, bolt_dispatch(worker_app(bot, matcher)), consumer="w2", batch=1
    )
    await first.ensure_group()
    await second.ensure_group()
    assert await first.poll() == 1
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert await second.poll() == 1
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1
    assert await pending(bot, stream) == 0


async def test_abandoned_entry_is_reclaimed_after_its_idle_time(
    bot: Bot, matcher: Matcher, stream: str
) -> None:
    """
    An entry consumer A took and never acknowledged is left alone while it is fresher
    than reclaim_ms, and between reclaim attempts (every reclaim_ms/2 by the clock);
    then B takes it over, answers it once and acknowledges it.
    """
    now = [0.0]
    worker = worker_for(
        bot,
        bolt_dispatch(worker_app(bot, matcher)),
        consumer="B",
        reclaim_ms=300,
        clock=lambda: now[0],
    )
    await worker.ensure_group()
    payload = await queue_paste(bot.settings, bot)
    assert len(await read_as(bot, "A", stream)) == 1
    assert await worker.poll() == 0  # idle for less than reclaim_ms
    await asyncio.sleep(0.4)
    assert await worker.poll() == 0  # idle long enough, but no reclaim is due yet
    assert bot.fake.of("chat.postMessage") == []
    detail = await bot.store.client.xpending_range(stream, GROUP, "-", "+", 10)
    assert [d["consumer"] for d in detail] == ["A"]
    now[0] = 0.15
    assert await worker.poll() == 1
    [call] = bot.fake.of("chat.postMessage")
    assert call.args["thread_ts"] == payload["event"]["ts"]
    assert await pending(bot, stream) == 0
    now[0] = 10.0
    assert await worker.poll() == 0
    await bot.fake.settle()
    assert len(bot.fake.of("chat.postMessage")) == 1


async def test_entry_deleted_while_pending_is_dropped_without_dispatch(
    bot: Bot, stream: str
) -> None:
    """
    An entry a dead consumer held, and that was trimmed from the stream since, is not
    dispatched when reclaimed, and does not stay pending.
    """
    seen: list[str] = []

    async def record(raw: str) -> None:
        seen.append(raw)

    worker = worker_for(bot, record, consumer="B", reclaim_ms=1)
    await worker.ensure_group()
    await queue_paste(bot.settings, bot)
    [entry_id] = await read_as(bot, "A", stream)
    await bot.store.client.xdel(stream, entry_id)
    await asyncio.sleep(0.01)
    assert await worker.poll() == 0
    assert seen == []
    assert await pending(bot, stream) == 0


async def test_entry_without_a_body_is_acknowledged_without_dispatch(
    bot: Bot, stream: str
) -> None:
    """
    An entry with no body field is acknowledged and not dispatched; the next entry
    is.
    """
    seen: list[str] = []

    async def record(raw: str) -> None:
        seen.append(raw)

    worker = worker_for(bot, record)
    await worker.ensure_group()
    await bot.store.client.xadd(stream, {"other": "x"})
    entry = await bot.store.client.xadd(stream, {"body": "{}"})
    assert await worker.poll() == 2
    # The payload reaches the app with its delivery (the entry id) added.
    assert [json.loads(raw) for raw in seen] == [{"_delivery": {"entry": entry}}]
    assert await pending(bot, stream) == 0


async def test_a_payload_that_breaks_the_app_is_acknowledged(
    bot: Bot, matcher: Matcher, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    """
    An entry Bolt cannot parse is logged and acknowledged (it does not come back), and
    the next entry is still answered.
    """
    worker = worker_for(bot, bolt_dispatch(worker_app(bot, matcher)), batch=1)
    await worker.ensure_group()
    await bot.store.client.xadd(stream, {"body": "{oops"})
    payload = await queue_paste(bot.settings, bot)
    with caplog.at_level(logging.ERROR, logger="bot.slack.worker"):
        assert await worker.poll() == 1
    assert "queued_event_failed" in caplog.text
    assert await pending(bot, stream) == 0
    assert await worker.poll() == 1
    [call] = bot.fake.of("chat.postMessage")
    assert call.args["thread_ts"] == payload["event"]["ts"]
    assert await pending(bot, stream) == 0


async def test_a_failing_dispatch_does_not_stop_its_batch(
    bot: Bot, matcher: Matcher, stream: str
) -> None:
    """
    A dispatch that raises for one entry of a batch: the other entries are still
    answered and the whole batch is acknowledged.
    """
    answer = bolt_dispatch(worker_app(bot, matcher))

    async def dispatch(raw: str) -> None:
        if "boom" in raw:
            raise RuntimeError("boom")
        await answer(raw)

    worker = worker_for(bot, dispatch)
    await worker.ensure_group()
    await queue_paste(bot.settings, bot, f"boom {STARTTLS_PASTE}")
    payload = await queue_paste(bot.settings, bot)
    assert await worker.poll() == 2
    [call] = bot.fake.of("chat.postMessage")
    assert call.args["thread_ts"] == payload["event"]["ts"]
    assert await pending(bot, stream) == 0
    assert worker.handled == 2


async def test_runtime_worker_idles_within_a_short_redis_timeout(
    start_bot: StartBot, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> None:
    """
    The runtime's worker on a store with a short REDIS_TIMEOUT (0.3 s, allowed down to
    0.05 s) polls an idle stream without a Redis error: its blocking read must end
    before the client's socket timeout.
    """
    async with start_bot(REDIS_TIMEOUT="0.3") as bot:
        runtime = RuntimeBot(
            app=bot.app, store=bot.store, metrics=bot.metrics, worker_app=bot.app
        )
        worker = make_worker(bot.settings, runtime)
        await worker.ensure_group()
        started = time.monotonic()
        assert await worker.poll() == 0
        assert time.monotonic() - started < 0.5
        assert bot.metrics.redis_errors._value.get() == 0


async def wait_until(condition: Any, timeout: float) -> None:
    """
    Poll ``condition()`` (sync or async) until it is true.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_run_waits_out_a_redis_outage(
    fake_slack: FakeSlack, prefix: str, matcher: Matcher, tmp_path: Path
) -> None:
    """
    run() answers a queued message, keeps running (counting errors) while Redis is
    down, recreates its group on the restarted (empty) Redis and answers the next
    message; it returns promptly when stopped.
    """
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    first = contextlib.ExitStack()
    restarted = contextlib.ExitStack()
    first.enter_context(redis_server(tmp_path, port=port))
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        async with running_bot(
            fake_slack, url, prefix, matcher, REDIS_TIMEOUT="0.3"
        ) as bot:
            worker = worker_for(bot, bolt_dispatch(worker_app(bot, matcher)))
            task = asyncio.create_task(worker.run(stop))
            await queue_paste(bot.settings, bot, ts="1700000100.000100")
            await fake_slack.wait_for("chat.postMessage", 1, timeout=3)
            await wait_until(lambda: worker.handled == 1, 2)  # answered and recorded

            first.close()
            await wait_until(lambda: bot.metrics.redis_errors._value.get() >= 2, 3)
            assert not task.done()

            restarted.enter_context(redis_server(tmp_path, port=port))
            second = await queue_paste(bot.settings, bot, ts="1700000200.000100")
            calls = await fake_slack.wait_for("chat.postMessage", 2, timeout=7)
            assert calls[1].args["thread_ts"] == second["event"]["ts"]
            assert not task.done()
            await wait_until(lambda: worker.handled == 2, 2)
            stop.set()
            await asyncio.wait_for(task, 2)
            assert await pending(bot, stream_key(prefix)) == 0
            await fake_slack.settle(0.1)
            assert len(fake_slack.of("chat.postMessage")) == 2
    finally:
        stop.set()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        first.close()
        restarted.close()


async def test_answered_entries_leave_the_stream(
    bot: Bot, matcher: Matcher, stream: str
) -> None:
    """
    Once a batch is answered and acknowledged its entries are deleted: the stream holds
    only work still to do, and no redacted paste outlives its conversation there.
    """
    for n in range(3):
        await queue_paste(bot.settings, bot, ts=f"1700000900.00010{n}")
    assert await bot.store.client.xlen(stream) == 3
    worker = worker_for(bot, bolt_dispatch(worker_app(bot, matcher)))
    await worker.ensure_group()
    assert await worker.poll() == 3
    assert await bot.store.client.xlen(stream) == 0
    assert len(bot.fake.of("chat.postMessage")) == 3
    # Progress for /readyz, in Redis's time: a backlog being drained is not stuck.
    finished = await bot.store.client.get(f"{stream}:finished")
    now = (await bot.store.client.time())[0]
    assert finished is not None and 0 <= now - int(finished) <= 5


async def test_an_entry_queued_over_an_hour_ago_is_dropped_unanswered(
    bot: Bot, stream: str
) -> None:
    """
    Workers that come back after a long outage do not answer hour-old messages: such
    entries are counted, acknowledged and deleted without dispatch; fresh ones in the
    same batch are still answered.
    """
    dispatched: list[str] = []

    async def dispatch(raw: str) -> None:
        dispatched.append(raw)

    await queue_paste(bot.settings, bot, ts="1700000950.000100")
    # The worker's wall clock says the first entry is 2 hours old; the second one is
    # queued "now" by the same clock (an explicit id in its millisecond).
    later = time.time() + 7200
    await bot.store.client.xadd(
        stream, {"body": '{"fresh": true}'}, id=f"{int(later * 1000)}-0"
    )
    worker = worker_for(bot, dispatch, wall=lambda: later)
    await worker.ensure_group()
    assert await worker.poll() == 1
    assert [json.loads(raw)["fresh"] for raw in dispatched] == [True]
    assert bot.metrics.intake_expired._value.get() == 1
    assert await pending(bot, stream) == 0
    assert await bot.store.client.xlen(stream) == 0


async def test_backlog_reports_waiting_and_taken_entries(bot: Bot, stream: str) -> None:
    """
    The front's backlog figures (also on /metrics): everything queued waits before any
    worker has started; entries a worker took without finishing count as pending.
    """
    intake = Intake(bot.settings, bot.store.client, metrics=bot.metrics)
    assert await intake.backlog() == (0, 0)
    for n in range(3):
        await queue_paste(bot.settings, bot, ts=f"1700000970.00010{n}")
    assert await intake.backlog() == (3, 0)
    assert bot.metrics.intake_lag._value.get() == 3
    worker = worker_for(bot, bolt_dispatch(bot.app), batch=2)
    await worker.ensure_group()
    assert len(await read_as(bot, "stalled", stream)) == 3
    assert await intake.backlog() == (0, 3)
    assert bot.metrics.intake_pending._value.get() == 3


async def test_a_threads_messages_in_one_batch_run_in_order_others_alongside(
    bot: Bot, stream: str
) -> None:
    """
    Within a batch, the messages of one thread are handled one after another in the
    order they were queued (a follow-up sees what the answer before it recorded),
    while another thread's message is handled at the same time.
    """
    log: list[str] = []

    async def dispatch(raw: str) -> None:
        ts = json.loads(raw)["event"]["ts"]
        log.append(f"start {ts}")
        await asyncio.sleep(0.05)
        log.append(f"end {ts}")

    parent = "1700000990.000100"
    await queue_paste(bot.settings, bot, ts=parent)
    await queue_paste(bot.settings, bot, ts="1700000990.000200", thread_ts=parent)
    await queue_paste(bot.settings, bot, ts="1700000991.000100")
    worker = worker_for(bot, dispatch)
    await worker.ensure_group()
    assert await worker.poll() == 3
    first, follow_up, other = parent, "1700000990.000200", "1700000991.000100"
    assert log.index(f"end {first}") < log.index(f"start {follow_up}")
    assert log.index(f"start {other}") < log.index(f"end {first}")
