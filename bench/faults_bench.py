"""
Fault benchmark: what kill -9, Redis data loss and a Sentinel failover cost the bot, as
real processes on this machine.

    python bench/faults_bench.py [--pastes 300] [--kills 6] [--out PATH]

Everything runs on 127.0.0.1 and every Redis is one this script starts (the shared one
on 6379 is never touched): the bot is `python -m bot run --http --workers 2`, Slack is
the recording fake of the test suite (it keeps channel history, so the bot can look in
a thread), and this process sends signed events. Four scenarios:

- burst: PASTES pastes from 20 concurrent senders while a worker is SIGKILLed every
  1.5 s (KILLS times, either of the two at random); counts threads never answered and
  duplicate answers, and the time until the last paste is answered.
- data loss: FLUSHALL under the running bot; seconds until /readyz is 200 again, until
  a new paste is answered and until a new escalation has its card.
- failover: a master, a replica and three sentinels (down-after 1 s); 100 pastes a
  second for 10 s; the master is SIGKILLed after 3 s. Counts pastes acked 200 and never
  answered, duplicates, pastes refused (they are sent again, as Slack would), seconds
  from the kill to the first answer of a paste acked after it, and how long /readyz
  said not ready.
- wait cost: on the same kind of Sentinel group, the Redis writes of one message
  (queueing it, claiming it, recording its answer) with REDIS_WAIT_REPLICAS=1 (every
  write confirmed by the replica) and 0: latency one at a time, throughput 64 at once.

Results go to bench/results/faults.json unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.front import (  # noqa: E402 (after the path is set)
    Front,
    bot_env,
    front_process,
    post_body,
    signed,
    until,
    wait_ready,
    wait_workers,
    workers_of,
)
from tests.support.process import wait_healthy  # noqa: E402
from tests.support.redis import redis_server, sentinel_group  # noqa: E402
from tests.support.slack import (  # noqa: E402
    CHANNEL,
    TEAM,
    FakeSlack,
    action_request,
    event_request,
    message_event,
)

PASTE = "530 5.7.0 Must issue a STARTTLS command first. smtp.example.com:587"
ESC = "C0ESCALATE"
REPLY_EVENT = "smtpbot_reply"


def answer_counts(fake: FakeSlack) -> dict[str, int]:
    """
    Answers per message ts (by the answer metadata).
    """
    counts: dict[str, int] = {}
    for message in fake.posted:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == REPLY_EVENT:
            ts = metadata["event_payload"]["message_ts"]
            counts[ts] = counts.get(ts, 0) + 1
    return counts


def env_for(fake: FakeSlack, url: str, **extra: str) -> dict[str, str]:
    """
    The bot's environment: the fake Slack, this Redis, quick takeovers, quiet logs.
    """
    return {
        **bot_env(fake, url, "smtpbot:"),
        "ESCALATION_CHANNEL": ESC,
        "ESCALATION_RECLAIM_SECONDS": "2",
        "ESCALATION_TICK_SECONDS": "1",
        "INTAKE_RECLAIM_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def pct(values: list[float], q: float) -> float:
    """
    The q-th percentile (0-100) in milliseconds, rounded.
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 1)


async def burst(workdir: Path, pastes: int, kills: int) -> dict[str, Any]:
    """
    Pastes from 20 senders while workers are killed; unanswered and duplicates.
    """
    fake = await FakeSlack().start()
    try:
        with (
            redis_server(workdir) as (url, _),
            front_process(env_for(fake, url), workdir, workers=2) as front,
        ):
            await wait_healthy(front.base, front.process, timeout=60)
            await wait_workers(front, 2, timeout=60)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base, timeout=60)
                queue = [f"{1700010000 + n}.000100" for n in range(pastes)]
                statuses: dict[str, int] = {}
                began = time.monotonic()

                async def sender() -> None:
                    while queue:
                        ts = queue.pop()
                        body, head = event_request(message_event(PASTE, ts=ts))
                        status = await post_body(session, front.base, body, head)
                        statuses[ts] = status
                        await asyncio.sleep(0.02)

                async def killer() -> int:
                    done = 0
                    while done < kills:
                        await asyncio.sleep(1.5)
                        live = sorted(workers_of(front.process.pid))
                        if live:
                            os.kill(random.choice(live)[0], signal.SIGKILL)
                            done += 1
                    return done

                killing = asyncio.create_task(killer())
                await asyncio.gather(*(sender() for _ in range(20)))
                sent = time.monotonic() - began
                killed = await killing
                expected = {ts for ts, s in statuses.items() if s == 200}
                with contextlib.suppress(AssertionError):
                    await until(
                        lambda: expected <= set(answer_counts(fake)),
                        timeout=120,
                    )
                answered_in = time.monotonic() - began
                await fake.settle(3.0)
        counts = answer_counts(fake)
        return {
            "pastes": pastes,
            "acked": len(expected),
            "worker_kills": killed,
            "seconds_sending": round(sent, 1),
            "seconds_until_all_answered": round(answered_in, 1),
            "unanswered": len(expected - set(counts)),
            "duplicate_answers": sum(c - 1 for c in counts.values()),
        }
    finally:
        await fake.stop()


