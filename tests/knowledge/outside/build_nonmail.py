# ruff: noqa: E501 (commands and programs are kept whole on their lines)
"""
Rebuild ``nonmail_errors.jsonl``: what real software that is not mail prints when its
TLS, connection or name lookup fails, and, framed the same way, what mail clients print
for the same faults (not collected by pytest; run by hand from the repository root):

    .venv/bin/python -m tests.knowledge.outside.build_nonmail --python PYTHON

Everything talks to 127.0.0.1 only. The script starts its own servers there, on ports
the kernel picks: TLS endpoints with a self-signed certificate, one from a CA the client
is not given, one for another name, an expired one (the last two from a CA the client
trusts), a TLS 1.0-only one; a plaintext port that answers a TLS client in its own
protocol; a closed port; a listener whose accept queue is full (the connect times out).
The unresolvable name (``nonexistent.invalid``, ``smtp.example.invalid`` for mail) is
looked up inside a network namespace of its own whose only DNS server, on its own
loopback, answers NXDOMAIN (``tests.knowledge.clientmatrix.netns``): no query leaves the
machine. Certificates are made with trustme and ``cryptography``.

Non-mail programs (label ``none``), each run as a user runs it with the lab CA trusted:
curl, wget, Python requests / httpx / urllib (PYTHON must have requests and httpx:
``python3 -m venv V && V/bin/pip install requests httpx``), pip install from an index,
Node's https.get and fetch, npm install from a registry, git clone over https, psql with
sslmode=verify-full against a PostgreSQL-speaking endpoint (SSLRequest answered 'S',
then TLS), the MariaDB/MySQL client with --ssl-verify-server-cert against a
MySQL-speaking endpoint (a v10 greeting offering CLIENT_SSL, then TLS), redis-cli
--tls, ``openssl s_client``, Java's HttpsURLConnection, Go's net/http, Ruby's
Net::HTTP, PHP's file_get_contents. Programs missing on the machine are skipped and
named on stderr (Debian packages: curl wget git postgresql-client mariadb-client
redis-tools openssl default-jdk-headless golang-go ruby php-cli nodejs npm).

Mail programs (label: the fault's category), run by the client matrix's own drivers
(``tests/knowledge/clientmatrix``) against its faulty SMTP server, here on 127.0.0.1 at
a kernel-picked port: Python's smtplib, nodemailer, curl smtp://, swaks, Perl's
Net::SMTP, Ruby's Net::SMTP, Go's net/smtp, and ``openssl s_client -starttls smtp``.

The output of curl (without -v), wget and ``openssl s_client`` names no protocol, so
their records are kept a second time as a terminal shows them: ``$ COMMAND`` above the
output (frame ``command+output``; the others are frame ``output``).

A run that succeeded or printed nothing is left out and named on stderr. Each record:
the text as printed (stdout and stderr as a terminal shows them), its label, the
program, the case, and the command run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from tests.knowledge.clientmatrix import matrix
from tests.knowledge.clientmatrix.clients import CLIENTS as MAIL_CLIENTS
from tests.knowledge.clientmatrix.servers import FaultySmtp
from tests.probe.servers import make_cert, server_context

REPO = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "nonmail_errors.jsonl"
HOST = "127.0.0.1"
UNRESOLVABLE = "nonexistent.invalid"
TIMEOUT = 3

# case -> (what the endpoint does, the mail category the same fault has for a mail client)
CASES: dict[str, tuple[str, str]] = {
    "self-signed": ("self-signed certificate", "tls-cert-untrusted"),
    "unknown-ca": (
        "certificate from a CA the client does not trust",
        "tls-cert-untrusted",
    ),
    "wrong-name": (
        "certificate from a trusted CA for another name",
        "tls-cert-hostname",
    ),
    "expired": ("certificate from a trusted CA that expired", "tls-cert-expired"),
    "tls1.0-only": ("server offers TLS 1.0 only", "tls-handshake-failed"),
    "plaintext-port": ("TLS spoken to a plaintext port", "tls-port-mismatch"),
    "closed-port": ("nothing listens on the port", "connection-refused"),
    "connect-timeout": (
        "accept queue full: the connect times out",
        "connection-timeout",
    ),
    "unresolvable-name": ("the name does not resolve (NXDOMAIN)", "dns-failure"),
}
TLS_CASES = ("self-signed", "unknown-ca", "wrong-name", "expired", "tls1.0-only")

# ---------------------------------------------------------------------------------------
# Endpoints


def _tls_context(case: str, ca: trustme.CA, workdir: Path) -> ssl.SSLContext:
    """The server context for one certificate or protocol fault."""
    now = dt.datetime.now(dt.UTC)
    days = (-90, -2) if case == "expired" else (-1, 90)
    names = ("other.test",) if case == "wrong-name" else ("localhost", HOST)
    issuer: trustme.CA | None = ca
    if case == "self-signed":
        issuer = None
    elif case == "unknown-ca":
        issuer = trustme.CA()
    cert, key = make_cert(
        issuer=issuer,
        not_before=now + dt.timedelta(days=days[0]),
        not_after=now + dt.timedelta(days=days[1]),
        names=names,
        chain=case == "unknown-ca",
    )
    context = server_context(cert, key, workdir, f"nonmail-{case}")
    if case == "tls1.0-only":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1
    return context


@dataclass
class Endpoint:
    """
    A threaded server on 127.0.0.1: ``preamble`` speaks the protocol's words before
    TLS (PostgreSQL's SSLRequest, MySQL's greeting), then TLS with ``tls`` and an HTTP
    answer; without ``tls`` it answers ``plain`` to whatever comes (a plaintext port).
    """

    tls: ssl.SSLContext | None
    preamble: Callable[[socket.socket], bool] | None = None
    plain: bytes = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    port: int = 0
    _sock: socket.socket | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> int:
        self._sock = socket.create_server((HOST, 0), backlog=64)
        self.port = int(self._sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()
        return self.port

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.preamble is not None and not self.preamble(conn):
                return
            if self.tls is None:
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                conn.sendall(self.plain)
                return
            tls = self.tls.wrap_socket(conn, server_side=True)
            tls.recv(4096)
            tls.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            )
            tls.close()
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


def _postgres_preamble(tls: bool) -> Callable[[socket.socket], bool]:
    """PostgreSQL's SSLRequest (length 8, code 80877103) answered 'S' (or 'N')."""

    def preamble(conn: socket.socket) -> bool:
        data = conn.recv(8)
        if len(data) == 8 and struct.unpack("!II", data) == (8, 80877103):
            conn.sendall(b"S" if tls else b"N")
            return tls
        return False

    return preamble


