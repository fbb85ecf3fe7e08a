"""
The probe against a lab of real-world fault cases, side by side with openssl s_client
and swaks, on loopback only.

    python bench/probe_lab.py [--runs 3] [--client-cert-runs 20] [--no-tools]

Every case of tests/probe/lab.py (client certificates required or asked for, weak
DH, TLS 1.0 only, RSA-1024, slow greetings of 2.5, 4 and 8 s, HTTP and HTTPS on the
port, plaintext on 465, expired, not yet valid, missing intermediate and wildcard
certificates, healthy controls) is checked by whole ``smtpbot check --json``
processes: each run must print one JSON object with the expected verdict, category,
first finding and knowledge entry, exit with the documented code, show no traceback and
end in time. Then ``openssl s_client`` and ``swaks`` (verifying, as a mail client does)
try each case once: "agree" means they fail exactly where the probe says a client
fails (swaks is Debian's package, `apt-get install swaks`; the tests do not need it and
the bench skips it when absent). The servers run in a child process. Prints a table and
writes bench/results/probe_lab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "probe_lab.json"
# The slow-greeting cases: (greeting delay, --timeout).
SLOW = ((2.5, 4.0), (4.0, 10.0), (8.0, 30.0))
# Cases reached with implicit TLS (no STARTTLS for the other tools).
IMPLICIT = frozenset({"healthy-implicit", "client-cert-implicit"})
# What the start-up time of one process adds to a case's deadline, at most.
STARTUP_ALLOWANCE_S = 1.0


def serve() -> None:
    """
    Child process: build the lab, print its cases, run until stdin closes.
    """
    import dataclasses
    import logging
    import tempfile

    from tests.probe.lab import build_lab
    from tests.probe.servers import ServerThread

    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="probe-lab-"))
    thread = ServerThread()
    lab = build_lab(work, thread, slow=SLOW)
    cases = {name: dataclasses.asdict(case) for name, case in lab.cases.items()}
    print(json.dumps({"cases": cases, "cafile": lab.cafile}), flush=True)
    sys.stdin.read()
    lab.stop()
    thread.stop()
    shutil.rmtree(work, ignore_errors=True)


def smtpbot() -> list[str]:
    """
    The installed ``smtpbot`` command, as users run it.
    """
    script = Path(sys.executable).parent / "smtpbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def run_probe(case: dict[str, Any], cafile: str) -> dict[str, Any]:
    """
    One whole ``smtpbot check --json`` process against one case, judged.
    """
    command = [
        *smtpbot(),
        "check",
        f"{case['host']}:{case['port']}",
        "--allow-private",
        "--cafile",
        cafile,
        "--servername",
        case["servername"],
        "--timeout",
        str(case["timeout"]),
        "--json",
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=case["timeout"] + 30,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    row: dict[str, Any] = {
        "exit": done.returncode,
        "wall_s": round(wall, 2),
        "traceback": "Traceback" in done.stderr,
    }
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return row | {"json": False, "right": False}
    first = data["findings"][0] if data["findings"] else {}
    row |= {
        "json": True,
        "verdict": data["verdict"],
        "category": data["category"],
        "finding": first.get("id"),
        "kb_entry": first.get("kb_entry"),
        "message": first.get("message"),
    }
    expected_exit = 1 if case["verdict"] == "fail" else 0
    # The probe's own time against the case's bound (e.g. a web server named within
    # 3 s); the whole process against the deadline plus start-up.
    row["probe_ms"] = data["timings_ms"]["total"]
    in_time = (
        case["within_s"] is None or row["probe_ms"] <= case["within_s"] * 1000
    ) and wall <= case["timeout"] + 0.5 + STARTUP_ALLOWANCE_S
    row["right"] = (
        data["verdict"] == case["verdict"]
        and data["category"] == case["category"]
        and (case["finding"] is None or first.get("id") == case["finding"])
        and (case["entry"] is None or first.get("kb_entry") == case["entry"])
        and case["words"] in (first.get("message") or "")
        and done.returncode == expected_exit
        and not row["traceback"]
        and in_time
    )
    return row


def run_openssl(name: str, case: dict[str, Any], cafile: str) -> dict[str, Any]:
    """
    ``openssl s_client`` at its defaults, verifying chain and name: does it get
    through (handshake, then the server's answer to EHLO)?
    """
    command = [
        "openssl",
        "s_client",
        "-connect",
        f"{case['host']}:{case['port']}",
        "-servername",
        case["servername"],
        "-verify_hostname",
        case["servername"],
        "-CAfile",
        cafile,
        "-verify_return_error",
        "-brief",
        "-ign_eof",
    ]
    if name not in IMPLICIT:
        command[2:2] = ["-starttls", "smtp"]
    try:
        done = subprocess.run(
            command,
            input="EHLO probe.test\r\nQUIT\r\n",
            capture_output=True,
            text=True,
            timeout=min(case["timeout"], 10.0),
        )
    except subprocess.TimeoutExpired:
        return {"works": False, "exit": None, "why": "no answer in time"}
    text = done.stdout + done.stderr
    # After the handshake, a working server answers EHLO with 250 (s_client prints
    # it), with no 4xx/5xx reply and no alert.
    worked = (
        "CONNECTION ESTABLISHED" in text
        and re.search(r"^250 ", done.stdout, re.M) is not None
        and re.search(r"^[45]\d\d ", done.stdout, re.M) is None
        and "alert" not in text.lower()
    )
    why = next(
        (
            line.strip()
            for line in text.splitlines()
            if "error" in line.lower() or "alert" in line.lower() or "421" in line
        ),
        "",
    )
    return {"works": worked, "exit": done.returncode, "why": why[:160]}


def run_swaks(name: str, case: dict[str, Any], cafile: str) -> dict[str, Any]:
    """
    swaks with --tls-verify (a mail client's view), quitting after EHLO over TLS.
    """
    command = [
        "swaks",
        "--server",
        case["host"],
        "--port",
        str(case["port"]),
        "--tls-on-connect" if name in IMPLICIT else "--tls",
        "--tls-verify",
        "--tls-ca-path",
        cafile,
        "--tls-sni",
        case["servername"],
        # After the EHLO inside TLS: whether the server then serves the client shows
        # there (Postfix's 421, a TLS 1.3 alert).
        "--quit-after",
        "HELO",
        "--timeout",
        str(int(case["timeout"])),
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=case["timeout"] + 10,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {"works": False, "exit": None, "why": "no answer in time"}
    text = done.stdout + done.stderr
    why = next(
        (
            line.strip()
            for line in text.splitlines()
            if line.startswith(("***", "<**")) or "failed" in line.lower()
        ),
        "",
    )
    return {"works": done.returncode == 0, "exit": done.returncode, "why": why[:160]}


def main() -> int:
    """
    Run every case and tool, print the table, write the report.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--client-cert-runs", type=int, default=20)
    parser.add_argument("--no-tools", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    os.chdir(ROOT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        setup = json.loads(child.stdout.readline())
        cases, cafile = setup["cases"], setup["cafile"]
        rows = []
        for name, case in cases.items():
            runs = (
                args.client_cert_runs if name.startswith("client-cert") else args.runs
            )
            probes = [run_probe(case, cafile) for _ in range(runs)]
            row: dict[str, Any] = {
                "case": name,
                "expected": [case["verdict"], case["category"], case["finding"]],
                "runs": runs,
                "right": sum(p["right"] for p in probes),
                "tracebacks": sum(p["traceback"] for p in probes),
                "no_json": sum(not p["json"] for p in probes),
                "wall_s_max": max(p["wall_s"] for p in probes),
                "probe_ms_max": max(p.get("probe_ms", 0) for p in probes),
                "last": probes[-1],
            }
            if not args.no_tools:
                fails = case["verdict"] == "fail"
                row["openssl"] = run_openssl(name, case, cafile)
                row["openssl"]["agree"] = row["openssl"]["works"] != fails
                if shutil.which("swaks"):
                    row["swaks"] = run_swaks(name, case, cafile)
                    row["swaks"]["agree"] = row["swaks"]["works"] != fails
            rows.append(row)
            print_row(row)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    report = {
        "machine": {
            "python": platform.python_version(),
            "ssl": ssl.OPENSSL_VERSION,
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "command": " ".join([*smtpbot(), "check", "HOST:PORT", "--json", "..."]),
        "cases": rows,
        "totals": totals(rows),
    }
    print(json.dumps(report["totals"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if report["totals"]["all_right"] else 1


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """
    Runs right, tracebacks, and agreement with each tool.
    """
    result: dict[str, Any] = {
        "cases": len(rows),
        "runs": sum(r["runs"] for r in rows),
        "right": sum(r["right"] for r in rows),
        "tracebacks": sum(r["tracebacks"] for r in rows),
        "no_json": sum(r["no_json"] for r in rows),
    }
    result["all_right"] = result["right"] == result["runs"]
    for tool in ("openssl", "swaks"):
        judged = [r[tool] for r in rows if tool in r]
        if judged:
            result[f"{tool}_agree"] = f"{sum(j['agree'] for j in judged)}/{len(judged)}"
            result[f"{tool}_disagree"] = [
                r["case"] for r in rows if tool in r and not r[tool]["agree"]
            ]
    return result


def print_row(row: dict[str, Any]) -> None:
    """
    One case on one line.
    """
    tools = " ".join(
        f"{tool}={'agree' if row[tool]['agree'] else 'DISAGREE'}"
        for tool in ("openssl", "swaks")
        if tool in row
    )
    print(
        f"{row['case']:22s} {row['right']}/{row['runs']} right, "
        f"{row['tracebacks']} tracebacks, probe max {row['probe_ms_max'] / 1000:.2f} s,"
        f" process max {row['wall_s_max']:.2f} s  {tools}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
