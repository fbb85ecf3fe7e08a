"""
Hostile and broken servers: every case ends within the deadline with a named category,
and an endless line never grows memory.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.probe import Mode, TlsContexts, assess, probe
from bot.probe.engine import DEADLINE_GRACE_S
from bot.probe.model import Problem
from tests.probe.conftest import LOCAL
from tests.probe.servers import Endless, ServerThread, endless_ehlo

ROOT = Path(__file__).resolve().parents[2]
# Peak memory allowed while a server streams 50 MB without a newline (issue 3).
RSS_LIMIT_MB = 200


async def run(port: int, contexts: TlsContexts, timeout: float, **options: Any) -> Any:
    """Probe 127.0.0.1:port and check it ended within its deadline."""
    result = await probe(
        f"127.0.0.1:{port}", policy=LOCAL, contexts=contexts, timeout=timeout, **options
    )
    assert result.total_ms <= (timeout + DEADLINE_GRACE_S) * 1000
    return result


@pytest.mark.parametrize("mode", [Mode.AUTO, Mode.STARTTLS, Mode.TLS])
async def test_tarpit_is_connection_timeout(
    scripted: Any, contexts: TlsContexts, mode: Mode
) -> None:
    """A server that never greets nor speaks TLS: connection-timeout, in time."""
    port, _server = scripted(greeting=None)
    result = await run(port, contexts, 1.2, mode=mode)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "connection-timeout")
    message = verdict.findings[0].message
    assert message.startswith("connected, but no greeting within 1.")
    assert result.total_ms >= 1000, "it waited for the deadline, not less"


@pytest.mark.parametrize(
    ("greeting", "category"),
    [
        (b"421 4.7.0 Too many connections, try again later\r\n", "rate-limited"),
        (
            b"554 5.7.1 Client host blocked using zen.spamhaus.org\r\n",
            "sender-blocklisted",
        ),
        (
            b"554-5.7.1 rejected\r\n554 5.7.1 see https://example.invalid/\r\n",
            "sender-blocklisted",
        ),
    ],
)
async def test_rejecting_greetings(
    scripted: Any, contexts: TlsContexts, greeting: bytes, category: str
) -> None:
    """421 and 554 greetings fail as rate-limited and sender-blocklisted, quoted."""
    port, _server = scripted(greeting=greeting)
    result = await run(port, contexts, 3)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", category)
    assert result.banner is not None and result.banner.startswith(greeting[:3].decode())
    assert greeting[4:14].decode() in verdict.findings[0].message


async def test_endless_banner_stops_at_the_bound(
    servers: ServerThread, contexts: TlsContexts
) -> None:
    """A greeting without end is cut at aiosmtplib's response limit, at once."""
    server = Endless()
    port = servers.serve_streams(server)
    result = await run(port, contexts, 5)
    verdict = assess(result)
    assert result.failure is not None and result.failure.problem is Problem.NOT_SMTP
    assert "Response too long" in result.failure.detail
    assert verdict.category == "tls-port-mismatch"
    assert result.total_ms < 2000
    assert server.sent < 32 * 1024 * 1024, "the probe stopped reading long before 50 MB"


async def test_endless_ehlo_stops_at_the_bound(
    servers: ServerThread, contexts: TlsContexts
) -> None:
    """An EHLO reply of endless continuation lines is cut off and named."""
    port = servers.serve_streams(endless_ehlo)
    result = await run(port, contexts, 5)
    assert result.failure is not None and result.failure.phase == "ehlo"
    assert result.failure.problem is Problem.NOT_SMTP
    assert assess(result).verdict == "fail"


