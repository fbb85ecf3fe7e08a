# ruff: noqa: E501 (the fault table and its replies are kept whole on their lines)
"""
The faults, each with the category its failure belongs to (known from the fault itself,
never from the matcher), and the runner that starts every faulty endpoint on loopback,
runs each client against each and keeps what the client printed.
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from tests.knowledge.clientmatrix.clients import CLIENTS, REPO, Client
from tests.knowledge.clientmatrix.servers import FaultySmtp, FullBacklog
from tests.probe.lab import _bind_somewhere
from tests.probe.servers import HOSTNAME, make_cert, only_tls10, server_context

# Each client's own timeout: short enough for a quick matrix, long enough that loopback
# answers in time. A hung client is stopped after twice as long plus start-up.
TIMEOUT = 4
# A name under .invalid (RFC 6761 §6.4), resolved only inside the client's own namespace.
UNRESOLVABLE = "smtp.example.invalid"
SENDER, RECIPIENT = "app@client.test", "ops@mail.test"
# Each endpoint listens at an address of its own in this loopback network, so each can
# have the port a user would set (a real mail port, as in what the clients print).
LOOPBACK_NET = "127.64.0.0/16"
# RFC 8314 §3.3 (465, implicit TLS), RFC 6409 (587, submission), RFC 5321 (25).
MODE_PORTS = {"tls": 465, "starttls": 587, "plain": 25}


@dataclass(frozen=True)
class Fault:
    """One way sending fails: the endpoint, how the client is told to connect, and why."""

    name: str
    category: str
    mode: str
    what: str
    server: dict[str, Any] = field(default_factory=dict)
    credentials: bool = False
    listen: int | None = None

    @property
    def port(self) -> int:
        """The port the user set: 465 for implicit TLS, 587 for STARTTLS, 25 plain."""
        return self.listen or MODE_PORTS[self.mode]


FAULTS: tuple[Fault, ...] = (
    Fault(
        "implicit-tls-to-plain-port",
        "tls-port-mismatch",
        "tls",
        "implicit TLS spoken to a plaintext submission port (587) that offers STARTTLS",
        {"cert": "good"},
        listen=587,
    ),
    Fault(
        "starttls-to-implicit-tls-port",
        "tls-port-mismatch",
        "starttls",
        "STARTTLS client on an implicit-TLS port (waits for a greeting sent only after a handshake)",
        {"cert": "good", "implicit": True},
        listen=465,
    ),
    Fault(
        "no-starttls",
        "starttls-unavailable",
        "starttls",
        "server does not advertise STARTTLS; the client requires it",
        {},
    ),
    Fault(
        "starttls-first",
        "starttls-required",
        "plain",
        "MAIL FROM answered 530 5.7.0 Must issue a STARTTLS command first",
        {
            "cert": "good",
            "replies": {"MAIL": b"530 5.7.0 Must issue a STARTTLS command first\r\n"},
        },
    ),
    Fault(
        "self-signed",
        "tls-cert-untrusted",
        "starttls",
        "self-signed certificate",
        {"cert": "self-signed"},
    ),
    Fault(
        "wrong-name",
        "tls-cert-hostname",
        "starttls",
        "certificate from a trusted CA for another name (mail.other.test)",
        {"cert": "other-name"},
    ),
    Fault(
        "expired",
        "tls-cert-expired",
        "starttls",
        "certificate from a trusted CA that expired two days ago",
        {"cert": "expired"},
    ),
    Fault(
        "tls1.0-only",
        "tls-handshake-failed",
        "starttls",
        "server offers TLS 1.0 only",
        {"cert": "tls10"},
    ),
    Fault(
        "auth-rejected",
        "auth-failed",
        "starttls",
        "AUTH answered 535 5.7.8",
        {
            "cert": "good",
            "replies": {
                "AUTH": b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
            },
        },
        credentials=True,
    ),
    Fault(
        "auth-required",
        "auth-required",
        "starttls",
        "MAIL FROM answered 530 5.7.0 Authentication required (client sent no AUTH)",
        {"cert": "good", "replies": {"MAIL": b"530 5.7.0 Authentication required\r\n"}},
    ),
    Fault(
        "closed-port",
        "connection-refused",
        "starttls",
        "nothing listens on the port",
        {"kind": "closed"},
    ),
    Fault(
        "unresolvable-name",
        "dns-failure",
        "starttls",
        f"the server name ({UNRESOLVABLE}) does not resolve (NXDOMAIN)",
        {"kind": "nxdomain"},
    ),
    Fault(
        "connect-timeout",
        "connection-timeout",
        "starttls",
        "SYN dropped (the listener's accept queue is full): the connect times out",
        {"kind": "backlog"},
    ),
    Fault(
        "message-too-large",
        "message-too-large",
        "plain",
        "end of DATA answered 552 5.3.4",
        {"replies": {"DATA": b"552 5.3.4 Message size exceeds fixed limit\r\n"}},
    ),
    Fault(
        "user-unknown",
        "recipient-unknown",
        "plain",
        "RCPT TO answered 550 5.1.1 User unknown",
        {
            "replies": {
                "RCPT": b"550 5.1.1 <ops@mail.test>: Recipient address rejected: User unknown in local recipient table\r\n"
            }
        },
    ),
    Fault(
        "relay-denied",
        "relay-denied",
        "plain",
        "RCPT TO answered 554 5.7.1 Relay access denied",
        {"replies": {"RCPT": b"554 5.7.1 <ops@mail.test>: Relay access denied\r\n"}},
    ),
    Fault(
        "too-many-connections",
        "rate-limited",
        "plain",
        "greeting 421 4.7.0 too many connections",
        {
            "banner": b"421 4.7.0 mail.test Error: too many connections from 127.0.0.1\r\n"
        },
    ),
)


@dataclass
class Endpoints:
    """The running faulty endpoints: where each fault listens, and the CA to trust."""

    cafile: str
    addresses: dict[str, tuple[str, int]]
    stoppers: list[Any]


def _cert(
    names: tuple[str, ...], issuer: trustme.CA | None, days: tuple[int, int]
) -> tuple[bytes, bytes]:
    """
    A leaf certificate and key (PEM) for ``names``, signed by ``issuer`` (or by itself).
    An address is named both as an IP address and as a DNS name: Jakarta Mail's and
    s-nail's own identity checks read only DNS names and the common name.
    """
    now = dt.datetime.now(dt.UTC)
    return make_cert(
        issuer=issuer,
        not_before=now + dt.timedelta(days=days[0]),
        not_after=now + dt.timedelta(days=days[1]),
        names=names,
        addresses_as_dns=True,
        chain=False,
    )


def _context(kind: str, host: str, ca: trustme.CA, workdir: Path) -> ssl.SSLContext:
    """The server context of one certificate fault, for the endpoint at ``host``."""
    names = {"other-name": ("mail.other.test",)}.get(kind, (HOSTNAME, host))
    issuer = None if kind == "self-signed" else ca
    days = (-90, -2) if kind == "expired" else (-1, 90)
    context = server_context(*_cert(names, issuer, days), workdir, f"{kind}-{host}")
    return only_tls10(context) if kind == "tls10" else context


@contextmanager
def endpoints(workdir: Path, faults: tuple[Fault, ...] = FAULTS) -> Iterator[Endpoints]:
    """
    Start one endpoint per fault, each at an address of its own in ``LOOPBACK_NET`` on
    the port a user would have set (587, 465 or 25); stop them all at the end.
    """
    ca = trustme.CA()
    cafile = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    running = Endpoints(str(cafile), {}, [])
    try:
        for fault in faults:
            spec = dict(fault.server)
            kind, port = spec.pop("kind", "smtp"), fault.port
            if kind == "closed":
                host, sock = _bind_somewhere(LOOPBACK_NET, port)
                sock.close()
            elif kind == "nxdomain":
                host = UNRESOLVABLE
            elif kind == "backlog":
                backlog = FullBacklog(LOOPBACK_NET, port)
                backlog.start()
                host = backlog.host
                running.stoppers.append(backlog.stop)
            else:
                cert = spec.pop("cert", None)
                server = FaultySmtp(host=LOOPBACK_NET, port=port, **spec)
                server.start()
                running.stoppers.append(server.stop)
                host = server.host
                if cert is not None:
                    # Used from the first connection on, so set once the address is known.
                    server.tls = _context(cert, host, ca, workdir)
            running.addresses[fault.name] = (host, port)
        yield running
    finally:
        for stop in running.stoppers:
            stop()


def run_spec(fault: Fault, running: Endpoints) -> dict[str, Any]:
    """The run a client is given for a fault."""
    host, port = running.addresses[fault.name]
    run: dict[str, Any] = {
        "host": host,
        "port": port,
        "mode": fault.mode,
        "cafile": running.cafile,
        "timeout": TIMEOUT,
        "from": SENDER,
        "to": RECIPIENT,
    }
    if fault.credentials:
        run.update(user="app@client.test", password="not-the-password")
    return run


def netns_prefix() -> list[str]:
    """The command that runs a client in a namespace of its own that resolves nothing."""
    unshare = shutil.which("unshare") or "unshare"
    for prefix in ([unshare, "-n", "-m"], [unshare, "-r", "-n", "-m"]):
        if (
            subprocess.run(
                [*prefix, "true"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return [*prefix, sys.executable, "-m", "tests.knowledge.clientmatrix.netns"]
    raise RuntimeError("unshare cannot create a network namespace here")


def run_client(
    client: Client, fault: Fault, running: Endpoints, workdir: Path
) -> dict[str, Any]:
    """Run one client against one fault's endpoint; what it printed and its exit code."""
    run = run_spec(fault, running)
    argv = client.argv(run, workdir)
    shown = shlex.join(argv)
    if fault.server.get("kind") == "nxdomain":
        argv = [*netns_prefix(), *argv]
    env = {**_base_env(), **(client.env(run, workdir) if client.env else {})}
    try:
        done = subprocess.run(
            argv,
            input=client.stdin(run) if client.stdin else b"",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            timeout=TIMEOUT * 3 + 15,
            check=False,
        )
        output, code = done.stdout.decode("utf-8", "replace"), done.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode("utf-8", "replace")
        code = None
    return {
        "text": output.strip("\n"),
        "label": fault.category,
        "client": client.name,
        "fault": fault.name,
        "fault_detail": fault.what,
        "command": shown,
        "exit": code,
    }


def _base_env() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "LANG", "TMPDIR", "GOCACHE", "JAVA_HOME")
    return {key: os.environ[key] for key in keep if key in os.environ} | {
        "LC_ALL": "C.UTF-8"
    }


def run_matrix(
    workdir: Path,
    *,
    clients: tuple[Client, ...] = CLIENTS,
    faults: tuple[Fault, ...] = FAULTS,
    workers: int = 6,
) -> list[dict[str, Any]]:
    """Every client against every fault, in parallel; one result per pair, in order."""
    usable = [client for client in clients if client.available()]
    with endpoints(workdir, faults) as running, ThreadPoolExecutor(workers) as pool:
        for client in usable:
            if client.prepare is not None:
                client.prepare(workdir)
        versions = {client.name: client.version() for client in usable}
        jobs = [
            pool.submit(run_client, client, fault, running, workdir)
            for client in usable
            for fault in faults
        ]
        results = [job.result() for job in jobs]
    for result in results:
        result["version"] = versions[result["client"]]
    return results
