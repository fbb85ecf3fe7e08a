"""
Servers that are not SMTP, or that stop in the middle of a reply, as met on real ports:
an HTTP/2 server (its connection preface is binary, with no line end), an HTTPS server
that speaks only HTTP/2 and answers anything else with ``HTTP/1.0 403`` (Node.js
``http2.createSecureServer``), and greetings that begin but never end. Each is named for
what it is, quickly where the bytes already say it, and never as a failed connect.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.probe import Mode, TlsContexts, assess, probe
from bot.probe.engine import DEADLINE_GRACE_S
from tests.probe.conftest import LOCAL
from tests.probe.servers import ServerThread

ROOT = Path(__file__).resolve().parents[2]
# RFC 9113 §3.4/§6.5: the server connection preface is a SETTINGS frame, the first
# thing an HTTP/2 server sends: length 0, type 4, flags 0, stream 0. Node.js's
# http2.createServer (cleartext, prior knowledge) sends exactly these 9 bytes on accept.
HTTP2_PREFACE = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
# What Node.js's http2.createSecureServer (ALPN h2 only, no allowHTTP1) sends inside
# TLS to a client that did not negotiate h2.
H2_ONLY_REFUSAL = b"HTTP/1.0 403 Forbidden\r\n\r\n"


def holding(first: bytes) -> Any:
    """A server that sends ``first`` on accept, then reads until the client goes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(first)
        await writer.drain()
        await reader.read()

    return serve


def check(port: int, *options: str) -> tuple[int, dict[str, Any], float, str]:
    """``smtpbot check 127.0.0.1:port --json`` as a process: exit, JSON, seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            f"127.0.0.1:{port}",
            "--allow-private",
            "--json",
            *options,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROBE_")},
    )
    wall = time.perf_counter() - started
    return done.returncode, json.loads(done.stdout), wall, done.stderr


def first_failure(data: dict[str, Any]) -> dict[str, Any]:
    """The first failing finding of a report."""
    return next(f for f in data["findings"] if f["severity"] == "fail")


@pytest.mark.parametrize("mode", [Mode.AUTO, Mode.STARTTLS])
async def test_http2_preface_is_named_at_once(
    servers: ServerThread, contexts: TlsContexts, mode: Mode
) -> None:
    """A cleartext HTTP/2 server's preface is not-smtp naming HTTP/2, in seconds."""
    port = servers.serve_streams(holding(HTTP2_PREFACE))
    result = await probe(
        f"127.0.0.1:{port}", policy=LOCAL, contexts=contexts, timeout=10, mode=mode
    )
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-port-mismatch")
    finding = verdict.findings[0]
    assert finding.id == "not-smtp" and "HTTP/2" in finding.message
    assert finding.entry == "smtp-port-answers-http"
    assert result.total_ms < 3000


def test_http2_preface_through_the_cli(servers: ServerThread) -> None:
    """Through ``smtpbot check``: not-smtp naming HTTP/2 within 3 s, exit 1."""
    port = servers.serve_streams(holding(HTTP2_PREFACE))
    code, data, _wall, stderr = check(port, "--timeout", "10")
    finding = first_failure(data)
    assert (code, data["category"], finding["id"]) == (
        1,
        "tls-port-mismatch",
        "not-smtp",
    )
    assert "HTTP/2" in finding["message"]
    assert finding["kb_entry"] == "smtp-port-answers-http"
    assert data["timings_ms"]["total"] < 3000
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "first",
    [
        b"220-mail.test ESMTP\r\n",  # the first line of a multi-line greeting only
        b"220 mail.test ESMTP",  # a greeting whose line never ends
    ],
)
def test_unfinished_greeting_is_not_a_failed_connect(
    servers: ServerThread, first: bytes
) -> None:
    """A greeting that starts but never ends: no-greeting, the connect reported ok."""
    port = servers.serve_streams(holding(first))
    code, data, wall, stderr = check(port, "--timeout", "2")
    finding = first_failure(data)
    assert (code, data["category"], finding["id"]) == (
        1,
        "connection-timeout",
        "no-greeting",
    )
    assert not finding["message"].startswith("no answer to connect")
    assert "220" in finding["message"], "the bytes the server did send are shown"
    connect = next(p for p in data["phases"] if p["name"] == "connect")
    assert connect["ok"]
    assert data["timings_ms"]["total"] <= (2 + DEADLINE_GRACE_S) * 1000
    assert wall < 2 + DEADLINE_GRACE_S + 3.0, wall
    assert "Traceback" not in stderr


async def test_unfinished_greeting_in_the_engine(
    servers: ServerThread, contexts: TlsContexts
) -> None:
    """The engine says the greeting began and did not finish, quoting its start."""
    port = servers.serve_streams(holding(b"220-mail.test ESMTP\r\n"))
    result = await probe(
        f"127.0.0.1:{port}", policy=LOCAL, contexts=contexts, timeout=1.5
    )
    verdict = assess(result)
    assert verdict.findings[0].id == "no-greeting"
    assert "220-mail.test" in verdict.findings[0].message
    assert result.total_ms <= (1.5 + DEADLINE_GRACE_S) * 1000


async def test_https_server_speaking_only_http2(
    servers: ServerThread, pki: Any, contexts: TlsContexts
) -> None:
    """An HTTPS server refusing HTTP/1 with a 403 inside TLS is named as HTTPS."""
    port = servers.serve_streams(holding(H2_ONLY_REFUSAL), tls=pki.good)
    result = await probe(
        f"127.0.0.1:{port}", policy=LOCAL, contexts=contexts, timeout=10
    )
    verdict = assess(result)
    finding = verdict.findings[0]
    assert (finding.id, verdict.category) == ("not-smtp", "tls-port-mismatch")
    assert "HTTPS" in finding.message
    assert finding.entry == "smtp-port-answers-http"
    assert result.total_ms < 3000


@pytest.mark.parametrize(
    ("script", "phase", "category"),
    [
        ({"ehlo": None}, "ehlo", "connection-timeout"),  # greets, then never answers
        ({"starttls": "stall"}, "handshake", "tls-handshake-failed"),  # 220, silence
    ],
)
def test_stall_after_the_greeting_through_the_cli(
    scripted: Any, script: dict[str, Any], phase: str, category: str
) -> None:
    """A server that stops answering mid-session: the step it stopped at, in time."""
    port, _server = scripted(**script)
    code, data, wall, stderr = check(port, "--timeout", "3")
    assert (code, data["category"]) == (1, category)
    failed = [p["name"] for p in data["phases"] if not p["ok"]]
    assert failed == [phase], data["phases"]
    assert not first_failure(data)["message"].startswith("no answer to connect")
    assert data["timings_ms"]["total"] <= (3 + DEADLINE_GRACE_S) * 1000
    assert wall < 3 + DEADLINE_GRACE_S + 3.0, wall
    assert "Traceback" not in stderr
