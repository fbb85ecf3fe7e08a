"""
The container's entrypoint outside Docker: the Dockerfile's CMD run as a process with
the Kubernetes ConfigMap and Secret as its environment (Redis on 127.0.0.1, the fake Web
API for Slack), and two such replicas sharing one Redis under a stream of events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.deploy.code import ROOT
from tests.deploy.test_files import image_cmd, k8s
from tests.support.bot import delete_prefix
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import server_process, wait_healthy
from tests.support.redis import free_port
from tests.support.slack import CHANNEL, FakeSlack, message_event, sign

pytestmark = pytest.mark.slow
# Variables of the developer's shell that would leak into the process under test.
FOREIGN = ("SLACK_", "REDIS_", "PROBE_", "SUPPORT_", "ADMIN_", "ESCALATION_", "LOG_")
EVENTS = 50


def deployed_env(
    fake: FakeSlack, redis_url: str, prefix: str, cache: Path
) -> dict[str, str]:
    """
    The ConfigMap and Secret of deploy/k8s, with only the addresses made local.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(k8s("ConfigMap")["data"])
    env.update(k8s("Secret")["stringData"])
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "SLACK_API_URL": fake.api_url,
            "SMTPBOT_CACHE_DIR": str(cache),
        }
    )
    return env


def entrypoint(port: int) -> list[str]:
    """
    The image's CMD with `smtpbot` as `python -m bot`, a free port, and a loopback bind.
    """
    cmd = image_cmd()
    assert cmd[0] == "smtpbot"
    args = cmd[1:]
    args[args.index("--port") + 1] = str(port)
    return [sys.executable, "-m", "bot", *args, "--host", "127.0.0.1"]


@contextlib.contextmanager
def bot_process(
    env: dict[str, str], port: int, cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """
    The entrypoint as a process (stderr to ``log``), stopped with SIGTERM afterwards.
    """
    with (
        log.open("wb") as stderr,
        server_process(entrypoint(port), env=env, cwd=cwd, stderr=stderr) as process,
    ):
        yield process


def signed_event(
    payload: dict[str, Any], secret: str, *, retry: int = 0
) -> tuple[str, dict[str, str]]:
    """
    A JSON Events API body signed with the deployment's signing secret; a ``retry``
    is signed at another time, as Slack signs each delivery.
    """
    body = json.dumps(payload)
    signed = sign(body, secret=secret, timestamp=int(time.time()) - retry)
    return body, {"Content-Type": "application/json", **signed}


def metric(text: str, name: str) -> float:
    """
    The sum of a metric's samples in Prometheus text.
    """
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    )


async def test_entrypoint_with_the_configmap_serves_health_ready_metrics_and_events(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    CMD + ConfigMap + Secret: probes answer, a paste is answered, logs are JSON lines.
    """
    env = deployed_env(fake_slack, redis_url, prefix, tmp_path / "cache")
    secret = env["SLACK_SIGNING_SECRET"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "stderr.log"
    try:
        with bot_process(env, port, tmp_path, log) as process:
            await wait_healthy(base, process)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/readyz") as response:
                    assert response.status == 200
                    assert (await response.json())["status"] == "ready"
                body, headers = signed_event({"type": "event_callback"}, secret)
                async with session.post(
                    f"{base}/slack/events", data=body, headers=headers
                ) as response:
                    assert response.status == 400
                body, headers = signed_event(
                    message_event(STARTTLS_PASTE, channel=CHANNEL), secret
                )
                async with session.post(
                    f"{base}/slack/events", data=body, headers=headers
                ) as response:
                    assert response.status == 200
                (reply,) = await fake_slack.wait_for("chat.postMessage", timeout=30)
                assert reply.headers["Authorization"] == (
                    f"Bearer {env['SLACK_BOT_TOKEN']}"
                )
                async with session.get(f"{base}/metrics") as response:
                    text = await response.text()
                assert metric(text, "smtpbot_events_received_total") == 1
                assert "smtpbot_probe_seconds_bucket" in text
        assert process.returncode == 0
    finally:
        await delete_prefix(redis_url, prefix)
    lines = log.read_text(encoding="utf-8").splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(entry.get("event") == "request_refused" for entry in logged)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in logged)
    others = [line for line in lines if not line.startswith("{")]
    assert all(line.startswith("smtpbot listening on") for line in others), others
    assert env["SLACK_BOT_TOKEN"] not in log.read_text(encoding="utf-8")
    assert list((tmp_path / "cache").glob("matcher-*.pickle"))


async def test_liveness_stays_up_and_readiness_fails_while_redis_is_down(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """
    With Redis unreachable /healthz is 200 (no restart) and /readyz 503 (no traffic).
    """
    down = f"redis://127.0.0.1:{free_port()}/0"
    env = deployed_env(fake_slack, down, "smtpbot-down:", tmp_path / "cache")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with bot_process(env, port, tmp_path, tmp_path / "stderr.log") as process:
        await wait_healthy(base, process)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 503
                assert (await response.json())["status"] == "unavailable"
            async with session.get(f"{base}/metrics") as response:
                assert metric(await response.text(), "smtpbot_redis_errors_total") >= 1
    assert process.returncode == 0


async def test_two_replicas_on_one_redis_answer_each_event_exactly_once(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    50 message events, each delivered to both replicas: 50 replies, one per thread.
    """
    env = deployed_env(fake_slack, redis_url, prefix, tmp_path / "cache")
    secret = env["SLACK_SIGNING_SECRET"]
    ports = free_port(), free_port()
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    stamps = [f"17000{i:05d}.000100" for i in range(EVENTS)]
    try:
        with (
            bot_process(env, ports[0], tmp_path, tmp_path / "one.log") as one,
            bot_process(env, ports[1], tmp_path, tmp_path / "two.log") as two,
        ):
            await wait_healthy(bases[0], one)
            await wait_healthy(bases[1], two)
            async with aiohttp.ClientSession() as session:

                async def deliver(ts: str) -> list[int]:
                    # The second replica gets Slack's retry: the same event, signed
                    # at another time (a byte-for-byte copy would be a replay).
                    event = message_event(STARTTLS_PASTE, channel=CHANNEL, ts=ts)
                    requests = [
                        signed_event(event, secret, retry=retry) for retry in (0, 1)
                    ]
                    statuses = []
                    for response in await asyncio.gather(
                        *(
                            session.post(f"{b}/slack/events", data=body, headers=head)
                            for b, (body, head) in zip(bases, requests, strict=True)
                        )
                    ):
                        statuses.append(response.status)
                        response.release()
                    return statuses

                results = await asyncio.gather(*(deliver(ts) for ts in stamps))
                assert all(statuses == [200, 200] for statuses in results)
                await fake_slack.wait_for("chat.postMessage", EVENTS, timeout=60)
                await fake_slack.settle(1.0)
                texts = []
                for base in bases:
                    async with session.get(f"{base}/metrics") as response:
                        texts.append(await response.text())
        assert one.returncode == 0 and two.returncode == 0
    finally:
        await delete_prefix(redis_url, prefix)
    replies = fake_slack.of("chat.postMessage")
    threads = sorted(call.args["thread_ts"] for call in replies)
    assert threads == stamps, "each event answered once, none lost"
    received = sum(metric(t, "smtpbot_events_received_total") for t in texts)
    deduplicated = sum(metric(t, "smtpbot_events_deduplicated_total") for t in texts)
    assert received == 2 * EVENTS
    assert deduplicated == EVENTS
