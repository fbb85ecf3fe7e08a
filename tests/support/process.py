"""
Servers as real processes for black-box tests: started, polled until healthy, and
stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import aiohttp


@contextlib.contextmanager
def server_process(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    stderr: int | IO[bytes] = subprocess.DEVNULL,
    stop_timeout: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """
    ``args`` as a process; stopped with SIGTERM (killed after ``stop_timeout``)
    afterwards, and its pipes closed.
    """
    process = subprocess.Popen(
        args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


async def wait_healthy(
    base: str, process: subprocess.Popen[bytes], *, timeout: float = 60
) -> None:
    """
    Poll /healthz until the process serves it.
    """
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, "bot exited early"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never became healthy")


def run_bot(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """
    `python -m bot ARGS` to the end, without a terminal; its output captured.
    """
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