def _mysql_preamble(tls: bool) -> Callable[[socket.socket], bool]:
    """
    A MySQL protocol v10 greeting offering CLIENT_SSL (or not); the client's
    SSLRequest packet is read before TLS starts.
    """

    def preamble(conn: socket.socket) -> bool:
        caps = 0x0200 | 0x8000 | 0x00080000 | 0x0001 | 0x0008
        if tls:
            caps |= 0x0800
        body = (
            b"\x0a8.0.36\x00"
            + struct.pack("<I", 7)
            + b"abcdefgh\x00"
            + struct.pack("<H", caps & 0xFFFF)
            + b"\x21"
            + struct.pack("<H", 2)
            + struct.pack("<H", caps >> 16)
            + bytes([21])
            + b"\x00" * 10
            + b"ijklmnopqrst\x00"
            + b"mysql_native_password\x00"
        )
        conn.sendall(struct.pack("<I", len(body))[:3] + b"\x00" + body)
        if not tls:
            with contextlib.suppress(OSError):
                conn.recv(4096)
            return False
        header = conn.recv(4)
        if len(header) < 4:
            return False
        size = int.from_bytes(header[:3], "little")
        while size > 0:
            chunk = conn.recv(size)
            if not chunk:
                return False
            size -= len(chunk)
        return True

    return preamble


