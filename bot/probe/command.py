"""
``smtpbot check``: probe a server (a sweep of ports, one port, or a domain's MX hosts),
print the report or JSON, and return the exit code of DESIGN.md (0 ok/warn, 1 fail,
2 refused or bad usage).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from bot.errors import BotError, ConfigError, InputError, ProbeRefusedError
from bot.probe.engine import SWEEP_PORTS, probe_ports
from bot.probe.frozen import replace
from bot.probe.model import Mode
from bot.probe.output import emit
from bot.probe.policy import ProbePolicy
from bot.probe.record import Handover
from bot.probe.target import Target, parse_target
from bot.probe.tls import TlsContexts, build_contexts

# RFC 5321 §5.1: mail exchangers receive mail on the SMTP port.
MX_PORT = 25


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """
    The options of one ``smtpbot check`` run, as typed on the command line.
    """

    target: str
    port: int | None = None
    mode: str = "auto"
    timeout: float = 10.0
    servername: str | None = None
    cafile: str | None = None
    allow_private: bool = False
    json: bool = False
    mx: bool = False


def run_check(
    request: CheckRequest,
    *,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    started: float | None = None,
    handover: Handover | None = None,
) -> int:
    """
    Run the check and print its report; return the process exit code.

    ``started`` and ``handover`` continue a probe the quick path began
    (``bot.probe.quick``), within its deadline.
    """
    try:
        return asyncio.run(_check(request, env, out, started, handover))
    except BotError as exc:
        err.write(f"smtpbot check: {exc}\n")
        if request.json and exc.exit_code == 2:
            # A program reading --json gets one object whatever happened; nothing
            # was probed, so there is no verdict.
            out.write(json.dumps(_not_run(request, exc), ensure_ascii=False) + "\n")
        return exc.exit_code


def _not_run(request: CheckRequest, exc: BotError) -> dict[str, object]:
    """
    The ``--json`` object of a check that was not run: refused by the probe policy,
    bad usage or configuration, or (``--mx``) a domain that takes no mail.
    """
    reason = (
        "refused"
        if isinstance(exc, ProbeRefusedError)
        else "config"
        if isinstance(exc, ConfigError)
        else "input"
    )
    subject: dict[str, object] = (
        {"domain": request.target}
        if request.mx
        else {"target": {"host": request.target, "port": request.port}}
    )
    return {
        **subject,
        "verdict": None,
        "category": None,
        "error": str(exc),
        "reason": reason,
    }


async def _check(
    request: CheckRequest,
    env: Mapping[str, str],
    out: TextIO,
    started: float | None = None,
    handover: Handover | None = None,
) -> int:
    """
    Probe what the request names, print, and decide the exit code.
    """
    try:
        mode = Mode(request.mode)
    except ValueError:
        raise InputError("--mode must be auto, starttls or tls") from None
    target = parse_target(request.target)
    explicit_port = request.port or target.port
    # DESIGN.md: --allow-private and a port typed by the operator lift the policy for
    # this run.
    policy = replace(
        ProbePolicy.from_env(env),
        allow_private=request.allow_private,
        any_port=explicit_port is not None,
    )
    contexts = build_contexts(cafile=request.cafile)
    if request.mx:
        return await _check_domain(
            request, target, explicit_port or MX_PORT, mode, policy, contexts, out
        )
    results = await probe_ports(
        target,
        [explicit_port] if explicit_port else list(SWEEP_PORTS),
        mode=mode,
        timeout=request.timeout,
        servername=request.servername,
        policy=policy,
        contexts=contexts,
        started=started,
        handover=handover,
    )
    # A sweep asks "which port can a client use?": one working port is enough.
    return emit(results, as_json=request.json, several=explicit_port is None, out=out)


async def _check_domain(
    request: CheckRequest,
    target: Target,
    port: int,
    mode: Mode,
    policy: ProbePolicy,
    contexts: TlsContexts,
    out: TextIO,
) -> int:
    """
    ``--mx``: check the domain as senders see it; one object (or report) for it.
    """
    from bot.mxcheck.check import CheckBrokenError, check_domain
    from bot.mxcheck.fetch import https_context
    from bot.mxcheck.render import Links, print_domain, report_json

    if target.port is not None or target.address is not None:
        raise InputError(f"--mx needs a mail domain, not {target}")
    if request.servername is not None:
        raise InputError(
            "--servername does not apply to --mx: each MX is checked by name"
        )
    try:
        https = https_context(cafile=request.cafile)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"--cafile {request.cafile}: cannot load ({exc})") from exc
    try:
        report = await check_domain(
            target.host,
            policy=policy,
            contexts=contexts,
            timeout=request.timeout,
            port=port,
            mode=mode,
            https=https,
        )
    except CheckBrokenError as exc:
        if request.json:
            # Still one object for programs: no verdict can be given, so it fails.
            broken = {
                "domain": exc.domain,
                "verdict": "fail",
                "error": str(exc),
                "step": exc.step,
            }
            out.write(json.dumps(broken, ensure_ascii=False) + "\n")
        raise
    links = Links(report)
    if request.json:
        out.write(json.dumps(report_json(report, links), ensure_ascii=False) + "\n")
    else:
        from rich.console import Console

        print_domain(Console(file=out, highlight=False, soft_wrap=False), report, links)
    return 1 if report.verdict == "fail" else 0
