"""
Signed Slack events under a flood of large unsigned requests, against the real bot.

    python bench/flood_bench.py [--seconds 10] [--flooders 4] [--rate 20]
                                [--workers 0] [--log-level DEBUG] [--out PATH]

Everything runs on 127.0.0.1: the bot (`python -m bot run --http`, one process with
its in-process worker unless --workers says otherwise) at LOG_LEVEL DEBUG, the fake
Web API from bench/slack_bench.py, and this load generator. Two phases of ``seconds``
each: signed support pastes alone at ``rate`` per second, then the same pastes while
``flooders`` concurrent senders post 1,000,000-byte bodies as fast as the bot takes
them, with a fresh timestamp and a wrong signature (the costly kind: the body must be
read to be refused) or no signature headers at all (one in four), half of them JSON,
half slash-command forms carrying a token and a response_url. Reports the signed
acks' p50/p99/max per phase, how many pastes were answered, the flood's request rate
and statuses, and how many bytes the flood added to the bot's log (and whether any of
its body did). Redis is REDIS_URL (default redis://127.0.0.1:6379/11) under a fresh
prefix, deleted at the end. Results go to bench/results/flood.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.slack_bench import (  # noqa: E402 - after the path is set
    CHANNEL,
    SECRET,
    FakeWebApi,
    cleanup,
    free_port,
    pick_pastes,
    signed_event,
    wait_healthy,
)

# The flood's bodies, 1,000,000 bytes each (under the 1 MiB limit, so they must be
# read to be refused): Events API JSON, and a slash-command form carrying a token and
# a response_url; their markers must never reach the log.
FLOOD_BODY = b'{"type":"event_callback","FLOODMARK":"' + b"A" * 999_960 + b'"}'
FLOOD_FORM = (
    b"token=FLOODTOKEN&command=%2Fsmtpcheck&user_id=U1&team_id=T1&channel_id=C1"
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FFLOODURL&text="
)
FLOOD_FORM += b"A" * (1_000_000 - len(FLOOD_FORM))


async def signed_phase(
    url: str, pastes: list[str], *, rate: float, seconds: float, offset: int
) -> tuple[list[float], list[str], int]:
    """
    Signed pastes at a steady rate: their ack latencies, thread ts, non-200 count.
    """
    latencies: list[float] = []
    threads: list[str] = []
    failures = 0
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            nonlocal failures
            body, headers = signed_event(pastes[n % len(pastes)], CHANNEL, n=n)
            threads.append(json.loads(body)["event"]["ts"])
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                failures += response.status != 200
            latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(offset + i)))
        await asyncio.gather(*tasks)
    return latencies, threads, failures


async def flood(url: str, *, flooders: int, stop: asyncio.Event) -> Counter[str]:
    """
    ``flooders`` closed loops posting 1 MB unsigned bodies until ``stop``.
    """
    statuses: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=flooders)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender(k: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                form = n % 2 == 0
                body = FLOOD_FORM if form else FLOOD_BODY
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded"
                    if form
                    else "application/json"
                }
                if (k + n) % 4:
                    headers["X-Slack-Request-Timestamp"] = str(int(time.time()))
                    headers["X-Slack-Signature"] = "v0=" + "0" * 64
                try:
                    async with session.post(
                        url, data=body, headers=headers
                    ) as response:
                        await response.read()
                        statuses[str(response.status)] += 1
                except aiohttp.ClientError:
                    statuses["closed"] += 1

        await asyncio.gather(*(sender(k) for k in range(flooders)))
    return statuses


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "acks": len(ordered),
        "ack_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "ack_p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
        "ack_max_ms": round(ordered[-1] * 1000, 1),
    }


async def answered(fake: FakeWebApi, threads: list[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(t in fake.answered for t in threads):
            break
        await asyncio.sleep(0.2)
    return sum(t in fake.answered for t in threads)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pastes = pick_pastes()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11")
    prefix = f"smtpbot-bench:{uuid.uuid4().hex[:8]}:"
    fake = FakeWebApi()
    await fake.start()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "SUPPORT_CHANNELS": CHANNEL,
            "LOG_LEVEL": args.log_level,
        }
    )
    results: dict[str, Any] = {
        "seconds_per_phase": args.seconds,
        "signed_rate_per_s": args.rate,
        "flooders": args.flooders,
        "flood_body_bytes": len(FLOOD_BODY),
        "workers": args.workers,
        "log_level": args.log_level,
        "cpus": os.cpu_count(),
    }
    redis = aioredis.Redis.from_url(redis_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/slack/events"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "bot.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    "--http",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                await wait_healthy(base)
                await signed_phase(url, pastes, rate=args.rate, seconds=1, offset=0)
                log.flush()
                start_log = log_path.stat().st_size
                quiet, threads, failures = await signed_phase(
                    url, pastes, rate=args.rate, seconds=args.seconds, offset=10_000
                )
                results["signed_alone"] = {
                    **summary(quiet),
                    "non_200": failures,
                    "answered": await answered(fake, threads),
                    "sent": len(threads),
                }
                log.flush()
                quiet_log = log_path.stat().st_size
                results["signed_alone"]["log_bytes"] = quiet_log - start_log
                # The flood comes from a process of its own, so that its sending does
                # not slow this loop's measurement of the signed acks.
                flooder = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--flood-only",
                    url,
                    "--flooders",
                    str(args.flooders),
                    "--seconds",
                    str(args.seconds + 1.5),
                    stdout=asyncio.subprocess.PIPE,
                )
                await asyncio.sleep(1)
                began = time.perf_counter()
                loud, threads, failures = await signed_phase(
                    url, pastes, rate=args.rate, seconds=args.seconds, offset=20_000
                )
                out, _ = await flooder.communicate()
                statuses = Counter(json.loads(out))
                took = time.perf_counter() - began + 1
                results["signed_under_flood"] = {
                    **summary(loud),
                    "non_200": failures,
                    "answered": await answered(fake, threads),
                    "sent": len(threads),
                }
                results["flood"] = {
                    "requests": sum(statuses.values()),
                    "requests_per_s": round(sum(statuses.values()) / took, 1),
                    "megabytes_per_s": round(
                        sum(statuses.values()) * len(FLOOD_BODY) / took / 1e6, 1
                    ),
                    "statuses": dict(statuses),
                }
            finally:
                proc.terminate()
                proc.wait(timeout=20)
                await cleanup(redis, prefix)
                await redis.aclose()
                await fake.stop()
        text = log_path.read_bytes()
        results["signed_under_flood"]["log_bytes"] = len(text) - quiet_log
        results["flood"]["refusal_log_lines"] = text.count(b"request_refused")
        results["flood"]["body_in_log"] = any(
            mark in text
            for mark in (b"FLOODMARK", b"FLOODTOKEN", b"FLOODURL", b"A" * 64)
        )
    return results


async def flood_only(url: str, flooders: int, seconds: float) -> None:
    """
    The flood alone, for ``seconds``; prints the statuses as JSON.
    """
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    print(json.dumps(await flood(url, flooders=flooders, stop=stop)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood-only", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--log-level", default="DEBUG")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "flood.json"
    )
    args = parser.parse_args()
    if args.flood_only:
        asyncio.run(flood_only(args.flood_only, args.flooders, args.seconds))
        return
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
