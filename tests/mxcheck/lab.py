"""
The lab process: serve a test world inside its own network namespace, and run
``smtpbot check`` there on request.

Started as ``unshare -n -m python -m tests.mxcheck.lab SPEC`` (root, or ``-r``
unprivileged): it brings up the namespace's loopback interface, bind-mounts a
``resolv.conf`` that names its own DNS server (127.0.0.1:53) over ``/etc/resolv.conf``
in its private mount namespace, and starts the DNS server, the SMTP servers (port 25)
and the HTTPS policy hosts (port 443) of the spec. The product runs unchanged: it reads
``/etc/resolv.conf`` like anywhere else. Nothing here can reach beyond the namespace.

Protocol on stdin/stdout, one JSON object per line: the lab prints ``{"ready": true}``;
then each request ``{"args": [...], "env": {...}, "subprocess": bool}`` runs
``smtpbot check ARGS`` (in this process through the real CLI, or as a child process)
and is answered with the exit code, stdout, stderr, and what each server saw during
the run (connections and HTTP requests), plus the DNS questions asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import io
import json
import logging
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, cast

import click
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiosmtpd.smtp import SMTP as AiosmtpdSMTP

# linux/sockios.h and linux/if.h: read and set interface flags; IFF_UP.
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
# linux/mount.h: MS_BIND.
MS_BIND = 4096
# Bounds on an HTTP request head the policy hosts read.
MAX_REQUEST = 16 * 1024


def bring_up_loopback() -> None:
    """
    Set ``lo`` up in this (new) network namespace: 127.0.0.0/8 and ::1 appear.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _bind(source: Path, target: Path) -> None:
    """
    Bind-mount ``source`` over ``target`` (this mount namespace only).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(bytes(source), bytes(target), None, MS_BIND, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"bind mount over {target}: {os.strerror(error)}")


def mount_resolv_conf(workdir: Path) -> None:
    """
    Make ``/etc/resolv.conf`` (in this mount namespace only) name the lab's server.

    Where it is a file (or a link to one) it is covered directly. Where it is missing
    or a dangling link (systemd-resolved not running), /etc itself is covered by a copy
    made of links to the real entries, plus the lab's own resolv.conf.
    """
    source = workdir / "resolv.conf"
    source.write_text("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    target = Path(os.path.realpath("/etc/resolv.conf"))
    if target.is_file():
        _bind(source, target)
        return
    original, etc = workdir / "etc-original", workdir / "etc"
    original.mkdir()
    etc.mkdir()
    _bind(Path("/etc"), original)
    for entry in os.listdir(original):
        if entry != "resolv.conf":
            (etc / entry).symlink_to(original / entry)
    (etc / "resolv.conf").write_text(source.read_text())
    _bind(etc, Path("/etc"))


class Tally:
    """
    What the servers saw, reset before each run (the servers' thread writes it).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: Counter[str] = Counter()
        self.requests: defaultdict[str, list[str]] = defaultdict(list)
        self.questions: list[str] = []

    def snapshot(self) -> dict[str, Any]:
        """
        Everything seen since the last reset, then reset.
        """
        with self.lock:
            seen = {
                "connections": dict(self.connections),
                "requests": dict(self.requests),
                "questions": list(self.questions),
            }
            self.connections.clear()
            self.requests.clear()
            self.questions.clear()
        return seen


class Dns(asyncio.DatagramProtocol):
    """
    A DNS server for the spec's records: AD on answers from signed zones when asked.
    """

    def __init__(self, spec: dict[str, Any], tally: Tally) -> None:
        self.records: dict[str, dict[str, list[str]]] = spec["records"]
        self.signed: list[str] = spec["signed"]
        self.tally = tally
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """
        Keep the socket.
        """
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """
        Answer one query.
        """
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a malformed query gets no answer
            return
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self.tally.lock:
            self.tally.questions.append(f"{name} {rdtype}")
        # Like a recursive resolver, follow CNAMEs (at most 8) and answer with the
        # whole chain; the answer is validated (AD) only if every name in it is in a
        # signed zone.
        chain = [name]
        names = self.records.get(name.rstrip("."))
        while (
            names is not None
            and rdtype not in names
            and rdtype != "CNAME"
            and "CNAME" in names
            and len(chain) < 8
        ):
            target = names["CNAME"][0]
            reply.answer.append(
                dns.rrset.from_text(chain[-1], 300, "IN", "CNAME", target)
            )
            chain.append(target.lower())
            names = self.records.get(target.lower().rstrip("."))
        if names is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif "SERVFAIL" in names:
            # What a validating resolver answers for a zone whose signatures fail.
            reply.set_rcode(dns.rcode.SERVFAIL)
        elif rdtype in names:
            reply.answer.append(_rrset(chain[-1], rdtype, names[rdtype]))
        wants = bool(query.flags & dns.flags.AD) or bool(query.ednsflags & dns.flags.DO)
        hosts = [n.rstrip(".") for n in chain]
        if wants and all(
            any(h == z or h.endswith("." + z) for z in self.signed) for h in hosts
        ):
            reply.flags |= dns.flags.AD
        wire = reply.to_wire()
        if names is not None and "MALFORMED" in names:
            # A broken server or middlebox: the answer cut off inside its records.
            wire = wire[: max(12, len(wire) - 7)]
        assert self.transport is not None
        self.transport.sendto(wire, addr)


def _rrset(name: str, rdtype: str, values: list[str]) -> dns.rrset.RRset:
    """
    An RRset from presentation values; ``\\# <hex>`` is raw rdata sent as is, even
    where it does not parse as the type (garbage a real zone can hold).
    """
    if not any(v.startswith("\\#") for v in values):
        return dns.rrset.from_text(name, 300, "IN", rdtype, *values)
    rrset = dns.rrset.RRset(
        dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
    )
    rrset.ttl = 300
    for value in values:
        data = bytes.fromhex(value.removeprefix("\\#").strip())
        rrset.add(dns.rdata.GenericRdata(dns.rdataclass.IN, rrset.rdtype, data))
    return rrset


class _Sink:
    """
    Accepts and drops mail (the probe never sends any).
    """

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _context(server: dict[str, Any]) -> ssl.SSLContext:
    """
    A server context for the server's certificate chain and key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server["cert"], server["key"])
    return context


async def _http(
    server: dict[str, Any],
    tally: Tally,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """
    Answer one HTTP/1.1 request from the server's routes (404 for other paths).
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
    host = next(
        (
            v.strip()
            for k, _, v in (line.partition(":") for line in lines[1:])
            if k.lower() == "host"
        ),
        "",
    )
    with tally.lock:
        tally.requests[server["name"]].append(f"{host} {path}")
    route = server["routes"].get(path) or {
        "status": 404,
        "reason": "Not Found",
        "body": "not here\n",
        "headers": {},
    }
    if route.get("cut_head") is not None:
        # Answer, then hang up in the middle of the header lines.
        head = (
            f"HTTP/1.1 {route['status']} {route['reason']}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in route["headers"].items())
        ).encode("latin-1")
        writer.write(head[: route["cut_head"]])
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()
        return
    if route.get("stall"):
        # Accept the request, never answer (until the client gives up).
        await reader.read()
        writer.close()
        return
    body = route["body"].encode()
    headers = {"Connection": "close", **route["headers"]}
    if route.get("raw"):
        pass
    elif route.get("chunked"):
        headers["Transfer-Encoding"] = "chunked"
        half = len(body) // 2
        body = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(part), part)
                for part in (body[:half], body[half:])
            )
            + b"0\r\n\r\n"
        )
    else:
        headers["Content-Length"] = str(len(body))
    response = (
        f"HTTP/1.1 {route['status']} {route['reason']}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    writer.write(response.encode("latin-1") + body)
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()


async def serve(spec: dict[str, Any], tally: Tally) -> list[asyncio.AbstractServer]:
    """
    Start the DNS server and every server of the spec.
    """
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(
        lambda: Dns(spec, tally), local_addr=("127.0.0.1", 53)
    )
    started = []
    for server in spec["servers"]:
        name = server["name"]

        def counted(factory: Any, name: str = name) -> Any:
            def make() -> Any:
                with tally.lock:
                    tally.connections[name] += 1
                return factory()

            return make

        if server["kind"] == "smtp":
            context = _context(server) if server["cert"] else None
            host = server["name"] + ".lab"

            def smtp(context: ssl.SSLContext | None = context, host: str = host) -> Any:
                return AiosmtpdSMTP(
                    _Sink(),
                    hostname=host,
                    ident="lab ESMTP",
                    tls_context=context,
                    loop=loop,
                )

            started.append(
                await loop.create_server(counted(smtp), server["address"], 25)
            )
        else:

            def http(server: dict[str, Any] = server) -> Any:
                reader = asyncio.StreamReader(limit=MAX_REQUEST, loop=loop)

                async def handle(
                    r: asyncio.StreamReader, w: asyncio.StreamWriter
                ) -> None:
                    await _http(server, tally, r, w)

                return asyncio.StreamReaderProtocol(reader, handle, loop=loop)

            started.append(
                await loop.create_server(
                    counted(http), server["address"], 443, ssl=_context(server)
                )
            )
    return started


def run_check(
    args: list[str], env: dict[str, str], *, child: bool, nofile: int | None = None
) -> dict[str, Any]:
    """
    Run ``smtpbot check ARGS`` with ``env`` added to the environment; as a child
    process, with at most ``nofile`` open files if given (a starved host).
    """
    if child:

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        done = subprocess.run(
            [sys.executable, "-m", "bot", "check", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=limit,
        )
        return {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    from bot.cli import app

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(env)
    code: Any = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            app.main(args=["check", *args], prog_name="smtpbot", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except click.ClickException as exc:
        exc.show(file=err)
        code = exc.exit_code
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {
        "code": code if isinstance(code, int) else 1,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
    }


async def run_slack(text: str, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """
    Run ``/smtpcheck TEXT`` through the real Bolt app (a private Redis, the fake Web
    API, the real knowledge base) and return the ack and the report it posts.
    """
    from knowledge.loader import load_knowledge
    from knowledge.matcher import Matcher
    from tests.support.bot import running_bot
    from tests.support.redis import new_prefix, redis_server
    from tests.support.slack import FakeSlack, command_request

    redis_dir = workdir / "redis"
    redis_dir.mkdir(exist_ok=True)
    with redis_server(redis_dir) as (url, _port):
        fake = await FakeSlack().start()
        try:
            matcher = Matcher(load_knowledge())
            async with running_bot(fake, url, new_prefix(), matcher, **env) as bot:
                body, headers = command_request(
                    text, response_url=f"{fake.url}/response/r1"
                )
                ack = await bot.dispatch(body, headers)
                (report,) = await fake.wait_for("response_url", timeout=60)
                return {
                    "code": ack.status,
                    "stdout": json.dumps(
                        {
                            "ack": ack.body,
                            "text": report.args.get("text"),
                            "blocks": report.args.get("blocks"),
                        }
                    ),
                    "stderr": "",
                }
        finally:
            await fake.stop()


def main() -> None:
    """
    Set up the namespace, serve the world, answer requests until stdin closes.
    """
    logging.getLogger(
        "mail.log"
    ).disabled = True  # aiosmtpd: aborted handshakes are expected
    spec_path = Path(sys.argv[1])
    spec = json.loads(spec_path.read_text())
    bring_up_loopback()
    mount_resolv_conf(spec_path.parent)
    tally = Tally()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run_servers() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(spec, tally))
        ready.set()
        loop.run_forever()

    threading.Thread(target=run_servers, name="lab-servers", daemon=True).start()
    if not ready.wait(30):
        raise SystemExit("lab servers did not start")
    reply = sys.stdout
    # The product prints to sys.stdout; keep the protocol on a stream of its own.
    sys.stdout = sys.stderr
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        request = json.loads(line)
        tally.snapshot()
        if "slack" in request:
            result = asyncio.run(
                run_slack(request["slack"], request.get("env", {}), spec_path.parent)
            )
        else:
            result = run_check(
                request["args"],
                request.get("env", {}),
                child=request.get("subprocess", False),
                nofile=request.get("nofile"),
            )
        result |= tally.snapshot()
        reply.write(json.dumps(result) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