async def click_human(session: aiohttp.ClientSession, front: Front, ts: str) -> int:
    """
    Press "Talk to a human" in thread ``ts``.
    """
    from bot.slack import blocks

    body, head = action_request(blocks.HUMAN, blocks.encode_value(t=ts))
    return await post_body(session, front.base, body, head)


def card_for(fake: FakeSlack, ts: str) -> bool:
    """
    True when the escalation of thread ``ts`` has its card.
    """
    name = f"{TEAM}:{CHANNEL}:{ts}"
    return any(
        m.get("channel") == ESC
        and (m.get("metadata") or {}).get("event_payload", {}).get("escalation") == name
        for m in fake.posted
    )


async def data_loss(workdir: Path) -> dict[str, Any]:
    """
    FLUSHALL under the bot: time to readiness, to an answer, to a card.
    """
    fake = await FakeSlack().start()
    try:
        with (
            redis_server(workdir) as (url, _),
            front_process(env_for(fake, url), workdir, workers=2) as front,
        ):
            await wait_healthy(front.base, front.process, timeout=60)
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, front.base, timeout=60)
                body, head = event_request(message_event(PASTE, ts="1700020000.1"))
                await post_body(session, front.base, body, head)
                await until(lambda: answer_counts(fake), timeout=60)
                client = aioredis.Redis.from_url(url)
                await client.flushall()
                await client.aclose()
                began = time.monotonic()
                ready = await wait_ready(session, front.base, timeout=60)
                ts = "1700020001.000100"
                body, head = event_request(message_event(PASTE, ts=ts))
                await post_body(session, front.base, body, head)
                await until(lambda: ts in answer_counts(fake), timeout=60)
                answered = time.monotonic() - began
                await click_human(session, front, ts)
                await until(lambda: card_for(fake, ts), timeout=60)
                carded = time.monotonic() - began
        return {
            "seconds_until_ready": round(ready, 2),
            "seconds_until_a_paste_is_answered": round(answered, 2),
            "seconds_until_an_escalation_has_its_card": round(carded, 2),
        }
    finally:
        await fake.stop()


async def paced_sender(
    session: aiohttp.ClientSession,
    front: Front,
    *,
    rate: float,
    seconds: float,
    base: int,
    statuses: dict[str, int],
    sent_at: dict[str, float],
    acked_in: dict[str, float],
) -> None:
    """
    Pastes at ``rate`` per second for ``seconds``, each its own thread.
    """
    tasks = []

    async def one(ts: str) -> None:
        body, head = event_request(message_event(PASTE, ts=ts))
        sent_at[ts] = time.monotonic()
        statuses[ts] = await post_body(session, front.base, body, head, timeout=10)
        acked_in[ts] = time.monotonic() - sent_at[ts]

    began = time.monotonic()
    n = 0
    while time.monotonic() - began < seconds:
        tasks.append(asyncio.create_task(one(f"{base + n}.000100")))
        n += 1
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)