@dataclass
class Lab:
    """The running endpoints: (flavour, case) -> port; the CA clients trust."""

    cafile: str
    ports: dict[tuple[str, str], int]
    stoppers: list[Callable[[], None]]


FLAVOURS = ("http", "postgres", "mysql", "redis")


@contextlib.contextmanager
def lab(workdir: Path) -> Iterator[Lab]:
    """Start every endpoint; stop them at the end."""
    ca = trustme.CA()
    cafile = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    running = Lab(str(cafile), {}, [])
    contexts = {case: _tls_context(case, ca, workdir) for case in TLS_CASES}
    try:
        for flavour in FLAVOURS:
            for case in (*TLS_CASES, "plaintext-port"):
                tls = contexts.get(case)
                preamble = None
                plain = Endpoint.plain
                if flavour == "postgres":
                    preamble = _postgres_preamble(tls is not None)
                elif flavour == "mysql":
                    preamble = _mysql_preamble(tls is not None)
                elif flavour == "redis":
                    plain = b"-ERR Protocol error: invalid multibulk length\r\n"
                endpoint = Endpoint(tls, preamble, plain)
                running.ports[flavour, case] = endpoint.start()
                running.stoppers.append(endpoint.stop)
        closed = socket.create_server((HOST, 0))
        closed_port = int(closed.getsockname()[1])
        closed.close()
        listener = socket.create_server((HOST, 0), backlog=0)
        listener.listen(0)
        queue_port = int(listener.getsockname()[1])
        fillers = [listener]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((HOST, queue_port))
            fillers.append(filler)
        threading.Event().wait(0.2)
        running.stoppers += [sock.close for sock in fillers]
        for flavour in FLAVOURS:
            running.ports[flavour, "closed-port"] = closed_port
            running.ports[flavour, "connect-timeout"] = queue_port
            running.ports[flavour, "unresolvable-name"] = 443
        yield running
    finally:
        for stop in running.stoppers:
            stop()


# ---------------------------------------------------------------------------------------
# Non-mail programs


@dataclass(frozen=True)
class Run:
    """Where one program is pointed for one case."""

    host: str
    port: int
    cafile: str
    workdir: Path
    python: str

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"


@dataclass(frozen=True)
class Program:
    """One non-mail program: what it needs, which endpoint flavour, how to run it."""

    name: str
    needs: tuple[str, ...]
    flavour: str
    argv: Callable[[Run], list[str]]
    env: Callable[[Run], dict[str, str]] | None = None
    prepare: Callable[[Path], None] | None = None
    cases: tuple[str, ...] = tuple(CASES)


PY_REQUESTS = """\
import requests

response = requests.get({url!r}, verify={ca!r}, timeout={t})
print(response.status_code)
"""
PY_HTTPX = """\
import httpx

response = httpx.get({url!r}, verify={ca!r}, timeout={t})
print(response.status_code)
"""
PY_URLLIB = """\
import ssl
import urllib.request

context = ssl.create_default_context(cafile={ca!r})
with urllib.request.urlopen({url!r}, context=context, timeout={t}) as response:
    print(response.status)
"""
NODE_HTTPS = """\
const https = require("https");
const fs = require("fs");

https.get(%(url)s, { ca: fs.readFileSync(%(ca)s), timeout: %(ms)d }, (res) => {
  console.log(res.statusCode);
});
"""
NODE_FETCH = """\
const response = await fetch(%(url)s, { signal: AbortSignal.timeout(%(ms)d) });
console.log(response.status);
"""
JAVA_FETCH = """\
import java.io.FileInputStream;
import java.net.URL;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class Fetch {
    public static void main(String[] args) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
            .generateCertificate(new FileInputStream(args[1])));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        HttpsURLConnection connection = (HttpsURLConnection) new URL(args[0]).openConnection();
        connection.setSSLSocketFactory(context.getSocketFactory());
        connection.setConnectTimeout(3000);
        connection.setReadTimeout(3000);
        System.out.println(connection.getResponseCode());
    }
}
"""
GO_FETCH = """\
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	pem, err := os.ReadFile(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
}
"""
RUBY_FETCH = """\
require "net/http"

uri = URI(ARGV[0])
http = Net::HTTP.new(uri.host, uri.port)
http.use_ssl = true
http.ca_file = ARGV[1]
http.open_timeout = 3
http.read_timeout = 3
puts http.get(uri.path).code
"""
PHP_FETCH = """\
<?php
$context = stream_context_create(['ssl' => ['cafile' => $argv[2]], 'http' => ['timeout' => 3]]);
$body = file_get_contents($argv[1], false, $context);
if ($body === false) {
    exit(1);
}
echo strlen($body), "\\n";
"""


