"""
Probes on behalf of a user: the port policy, rate limits per user and per target, the
probe itself, knowledge-base advice for failures, and the record in the thread state.

While the state store is unavailable the rate limits are counted in-process instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.config import Settings
from bot.conversation.checks import (
    MX_PORT,
    SWEEP_PORTS,
    DomainSummary,
    Prober,
    ProbeTarget,
    ProgressCallback,
)
from bot.conversation.replies import ProbeOutcome, Reply, answer_reply
from bot.errors import BotError, StateUnavailableError
from bot.metrics import Metrics
from bot.state import ProbeRecord, StateStore, ThreadKey
from knowledge.model import KnowledgeBase

log = logging.getLogger(__name__)


class LocalWindow:
    """
    In-process rate-limit counters, used only while the store is unavailable.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}

    def within(self, limits: Sequence[tuple[str, int]], window: int) -> bool:
        now = self._clock()
        ok = True
        for name, limit in limits:
            start, count = self._counts.get(name, (now, 0))
            if now - start >= window:
                start, count = now, 0
            self._counts[name] = (start, count + 1)
            ok = ok and count + 1 <= limit
        return ok


class Checker:
    """
    Runs probes for users under the policy and the limits, and records them.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        store: StateStore,
        prober: Prober,
        kb: KnowledgeBase,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.prober = prober
        self.kb = kb
        self.metrics = metrics
        self._clock = clock
        self._local_limits = LocalWindow(clock)

    def _targets(self, target: ProbeTarget) -> tuple[list[int], str | None]:
        """
        The ports a probe will use, or a refusal when the port policy forbids them.
        """
        allowed = self.settings.probe_ports
        if target.mx and target.port is None:
            target = ProbeTarget(target.host, MX_PORT, mx=True)
        if target.port is not None:
            if target.port not in allowed:
                listed = ", ".join(str(p) for p in sorted(allowed))
                return (
                    [],
                    f"port {target.port} is not allowed for checks (allowed: {listed})",
                )
            return [target.port], None
        ports: list[int] = [p for p in SWEEP_PORTS if p in allowed]
        return (
            ports,
            None if ports else "none of the ports 587, 25, 465 is allowed for checks",
        )

    async def probe(
        self,
        target: ProbeTarget,
        *,
        user_id: str,
        progress: ProgressCallback,
        key: ThreadKey | None = None,
    ) -> ProbeOutcome:
        """
        Run a probe for a user under the port policy and rate limits, and record it.
        """
        ports, refusal = self._targets(target)
        if refusal is None and not await self._within_limits(target, user_id, ports):
            self.metrics.probes.labels("rate-limited").inc()
            minutes = max(1, self.settings.probe_window_seconds // 60)
            refusal = (
                f"too many checks (at most {self.settings.probe_user_limit} per person "
                f"and {self.settings.probe_target_limit} per server every {minutes} "
                "minutes); try again later"
            )
        if refusal is not None:
            return ProbeOutcome(str(target), refused=refusal)
        started = time.perf_counter()
        domain: DomainSummary | None = None
        try:
            if target.mx:
                domain = await self.prober.check_domain(target, progress=progress)
                summaries = domain.mx
            else:
                summaries = await self.prober(target, progress=progress)
        except BotError as exc:
            self.metrics.probes.labels("refused").inc()
            return ProbeOutcome(str(target), refused=str(exc))
        self.metrics.probe_seconds.observe(time.perf_counter() - started)
        for summary in summaries:
            self.metrics.probes.labels(summary.verdict).inc()
        # A domain's policy failures come first: they are what senders act on.
        advice = [
            self._entry(p.kb_entry)
            for p in (domain.policies if domain is not None else ())
            if p.result in ("fail", "warn") and p.kb_entry
        ]
        if domain is not None:
            advice += [self._advice(category) for category in domain.blocking]
        else:
            advice += [
                self._advice(s.category)
                for s in summaries
                if s.verdict == "fail" and s.category
            ]
        outcome = ProbeOutcome(
            str(target),
            summaries,
            tuple(dict.fromkeys(a for a in advice if a is not None)),
            domain=domain,
        )
        if key is not None and domain is not None:
            await self._record(
                key,
                ProbeRecord(
                    domain.domain,
                    user_id,
                    domain.verdict,
                    None,
                    "; ".join(domain.reasons)[:500],
                    at=self._clock(),
                ),
            )
        if key is not None:
            await self._record(
                key,
                *(
                    ProbeRecord(
                        s.target,
                        user_id,
                        s.verdict,
                        s.category,
                        "; ".join(f.message for f in s.findings)[:500],
                        at=self._clock(),
                    )
                    for s in summaries
                ),
            )
        return outcome

    async def _within_limits(
        self, target: ProbeTarget, user_id: str, ports: list[int]
    ) -> bool:
        """
        Count the probe against the user's and each target's limits.
        """
        limits = [(f"user:{user_id}", self.settings.probe_user_limit)]
        limits += [
            (f"target:{target.host}:{port}", self.settings.probe_target_limit)
            for port in ports
        ]
        window = self.settings.probe_window_seconds
        try:
            return await self.store.within_limits(limits, window=window)
        except StateUnavailableError:
            self.metrics.redis_errors.inc()
            return self._local_limits.within(limits, window)

    def _entry(self, entry_id: str | None) -> Reply | None:
        """
        The knowledge-base answer of one entry, if the base has it.
        """
        entry = self.kb.get(entry_id) if entry_id else None
        return answer_reply(entry, server=None) if entry is not None else None

    def _advice(self, category: str) -> Reply | None:
        """
        The knowledge-base answer for a probe's failure category.
        """
        entries = [e for e in self.kb.entries if e.category == category]
        entries.sort(key=lambda e: (not e.probe_helps, e.id))
        return answer_reply(entries[0], server=None) if entries else None

    async def _record(self, key: ThreadKey, *records: ProbeRecord) -> None:
        """
        Record probe results; an unavailable store is counted, not fatal.
        """
        try:
            await self.store.append(key, *records)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("state_append_failed key=%s error=%s", key, exc)