def test_endless_banner_peak_memory(servers: ServerThread) -> None:
    """Against 50 MB without a newline, a probe process peaks far below 200 MB RSS."""
    port = servers.serve_streams(Endless())
    code = textwrap.dedent(
        f"""
        import asyncio, json, re
        from pathlib import Path
        from bot.probe import ProbePolicy, assess, probe
        policy = ProbePolicy(allow_private=True, any_port=True)
        result = asyncio.run(probe("127.0.0.1:{port}", policy=policy, timeout=5))
        # VmHWM is this process image's own peak; ru_maxrss would include the forking
        # pytest process's size, which Linux carries across fork and exec.
        status = Path("/proc/self/status").read_text()
        peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
        print(json.dumps({{
            "category": assess(result).category,
            "rss_mb": peak_kb / 1024,
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["category"] == "tls-port-mismatch"
    assert report["rss_mb"] < RSS_LIMIT_MB


async def test_silent_after_greeting(scripted: Any, contexts: TlsContexts) -> None:
    """A server that greets and then never answers EHLO: connection-timeout in time."""
    port, _server = scripted(ehlo=None)
    result = await run(port, contexts, 1.5)
    verdict = assess(result)
    assert result.failure is not None and result.failure.phase == "ehlo"
    assert (verdict.verdict, verdict.category) == ("fail", "connection-timeout")


async def test_stall_after_220(scripted: Any, contexts: TlsContexts) -> None:
    """220 to STARTTLS, then silence: a handshake timeout, tls-handshake-failed."""
    port, _server = scripted(starttls="stall")
    result = await run(port, contexts, 1.5)
    verdict = assess(result)
    assert result.failure is not None
    assert result.failure.problem is Problem.HANDSHAKE_TIMEOUT
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")


async def test_hang_up_without_greeting(
    servers: ServerThread, contexts: TlsContexts
) -> None:
    """A server that closes at once without a greeting: connection-refused, named."""

    async def hang_up(reader: Any, writer: Any) -> None:
        writer.close()

    port = servers.serve_streams(hang_up)
    result = await run(port, contexts, 3)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "connection-refused")
    assert "without a greeting" in verdict.findings[0].message


@pytest.fixture
def tls_server(servers: ServerThread, pki: Any) -> Any:
    """Start an implicit-TLS stream server (the good certificate); returns its port."""

    def start(handler: Any) -> int:
        return servers.serve_streams(handler, tls=pki.good)

    return start


async def test_implicit_tls_rejecting_greeting(
    tls_server: Any, contexts: TlsContexts
) -> None:
    """A 421 greeting inside implicit TLS is rate-limited, and the mode is TLS."""

    async def busy(reader: Any, writer: Any) -> None:
        writer.write(b"421 4.3.2 Service shutting down\r\n")
        await writer.drain()

    result = await run(tls_server(busy), contexts, 3, mode=Mode.TLS)
    assert result.mode is Mode.TLS
    assert assess(result).category == "rate-limited"


async def test_implicit_tls_then_silence(
    tls_server: Any, contexts: TlsContexts
) -> None:
    """TLS comes up but no greeting follows: connection-timeout, saying TLS worked."""

    async def silent(reader: Any, writer: Any) -> None:
        await reader.read()

    result = await run(tls_server(silent), contexts, 1.2, mode=Mode.TLS)
    verdict = assess(result)
    assert verdict.category == "connection-timeout"
    assert verdict.findings[0].message.startswith("TLS handshake done, but no greeting")


async def test_implicit_tls_then_hang_up(
    tls_server: Any, contexts: TlsContexts
) -> None:
    """TLS comes up and the server hangs up without a greeting: connection-refused."""

    async def hang_up(reader: Any, writer: Any) -> None:
        await asyncio.sleep(0.05)
        writer.close()

    result = await run(tls_server(hang_up), contexts, 3, mode=Mode.TLS)
    assert result.mode is Mode.TLS
    assert assess(result).category == "connection-refused"


async def test_implicit_tls_not_smtp(tls_server: Any, contexts: TlsContexts) -> None:
    """Something that is not SMTP inside TLS (say, HTTP) is named as such."""

    async def http(reader: Any, writer: Any) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()

    result = await run(tls_server(http), contexts, 3, mode=Mode.TLS)
    assert result.failure is not None and result.failure.problem is Problem.NOT_SMTP


async def test_starttls_hang_up_before_reply(
    scripted: Any, contexts: TlsContexts
) -> None:
    """A server that closes instead of answering STARTTLS: starttls-unavailable."""
    port, _server = scripted(starttls="hangup")
    result = await run(port, contexts, 3)
    verdict = assess(result)
    assert (
        result.failure is not None
        and result.failure.problem is Problem.STARTTLS_NO_ANSWER
    )
    assert verdict.category == "starttls-unavailable"


async def test_no_goodbye_is_ignored(scripted: Any, contexts: TlsContexts) -> None:
    """A server that drops QUIT without 221 still passes; the QUIT row says so."""
    port, _server = scripted(quit_reply=False)
    result = await run(port, contexts, 3)
    assert assess(result).verdict == "ok"
    quit_phase = result.phase("quit")
    assert quit_phase is not None and not quit_phase.ok


async def test_ehlo_rejected(scripted: Any, contexts: TlsContexts) -> None:
    """A 5xx reply to EHLO means no ESMTP, so no STARTTLS: starttls-unavailable."""
    port, _server = scripted(ehlo=b"502 5.5.2 Error: command not recognized\r\n")
    result = await run(port, contexts, 3)
    verdict = assess(result)
    assert result.failure is not None and result.failure.code == 502
    assert verdict.category == "starttls-unavailable"
