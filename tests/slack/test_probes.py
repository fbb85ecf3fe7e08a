"""
Probes from Slack, for real, against local SMTP servers on 127.0.0.1: the check button
and
/smtpcheck, with the policy, rate limits and double clicks.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack import blocks
from bot.state import ThreadKey
from tests.support.bot import Bot, StartBot
from tests.support.slack import (
    ADMIN,
    CHANNEL,
    TEAM,
    USER,
    FakeSlack,
    action_request,
    command_request,
    event_request,
    message_event,
)
from tests.support.smtp import SmtpServer, smtp_server


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    """
    A STARTTLS server with a certificate from an untrusted test CA.
    """
    async with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture
async def plain_smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    """
    A server that does not offer STARTTLS.
    """
    async with smtp_server(tmp_path, starttls=False) as server:
        yield server


def probe_value(thread_ts: str, port: int) -> str:
    """
    The value of a check button for 127.0.0.1:port in a thread.
    """
    return blocks.encode_value(t=thread_ts, s=f"127.0.0.1:{port}")


async def click_probe(bot: Bot, thread_ts: str, port: int, *, user: str = USER) -> None:
    """
    Click "Run STARTTLS check" for 127.0.0.1:port.
    """
    body, headers = action_request(
        blocks.PROBE, probe_value(thread_ts, port), user=user
    )
    assert (await bot.dispatch(body, headers)).status == 200


def shown(call_args: dict[str, Any]) -> str:
    """
    The JSON of a call's blocks (what the user sees).
    """
    return json.dumps(call_args.get("blocks", []))


@pytest.fixture
async def probing_bot(
    start_bot: StartBot, smtp: SmtpServer, plain_smtp: SmtpServer
) -> AsyncIterator[Bot]:
    """
    A bot whose policy allows loopback and the two local servers' ports.
    """
    async with start_bot(
        PROBE_PORTS=f"{smtp.port},{plain_smtp.port}",
        PROBE_TIMEOUT="3",
    ) as bot:
        yield bot


async def reports(
    fake: FakeSlack, count: int = 1, *, timeout: float = 15.0
) -> list[str]:
    """
    Wait for ``count`` finished check reports (updates that are not "Checking…").
    """

    def finished() -> list[str]:
        return [
            shown(u.args)
            for u in fake.of("chat.update")
            if not str(u.args.get("text", "")).startswith("Checking ")
        ]

    async def enough() -> list[str]:
        while len(finished()) < count:
            await asyncio.sleep(0.02)
        return finished()

    return await asyncio.wait_for(enough(), timeout)


async def test_check_button_posts_progress_then_the_report(
    probing_bot: Bot, smtp: SmtpServer
) -> None:
    """
    Clicking the offered check posts "checking…", updates it, and ends with the report.
    """
    bot, root = probing_bot, "1700000010.000100"
    paste = f"530 5.7.0 Must issue a STARTTLS command first host=127.0.0.1:{smtp.port}"
    body, headers = event_request(message_event(paste, ts=root))
    await bot.dispatch(body, headers)
    (answer,) = await bot.fake.wait_for("chat.postMessage")
    button = next(
        e
        for b in answer.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == blocks.PROBE
    )
    assert button["text"]["text"] == f"Run STARTTLS check on 127.0.0.1:{smtp.port}"
    body, headers = action_request(blocks.PROBE, button["value"])
    await bot.dispatch(body, headers)
    checking = (await bot.fake.wait_for("chat.postMessage", 2))[1]
    assert checking.args["thread_ts"] == root
    assert f"Checking `127.0.0.1:{smtp.port}`" in shown(checking.args)
    report = (await reports(bot.fake))[-1]
    updates = bot.fake.of("chat.update")
    assert all(u.args["ts"] for u in updates)
    assert "connecting to 127.0.0.1" in shown(updates[0].args)
    # Each step shows as it completes, before the report.
    steps = [shown(u.args) for u in updates[:-1]]
    step = re.compile(rf"port {smtp.port}: [a-z-]+ (?:ok|failed)")
    assert any(step.search(text) for text in steps), steps
    assert "tls-cert-untrusted" in report and ":x:" in report
    assert "Install a certificate from a public CA." in report
    conversation = await bot.store.load(ThreadKey(TEAM, CHANNEL, root))
    (record,) = conversation.probes
    assert (record.target, record.verdict, record.category) == (
        f"127.0.0.1:{smtp.port}",
        "fail",
        "tls-cert-untrusted",
    )
    assert bot.metrics.probes.labels("fail")._value.get() == 1


async def test_trusted_certificate_reports_ok(
    start_bot: StartBot, smtp: SmtpServer
) -> None:
    """
    With the test CA in PROBE_CAFILE the same server checks out ok.
    """
    async with start_bot(PROBE_PORTS=str(smtp.port), PROBE_CAFILE=smtp.cafile) as bot:
        await click_probe(bot, "1700000011.000100", smtp.port)
        report = (await reports(bot.fake))[-1]
        assert ":white_check_mark:" in report and "TLSv1." in report
        assert "What to do" not in report


async def test_server_without_starttls_gets_the_knowledge_base_advice(
    probing_bot: Bot, plain_smtp: SmtpServer
) -> None:
    """
    A missing STARTTLS is a fail linked to the starttls-unavailable entry's fix.
    """
    await click_probe(probing_bot, "1700000012.000100", plain_smtp.port)
    report = (await reports(probing_bot.fake))[-1]
    assert "starttls-unavailable" in report
    assert "Ask the mail provider to enable STARTTLS." in report


async def test_policy_refuses_loopback_unless_allowed(
    start_bot: StartBot, smtp: SmtpServer
) -> None:
    """
    Without PROBE_ALLOW_CIDRS a loopback target is refused, and nothing connects.
    """
    async with start_bot(PROBE_ALLOW_CIDRS="", PROBE_PORTS=str(smtp.port)) as bot:
        await click_probe(bot, "1700000013.000100", smtp.port)
        report = (await reports(bot.fake))[-1]
        assert "Not checked" in report and "loopback" in report
        assert bot.metrics.probes.labels("refused")._value.get() == 1


async def test_port_outside_probe_ports_is_refused(probing_bot: Bot) -> None:
    """
    A port not in PROBE_PORTS is refused before any connection.
    """
    await click_probe(probing_bot, "1700000014.000100", 8080)
    (update,) = await probing_bot.fake.wait_for("chat.update")
    assert "port 8080 is not allowed" in shown(update.args)


async def test_probes_are_rate_limited_per_user(
    start_bot: StartBot, smtp: SmtpServer
) -> None:
    """
    A user over PROBE_USER_LIMIT is told to wait; the server is not probed again.
    """
    async with start_bot(PROBE_PORTS=str(smtp.port), PROBE_USER_LIMIT="1") as bot:
        await click_probe(bot, "1700000015.000100", smtp.port)
        await reports(bot.fake)
        await click_probe(bot, "1700000015.000200", smtp.port)
        assert "too many checks" in (await reports(bot.fake, 2))[-1]
        assert bot.metrics.probes.labels("rate-limited")._value.get() == 1


async def test_probes_are_rate_limited_per_target(
    start_bot: StartBot, smtp: SmtpServer
) -> None:
    """
    One server is probed at most PROBE_TARGET_LIMIT times, whoever asks.
    """
    async with start_bot(PROBE_PORTS=str(smtp.port), PROBE_TARGET_LIMIT="1") as bot:
        await click_probe(bot, "1700000016.000100", smtp.port, user="U0ONE")
        await reports(bot.fake)
        await click_probe(bot, "1700000016.000200", smtp.port, user="U0TWO")
        assert "too many checks" in (await reports(bot.fake, 2))[-1]


async def test_double_click_runs_one_probe(probing_bot: Bot, smtp: SmtpServer) -> None:
    """
    Two clicks on the same check in a thread start one probe.
    """
    await click_probe(probing_bot, "1700000017.000100", smtp.port)
    await click_probe(probing_bot, "1700000017.000100", smtp.port)
    await reports(probing_bot.fake)
    await probing_bot.fake.settle()
    assert len(probing_bot.fake.of("chat.postMessage")) == 1


async def smtpcheck(bot: Bot, text: str, *, user: str = ADMIN) -> str:
    """
    Run /smtpcheck; returns the ack's text.
    """
    body, headers = command_request(
        text, user=user, response_url=f"{bot.fake.url}/response/r1"
    )
    response = await bot.dispatch(body, headers)
    assert response.status == 200
    # Bolt answers ack(text=...) as plain text, which Slack shows ephemerally.
    assert not response.body.startswith("{")
    return response.body


async def test_smtpcheck_refuses_non_admins_and_names_the_admins(bot: Bot) -> None:
    """
    A non-admin gets an ephemeral refusal naming who may run it; nothing is probed.
    """
    text = await smtpcheck(bot, "smtp.example.com", user=USER)
    assert "only admins" in text and f"<@{ADMIN}>" in text
    await bot.fake.settle()
    assert bot.fake.of("response_url") == []


@pytest.mark.parametrize(
    "args,expected",
    [
        ("help", "Usage: `/smtpcheck host[:port] [--mx]`"),
        ("", "Usage: `/smtpcheck host[:port] [--mx]`"),
        ("one two", "I could not read `one two`."),
        ("--verbose", "I could not read `--verbose`."),
        ("bad_host!:25", "is not a host name"),
        ("smtp.example.com:99999", "is not a port"),
    ],
)
async def test_smtpcheck_help_and_bad_arguments_show_usage(
    bot: Bot, args: str, expected: str
) -> None:
    """
    help, nothing, or unreadable arguments get the usage text.
    """
    text = await smtpcheck(bot, args)
    assert expected in text
    assert "Example: `/smtpcheck smtp.example.com:587`" in text


async def test_smtpcheck_acks_at_once_and_reports_through_response_url(
    start_bot: StartBot,
) -> None:
    """
    The ack comes well within 3 s even when the probe takes longer; the report follows.
    """

    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()  # accepts and never greets, until the client gives up
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with start_bot(PROBE_PORTS=str(port), PROBE_TIMEOUT="2") as bot:
            started = time.monotonic()
            text = await smtpcheck(bot, f"127.0.0.1:{port}")
            assert time.monotonic() - started < 1.0
            assert text == f":hourglass_flowing_sand: Checking 127.0.0.1:{port}…"
            (report,) = await bot.fake.wait_for("response_url", timeout=15)
            assert time.monotonic() - started >= 1.5
            assert report.args["response_type"] == "ephemeral"
            assert "connection-timeout" in json.dumps(report.args["blocks"])
    finally:
        server.close()
        await server.wait_closed()


async def test_smtpcheck_mx_of_a_special_name_is_refused(bot: Bot) -> None:
    """
    --mx on a name that can have no MX hosts reports the refusal through response_url.
    """
    assert "Checking example.invalid" in await smtpcheck(bot, "example.invalid --mx")
    (report,) = await bot.fake.wait_for("response_url")
    assert "special-use name" in report.args["text"]
