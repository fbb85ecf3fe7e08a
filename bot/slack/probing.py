"""
The ``Prober`` the Slack app and the console use: ``bot.probe`` under the configured
policy.

Probes asked for from Slack always run under ``PROBE_ALLOW_CIDRS`` and ``PROBE_PORTS``
(DESIGN.md); nothing here lifts them. Ports of a sweep are probed side by side; each
step of each port, then each port's verdict, goes to the progress callback, so the
"checking…" message moves on as the probe does.
``--mx`` checks a mail domain as senders see it (``bot.mxcheck``): its MX hosts on 25,
MTA-STS, DANE and TLS-RPT, under the same policy.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Final

from bot.config import Settings
from bot.conversation.checks import (
    SWEEP_PORTS,
    DomainSummary,
    Finding,
    PolicySummary,
    ProbeSummary,
    ProbeTarget,
    ProgressCallback,
)
from bot.probe import (
    ProbePolicy,
    ProbeResult,
    Target,
    TlsContexts,
    assess,
    build_contexts,
    probe_ports,
)
from bot.probe.model import Phase

if TYPE_CHECKING:
    from bot.mxcheck.model import DomainReport

# RFC 5321 §5.1: mail exchangers receive on port 25.
MX_PORT: Final = 25


def summarize(result: ProbeResult) -> ProbeSummary:
    """
    A probe result as the engine's summary (verdict, category, findings, TLS, cert).
    """
    verdict = assess(result)
    cert = result.cert
    cert_line = None
    if cert is not None and cert.info is not None:
        state = "trusted" if cert.trusted else "NOT trusted"
        cert_line = (
            f"{cert.info.subject}, {state}, expires {cert.info.not_after:%Y-%m-%d}"
        )
    return ProbeSummary(
        host=result.host,
        port=result.port,
        verdict=verdict.verdict,
        category=verdict.category,
        findings=tuple(
            Finding(f.id, str(f.severity), f.message, f.advice)
            for f in verdict.findings
        ),
        banner=result.banner,
        tls=f"{result.tls.version} {result.tls.cipher}" if result.tls else None,
        certificate=cert_line,
        total_ms=result.total_ms,
    )


def summarize_domain(report: DomainReport) -> DomainSummary:
    """
    A domain report as the engine's summary: verdict, MX probes, each mechanism.
    """
    sts, dane, rpt = report.mta_sts, report.dane, report.tls_rpt
    sts_detail = ", ".join(
        part
        for part in (
            f"mode {sts.mode}" if sts.mode else "",
            f"id {sts.policy_id}" if sts.policy_id else "",
            f"mx {' '.join(sts.mx_patterns)}" if sts.mx_patterns else "",
        )
        if part
    )
    dane_detail = (
        "MX records DNSSEC-validated" if dane.dnssec else "MX records not signed"
    )
    sections = (
        ("MTA-STS", str(sts.result), sts_detail, sts.reasons),
        ("DANE", str(dane.result), dane_detail, dane.reasons),
        ("TLS-RPT", str(rpt.result), ", ".join(rpt.rua), rpt.reasons),
    )
    from bot.mxcheck.judge import TLS_CATEGORIES

    blocking = (
        check.verdict.category
        for check in report.mx
        if check.verdict is not None
        and check.verdict.verdict == "fail"
        and check.verdict.category not in TLS_CATEGORIES
    )
    return DomainSummary(
        domain=report.domain,
        verdict=report.verdict,
        blocking=tuple(dict.fromkeys(c for c in blocking if c)),
        reasons=tuple(r.text for r in report.reasons),
        mx=tuple(
            summarize(check.probe) for check in report.mx if check.probe is not None
        ),
        policies=tuple(
            PolicySummary(
                name,
                result,
                detail,
                tuple(r.text for r in reasons),
                tuple(dict.fromkeys(r.advice for r in reasons if r.advice)),
                next((r.kb_entry for r in reasons if r.kb_entry), None),
            )
            for name, result, detail, reasons in sections
        ),
    )


def _phases(summary: ProbeSummary) -> str:
    """
    One progress line for a finished port.
    """
    return f"port {summary.port}: {summary.verdict}" + (
        f" ({summary.category})" if summary.category else ""
    )


class PolicyProber:
    """
    Runs ``bot.probe`` with the Slack policy, timeout and trust anchors from Settings.
    """

    def __init__(self, settings: Settings, *, cafile: str | None = None) -> None:
        self._policy = ProbePolicy(
            allow_cidrs=settings.probe_allow_cidrs, ports=settings.probe_ports
        )
        self._timeout = settings.probe_timeout
        self._cafile = cafile
        self._contexts: TlsContexts | None = None
        self._https: ssl.SSLContext | None = None

    def _tls(self) -> TlsContexts:
        """
        The TLS contexts, built once (loading the trust store costs milliseconds).
        """
        if self._contexts is None:
            self._contexts = build_contexts(cafile=self._cafile)
        return self._contexts

    async def __call__(
        self, target: ProbeTarget, *, progress: ProgressCallback
    ) -> tuple[ProbeSummary, ...]:
        """
        Probe the target's port, or sweep 587/25/465, or the domain's MX hosts.
        """
        if target.mx:
            return (await self.check_domain(target, progress=progress)).mx
        else:
            ports = (
                [target.port]
                if target.port
                else [p for p in SWEEP_PORTS if p in self._policy.ports]
            )
            for port in ports:
                self._policy.check_port(port)
            await progress(f"connecting to {target.host}")
            jobs = [self._one(Target(target.host), port, progress) for port in ports]
        return tuple(await asyncio.gather(*jobs))

    async def check_domain(
        self, target: ProbeTarget, *, progress: ProgressCallback
    ) -> DomainSummary:
        """
        Check a mail domain (MX hosts, MTA-STS, DANE, TLS-RPT) under the Slack policy.
        """
        from bot.mxcheck.check import check_domain
        from bot.mxcheck.fetch import https_context

        if self._https is None:
            self._https = https_context(cafile=self._cafile)
        report = await check_domain(
            target.host,
            policy=self._policy,
            contexts=self._tls(),
            timeout=self._timeout,
            port=target.port or MX_PORT,
            https=self._https,
            progress=progress,
        )
        return summarize_domain(report)

    async def _one(
        self, target: Target, port: int, progress: ProgressCallback
    ) -> ProbeSummary:
        """
        Probe one port, reporting each step as it completes, then the port's verdict.
        """
        steps: asyncio.Queue[str | None] = asyncio.Queue()

        def on_phase(port: int, phase: Phase) -> None:
            steps.put_nowait(
                f"port {port}: {phase.name} {'ok' if phase.ok else 'failed'}"
            )

        async def report_steps() -> None:
            # One update in flight per port; steps that pile up meanwhile are skipped,
            # only the newest matters (and Slack rate-limits chat.update). None: done.
            while (line := await steps.get()) is not None:
                while not steps.empty():
                    newer = steps.get_nowait()
                    if newer is None:
                        return await progress(line)
                    line = newer
                await progress(line)

        reporter = asyncio.create_task(report_steps())
        try:
            (result,) = await probe_ports(
                target,
                [port],
                timeout=self._timeout,
                policy=self._policy,
                contexts=self._tls(),
                on_phase=on_phase,
            )
        finally:
            steps.put_nowait(None)
            await reporter
        summary = summarize(result)
        await progress(_phases(summary))
        return summary


def make_prober(settings: Settings) -> PolicyProber:
    """
    The prober for Slack and the console.
    """
    return PolicyProber(settings, cafile=settings.probe_cafile)
