"""
``smtpbot run --http --workers N``: the front starts N ``smtpbot work`` processes,
restarts one that dies, and stops them (SIGTERM, then SIGKILL) when it stops.

Workers run at a lower CPU priority (``--priority``, default ``idle``): when a burst
saturates the machine, acking Slack within its three seconds matters more than
answering a moment sooner (Slack retries slow acks and turns off apps that keep failing
them); the stream holds the backlog and the workers catch up with the CPU the acks
leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Mapping, MutableMapping
from typing import Final

log = logging.getLogger(__name__)

# CPU priorities a worker can run at: as the front, nice 19, or SCHED_IDLE (only CPU
# time no other process wants; the front preempts it as soon as it wakes).
PRIORITIES: Final = ("normal", "low", "idle")
WORKER_PRIORITY: Final = "idle"
# A worker that dies is started again after this long, doubling while it keeps dying
# within UNSTABLE_SECONDS of starting, up to MAX_RESTART_DELAY.
RESTART_DELAY: Final = 1.0
MAX_RESTART_DELAY: Final = 30.0
UNSTABLE_SECONDS: Final = 10.0
# Workers get this long after SIGTERM to finish their batch, then are killed.
STOP_SECONDS: Final = 15.0
METRICS_DIR_VAR: Final = "PROMETHEUS_MULTIPROC_DIR"


def share_metrics(environ: MutableMapping[str, str]) -> str | None:
    """
    Point prometheus_client's multiprocess mode at a fresh directory so the front's
    /metrics adds up every worker's counters; must run before prometheus_client is
    imported. Returns the directory when this call created it (the caller removes it).
    """
    if environ.get(METRICS_DIR_VAR):
        return None
    path = tempfile.mkdtemp(prefix="smtpbot-metrics-")
    environ[METRICS_DIR_VAR] = path
    return path


class WorkerPool:
    """
    N ``smtpbot work`` child processes, kept running until ``stop``.
    """

    def __init__(
        self,
        count: int,
        *,
        env: Mapping[str, str],
        priority: str = WORKER_PRIORITY,
        command: tuple[str, ...] = (sys.executable, "-m", "bot", "work"),
    ) -> None:
        self.count = count
        self._env = dict(env)
        self._priority = priority
        self._command = command
        self.started = 0
        # Workers running now (readiness: no worker, no answers).
        self.alive = 0

    async def _spawn(self, replaces: int | None) -> asyncio.subprocess.Process:
        self.started += 1
        # A replacement takes over what its dead predecessor left unfinished at once,
        # rather than after the reclaim time.
        extra = ("--replaces", str(replaces)) if replaces is not None else ()
        return await asyncio.create_subprocess_exec(
            *self._command,
            "--priority",
            self._priority,
            "--parent-pid",
            str(os.getpid()),
            *extra,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
        )

    async def _keep(self, stop: asyncio.Event) -> None:
        """
        One worker slot: run a worker, start it again when it dies, stop it on stop.
        """
        loop = asyncio.get_running_loop()
        delay = RESTART_DELAY
        dead: int | None = None
        while not stop.is_set():
            began = loop.time()
            proc = await self._spawn(dead)
            self.alive += 1
            log.info("worker_started pid=%s", proc.pid)
            exited = asyncio.ensure_future(proc.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                exited.cancel()
                await self._terminate(proc)
                self.alive -= 1
                return
            stopping.cancel()
            self.alive -= 1
            dead = proc.pid
            _mark_dead(proc.pid)
            if loop.time() - began >= UNSTABLE_SECONDS:
                delay = RESTART_DELAY  # it ran a while: a fresh failure
            log.error(
                "worker_died pid=%s code=%s restart_in=%.0fs",
                proc.pid,
                proc.returncode,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            # Should the next one die soon too, wait twice as long before the next.
            delay = min(delay * 2, MAX_RESTART_DELAY)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_SECONDS)
            except TimeoutError:
                log.error("worker_killed pid=%s (no exit after SIGTERM)", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        _mark_dead(proc.pid)

    async def run(self, stop: asyncio.Event) -> None:
        """
        Keep ``count`` workers running until ``stop`` is set, then stop them all.
        """
        await asyncio.gather(*(self._keep(stop) for _ in range(self.count)))


def _mark_dead(pid: int) -> None:
    """
    Let the shared metrics forget a dead worker's live gauges.
    """
    if os.environ.get(METRICS_DIR_VAR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def lower_priority(priority: str) -> str:
    """
    Put this process at ``priority`` (see PRIORITIES); what it got, for the log (a
    platform without SCHED_IDLE gets nice 19 instead).
    """
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    if priority in {"idle", "low"}:
        os.nice(19 - os.nice(0))
        return "low"
    return "normal"
