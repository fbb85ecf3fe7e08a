"""
HTTP-mode benchmark of the Slack bot against a bare Bolt app, in one run, on this
machine.

    python bench/slack_bench.py [--seconds 10] [--senders 50] [--out PATH]

Everything runs on 127.0.0.1: this process is the load generator (50 concurrent senders
of signed Events API requests, bounded in time and count) and the fake Slack Web API
that counts the bot's replies; the bot (`python -m bot run --http`) and the baseline
(`bench/bare_bolt.py`, a Bolt AsyncApp that only acks) run as separate processes, one
after the other, against the same load. Redis is REDIS_URL (default
redis://127.0.0.1:6379/11); every key the run writes is under a fresh prefix and deleted
at the end.

Two traffic mixes as fast as 50 senders go: every request a support paste, and a
workspace-like mix (1 in 10 a paste, 2 in 10 chatter in the support channel, the rest in
other channels). Reports request throughput and ack latency (p50/p99) of both apps,
end-to-end support messages per second (event in -> reply posted to the fake Web API),
Redis round trips per handled message, Web API calls per handled message, memory per
conversation (MEMORY USAGE), and whether every paste sent to the support channel got
exactly one threaded reply (unanswered and answered-twice counts). Then
a paced phase, 300 pastes per second offered evenly, gives the answer latency (request
sent -> threaded reply posted) at a steady load rather than a burst. The bot runs as
`smtpbot run --http --workers 2` unless --workers says otherwise. Results go to
bench/results/slack.json unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"
# Worker processes the bot runs by default here: one per core.
WORKERS = 2
# The paced phase's steady load: the end-to-end target, offered evenly.
PACED_RATE = 300.0
# Upper bound on requests per phase, whatever the duration (the loops always stop).
MAX_REQUESTS = 60_000
# Pastes the shipped knowledge base answers confidently (chosen from the dev corpus when
# it is there, else these).
FALLBACK_PASTES = (
    "530 5.7.0 Must issue a STARTTLS command first. smtp.example.com:587",
    "SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
    "554 5.7.1 <user@example.org>: Relay access denied",
    "Error: connect ECONNREFUSED 203.0.113.5:587",
    "550 5.1.1 The email account that you tried to reach does not exist",
    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed "
    "certificate",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pick_pastes() -> list[str]:
    """
    Up to 40 short corpus pastes that the shipped knowledge base answers confidently.
    """
    from bot.commands import default_matcher

    matcher = default_matcher()
    corpus = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
    texts = list(FALLBACK_PASTES)
    if corpus.is_file():
        texts += [json.loads(line)["text"] for line in corpus.open(encoding="utf-8")]
    chosen = [
        t for t in texts if len(t) < 2000 and matcher.diagnose(t).entry is not None
    ]
    return chosen[:40]


class FakeWebApi:
    """
    Slack's Web API as far as the bot uses it here; counts chat.postMessage.
    """

    def __init__(self) -> None:
        self.replies: list[float] = []
        # thread_ts -> when its reply arrived (the paced phase's answer latency).
        self.answered: dict[str, float] = {}
        # thread_ts -> threaded replies posted (a message answered twice shows as 2).
        self.per_thread: dict[str, int] = {}
        # Web API method -> calls.
        self.calls: dict[str, int] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def api(request: web.Request) -> web.Response:
            method = request.match_info["method"]
            raw = await request.read()
            self.calls[method] = self.calls.get(method, 0) + 1
            if method == "chat.postMessage":
                now = time.perf_counter()
                self.replies.append(now)
                if b'"thread_ts"' in raw:
                    thread = json.loads(raw)["thread_ts"]
                    self.answered[thread] = now
                    self.per_thread[thread] = self.per_thread.get(thread, 0) + 1
                return web.json_response({"ok": True, "ts": f"{time.time():.6f}"})
            return web.json_response(
                {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T0BENCH"}
            )

        app = web.Application()
        app.router.add_post("/api/{method}", api)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


CHATTER = "thanks, that worked! lunch at noon?"
OTHER_CHANNEL = "C0OTHER"


def pick_event(pastes: list[str], n: int, mix: str) -> tuple[str, str]:
    """
    The text and channel of request ``n``: every one a support paste ("support"), or a
    workspace-like mix where 1 in 10 is a paste, 2 in 10 chatter in the support channel
    and the rest messages in other channels the bot is in ("mixed").
    """
    if mix == "support" or n % 10 == 0:
        return pastes[n % len(pastes)], CHANNEL
    if n % 10 in (1, 2):
        return CHATTER, CHANNEL
    return pastes[n % len(pastes)], OTHER_CHANNEL


def signed_event(text: str, channel: str, *, n: int) -> tuple[bytes, dict[str, str]]:
    """
    One Events API message (a new thread each time) with Slack's signature headers.
    """
    ts = f"{1_700_000_000 + n}.{n % 1_000_000:06d}"
    body = json.dumps(
        {
            "token": "t",
            "team_id": "T0BENCH",
            "api_app_id": "A0BENCH",
            "type": "event_callback",
            "event_id": f"EvB{uuid.uuid4().hex[:16]}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "user": "U0BENCH",
                "text": text,
                "channel": channel,
                "ts": ts,
                "channel_type": "channel",
            },
        }
    ).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(
        SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


async def load(
    url: str,
    pastes: list[str],
    *,
    senders: int,
    seconds: float,
    offset: int,
    mix: str = "support",
) -> dict[str, Any]:
    """
    ``senders`` concurrent loops posting signed events for ``seconds``; ack latencies.
    """
    latencies: list[float] = []
    sent: list[str] = []
    errors = 0
    counter = iter(range(offset, offset + MAX_REQUESTS))
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            nonlocal errors
            for n in counter:
                if time.perf_counter() >= deadline:
                    return
                text, channel = pick_event(pastes, n, mix)
                body, headers = signed_event(text, channel, n=n)
                if channel == CHANNEL and text != CHATTER:
                    sent.append(json.loads(body)["event"]["ts"])
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "ack_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "ack_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "started": began,
        "sent": sent,
    }


async def paced(
    url: str,
    pastes: list[str],
    fake: FakeWebApi,
    *,
    rate: float,
    seconds: float,
    offset: int,
) -> dict[str, Any]:
    """
    Support pastes at a steady ``rate`` per second for ``seconds``; the time from each
    request to its threaded reply (answer latency at a sustained load, not a burst).
    """
    sent: dict[str, float] = {}
    count = int(rate * seconds)
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            body, headers = signed_event(pastes[n % len(pastes)], CHANNEL, n=n)
            sent[json.loads(body)["event"]["ts"]] = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

        began = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(offset + i)))
        await asyncio.gather(*tasks)
    await settle(fake)
    waits = sorted(
        fake.answered[ts] - t for ts, t in sent.items() if ts in fake.answered
    )
    if not waits:
        return {"rate_per_s": rate, "messages": count, "answered": 0}
    return {
        "rate_per_s": rate,
        "messages": count,
        "answered": len(waits),
        "answered_twice_or_more": sum(
            1 for ts in sent if fake.per_thread.get(ts, 0) > 1
        ),
        "answer_p50_ms": round(statistics.median(waits) * 1000, 1),
        "answer_p99_ms": round(waits[int(len(waits) * 0.99) - 1] * 1000, 1),
        "answer_max_ms": round(waits[-1] * 1000, 1),
    }


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Any:
    """
    A server process, stopped with SIGTERM; its stderr goes to ``log`` (a pipe nobody
    reads would stall it once full).
    """
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """
    User and system CPU time a process has used so far (0 once it is gone).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """
    A process's child processes (the bot's workers).
    """
    found: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in path.read_text().split()]
    return found


