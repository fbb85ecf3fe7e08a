# ruff: noqa: E501 (commands and programs are kept whole on their lines)
"""
Rebuild ``nonmail_errors.jsonl``: what real software that is not mail prints when its
TLS, connection or name lookup fails, and, framed the same way, what mail clients print
for the same faults (not collected by pytest; run by hand from the repository root):

    .venv/bin/python -m tests.knowledge.outside.build_nonmail \
        --python PYTHON --node-modules NODE_MODULES

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
curl, wget, Python's requests / httpx / urllib and its database and cache drivers
psycopg2, PyMySQL and redis-py, pip install from an index, Node's https.get and fetch
and its drivers pg, mysql2 and ioredis, npm install from a registry, git clone over
https, psql with sslmode=verify-full against a PostgreSQL-speaking endpoint
(SSLRequest answered 'S', then TLS), the MariaDB/MySQL client with
--ssl-verify-server-cert against a MySQL-speaking endpoint (a v10 greeting offering
CLIENT_SSL, then TLS), redis-cli --tls, ``openssl s_client``, Java's
HttpsURLConnection, Go's net/http, Ruby's Net::HTTP, PHP's file_get_contents. PYTHON
needs ``pip install requests httpx psycopg2-binary pymysql redis`` (a scratch venv),
NODE_MODULES ``npm install pg mysql2 ioredis`` (a scratch folder). Programs missing on
the machine are skipped and named on stderr (Debian packages: curl wget git
postgresql-client mariadb-client redis-tools openssl default-jdk-headless golang-go
ruby php-cli nodejs npm; for the mail programs swaks, libio-socket-ssl-perl; run as
root for the network namespace).

Mail programs (label: the fault's category), run by the client matrix's own drivers
(``tests/knowledge/clientmatrix``) against its faulty SMTP server, here on 127.0.0.1 at
a kernel-picked port: Python's smtplib, nodemailer, curl smtp://, swaks, Perl's
Net::SMTP, Ruby's Net::SMTP, Go's net/smtp, and ``openssl s_client -starttls smtp``
(nodemailer from ``make peers``).

The output of curl (without -v), wget and ``openssl s_client`` names no protocol, so
their records are kept a second time as a terminal shows them: ``$ COMMAND`` above the
output (frame ``command+output``; the others are frame ``output``).

A run that succeeded or printed nothing is left out and named on stderr. Each record:
the text as printed (stdout and stderr as a terminal shows them), its label, the
program, the case, the frame and the command run; the scratch folders' paths are
written as /home/dev/... and this checkout's as /srv/app.
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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from tests.knowledge.clientmatrix import matrix
from tests.knowledge.clientmatrix.clients import CLIENTS as MAIL_CLIENTS
from tests.knowledge.clientmatrix.servers import FaultySmtp
from tests.probe.servers import make_cert, only_tls10, server_context

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
    return only_tls10(context) if case == "tls1.0-only" else context


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
    available: Callable[[], bool] | None = None


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
PY_PSYCOPG2 = """\
import psycopg2

connection = psycopg2.connect(
    host={host!r}, port={port}, dbname="app", user="app", password="secret",
    sslmode="verify-full", sslrootcert={ca!r}, connect_timeout={t},
)
print(connection.server_version)
"""
PY_PYMYSQL = """\
import pymysql

connection = pymysql.connect(
    host={host!r}, port={port}, user="app", password="secret", database="app",
    ssl={{"ca": {ca!r}}}, ssl_verify_identity=True, connect_timeout={t},
)
print(connection.get_server_info())
"""
PY_REDIS = """\
import redis

client = redis.Redis(
    host={host!r}, port={port}, ssl=True, ssl_ca_certs={ca!r}, socket_connect_timeout={t},
)
print(client.ping())
"""
NODE_PG = """\
const { Client } = require("pg");
const fs = require("fs");

const client = new Client({
  host: %(host)s, port: %(port)d, user: "app", password: "secret", database: "app",
  ssl: { ca: fs.readFileSync(%(ca)s) }, connectionTimeoutMillis: %(ms)d,
});
client.connect().then(() => client.query("select 1")).then(() => client.end());
"""
NODE_MYSQL2 = """\
const mysql = require("mysql2/promise");
const fs = require("fs");

async function main() {
  const connection = await mysql.createConnection({
    host: %(host)s, port: %(port)d, user: "app", password: "secret", database: "app",
    ssl: { ca: fs.readFileSync(%(ca)s) }, connectTimeout: %(ms)d,
  });
  await connection.query("select 1");
  await connection.end();
}
main();
"""
NODE_IOREDIS = """\
const Redis = require("ioredis");
const fs = require("fs");

const redis = new Redis({
  host: %(host)s, port: %(port)d, tls: { ca: fs.readFileSync(%(ca)s) },
  connectTimeout: %(ms)d, maxRetriesPerRequest: 0, retryStrategy: () => null,
});
redis.ping().then((reply) => { console.log(reply); redis.disconnect(); });
"""
PY_AIOHTTP = """\
import asyncio
import ssl

