"""
The ``Prober`` the Slack app and the console use: ``bot.probe`` under the configured
policy.

Probes asked for from Slack always run under ``PROBE_ALLOW_CIDRS`` and ``PROBE_PORTS``
(DESIGN.md); nothing here lifts them. Ports of a sweep are probed side by side; each
step of each port, then each port's verdict, goes to the progress callback, so the
"checking…" message moves on as the probe does.
``--mx`` looks up the domain's MX hosts (dnspython) and checks the preferred ones on 25.
"""

from __future__ import annotations

import asyncio
from typing import Final

from bot.config import Settings
from bot.conversation.checks import (
    SWEEP_PORTS,
    Finding,
    ProbeSummary,
    ProbeTarget,
    ProgressCallback,
)
from bot.errors import ProbeRefusedError
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
from bot.probe.policy import special_name_addresses

# RFC 5321 §5.1: mail exchangers receive on port 25; check at most this many of them.
MX_PORT: Final = 25
MX_HOSTS: Final = 2
# DNS gets this long to list MX hosts before the check gives up.
MX_TIMEOUT: Final = 5.0


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
            hosts = await self._mx_hosts(target.host)
            await progress(f"MX hosts: {', '.join(hosts)}")
            port = target.port or MX_PORT
            jobs = [self._one(Target(host, port), port, progress) for host in hosts]
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

    async def _mx_hosts(self, domain: str) -> list[str]:
        """
        The preferred MX hosts of ``domain``; ProbeRefusedError when there are none.
        """
        if special_name_addresses(domain) is not None:
            raise ProbeRefusedError(f"{domain} is a special-use name with no MX hosts")
        import dns.asyncresolver
        import dns.exception

        try:
            answer = await dns.asyncresolver.resolve(domain, "MX", lifetime=MX_TIMEOUT)
        except dns.exception.DNSException as exc:
            raise ProbeRefusedError(f"no MX hosts for {domain}: {exc}") from exc
        records = sorted(answer, key=lambda r: (r.preference, str(r.exchange)))
        hosts = [str(r.exchange).rstrip(".") for r in records if str(r.exchange) != "."]
        if not hosts:
            raise ProbeRefusedError(f"{domain} accepts no mail (null MX, RFC 7505)")
        return hosts[:MX_HOSTS]


def make_prober(settings: Settings) -> PolicyProber:
    """
    The prober for Slack and the console.
    """
    return PolicyProber(settings, cafile=settings.probe_cafile)
