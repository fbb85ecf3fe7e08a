"""
The quick path of ``smtpbot check``: the same report as the engine for a healthy
server, without loading asyncio, aiosmtplib or click; everything else handed to the
engine within the same deadline.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.probe import build_contexts, probe
from bot.probe.output import emit
from bot.probe.quick import quick_check
from tests.probe.conftest import LOCAL, Pki
from tests.probe.lab import Lab
from tests.probe.test_faults import lab  # noqa: F401 - the lab fixture

ROOT = Path(__file__).resolve().parents[2]


def quick(*args: str) -> tuple[int | None, dict[str, Any] | None]:
    """Run the quick path in this process: (exit code, JSON) or (None, None)."""
    out, err = io.StringIO(), io.StringIO()
    code = quick_check(list(args), env={}, out=out, err=err)
    return code, (json.loads(out.getvalue()) if out.getvalue() else None)


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """A report without its clock readings."""
    data = dict(data)
    for key in ("timings_ms", "checked_at"):
        data.pop(key)
    data["phases"] = [(p["name"], p["ok"], p["detail"]) for p in data["phases"]]
    return data


async def test_same_report_as_the_engine(ports: dict[str, int], pki: Pki) -> None:
    """A healthy server: the quick path prints what the engine's path prints."""
    port = ports["starttls"]
    code, data = quick(
        f"127.0.0.1:{port}",
        "--allow-private",
        "--cafile",
        pki.cafile,
        "--servername",
        "mail.test",
        "--json",
    )
    assert code == 0 and data is not None
    result = await probe(
        f"127.0.0.1:{port}",
        servername="mail.test",
        policy=LOCAL,
        contexts=build_contexts(cafile=pki.cafile),
    )
    out = io.StringIO()
    emit([result], as_json=True, several=False, out=out)
    assert _comparable(data) == _comparable(json.loads(out.getvalue()))


@pytest.mark.parametrize(
    "args",
    [
        ["smtp.example.com:587"],  # a name to resolve
        ["127.0.0.1"],  # a sweep of ports
        ["127.0.0.1:25", "--mx"],
        ["127.0.0.1:25", "--help"],
        ["127.0.0.1:25", "--mode", "tls"],
        ["127.0.0.1:465"],  # auto mode starts with TLS there
        ["127.0.0.1:25", "--timeout", "0"],
        ["127.0.0.1:25", "--timeout", "soon"],
        ["127.0.0.1:25", "--port"],
        ["127.0.0.1:25", "--json", "--json"],
        ["--json"],
        [],
    ],
)
def test_unusual_invocations_go_to_the_full_cli(args: list[str]) -> None:
    """Names, sweeps, --mx, help, TLS mode, bad values: the full CLI handles them."""
    assert quick(*args) == (None, None)


def test_refused_address_goes_to_the_full_cli() -> None:
    """Loopback without --allow-private: the full CLI refuses it (exit 2, its words)."""
    assert quick("127.0.0.1:25") == (None, None)


@pytest.mark.parametrize(
    "name",
    ["client-cert-tls13", "client-cert-tls12", "expired", "slow-greeting", "http"],
)
def test_surprises_are_finished_by_the_engine(lab: Lab, name: str) -> None:  # noqa: F811
    """Failures, slow greetings and web servers end as the engine says, in time."""
    case = lab.cases[name]
    code, data = quick(
        f"{case.host}:{case.port}",
        "--allow-private",
        "--cafile",
        lab.cafile,
        "--servername",
        case.servername,
        "--timeout",
        str(case.timeout),
        "--json",
    )
    assert data is not None
    assert (code, data["verdict"], data["category"]) == (
        0 if case.verdict != "fail" else 1,
        case.verdict,
        case.category,
    )
    if case.finding is not None:
        assert data["findings"][0]["id"] == case.finding
    assert data["timings_ms"]["total"] <= (case.timeout + 0.5) * 1000


def test_healthy_check_loads_no_asyncio(ports: dict[str, int], pki: Pki) -> None:
    """A healthy ``python -m bot check`` never imports asyncio, aiosmtplib or click."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['bot', 'check', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    loaded = [m for m in ('asyncio', 'aiosmtplib', 'click', 'cryptography')"
        " if m in sys.modules]\n"
        "    print(exit.code, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            f"127.0.0.1:{ports['starttls']}",
            "--allow-private",
            "--cafile",
            pki.cafile,
            "--servername",
            "mail.test",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROBE_")},
    )
    assert done.stderr.strip().splitlines()[-1] == "0 []", done.stderr
    assert json.loads(done.stdout)["verdict"] == "ok"


def test_silent_server_ends_in_json_by_the_deadline(scripted: Any) -> None:
    """A tarpit through the CLI: one JSON object, exit 1, a linked entry, in time."""
    port, _server = scripted(greeting=None)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "check",
            f"127.0.0.1:{port}",
            "--allow-private",
            "--timeout",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROBE_")},
    )
    wall = time.perf_counter() - started
    data = json.loads(done.stdout)
    assert (done.returncode, data["category"]) == (1, "connection-timeout")
    assert data["findings"][0]["kb_entry"]
    assert "Traceback" not in done.stderr
    # The deadline and its 0.5 s grace, plus a generous start-up allowance for CI.
    assert wall < 2 + 0.5 + 3.0, wall