import aiohttp


async def main():
    context = ssl.create_default_context(cafile={ca!r})
    timeout = aiohttp.ClientTimeout(total={t})
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get({url!r}, ssl=context) as response:
            print(response.status)


asyncio.run(main())
"""
PY_ASYNCPG = """\
import asyncio
import ssl

import asyncpg


async def main():
    context = ssl.create_default_context(cafile={ca!r})
    connection = await asyncpg.connect(
        host={host!r}, port={port}, user="app", password="secret", database="app",
        ssl=context, timeout={t},
    )
    print(await connection.fetchval("select 1"))


asyncio.run(main())
"""
PY_MYSQL_CONNECTOR = """\
import mysql.connector

connection = mysql.connector.connect(
    host={host!r}, port={port}, user="app", password="secret", database="app",
    ssl_ca={ca!r}, ssl_verify_identity=True, connection_timeout={t},
)
print(connection.get_server_info())
"""
NODE_AXIOS = """\
const axios = require("axios");
const https = require("https");
const fs = require("fs");

const httpsAgent = new https.Agent({ ca: fs.readFileSync(%(ca)s) });
axios.get(%(url)s, { httpsAgent, timeout: %(ms)d }).then((res) => console.log(res.status));
"""
NODE_GOT = """\
const got = require("got");
const fs = require("fs");

got(%(url)s, {
  https: { certificateAuthority: fs.readFileSync(%(ca)s) },
  timeout: %(ms)d,
  retry: 0,
}).then((res) => console.log(res.statusCode));
"""
NODE_MONGODB = """\
const { MongoClient } = require("mongodb");

const uri = "mongodb://" + %(host)s + ":" + %(port)d + "/app?tls=true&tlsCAFile=" +
  encodeURIComponent(%(ca)s) + "&serverSelectionTimeoutMS=%(ms)d";
const client = new MongoClient(uri);
client.connect().then(() => client.close());
"""
JAVA_HTTPCLIENT = """\
import java.io.FileInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class Client {
    public static void main(String[] args) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
            .generateCertificate(new FileInputStream(args[1])));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(context)
            .connectTimeout(Duration.ofSeconds(3)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).build();
        System.out.println(client.send(request, HttpResponse.BodyHandlers.ofString()).statusCode());
    }
}
"""
PHP_CURL = """\
<?php
$ch = curl_init($argv[1]);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_CAINFO, $argv[2]);
curl_setopt($ch, CURLOPT_CONNECTTIMEOUT, 3);
$body = curl_exec($ch);
if ($body === false) {
    throw new Exception(curl_error($ch));
}
echo strlen($body), "\\n";
"""
PHP_PDO_PGSQL = """\
<?php
$dsn = "pgsql:host={$argv[1]};port={$argv[2]};dbname=app;sslmode=verify-full;sslrootcert={$argv[3]};connect_timeout=3";
$pdo = new PDO($dsn, 'app', 'secret');
echo $pdo->query('select 1')->fetchColumn(), "\\n";
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
        text = template.format(
            url=run.url, ca=run.cafile, t=TIMEOUT, host=run.host, port=run.port
        )
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
            "host": json.dumps(run.host),
            "port": run.port,
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
    (workdir / "app" / "import.rb").write_text(RUBY_FETCH)
    (workdir / "app" / "import.php").write_text(PHP_FETCH)
    (workdir / "app" / "sync.php").write_text(PHP_CURL)
    (workdir / "app" / "report.php").write_text(PHP_PDO_PGSQL)


