# ruff: noqa: E501 (version commands are kept whole on their lines)
"""
The client programs: each turns one run (host, port, mode "plain" | "starttls" |
"tls", CA file, credentials, timeout) into the command line a user would run, and says
which version of itself it is. The small programs in ``programs/`` send one message the
way each library's own documentation does and let its error reach the terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

PROGRAMS = Path(__file__).parent / "programs"
REPO = Path(__file__).resolve().parents[3]
PEERS = REPO / "tests" / "peers"
# Debian's Jakarta Mail and Activation jars (libjakarta-mail-java).
JAVA_JARS = (
    "/usr/share/java/jakarta-mail.jar",
    "/usr/share/java/jakarta-activation.jar",
)
# The PKCS#12 trust store's password: Java will not read a store without one.
TRUST_PASSWORD = "changeit"
Run = dict[str, Any]


def _out(*argv: str) -> str:
    """The first line a version command prints (stdout or stderr)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0].strip()


@dataclass(frozen=True)
class Client:
    """One client program: how to find it, prepare it, name its version and run it."""

    name: str
    needs: tuple[str, ...]
    version: Callable[[], str]
    argv: Callable[[Run, Path], list[str]]
    prepare: Callable[[Path], None] | None = None
    env: Callable[[Run, Path], dict[str, str]] | None = None
    stdin: Callable[[Run], bytes] | None = None

    def available(self) -> bool:
        """Every program it needs is on this machine."""
        return all(
            (Path(need).exists() if need.startswith("/") else shutil.which(need))
            for need in self.needs
        )


def _message(run: Run) -> bytes:
    return (
        f"From: {run['from']}\r\nTo: {run['to']}\r\nSubject: report\r\n\r\n"
        "Nightly report attached.\r\n"
    ).encode()


def _py(script: str) -> Callable[[Run, Path], list[str]]:
    return lambda run, _: [sys.executable, str(PROGRAMS / script), json.dumps(run)]


def _curl(run: Run, workdir: Path, *, verbose: bool = False) -> list[str]:
    scheme = "smtps" if run["mode"] == "tls" else "smtp"
    argv = [
        "curl",
        "-v" if verbose else "-sS",
        "--connect-timeout",
        str(run["timeout"]),
    ]
    argv += ["-m", str(run["timeout"] * 2), "--cacert", run["cafile"]]
    argv += [f"{scheme}://{run['host']}:{run['port']}", "--mail-from", run["from"]]
    argv += ["--mail-rcpt", run["to"], "-T", "-"]
    if run["mode"] == "starttls":
        argv.append("--ssl-reqd")
    if run.get("user"):
        argv += ["-u", f"{run['user']}:{run['password']}"]
    return argv


def _swaks(run: Run, workdir: Path) -> list[str]:
    argv = ["swaks", "--server", f"{run['host']}:{run['port']}", "--from", run["from"]]
    argv += ["--to", run["to"], "--timeout", str(run["timeout"])]
    argv += ["--tls-verify", "--tls-ca-path", run["cafile"]]
    argv += {"tls": ["--tlsc"], "starttls": ["--tls"], "plain": []}[run["mode"]]
    if run.get("user"):
        argv += ["--auth", "PLAIN", "--auth-user", run["user"]]
        argv += ["--auth-password", run["password"]]
    return argv


def _msmtp(run: Run, workdir: Path) -> list[str]:
    argv = ["msmtp", "--file=/dev/null", f"--host={run['host']}"]
    argv += [f"--port={run['port']}", f"--from={run['from']}"]
    argv += [f"--timeout={run['timeout']}", f"--tls-trust-file={run['cafile']}"]
    argv.append("--tls=" + ("off" if run["mode"] == "plain" else "on"))
    argv.append("--tls-starttls=" + ("on" if run["mode"] == "starttls" else "off"))
    if run.get("user"):
        argv += ["--auth=plain", f"--user={run['user']}"]
        argv.append(f"--passwordeval=echo {run['password']}")
    else:
        argv.append("--auth=off")
    return [*argv, run["to"]]


def _snail(run: Run, workdir: Path) -> list[str]:
    scheme = "smtps" if run["mode"] == "tls" else "smtp"
    # s-nail takes the user in the URL, percent-encoded (RFC 3986 §2.1).
    who = (
        f"{quote(run['user'], safe='')}:{quote(run['password'], safe='')}@"
        if run.get("user")
        else ""
    )
    argv = [
        "s-nail",
        "-n",
        "-#",
        "-Sv15-compat",
        "-Ssendwait",
        "-Sexpandaddr",
        "-Snosave",
    ]
    argv += [f"-Smta={scheme}://{who}{run['host']}:{run['port']}"]
    argv += [f"-Stls-ca-file={run['cafile']}", "-Stls-ca-no-defaults"]
    argv += [f"-Ssocket-connect-timeout={run['timeout']}"]
    if run["mode"] == "starttls":
        argv.append("-Ssmtp-use-starttls")
    argv += ["-Ssmtp-auth=plain" if run.get("user") else "-Ssmtp-auth=none"]
    return [*argv, "-r", run["from"], "-s", "report", run["to"]]