def _script(workdir: Path, name: str, text: str) -> str:
    path = workdir / "app" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def _py(template: str) -> Callable[[Run], list[str]]:
    def argv(run: Run) -> list[str]:
        text = template.format(url=run.url, ca=run.cafile, t=TIMEOUT)
        return [
            run.python,
            _script(
                run.workdir, f"app_{run.port}_{abs(hash(template)) % 997}.py", text
            ),
        ]

    return argv


def _node(template: str, ext: str) -> Callable[[Run], list[str]]:
    def argv(run: Run) -> list[str]:
        text = template % {
            "url": json.dumps(run.url),
            "ca": json.dumps(run.cafile),
            "ms": TIMEOUT * 1000,
        }
        return [
            "node",
            _script(
                run.workdir,
                f"client_{run.port}_{abs(hash(template)) % 997}.{ext}",
                text,
            ),
        ]

    return argv


def _java_prepare(workdir: Path) -> None:
    source = workdir / "java" / "Fetch.java"
    source.parent.mkdir(exist_ok=True)
    source.write_text(JAVA_FETCH)
    subprocess.run(
        ["javac", "-d", str(source.parent), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _go_prepare(workdir: Path) -> None:
    source = workdir / "go" / "fetch.go"
    source.parent.mkdir(exist_ok=True)
    source.write_text(GO_FETCH)
    subprocess.run(
        ["go", "build", "-o", str(workdir / "go" / "fetch"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
        env={
            **os.environ,
            "GO111MODULE": "off",
            "CGO_ENABLED": "0",
            "GOCACHE": str(workdir / "gocache"),
        },
    )


def _scripts_prepare(workdir: Path) -> None:
    (workdir / "app").mkdir(exist_ok=True)
    (workdir / "app" / "fetch.rb").write_text(RUBY_FETCH)
    (workdir / "app" / "fetch.php").write_text(PHP_FETCH)


def _npm(run: Run) -> list[str]:
    prefix = run.workdir / f"npm-{run.port}-{run.host}"
    prefix.mkdir(exist_ok=True)
    return [
        "npm",
        "install",
        "left-pad",
        "--registry",
        run.url,
        "--cafile",
        run.cafile,
        "--fetch-retries",
        "0",
        "--fetch-timeout",
        str(TIMEOUT * 1000),
        "--prefix",
        str(prefix),
        "--cache",
        str(prefix / "cache"),
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
    ]


def _git(run: Run) -> list[str]:
    dest = run.workdir / f"clone-{run.port}-{run.host}"
    return [
        "git",
        "-c",
        f"http.sslCAInfo={run.cafile}",
        "-c",
        "http.lowSpeedTime=3",
        "clone",
        f"{run.url}team/app.git",
        str(dest),
    ]


PROGRAMS: tuple[Program, ...] = (
    Program(
        "curl",
        ("curl",),
        "http",
        lambda r: [
            "curl",
            "--no-progress-meter",
            "--connect-timeout",
            str(TIMEOUT),
            "--cacert",
            r.cafile,
            r.url,
        ],
    ),
    Program(
        "wget",
        ("wget",),
        "http",
        lambda r: [
            "wget",
            "--tries=1",
            f"--timeout={TIMEOUT}",
            f"--ca-certificate={r.cafile}",
            "-O",
            os.devnull,
            r.url,
        ],
    ),
    Program("python-requests", (), "http", _py(PY_REQUESTS)),
    Program("python-httpx", (), "http", _py(PY_HTTPX)),
    Program("python-urllib", (), "http", _py(PY_URLLIB)),
    Program(
        "pip",
        (),
        "http",
        lambda r: [
            r.python,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-cache-dir",
            "--retries",
            "0",
            "--timeout",
            str(TIMEOUT),
            "--index-url",
            f"{r.url}simple/",
            "--cert",
            r.cafile,
            "leftpad",
        ],
    ),
    Program("node-https", ("node",), "http", _node(NODE_HTTPS, "js")),
    Program(
        "node-fetch",
        ("node",),
        "http",
        _node(NODE_FETCH, "mjs"),
        env=lambda r: {"NODE_EXTRA_CA_CERTS": r.cafile},
    ),
    Program("npm", ("npm",), "http", _npm),
    Program("git", ("git",), "http", _git),
    Program(
        "psql",
        ("psql",),
        "postgres",
        lambda r: [
            "psql",
            f"host={r.host} port={r.port} user=app dbname=app sslmode=verify-full sslrootcert={r.cafile} connect_timeout={TIMEOUT}",
            "-c",
            "select 1",
        ],
        env=lambda r: {"PGPASSWORD": "secret"},
    ),
    Program(
        "mariadb-client",
        ("mysql",),
        "mysql",
        lambda r: [
            "mysql",
            "--no-defaults",
            "-h",
            r.host,
            "-P",
            str(r.port),
            "-u",
            "app",
            "-psecret",
            "--ssl",
            f"--ssl-ca={r.cafile}",
            "--ssl-verify-server-cert",
            f"--connect-timeout={TIMEOUT}",
            "-e",
            "select 1",
        ],
    ),
    Program(
        "redis-cli",
        ("redis-cli",),
        "redis",
        lambda r: [
            "redis-cli",
            "--tls",
            "--cacert",
            r.cafile,
            "-h",
            r.host,
            "-p",
            str(r.port),
            "ping",
        ],
    ),
    Program(
        "openssl-s_client",
        ("openssl",),
        "http",
        lambda r: (
            [
                "openssl",
                "s_client",
                "-connect",
                f"{r.host}:{r.port}",
                "-CAfile",
                r.cafile,
                "-verify_return_error",
            ]
            + (["-verify_ip", HOST] if r.host == HOST else ["-verify_hostname", r.host])
        ),
    ),
    Program(
        "java-httpsurlconnection",
        ("java", "javac"),
        "http",
        lambda r: ["java", "-cp", str(r.workdir / "java"), "Fetch", r.url, r.cafile],
        prepare=_java_prepare,
    ),
    Program(
        "go-net-http",
        ("go",),
        "http",
        lambda r: [str(r.workdir / "go" / "fetch"), r.url, r.cafile],
        prepare=_go_prepare,
    ),
    Program(
        "ruby-net-http",
        ("ruby",),
        "http",
        lambda r: ["ruby", str(r.workdir / "app" / "fetch.rb"), r.url, r.cafile],
        prepare=_scripts_prepare,
    ),
    Program(
        "php-file_get_contents",
        ("php",),
        "http",
        lambda r: ["php", str(r.workdir / "app" / "fetch.php"), r.url, r.cafile],
        prepare=_scripts_prepare,
    ),
)


def _env(extra: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "JAVA_HOME")
    return (
        {key: os.environ[key] for key in keep if key in os.environ}
        | {"LC_ALL": "C.UTF-8"}
        | extra
    )


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, stdin: bytes = b""
) -> tuple[str, int | None]:
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            timeout=TIMEOUT * 4 + 15,
            check=False,
        )
        return done.stdout.decode("utf-8", "replace"), done.returncode
    except subprocess.TimeoutExpired as exc:
        return (exc.stdout or b"").decode("utf-8", "replace"), None


def run_program(
    program: Program, case: str, running: Lab, workdir: Path, python: str
) -> dict[str, Any]:
    """Run one non-mail program against one case's endpoint."""
    host = UNRESOLVABLE if case == "unresolvable-name" else HOST
    run = Run(
        host, running.ports[program.flavour, case], running.cafile, workdir, python
    )
    argv = program.argv(run)
    shown = " ".join(argv)
    if case == "unresolvable-name":
        argv = [*matrix.netns_prefix(), *argv]
    env = _env(program.env(run) if program.env else {})
    text, code = _run(argv, env, REPO)
    text = text.replace(str(workdir), "/home/dev")
    return {
        "text": text.strip("\n"),
        "label": "none",
        "program": program.name,
        "case": case,
        "frame": "output",
        "command": shown.replace(str(workdir), "/home/dev"),
        "exit": code,
    }


# ---------------------------------------------------------------------------------------
# Mail programs, framed the same way

MAIL_PROGRAMS = (
    "python-smtplib",
    "nodemailer",
    "curl",
    "curl-verbose",
    "swaks",
    "perl-net-smtp",
    "ruby-net-smtp",
    "go-net-smtp",
)
MAIL_FAULTS = {
    "self-signed": "self-signed",
    "wrong-name": "wrong-name",
    "expired": "expired",
    "tls1.0-only": "tls1.0-only",
    "implicit-tls-to-plain-port": "plaintext-port",
    "closed-port": "closed-port",
    "unresolvable-name": "unresolvable-name",
}


@contextlib.contextmanager
def mail_lab(workdir: Path) -> Iterator[matrix.Endpoints]:
    """The client matrix's faulty SMTP endpoints, on 127.0.0.1 at kernel-picked ports."""
    ca = trustme.CA()
    cafile = workdir / "mail-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    running = matrix.Endpoints(str(cafile), {}, [])
    try:
        for fault in matrix.FAULTS:
            if fault.name not in MAIL_FAULTS:
                continue
            spec = dict(fault.server)
            kind = spec.pop("kind", "smtp")
            if kind == "closed":
                sock = socket.create_server((HOST, 0))
                host, port = HOST, int(sock.getsockname()[1])
                sock.close()
            elif kind == "nxdomain":
                host, port = matrix.UNRESOLVABLE, 587
            else:
                cert = spec.pop("cert", None)
                server = FaultySmtp(host=HOST, port=0, **spec)
                port = server.start()
                running.stoppers.append(server.stop)
                host = HOST
                if cert is not None:
                    server.tls = matrix._context(cert, host, ca, workdir)
            running.addresses[fault.name] = (host, port)
        yield running
    finally:
        for stop in running.stoppers:
            stop()


def _openssl_smtp(
    running: matrix.Endpoints, fault: matrix.Fault, workdir: Path
) -> dict[str, Any]:
    host, port = running.addresses[fault.name]
    argv = [
        "openssl",
        "s_client",
        "-connect",
        f"{host}:{port}",
        "-CAfile",
        running.cafile,
        "-verify_return_error",
    ]
    argv += ["-verify_hostname", matrix.HOSTNAME]
    if fault.mode == "starttls":
        argv += ["-starttls", "smtp"]
    shown = " ".join(argv)
    if fault.server.get("kind") == "nxdomain":
        argv = [*matrix.netns_prefix(), *argv]
    text, code = _run(argv, _env({}), workdir)
    return {
        "text": text.strip("\n"),
        "label": fault.category,
        "client": "openssl-s_client-smtp",
        "fault": fault.name,
        "command": shown,
        "exit": code,
    }


def mail_records(workdir: Path) -> list[dict[str, Any]]:
    """The mail clients' runs against the same faults."""
    clients = [c for c in MAIL_CLIENTS if c.name in MAIL_PROGRAMS and c.available()]
    faults = [f for f in matrix.FAULTS if f.name in MAIL_FAULTS]
    with mail_lab(workdir) as running, ThreadPoolExecutor(4) as pool:
        for client in clients:
            if client.prepare is not None:
                client.prepare(workdir)
        jobs = [
            pool.submit(matrix.run_client, c, f, running, workdir)
            for c in clients
            for f in faults
        ]
        jobs += [pool.submit(_openssl_smtp, running, f, workdir) for f in faults]
        results = [job.result() for job in jobs]
    records = []
    for result in results:
        records.append(
            {
                "text": result["text"].replace(str(workdir), "/home/dev"),
                "label": result["label"],
                "program": result["client"],
                "case": MAIL_FAULTS[result["fault"]],
                "frame": "output",
                "command": result["command"].replace(str(workdir), "/home/dev"),
                "exit": result["exit"],
            }
        )
    return records


# ---------------------------------------------------------------------------------------

# Programs whose output alone names no protocol (curl without -v, openssl s_client, wget
# print the same lines for any transfer): their records are kept twice, as printed and
# as a terminal shows them, below the command that was typed.
WITH_COMMAND = ("curl", "wget", "openssl-s_client", "openssl-s_client-smtp")


def with_command(record: dict[str, Any]) -> dict[str, Any]:
    """The record as pasted from a terminal: the prompt and command, then the output."""
    return record | {
        "text": f"$ {record['command']}\n{record['text']}",
        "frame": "command+output",
    }


def recorded(record: dict[str, Any]) -> bool:
    """A failure a user could paste: the program failed and said something."""
    return record["exit"] != 0 and bool(record["text"].strip())


def main() -> int:
    """Run every program against every case and write the records."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--python", default=sys.executable, help="a Python with requests and httpx"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated program names (for trying one)"
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nonmail-") as name:
        workdir = Path(name)
        (workdir / "app").mkdir()
        usable = []
        for program in PROGRAMS:
            if only and program.name not in only:
                continue
            if not all(shutil.which(need) for need in program.needs):
                print(f"skipped: {program.name}: not installed", file=sys.stderr)
                continue
            if program.prepare is not None:
                program.prepare(workdir)
            usable.append(program)
        with lab(workdir) as running, ThreadPoolExecutor(4) as pool:
            jobs = [
                pool.submit(run_program, p, case, running, workdir, args.python)
                for p in usable
                for case in p.cases
            ]
            records += [job.result() for job in jobs]
        if not only or "mail" in only:
            records += mail_records(workdir)
    venv = str(Path(args.python).parent.parent)
    for record in records:
        # Where this checkout and the scratch Python live is no part of what the
        # programs print.
        for key in ("text", "command"):
            record[key] = record[key].replace(str(REPO), "/srv/app")
            if venv != "/":
                record[key] = record[key].replace(venv, "/home/dev/.venv")
    kept = [record for record in records if recorded(record)]
    kept += [
        with_command(record) for record in kept if record["program"] in WITH_COMMAND
    ]
    for record in records:
        if not recorded(record):
            why = "succeeded" if record["exit"] == 0 else "printed nothing"
            print(
                f"left out: {record['program']} x {record['case']}: {why}",
                file=sys.stderr,
            )
    keys = ("text", "label", "program", "case", "frame", "command")
    with Path(args.out).open("w", encoding="utf-8") as out:
        for record in kept:
            out.write(
                json.dumps({key: record[key] for key in keys}, ensure_ascii=False)
                + "\n"
            )
    print(f"{len(kept)} records of {len(records)} runs -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
