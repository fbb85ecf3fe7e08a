"""
``smtpbot console`` driven through a pseudo-terminal (and through a pipe), as a person
would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.bot import delete_prefix
from tests.support.smtp import SmtpServer, smtp_server

ROOT = Path(__file__).resolve().parents[2]
STARTTLS = "530 5.7.0 Must issue a STARTTLS command first"
pytestmark = pytest.mark.slow


def console_env(**extra: str) -> dict[str, str]:
    """
    The console's environment: no Slack or Redis settings unless given.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "REDIS_", "PROBE_"))
    }
    env.update({"PYTHONPATH": str(ROOT), "TERM": "dumb", **extra})
    return env


class Terminal:
    """
    A process on a pseudo-terminal: type lines, wait for text.
    """

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def _read(self, deadline: float) -> None:
        ready, _, _ = select.select(
            [self.master], [], [], max(0.0, deadline - time.monotonic())
        )
        if ready:
            with contextlib.suppress(OSError):
                self.output += os.read(self.master, 65536).decode(errors="replace")

    async def expect(self, text: str, *, timeout: float = 30.0) -> str:
        """
        Wait until ``text`` appears in the output; returns the output so far.
        """
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not seen; output was:\n{self.output[-3000:]}"
                )
            await asyncio.to_thread(self._read, min(deadline, time.monotonic() + 0.2))
        return self.output

    def send(self, line: str) -> None:
        """
        Type a line and Enter.
        """
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        """
        Wait for the process (killing it if needed) and close the terminal.
        """
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        return code


@contextlib.contextmanager
def terminal(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[Terminal]:
    """
    A Terminal that is always cleaned up.
    """
    session = Terminal(args, env, cwd)
    try:
        yield session
    finally:
        if session.process.poll() is None:
            session.process.kill()
        session.close()


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    """
    A local STARTTLS server with an untrusted test certificate.
    """
    async with smtp_server(tmp_path) as server:
        yield server


async def test_console_session_answers_checks_and_escalates(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """
    Paste, answer, accepted check, feedback, human request, then quiet, then quit.
    """
    env = console_env(PROBE_ALLOW_CIDRS="127.0.0.0/8", PROBE_PORTS=str(smtp.port))
    with terminal([sys.executable, "-m", "bot", "console"], env, tmp_path) as term:
        await term.expect("embedded in-process store")
        await term.expect("paste> ")
        term.send(STARTTLS)
        term.send(f"host=127.0.0.1:{smtp.port}")
        term.send("")
        await term.expect("Fix:")
        await term.expect(f"Run the STARTTLS check on 127.0.0.1:{smtp.port}? [y/N]")
        term.send("y")
        await term.expect(f"127.0.0.1:{smtp.port}: FAIL (tls-cert-untrusted)")
        await term.expect("Did this help? [y/n]")
        term.send("n")
        await term.expect("Sorry that didn't help")
        term.send("human")
        await term.expect("You asked for a human.")
        term.send("human")
        await term.expect("already been asked")
        term.send("535-5.7.8 Username and Password not accepted")
        term.send("")
        await term.expect("I'm staying quiet")
        term.send("quit")
        await term.expect("Bye.")
        assert term.close() == 0


async def test_run_without_tokens_at_a_terminal_starts_the_console(
    tmp_path: Path,
) -> None:
    """
    `smtpbot run` at a terminal with no tokens explains, then opens the console.
    """
    with terminal(
        [sys.executable, "-m", "bot", "run"], console_env(), tmp_path
    ) as term:
        await term.expect("No Slack tokens are configured")
        await term.expect("Starting the console now.")
        await term.expect("paste> ")
        term.send("hello there")
        term.send("")
        await term.expect("I don't recognise a mail error")
        term.send("quit")
        await term.expect("Bye.")
        assert term.close() == 0


def test_console_works_from_a_pipe_on_redis(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    """
    Piped input (no terminal) works, on Redis when REDIS_URL is set.
    """
    env = console_env(REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix)
    script = f"{STARTTLS}\nsmtp.example.com:587\n\nn\ny\nquit\n"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "console"],
            input=script,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        asyncio.run(delete_prefix(redis_url, prefix))
    assert result.returncode == 0, result.stderr
    assert "State: Redis at redis://" in result.stdout
    assert "Run the STARTTLS check on smtp.example.com:587? [y/N]" in result.stdout
    assert "Glad it helped" in result.stdout
    assert result.stdout.rstrip().endswith("Bye.")
