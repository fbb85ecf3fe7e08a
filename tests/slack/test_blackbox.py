"""
Black-box: ``python -m bot run --http`` as real processes, driven over HTTP in all three
of
Slack's request formats, with the fake Web API and a real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.slack import blocks
from tests.support.bot import delete_prefix, slack_env
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import run_bot, server_process, wait_healthy
from tests.support.redis import free_port
from tests.support.slack import (
    ADMIN,
    USER,
    FakeSlack,
    action_request,
    command_request,
    event_request,
    message_event,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def bot_env(fake: FakeSlack, redis_url: str, prefix: str) -> dict[str, str]:
    """
    The environment of a bot process: fake Web API, real Redis, test credentials.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "REDIS_", "PROBE_", "SUPPORT_", "ADMIN_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": "xoxb-blackbox",
            **slack_env(fake, redis_url, prefix),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def bot_process(
    env: dict[str, str], port: int, cwd: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """
    `python -m bot run --http --port N`, stopped with SIGTERM afterwards.
    """
    args = ["-m", "bot", "run", "--http", "--host", "127.0.0.1", "--port", str(port)]
    return server_process(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stop_timeout=15,
    )


@pytest.fixture
async def replicas(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """
    Two bot processes on one Redis; yields their base URLs.
    """
    env = bot_env(fake_slack, redis_url, prefix)
    ports = free_port(), free_port()
    with (
        bot_process(env, ports[0], tmp_path) as one,
        bot_process(env, ports[1], tmp_path) as two,
    ):
        bases = tuple(f"http://127.0.0.1:{p}" for p in ports)
        await wait_healthy(bases[0], one, timeout=30)
        await wait_healthy(bases[1], two, timeout=30)
        yield bases[0], bases[1]
    assert one.returncode == 0 and two.returncode == 0
    await delete_prefix(redis_url, prefix)


async def post(
    session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
) -> tuple[int, str]:
    """
    POST and return status and text.
    """
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


async def test_two_replicas_answer_an_event_once_and_serve_all_formats(
    replicas: tuple[str, str], fake_slack: FakeSlack
) -> None:
    """
    JSON events, form commands and payload= actions work; a shared event gets one reply.
    """
    one, two = replicas
    async with aiohttp.ClientSession() as session:
        body, headers = event_request(
            message_event(STARTTLS_PASTE, ts="1700000200.000100")
        )
        statuses = await asyncio.gather(
            post(session, f"{one}/slack/events", body, headers),
            post(session, f"{two}/slack/events", body, headers),
        )
        assert [s for s, _ in statuses] == [200, 200]
        (reply,) = await fake_slack.wait_for("chat.postMessage", timeout=20)
        assert reply.args["thread_ts"] == "1700000200.000100"
        await fake_slack.settle(0.5)
        assert len(fake_slack.of("chat.postMessage")) == 1

        body, headers = command_request(
            "smtp.example.com", user=USER, response_url=f"{fake_slack.url}/response/x"
        )
        status, text = await post(session, f"{two}/slack/events", body, headers)
        assert status == 200 and "only admins" in text and f"<@{ADMIN}>" in text
        body, headers = command_request(
            "help", response_url=f"{fake_slack.url}/response/x"
        )
        status, text = await post(session, f"{one}/slack/events", body, headers)
        assert status == 200 and "Usage: `/smtpcheck" in text

        value = blocks.encode_value(t="1700000200.000100", e="x")
        body, headers = action_request(blocks.FEEDBACK_YES, value)
        status, _ = await post(session, f"{two}/slack/events", body, headers)
        assert status == 200
        (ephemeral,) = await fake_slack.wait_for("chat.postEphemeral", timeout=20)
        assert "Glad it helped" in ephemeral.args["text"]

        status, _ = await post(
            session,
            f"{one}/slack/events",
            body,
            {**headers, "X-Slack-Signature": "v0=bad"},
        )
        assert status == 401
        async with session.get(f"{one}/readyz") as response:
            assert response.status == 200
        async with session.get(f"{two}/metrics") as response:
            assert "smtpbot_events_received_total" in await response.text()


def test_run_without_tokens_points_to_the_console(tmp_path: Path) -> None:
    """
    `smtpbot run` with no Slack tokens and no terminal exits 2 naming `smtpbot console`.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["PYTHONPATH"] = str(ROOT)
    result = run_bot(["run"], env, tmp_path)
    assert result.returncode == 2
    assert "No Slack tokens are configured" in result.stderr
    assert "smtpbot console" in result.stderr


def test_run_with_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    """
    A bad variable stops start-up with exit 2 and a message naming it.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "PROBE_PORTS": "smtp",
    }
    result = run_bot(["run", "--http"], env, tmp_path)
    assert result.returncode == 2
    assert "PROBE_PORTS: 'smtp' is not a TCP port" in result.stderr