async def failover(workdir: Path) -> dict[str, Any]:
    """
    The master killed under a steady stream of pastes.
    """
    fake = await FakeSlack().start()
    try:
        with sentinel_group(workdir) as group:
            env = env_for(fake, group.url)
            with front_process(env, workdir, workers=2) as front:
                await wait_healthy(front.base, front.process, timeout=60)
                async with aiohttp.ClientSession() as session:
                    await wait_ready(session, front.base, timeout=60)
                    statuses: dict[str, int] = {}
                    sent_at: dict[str, float] = {}
                    acked_in: dict[str, float] = {}
                    not_ready: list[float] = []
                    sending = asyncio.create_task(
                        paced_sender(
                            session,
                            front,
                            rate=100,
                            seconds=10,
                            base=1700030000,
                            statuses=statuses,
                            sent_at=sent_at,
                            acked_in=acked_in,
                        )
                    )
                    await asyncio.sleep(3)
                    group.kill("a")
                    killed_at = time.monotonic()

                    async def watch() -> None:
                        while time.monotonic() - killed_at < 15:
                            with contextlib.suppress(aiohttp.ClientError):
                                async with session.get(f"{front.base}/readyz") as r:
                                    if r.status != 200:
                                        not_ready.append(time.monotonic())
                            await asyncio.sleep(0.1)

                    watching = asyncio.create_task(watch())
                    await sending
                    refused = [ts for ts, s in statuses.items() if s != 200]
                    acked = {ts for ts, s in statuses.items() if s == 200}
                    await watching
                    for ts in refused:  # Slack's retry, once Redis is back
                        body, head = signed(message_event(PASTE, ts=ts), retry=1)
                        while await post_body(session, front.base, body, head) != 200:
                            await asyncio.sleep(0.5)
                    with contextlib.suppress(AssertionError):
                        await until(
                            lambda: set(statuses) <= set(answer_counts(fake)),
                            timeout=60,
                        )
                    await fake.settle(3.0)
        counts = answer_counts(fake)
        after = [
            at - killed_at
            for ts in acked
            if sent_at[ts] > killed_at
            and (at := fake.answered_at(CHANNEL, ts)) is not None
        ]
        return {
            "pastes": len(statuses),
            "acked_200": len(acked),
            "refused_then_retried": len(refused),
            "acked_and_never_answered": len(acked - set(counts)),
            "never_answered": len(set(statuses) - set(counts)),
            "duplicate_answers": sum(c - 1 for c in counts.values()),
            "seconds_from_kill_to_first_answer_after_it": round(min(after), 2)
            if after
            else None,
            "seconds_readyz_not_200": round(not_ready[-1] - not_ready[0], 1)
            if not_ready
            else 0.0,
        }
    finally:
        await fake.stop()


async def wait_cost(workdir: Path, messages: int = 2000) -> dict[str, Any]:
    """
    What waiting for the replica costs the writes of one answered message (the
    claim pipeline, the record pipeline) and of queueing one (XADD), on the Sentinel
    group, with REDIS_WAIT_REPLICAS 1 and 0: one message at a time (latency) and 64
    at once (throughput).
    """
    from bot.metrics import Metrics
    from bot.slack.intake import StreamWriter
    from bot.state import MessageRecord, ThreadKey
    from bot.state.redis_store import RedisStore

    results: dict[str, Any] = {}
    with sentinel_group(workdir) as group:
        for replicas in (0, 1):
            store = RedisStore.from_url(
                group.url, prefix=f"bench{replicas}:", timeout=5, wait_replicas=replicas
            )
            writer = StreamWriter(
                store.client,
                f"bench{replicas}:intake",
                metrics=Metrics(),
                replication=store.replication,
            )

            async def one(
                n: int,
                store: RedisStore = store,
                writer: StreamWriter = writer,
                prefix: str = f"bench{replicas}:",
            ) -> float:
                began = time.monotonic()
                await writer.add("{}", f"{prefix}replay:{n}")
                key = ThreadKey("T", "C", f"{n}.1")
                await store.begin(key, dedupe=(f"msg:{n}",), token=f"{n}-0")
                await store.append(key, MessageRecord("U", f"{n}.1", "x"))
                return time.monotonic() - began

            single = [await one(n) for n in range(messages)]
            began = time.monotonic()
            for start in range(messages, 3 * messages, 64):
                await asyncio.gather(*(one(n) for n in range(start, start + 64)))
            rate = 2 * messages / (time.monotonic() - began)
            await store.close()
            results[f"replicas_{replicas}"] = {
                "one_at_a_time_ms_p50": pct(single, 50),
                "one_at_a_time_ms_p99": pct(single, 99),
                "messages_per_second_64_at_once": round(rate),
            }
    return results


async def run(pastes: int, kills: int) -> dict[str, Any]:
    """
    Every scenario, one after the other.
    """
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenarios = [
            ("burst", lambda d: burst(d, pastes, kills)),
            ("data_loss", data_loss),
            ("failover", failover),
            ("wait_cost", wait_cost),
        ]
        for name, scenario in scenarios:
            folder = work / name
            folder.mkdir()
            results[name] = await scenario(folder)
            print(name, json.dumps(results[name]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pastes", type=int, default=300)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "faults.json"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args.pastes, args.kills))
    results["machine"] = {"cpus": os.cpu_count()}
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
