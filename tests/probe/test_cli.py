"""
``smtpbot check`` as a user runs it: a real process against local servers, its JSON
(DESIGN.md) and its exit codes (0 ok/warn, 1 fail, 2 refused or bad usage).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.probe.conftest import Pki
from tests.probe.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``python -m bot check`` with ``args``."""
    command = [sys.executable, "-m", "bot", "check"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROBE_")}
    environment.update(env or {})
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


def test_json_ok_matches_design(ports: dict[str, int], pki: Pki) -> None:
    """A healthy server: exit 0 and one JSON object with every DESIGN.md field."""
    port = ports["starttls"]
    done = check(
        f"127.0.0.1:{port}",
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--servername",
        "mail.test",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["target"] == {
        "host": "127.0.0.1",
        "port": port,
        "address": "127.0.0.1",
        "servername": "mail.test",
    }
    assert (data["mode"], data["verdict"], data["category"], data["findings"]) == (
        "starttls",
        "ok",
        None,
        [],
    )
    assert data["banner"] == "220 mail.test aiosmtpd test ESMTP"
    assert "STARTTLS" in data["extensions_before_tls"]
    assert data["auth_before_tls"] == [] and sorted(data["auth_after_tls"]) == [
        "LOGIN",
        "PLAIN",
    ]
    assert data["tls"] == {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"}
    cert = data["certificate"]
    assert {
        "subject",
        "issuer",
        "sans",
        "not_after",
        "days_left",
        "trusted",
        "hostname_match",
    } <= (cert.keys())
    assert cert["trusted"] is True and cert["hostname_match"] is True
    assert cert["not_after"].endswith("Z") and isinstance(cert["days_left"], int)
    timings = data["timings_ms"]
    assert {
        "connect",
        "banner",
        "ehlo",
        "starttls",
        "handshake",
        "total",
    } <= timings.keys()
    assert all(isinstance(v, float) for v in timings.values())


def test_json_fail_exit_1_with_advice(ports: dict[str, int], pki: Pki) -> None:
    """A self-signed certificate: exit 1, category and a finding with advice."""
    done = check(
        f"127.0.0.1:{ports['self-signed']}",
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--servername",
        "mail.test",
        "--json",
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert (data["verdict"], data["category"]) == ("fail", "tls-cert-untrusted")
    finding = data["findings"][0]
    assert finding["id"] == "cert-untrusted" and finding["severity"] == "fail"
    assert finding["message"] == "certificate is self-signed" and finding["advice"]
    assert data["certificate"]["trusted"] is False
    assert data["certificate"]["subject"] == "CN=mail.test"


def test_warn_exits_0(ports: dict[str, int], pki: Pki) -> None:
    """A warning is still exit 0."""
    done = check(
        f"127.0.0.1:{ports['auth-before-tls']}",
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "warn"


def test_private_target_refused_exit_2(ports: dict[str, int]) -> None:
    """Without --allow-private a loopback target is refused: exit 2, says why."""
    done = check(f"127.0.0.1:{ports['starttls']}", "--json")
    assert done.returncode == 2
    assert "refused to probe: 127.0.0.1 is a loopback address" in done.stderr
    # --json still prints one object: nothing probed, so no verdict, and why.
    report = json.loads(done.stdout)
    assert report["target"] == {"host": f"127.0.0.1:{ports['starttls']}", "port": None}
    assert report["verdict"] is None and report["category"] is None
    assert report["reason"] == "refused"
    assert "loopback" in report["error"]


@pytest.mark.parametrize(
    ("args", "env", "reason", "words"),
    [
        (
            ("192.0.2.1", "--port", "25"),
            {"PROBE_PORTS": "25,x"},
            "config",
            "PROBE_PORTS",
        ),
        (("mail example.com",), {}, "input", "invalid target"),
        (
            ("127.0.0.1:25", "--allow-private", "--timeout", "0"),
            {},
            "input",
            "--timeout",
        ),
        (("169.254.169.254:25",), {}, "refused", "metadata"),
    ],
)
def test_json_object_when_not_run(
    args: tuple[str, ...], env: dict[str, str], reason: str, words: str
) -> None:
    """Every --json run that probes nothing still ends in one object naming why."""
    done = check(*args, "--json", env=env)
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert (report["verdict"], report["reason"]) == (None, reason)
    assert words in report["error"]


def test_without_json_refusal_prints_nothing_on_stdout() -> None:
    """The human form keeps stdout empty for a refusal; the message is on stderr."""
    done = check("169.254.169.254:25")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "metadata" in done.stderr


def test_allow_cidrs_from_env(ports: dict[str, int], pki: Pki) -> None:
    """PROBE_ALLOW_CIDRS=127.0.0.0/8 lets a loopback target through without the flag."""
    done = check(
        f"127.0.0.1:{ports['starttls']}",
        "--cafile",
        pki.cafile,
        "--json",
        env={"PROBE_ALLOW_CIDRS": "127.0.0.0/8"},
    )
    assert done.returncode == 0, done.stderr


def test_bad_env_exit_2_names_variable() -> None:
    """A malformed PROBE_PORTS is exit 2 with the variable named."""
    done = check("192.0.2.1", "--json", env={"PROBE_PORTS": "25,x"})
    assert done.returncode == 2
    assert "PROBE_PORTS" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("127.0.0.1:25", "--mode", "bogus"),
        ("127.0.0.1:25", "--port", "0"),
        ("mail example.com",),
        ("127.0.0.1:25", "--allow-private", "--cafile", "/nonexistent/ca.pem"),
        ("127.0.0.1:25", "--allow-private", "--timeout", "0"),
    ],
)
def test_bad_usage_exit_2(args: tuple[str, ...]) -> None:
    """Bad flags, targets, files or timeouts exit 2 with a message."""
    done = check(*args)
    assert done.returncode == 2
    assert done.stderr.strip()


def test_sweep_prints_an_array_in_port_order() -> None:
    """No port: 587, 25 and 465 are each reported, as a JSON array, in that order."""
    done = check("127.0.0.1", "--allow-private", "--json", "--timeout", "2")
    data = json.loads(done.stdout)
    assert [item["target"]["port"] for item in data] == [587, 25, 465]
    passed = any(item["verdict"] != "fail" for item in data)
    assert done.returncode == (0 if passed else 1)


def test_explicit_port_overrides_target_port(ports: dict[str, int], pki: Pki) -> None:
    """--port N forces one port, even when TARGET names another."""
    done = check(
        f"127.0.0.1:{free_port()}",
        "--port",
        str(ports["starttls"]),
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"]["port"] == ports["starttls"]


def test_human_report_has_ticks_verdict_and_advice(
    ports: dict[str, int], pki: Pki
) -> None:
    """The human report shows a tick per phase, the verdict in words, and advice."""
    done = check(
        f"127.0.0.1:{ports['wrong-name']}",
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--servername",
        "mail.test",
    )
    assert done.returncode == 1
    out = done.stdout
    for words in ("TCP connect", "STARTTLS", "TLS handshake", "certificate", "✓", "✗"):
        assert words in out
    assert "FAIL: a mail client would fail here (tls-cert-hostname)" in out
    assert "certificate is for other.example, not mail.test" in out
    assert "→ Point the client at a name the certificate covers" in out


def test_refused_without_packet_from_cli() -> None:
    """The CLI refuses the metadata address even when PROBE_ALLOW_CIDRS covers it."""
    done = check(
        "169.254.169.254:25", "--json", env={"PROBE_ALLOW_CIDRS": "169.254.0.0/16"}
    )
    assert done.returncode == 2
    assert "cloud metadata" in done.stderr


def test_closed_port_exit_1_connection_refused() -> None:
    """A closed local port: exit 1, connection-refused."""
    done = check(f"127.0.0.1:{free_port()}", "--allow-private", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["category"] == "connection-refused"


def test_in_process_human_sweep() -> None:
    """A human sweep reports each port and ends with a one-line summary (in-process)."""
    import io

    from bot.probe.command import CheckRequest, run_check

    out, err = io.StringIO(), io.StringIO()
    request = CheckRequest(target="localhost", allow_private=True, timeout=2)
    assert run_check(request, env={}, out=out, err=err) == 1, err.getvalue()
    text = out.getvalue()
    assert [text.index(f"localhost port {p}") for p in (587, 25, 465)] == sorted(
        text.index(f"localhost port {p}") for p in (587, 25, 465)
    )
    assert text.rstrip().endswith("No probed port works.")


def test_in_process_human_single(ports: dict[str, int], pki: Pki) -> None:
    """A human report of one healthy port says OK (in-process)."""
    import io

    from bot.probe.command import CheckRequest, run_check

    out, err = io.StringIO(), io.StringIO()
    request = CheckRequest(
        target=f"localhost:{ports['starttls']}",
        servername="mail.test",
        allow_private=True,
        cafile=pki.cafile,
    )
    assert run_check(request, env={}, out=out, err=err) == 0, err.getvalue()
    assert "OK: a mail client can connect" in out.getvalue()


def test_in_process_bad_mode() -> None:
    """An unknown --mode is exit 2 with the accepted values."""
    import io

    from bot.probe.command import CheckRequest, run_check

    err = io.StringIO()
    code = run_check(
        CheckRequest(target="x.test", mode="ssl"), env={}, out=io.StringIO(), err=err
    )
    assert code == 2
    assert "--mode must be auto, starttls or tls" in err.getvalue()