def _go_prepare(workdir: Path) -> None:
    subprocess.run(
        [
            "go",
            "build",
            "-o",
            str(workdir / "send_netsmtp"),
            str(PROGRAMS / "send_netsmtp.go"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "GO111MODULE": "off", "CGO_ENABLED": "0"},
    )


def _java_prepare(workdir: Path) -> None:
    classes = workdir / "java"
    subprocess.run(
        [
            "javac",
            "-cp",
            ":".join(JAVA_JARS),
            "-d",
            str(classes),
            str(PROGRAMS / "Send.java"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [
            "keytool",
            "-importcert",
            "-noprompt",
            "-alias",
            "lab",
            "-file",
            str(workdir / "ca.pem"),
            "-keystore",
            str(workdir / "trust.p12"),
            "-storetype",
            "PKCS12",
            "-storepass",
            TRUST_PASSWORD,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _java(run: Run, workdir: Path) -> list[str]:
    argv = ["java", f"-Djavax.net.ssl.trustStore={workdir / 'trust.p12'}"]
    argv += [f"-Djavax.net.ssl.trustStorePassword={TRUST_PASSWORD}"]
    argv += ["-cp", ":".join((str(workdir / "java"), *JAVA_JARS)), "Send"]
    argv += [run["host"], str(run["port"]), run["mode"], str(run["timeout"] * 1000)]
    if run.get("user"):
        argv += [run["user"], run["password"]]
    return argv


def _jakarta_version() -> str:
    with zipfile.ZipFile(JAVA_JARS[0]) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode()
    found = re.search(r"^Bundle-Version: (\S+)", manifest, re.MULTILINE)
    java = _out("java", "-version")
    return f"Jakarta Mail {found.group(1) if found else '?'} ({java})"


def _node_version() -> str:
    package = json.loads((PEERS / "node_modules/nodemailer/package.json").read_text())
    return f"nodemailer {package['version']} (node {_out('node', '--version')})"


def _python_version(module: str | None = None) -> Callable[[], str]:
    def version() -> str:
        python = f"Python {sys.version.split()[0]}"
        if module is None:
            return f"smtplib ({python})"
        from importlib.metadata import version as dist_version

        return f"{module} {dist_version(module)} ({python})"

    return version


CLIENTS: tuple[Client, ...] = (
    Client("python-smtplib", (), _python_version(), _py("send_smtplib.py")),
    Client("aiosmtplib", (), _python_version("aiosmtplib"), _py("send_aiosmtplib.py")),
    Client(
        "nodemailer",
        ("node", str(PEERS / "node_modules/nodemailer")),
        _node_version,
        lambda run, _: ["node", str(PROGRAMS / "send_nodemailer.js"), json.dumps(run)],
        env=lambda run, _: {"NODE_PATH": str(PEERS / "node_modules")},
    ),
    Client("curl", ("curl",), lambda: _out("curl", "--version"), _curl, stdin=_message),
    Client(
        "curl-verbose",
        ("curl",),
        lambda: _out("curl", "--version"),
        lambda run, workdir: _curl(run, workdir, verbose=True),
        stdin=_message,
    ),
    Client("swaks", ("swaks",), lambda: _out("swaks", "--version"), _swaks),
    Client(
        "msmtp", ("msmtp",), lambda: _out("msmtp", "--version"), _msmtp, stdin=_message
    ),
    Client(
        "perl-net-smtp",
        ("perl", "/usr/share/perl5/IO/Socket/SSL.pm"),
        lambda: _out(
            "perl",
            "-MNet::SMTP",
            "-MIO::Socket::SSL",
            "-e",
            'print "Net::SMTP $Net::SMTP::VERSION, IO::Socket::SSL '
            '$IO::Socket::SSL::VERSION (perl $^V)"',
        ),
        lambda run, _: ["perl", str(PROGRAMS / "send_netsmtp.pl"), json.dumps(run)],
    ),
    Client(
        "phpmailer",
        ("php", "/usr/share/php/libphp-phpmailer/autoload.php"),
        lambda: _out(
            "php",
            "-r",
            "require '/usr/share/php/libphp-phpmailer/autoload.php'; "
            "echo 'PHPMailer ' . PHPMailer\\PHPMailer\\PHPMailer::VERSION . ' (PHP ' . PHP_VERSION . ')';",
        ),
        lambda run, _: ["php", str(PROGRAMS / "send_phpmailer.php"), json.dumps(run)],
    ),
    Client(
        "ruby-net-smtp",
        ("ruby",),
        lambda: _out(
            "ruby",
            "-rnet/smtp",
            "-ropenssl",
            "-e",
            'print "net-smtp #{Net::SMTP::VERSION} (ruby #{RUBY_VERSION}, #{OpenSSL::OPENSSL_LIBRARY_VERSION})"',
        ),
        lambda run, _: ["ruby", str(PROGRAMS / "send_netsmtp.rb"), json.dumps(run)],
    ),
    Client(
        "go-net-smtp",
        ("go",),
        lambda: _out("go", "version"),
        lambda run, workdir: [str(workdir / "send_netsmtp"), json.dumps(run)],
        prepare=_go_prepare,
        env=lambda run, _: {"SSL_CERT_FILE": run["cafile"]},
    ),
    Client(
        "jakarta-mail",
        ("java", "javac", "keytool", JAVA_JARS[0]),
        _jakarta_version,
        _java,
        prepare=_java_prepare,
    ),
    Client(
        "s-nail",
        ("s-nail",),
        lambda: _out("s-nail", "-V"),
        _snail,
        stdin=lambda r: b"Nightly report attached.\n",
    ),
)
