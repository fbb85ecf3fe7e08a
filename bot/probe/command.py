"""
``smtpbot check``: probe a server (a sweep of ports, one port, or a domain's MX hosts),
print the report or JSON, and return the exit code of DESIGN.md (0 ok/warn, 1 fail,
2 refused or bad usage).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from bot.errors import BotError, InputError
from bot.probe.engine import SWEEP_PORTS, probe_ports
from bot.probe.kb import KbLink, kb_links
from bot.probe.model import Mode, ProbeResult
from bot.probe.policy import ProbePolicy
from bot.probe.render import print_report, result_json
from bot.probe.target import Target, parse_target
from bot.probe.tls import build_contexts
from bot.probe.verdict import Severity, Verdict, assess

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
    resolver: Any = None,
) -> int:
    """
    Run the check and print its report; return the process exit code.

    ``resolver`` (a ``dns.asyncresolver.Resolver``) answers ``--mx`` lookups; default:
    the system's.
    """
    try:
        return asyncio.run(_check(request, env, out, resolver))
    except BotError as exc:
        err.write(f"smtpbot check: {exc}\n")
        return exc.exit_code


async def _check(
    request: CheckRequest, env: Mapping[str, str], out: TextIO, resolver: Any
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
    policy = dataclasses.replace(
        ProbePolicy.from_env(env),
        allow_private=request.allow_private,
        any_port=explicit_port is not None,
    )
    contexts = build_contexts(cafile=request.cafile)

    async def sweep(host: Target | str, ports: list[int]) -> list[ProbeResult]:
        return await probe_ports(
            host,
            ports,
            mode=mode,
            timeout=request.timeout,
            servername=request.servername,
            policy=policy,
            contexts=contexts,
        )

    if request.mx:
        from bot.probe.mx import lookup_mx

        hosts = await lookup_mx(target.host, timeout=request.timeout, resolver=resolver)
        port = explicit_port or MX_PORT
        batches = await asyncio.gather(*(sweep(h.host, [port]) for h in hosts))
        results = [r for batch in batches for r in batch]
    else:
        ports = [explicit_port] if explicit_port else list(SWEEP_PORTS)
        results = await sweep(target, ports)
    verdicts = [assess(r) for r in results]
    failing = [
        name
        for v in verdicts
        for f in v.findings
        if f.severity is Severity.FAIL
        for name in (f.entry, f.category)
    ]
    links = kb_links(failing)
    several = request.mx or explicit_port is None
    if request.json:
        objects = [
            result_json(r, v, links) for r, v in zip(results, verdicts, strict=True)
        ]
        out.write(
            json.dumps(objects if several else objects[0], ensure_ascii=False) + "\n"
        )
    else:
        _print_human(out, results, verdicts, links, summary=several)
    passed = [v.verdict != "fail" for v in verdicts]
    # A sweep asks "which port can a client use?": one working port is enough. An MX
    # check asks "does every exchanger accept TLS?": one broken MX is a failure.
    ok = all(passed) if request.mx else any(passed)
    return 0 if ok else 1


def _print_human(
    out: TextIO,
    results: list[ProbeResult],
    verdicts: list[Verdict],
    links: dict[str, KbLink],
    *,
    summary: bool,
) -> None:
    """
    Print a report per port and, for several, one line saying which to use.
    """
    from rich.console import Console

    console = Console(file=out, highlight=False, soft_wrap=False)
    for result, verdict in zip(results, verdicts, strict=True):
        print_report(console, result, verdict, links)
    if not summary:
        return
    usable = [
        f"{r.host} port {r.port} ({r.mode}, {v.verdict})"
        for r, v in zip(results, verdicts, strict=True)
        if v.verdict != "fail"
    ]
    console.print("Use: " + "; ".join(usable) if usable else "No probed port works.")
