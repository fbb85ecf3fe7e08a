"""
What ``/readyz`` checks: that the work a replica takes on gets done, not only that
Redis answers a PING.

- Redis is reachable and is a master (after a Sentinel failover, the new one).
- The consumer groups the workers and the escalation desk read with exist. If Redis
  lost its data (FLUSHALL, a restart without persistence) they are gone and nothing
  queued would be read: the check creates them again and reports not ready this once.
- Something answers queued messages: the in-process worker can read the stream, or at
  least one ``smtpbot work`` child is running.
- The queue moves: the oldest queued message has not waited longer than
  INTAKE_STUCK_SECONDS while no worker finished any (workers that run but are hung,
  or fail every try). A backlog that drains slowly is not stuck.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import StateUnavailableError
from bot.escalation.store import EscalationStore
from bot.slack.intake import Intake
from bot.state.redis_store import RedisStore

# A problem with the workers, or None when they are fine.
WorkerCheck = Callable[[], str | None]


class NotReadyError(StateUnavailableError):
    """
    Redis answers, but work taken in is not getting done (not a Redis error).
    """


class Readiness:
    """
    The checks behind /readyz for one process.
    """

    def __init__(
        self,
        store: RedisStore,
        *,
        intake: Intake | None = None,
        escalations: EscalationStore | None = None,
        workers: WorkerCheck | None = None,
        stuck_after: float | None = None,
    ) -> None:
        self._store = store
        self._intake = intake
        self._escalations = escalations
        self._workers = workers
        self._stuck_after = stuck_after

    async def prepare(self) -> None:
        """
        Create the consumer groups at start-up (so a fresh deployment is ready at
        once); an unreachable Redis is left to the checks.
        """
        try:
            if self._intake is not None:
                await self._intake.ensure_group()
            if self._escalations is not None:
                await self._escalations.ensure_group()
        except StateUnavailableError:
            pass

    async def check(self) -> None:
        """
        Raise StateUnavailableError naming the first problem found.
        """
        await self._store.check()
        if self._intake is not None and await self._intake.ensure_group():
            raise StateUnavailableError(
                "the intake consumer group was missing (did Redis lose its data?); "
                "created it again"
            )
        if self._escalations is not None and not await self._escalations.group_exists():
            await self._escalations.ensure_group()
            raise StateUnavailableError(
                "the escalation consumer group was missing (did Redis lose its "
                "data?); created it again"
            )
        if self._workers is not None:
            problem = self._workers()
            if problem is not None:
                raise NotReadyError(problem)
        if self._intake is not None and self._stuck_after is not None:
            problem = await self._intake.stuck(self._stuck_after)
            if problem is not None:
                raise NotReadyError(problem)