async def wait_healthy(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


async def scrape(base: str) -> dict[str, float]:
    """
    The bot's Prometheus counters (name{labels} -> value).
    """
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/metrics") as page,
    ):
        text = await page.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^(smtpbot_[^ ]+) ([0-9.e+-]+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


async def memory(client: aioredis.Redis, prefix: str) -> dict[str, float]:
    """
    Average MEMORY USAGE of conversation and dedupe keys, over a sample.
    """
    result: dict[str, float] = {}
    for kind in ("conv", "seen"):
        sizes = []
        async for key in client.scan_iter(match=f"{prefix}{kind}:*", count=1000):
            sizes.append(await client.memory_usage(key) or 0)
            if len(sizes) >= 500:
                break
        result[kind] = statistics.mean(sizes) if sizes else 0.0
    return result


async def cleanup(client: aioredis.Redis, prefix: str) -> None:
    batch = []
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await client.delete(*batch)
            batch = []
    if batch:
        await client.delete(*batch)


async def settle(
    fake: FakeWebApi,
    *,
    expected: int | None = None,
    quiet: float = 1.0,
    limit: float = 180.0,
) -> None:
    """
    Wait until ``expected`` replies have been posted, or (without it, or when replies
    stop coming for ``quiet`` seconds, 10x longer with it) the bot's backlog is done.
    """
    deadline = time.perf_counter() + limit
    patience = quiet * (10 if expected is not None else 1)
    last, count = time.perf_counter(), len(fake.replies)
    while time.perf_counter() < deadline:
        if expected is not None and len(fake.replies) >= expected:
            return
        await asyncio.sleep(0.1)
        if len(fake.replies) != count:
            last, count = time.perf_counter(), len(fake.replies)
        elif time.perf_counter() - last >= patience:
            return


def check_answers(fake: FakeWebApi, sent: list[str]) -> dict[str, int]:
    """
    Of the pastes sent to the support channel: how many got no threaded reply, and how
    many more than one.
    """
    counts = [fake.per_thread.get(ts, 0) for ts in sent]
    return {
        "pastes": len(sent),
        "unanswered": sum(1 for c in counts if c == 0),
        "answered_twice_or_more": sum(1 for c in counts if c > 1),
    }


def ratios(ours: dict[str, Any], bare: dict[str, Any]) -> dict[str, float]:
    """
    Throughput and ack p99 of the bot relative to the bare app.
    """
    return {
        "throughput_ratio": round(ours["requests_per_s"] / bare["requests_per_s"], 2),
        "ack_p99_ratio": round(ours["ack_p99_ms"] / bare["ack_p99_ms"], 2),
    }


async def run(seconds: float, senders: int, workers: int) -> dict[str, Any]:
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
            "LOG_LEVEL": "ERROR",
        }
    )
    redis = aioredis.Redis.from_url(redis_url)
    results: dict[str, Any] = {
        "senders": senders,
        "seconds_per_phase": seconds,
        "pastes": len(pastes),
        "cpus": os.cpu_count(),
        "workers": workers,
    }
    bare: dict[str, Any] = {}
    ours: dict[str, Any] = {}
    scratch = tempfile.TemporaryDirectory(prefix="slack-bench-")
    logs = Path(scratch.name)
    try:
        port = free_port()
        with process(
            [sys.executable, str(ROOT / "bench" / "bare_bolt.py"), "--port", str(port)],
            env,
            logs / "bare_bolt.log",
        ):
            url = f"http://127.0.0.1:{port}/slack/events"
            await wait_healthy(f"http://127.0.0.1:{port}")
            await load(url, pastes, senders=senders, seconds=1, offset=0)
            for n, mix in enumerate(("support", "mixed"), start=1):
                bare[mix] = await load(
                    url,
                    pastes,
                    senders=senders,
                    seconds=seconds,
                    offset=n * 100_000,
                    mix=mix,
                )
        port = free_port()
        with process(
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
                str(workers),
            ],
            env,
            logs / "smtpbot.log",
        ) as bot:
            base = f"http://127.0.0.1:{port}"
            url = f"{base}/slack/events"
            await wait_healthy(base)
            await load(url, pastes, senders=senders, seconds=1, offset=500_000)
            await settle(fake)
            before = await scrape(base)
            fake.replies.clear()
            calls_before = dict(fake.calls)
            workers_pids = children(bot.pid)
            cpu_before = [cpu_seconds(p) for p in (bot.pid, *workers_pids)]
            ours["support"] = await load(
                url, pastes, senders=senders, seconds=seconds, offset=600_000
            )
            started = ours["support"]["started"]
            await settle(fake, expected=ours["support"]["requests"])
            replies = list(fake.replies)
            cpu_after = [cpu_seconds(p) for p in (bot.pid, *workers_pids)]
            after = await scrape(base)
            support_calls = {
                method: count - calls_before.get(method, 0)
                for method, count in fake.calls.items()
                if count != calls_before.get(method, 0)
            }
            replied = len(fake.replies)
            ours["mixed"] = await load(
                url,
                pastes,
                senders=senders,
                seconds=seconds,
                offset=700_000,
                mix="mixed",
            )
            await settle(fake, expected=replied + len(ours["mixed"]["sent"]))
            answers = {
                mix: check_answers(fake, ours[mix].pop("sent"))
                for mix in ("support", "mixed")
            }
            ours["paced"] = await paced(
                url, pastes, fake, rate=PACED_RATE, seconds=seconds, offset=800_000
            )
        key = 'smtpbot_events_received_total{kind="event:message"}'
        handled = after.get(key, 0) - before.get(key, 0)
        trips = after.get("smtpbot_redis_round_trips_total", 0) - before.get(
            "smtpbot_redis_round_trips_total", 0
        )
        span = replies[-1] - started if replies else float("inf")

        def per_message(seconds: float) -> float | None:
            return round(seconds * 1000 / handled, 3) if handled else None

        sizes = await memory(redis, prefix)
        for phase in (*bare.values(), ours["support"], ours["mixed"]):
            phase.pop("started")
            phase.pop("sent", None)
        results.update(
            {
                "bare_bolt": bare,
                "smtpbot": ours,
                "support_traffic": ratios(ours["support"], bare["support"]),
                "mixed_traffic": ratios(ours["mixed"], bare["mixed"]),
                "end_to_end": {
                    "messages": ours["support"]["requests"],
                    "replies": len(replies),
                    "seconds": round(span, 2),
                    "messages_per_s": round(len(replies) / span, 1),
                },
                "answers": answers,
                # CPU time (user + system) per support message during the support
                # phase and its backlog: other load on the machine moves it far
                # less than the rates.
                "cpu_ms_per_message": {
                    "front": per_message(cpu_after[0] - cpu_before[0]),
                    "workers": per_message(sum(cpu_after[1:]) - sum(cpu_before[1:])),
                },
                "web_api_calls_per_message": {
                    method: round(count / handled, 3) if handled else None
                    for method, count in sorted(support_calls.items())
                },
                "redis": {
                    "handled_messages": handled,
                    "round_trips_per_message": round(trips / handled, 2)
                    if handled
                    else None,
                    "bytes_per_conversation": round(sizes["conv"]),
                    "bytes_per_dedupe_key": round(sizes["seen"]),
                    "bytes_per_message_total": round(sizes["conv"] + 2 * sizes["seen"]),
                },
                "targets": {
                    "throughput_ratio_min": 0.7,
                    "ack_p99_ratio_max": 1.5,
                    "end_to_end_min_per_s": 300,
                    "round_trips_max": 3,
                },
            }
        )
        # LOG_LEVEL=ERROR: a quiet run writes nothing here.
        lines = (logs / "smtpbot.log").read_text(errors="replace").splitlines()
        results["smtpbot_stderr"] = {"lines": len(lines), "last": lines[-5:]}
    finally:
        scratch.cleanup()
        await cleanup(redis, prefix)
        await redis.aclose()
        await fake.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help="`smtpbot run --workers N` (0: the front answers too)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "slack.json"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.senders, args.workers))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
