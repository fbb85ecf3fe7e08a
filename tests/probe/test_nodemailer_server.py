"""
``smtpbot check`` against nodemailer's smtp-server (the SMTP server library many Node
applications embed), run for real on 127.0.0.1 from tests/peers (installed from its
package-lock.json by ``make test``): its built-in certificate, a proper one, implicit
TLS, STARTTLS hidden, AUTH offered before TLS, and a certificate for another name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.probe.conftest import Pki

pytestmark = pytest.mark.peers

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
SERVER = PEERS / "smtp_server.js"

Start = Callable[..., int]


def node_binary() -> str:
    """The node command with smtp-server installed beside the script, or skip/fail."""
    node = shutil.which("node")
    installed = (PEERS / "node_modules" / "smtp-server").is_dir()
    if node is None or not installed:
        missing = (
            "node is not installed (apt-get install nodejs npm)"
            if node is None
            else "tests/peers is not installed (make test runs npm ci there)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}, and CI must run the smtp-server tests")
        pytest.skip(missing)
    return node


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Start]:
    """
    Start smtp-server with the given options; return its port. Stopped after the test.
    """
    node = node_binary()
    started: list[subprocess.Popen[str]] = []

    def start(**options: Any) -> int:
        process = subprocess.Popen(
            [node, str(SERVER), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING "), f"smtp-server did not start: {line!r}"
        return int(line.split()[1])

    yield start
    for process in started:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def issued(pki: Pki, tmp_path: Path) -> Callable[[str], dict[str, str]]:
    """Key and certificate files from the test CA for a name."""

    def issue(name: str) -> dict[str, str]:
        cert = pki.ca.issue_cert(name)
        key_file, cert_file = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
        cert.private_key_pem.write_to_path(str(key_file))
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        return {"key": str(key_file), "cert": str(cert_file)}

    return issue


def check(port: int, *args: str) -> tuple[int, dict[str, Any]]:
    """``smtpbot check 127.0.0.1:PORT --allow-private --json ARGS``: exit code, JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", f"127.0.0.1:{port}"]
        + ["--allow-private", "--json", "--timeout", "10", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROBE_")},
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def finding_ids(report: dict[str, Any]) -> set[str]:
    return {f["id"] for f in report["findings"]}


def test_builtin_certificate_is_refused_for_every_reason(smtp_server: Start) -> None:
    """
    With no key of its own, smtp-server presents its bundled certificate: self-signed,
    expired and issued to localhost. A client refuses it, and the probe names all three.
    """
    code, report = check(smtp_server())
    assert code == 1
    assert report["mode"] == "starttls"
    assert report["verdict"] == "fail"
    assert report["category"] == "tls-cert-untrusted"
    assert {"cert-untrusted", "cert-expired", "cert-hostname"} <= finding_ids(report)
    assert report["certificate"]["trusted"] is False
    assert report["certificate"]["days_left"] < 0


def test_proper_certificate_with_auth_only_after_tls_is_ok(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """A CA-issued certificate for the name asked, AUTH not offered in plaintext: ok."""
    port = smtp_server(**issued("mail.test"), disabledCommands=["AUTH"])
    code, report = check(port, "--servername", "mail.test", "--cafile", pki.cafile)
    assert (code, report["verdict"], report["category"]) == (0, "ok", None), report
    assert "STARTTLS" in report["extensions_before_tls"]
    assert report["certificate"]["hostname_match"] is True
    assert report["tls"]["version"] in ("TLSv1.2", "TLSv1.3")


def test_auth_offered_before_tls_warns(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """
    smtp-server advertises AUTH in its plaintext EHLO: a client can send a password
    before TLS. It still works (exit 0) but warns, naming the mechanisms.
    """
    port = smtp_server(**issued("mail.test"), authMethods=["PLAIN", "LOGIN"])
    code, report = check(port, "--servername", "mail.test", "--cafile", pki.cafile)
    assert (code, report["verdict"]) == (0, "warn"), report
    assert "auth-before-tls" in finding_ids(report)
    assert set(report["auth_before_tls"]) == {"PLAIN", "LOGIN"}


def test_implicit_tls_detected_in_auto_mode(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """``secure: true`` (as on port 465): auto mode finds implicit TLS and passes."""
    port = smtp_server(**issued("mail.test"), secure=True, disabledCommands=["AUTH"])
    code, report = check(port, "--servername", "mail.test", "--cafile", pki.cafile)
    assert (code, report["mode"], report["verdict"]) == (0, "tls", "ok"), report


def test_starttls_client_on_implicit_tls_port_is_a_port_mismatch(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """A client set to STARTTLS on an implicit-TLS port waits for a greeting that never
    comes in plaintext: tls-port-mismatch, the mail client's classic 465 mistake."""
    port = smtp_server(**issued("mail.test"), secure=True)
    code, report = check(
        port, "--servername", "mail.test", "--cafile", pki.cafile, "--mode", "starttls"
    )
    assert (code, report["verdict"], report["category"]) == (
        1,
        "fail",
        "tls-port-mismatch",
    ), report


def test_hidden_starttls_is_unavailable(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """``hideSTARTTLS``: the EHLO reply offers no STARTTLS, so a client that requires
    TLS cannot send: starttls-unavailable."""
    port = smtp_server(**issued("mail.test"), hideSTARTTLS=True)
    code, report = check(port, "--servername", "mail.test", "--cafile", pki.cafile)
    assert (code, report["verdict"], report["category"]) == (
        1,
        "fail",
        "starttls-unavailable",
    ), report
    assert "STARTTLS" not in report["extensions_before_tls"]


def test_certificate_for_another_name(
    smtp_server: Start, pki: Pki, issued: Callable[[str], dict[str, str]]
) -> None:
    """A trusted certificate issued to another name: tls-cert-hostname, trust intact."""
    port = smtp_server(**issued("other.test"), disabledCommands=["AUTH"])
    code, report = check(port, "--servername", "mail.test", "--cafile", pki.cafile)
    assert (code, report["category"]) == (1, "tls-cert-hostname"), report
    assert report["certificate"]["trusted"] is True
    assert report["certificate"]["hostname_match"] is False