def _java_client_prepare(workdir: Path) -> None:
    source = workdir / "java" / "Client.java"
    source.parent.mkdir(exist_ok=True)
    source.write_text(JAVA_HTTPCLIENT)
    subprocess.run(
        ["javac", "-d", str(source.parent), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _php_has(extension: str) -> Callable[[], bool]:
    def has() -> bool:
        done = subprocess.run(
            ["php", "-m"], capture_output=True, text=True, check=False
        )
        return extension in done.stdout.split()

    return has


def _gem(run: Run) -> list[str]:
    home = run.workdir / f"gem-{run.port}-{run.host}"
    return [
        "gem",
        "install",
        "leftpad",
        "--clear-sources",
        "--source",
        run.url,
        "--install-dir",
        str(home),
        "--no-document",
    ]


def _go_install(run: Run) -> list[str]:
    return ["go", "install", "example.com/tools/leftpad@latest"]


def _go_env(run: Run) -> dict[str, str]:
    home = run.workdir / "gopath"
    return {
        "GOPROXY": run.url.rstrip("/"),
        "GOSUMDB": "off",
        "GOPATH": str(home),
        "GOMODCACHE": str(home / f"mod-{run.port}"),
        "GOCACHE": str(run.workdir / "gocache"),
        "GOFLAGS": "-modcacherw",
        "SSL_CERT_FILE": run.cafile,
    }


def _apt(run: Run) -> list[str]:
    state = run.workdir / f"apt-{run.port}-{run.host}"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(f"deb {run.url}debian bookworm main\n")
    options = {
        "Dir::Etc::SourceList": str(sources),
        "Dir::Etc::SourceParts": str(state / "none"),
        "Dir::State::Lists": str(state / "lists"),
        "Dir::Cache": str(state / "cache"),
        "Acquire::https::CaInfo": run.cafile,
        "Acquire::Retries": "0",
        "Acquire::https::Timeout": str(TIMEOUT),
        "APT::Sandbox::User": "root",
    }
    argv = ["apt-get"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    # apt-get update exits 0 after a failed fetch unless told to fail on any error.
    return [*argv, "update", "--error-on=any"]


def _skopeo(run: Run) -> list[str]:
    certs = run.workdir / "registry-certs"
    certs.mkdir(exist_ok=True)
    shutil.copy(run.cafile, certs / "ca.crt")
    image = f"docker://{run.host}:{run.port}/team/app:latest"
    return [
        "skopeo",
        "inspect",
        "--cert-dir",
        str(certs),
        "--command-timeout",
        f"{TIMEOUT * 3}s",
        image,
    ]


# Where the Node drivers (pg, mysql2, ioredis) are installed: --node-modules.
NODE_MODULES: list[str] = []


def _node_path(run: Run) -> dict[str, str]:
    return {"NODE_PATH": NODE_MODULES[0]} if NODE_MODULES else {}


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
    Program("python-psycopg2", (), "postgres", _py(PY_PSYCOPG2)),
    Program("python-pymysql", (), "mysql", _py(PY_PYMYSQL)),
    Program("python-redis", (), "redis", _py(PY_REDIS)),
    Program("node-pg", ("node",), "postgres", _node(NODE_PG, "js"), env=_node_path),
    Program(
        "node-mysql2", ("node",), "mysql", _node(NODE_MYSQL2, "js"), env=_node_path
    ),
    Program(
        "node-ioredis", ("node",), "redis", _node(NODE_IOREDIS, "js"), env=_node_path
    ),
    Program("python-aiohttp", (), "http", _py(PY_AIOHTTP)),
    Program("python-asyncpg", (), "postgres", _py(PY_ASYNCPG)),
    Program("python-mysql-connector", (), "mysql", _py(PY_MYSQL_CONNECTOR)),
    Program("node-axios", ("node",), "http", _node(NODE_AXIOS, "js"), env=_node_path),
    Program("node-got", ("node",), "http", _node(NODE_GOT, "js"), env=_node_path),
    Program(
        "node-mongodb", ("node",), "http", _node(NODE_MONGODB, "js"), env=_node_path
    ),
    Program("gem", ("gem",), "http", _gem, env=lambda r: {"SSL_CERT_FILE": r.cafile}),
    Program("go-install", ("go",), "http", _go_install, env=_go_env),
    Program("apt-get", ("apt-get",), "http", _apt),
    Program("skopeo", ("skopeo",), "http", _skopeo),
    Program(
        "java-httpclient",
        ("java", "javac"),
        "http",
        lambda r: ["java", "-cp", str(r.workdir / "java"), "Client", r.url, r.cafile],
        prepare=_java_client_prepare,
    ),
    Program(
        "php-curl",
        ("php",),
        "http",
        lambda r: ["php", str(r.workdir / "app" / "sync.php"), r.url, r.cafile],
        prepare=_scripts_prepare,
        available=_php_has("curl"),
    ),
    Program(
        "php-pdo-pgsql",
        ("php",),
        "postgres",
        lambda r: [
            "php",
            str(r.workdir / "app" / "report.php"),
            r.host,
            str(r.port),
            r.cafile,
        ],
        prepare=_scripts_prepare,
        available=_php_has("pdo_pgsql"),
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
        lambda r: ["ruby", str(r.workdir / "app" / "import.rb"), r.url, r.cafile],
        prepare=_scripts_prepare,
    ),
    Program(
        "php-file_get_contents",
        ("php",),
        "http",
        lambda r: ["php", str(r.workdir / "app" / "import.php"), r.url, r.cafile],
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
        "--python",
        default=sys.executable,
        help="a Python with requests, httpx, psycopg2, pymysql and redis",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated program names (for trying one)"
    )
    parser.add_argument(
        "--node-modules",
        default="",
        help="a node_modules folder with pg, mysql2 and ioredis (npm install them)",
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    if args.node_modules:
        NODE_MODULES.append(str(Path(args.node_modules).resolve()))
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nonmail-") as name:
        workdir = Path(name)
        (workdir / "app").mkdir()
        usable = []
        for program in PROGRAMS:
            if only and program.name not in only:
                continue
            if not all(shutil.which(need) for need in program.needs) or (
                program.available is not None and not program.available()
            ):
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
            for modules in NODE_MODULES:
                record[key] = record[key].replace(modules, "/home/dev/app/node_modules")
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
