"""
The STARTTLS probe: why a mail client cannot connect to a server, in plain words.

    engine   probe / probe_ports: resolve once, policy, deadline   asyncio
    session  one connection: connect, who speaks first, close      asyncio
    steps    greeting, EHLO, STARTTLS, handshake (aiosmtplib)      asyncio
    notes    the running record of a probe, EHLO helpers           pure
    net      resolve, connect, wait for the first byte             sockets
    tls      TLS contexts, lazy trust store, handshake clock       ssl
    certs    certificate from getpeercert(), host name check       pure
    x509     certificate via cryptography (rejected ones only)     cryptography
    target   target parsing                                        pure
    policy   allowed addresses and ports, RFC 6761 names           pure
    model    the records                                           pure
    verdict  findings, verdict, taxonomy category                  pure
    advice   what to do about each finding                         pure
    render   JSON for --json, a rich table for people              pure
    kb       links to the knowledge base, when it loads            optional
    mx       MX lookup for --mx                                    dnspython
    command  ``smtpbot check``: options in, report out, exit code
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.probe.engine import SWEEP_PORTS, probe, probe_ports
    from bot.probe.model import Mode, ProbeResult
    from bot.probe.policy import ProbePolicy
    from bot.probe.target import Target, parse_target
    from bot.probe.tls import TlsContexts, build_contexts
    from bot.probe.verdict import Finding, Severity, Verdict, assess

# Name -> module, imported on first use (PEP 562): ``import bot.probe.quick`` must not
# load asyncio and aiosmtplib through the engine.
_EXPORTS = {
    "SWEEP_PORTS": "engine",
    "probe": "engine",
    "probe_ports": "engine",
    "Mode": "model",
    "ProbeResult": "model",
    "ProbePolicy": "policy",
    "Target": "target",
    "parse_target": "target",
    "TlsContexts": "tls",
    "build_contexts": "tls",
    "Finding": "verdict",
    "Severity": "verdict",
    "Verdict": "verdict",
    "assess": "verdict",
}

__all__ = [
    "SWEEP_PORTS",
    "Finding",
    "Mode",
    "ProbePolicy",
    "ProbeResult",
    "Severity",
    "Target",
    "TlsContexts",
    "Verdict",
    "assess",
    "build_contexts",
    "parse_target",
    "probe",
    "probe_ports",
]


def __getattr__(name: str) -> Any:
    """
    Import an exported name's module on first use.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.probe' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.probe.{module}"), name)
