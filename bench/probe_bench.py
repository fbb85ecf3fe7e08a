"""
Benchmark of the STARTTLS probe next to its peers, on local servers only (127.0.0.1).

    python bench/probe_bench.py [--runs 200] [--process-runs 15] [--concurrency 500]
                                [--no-testssl]

(a) in-process probe latency, p50/p99; (b) whole process: ``python -m bot check --json``
next to the Python floor (bench/floor_probe.py) and ``openssl s_client -starttls smtp``;
(c) testssl.sh ``--starttls smtp`` once; (d) agreement of TLS version, cipher and
certificate verdict with openssl; (e) N concurrent probes: wall time and memory. The
servers run in a child process (aiosmtpd with trustme certificates), so the probe's
times and memory are its own. Prints a table and writes bench/results/probe.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.probe import Mode, ProbePolicy, assess, build_contexts, probe  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "probe.json"
# The installed command, as users run it (``python -m bot`` when there is no script).
_SCRIPT = Path(sys.executable).parent / "smtpbot"
SMTPBOT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot"]
# The benchmark reaches only loopback, on whatever port the server child picked.
POLICY = ProbePolicy(allow_private=True, any_port=True)
HOST = "127.0.0.1"


def serve() -> None:
    """
    Child process: start the servers, print their ports and CA file, run until stdin
    closes.
    """
    import datetime as dt
    import logging
    import tempfile

    import trustme

    from tests.probe.servers import (
        HOSTNAME,
        ServerThread,
        make_cert,
        server_context,
        trustme_context,
    )

    # aiosmtpd logs every rejected handshake (the self-signed case) with a traceback.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="probe-bench-"))
    ca = trustme.CA()
    cafile = work / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    good = trustme_context(ca.issue_cert(HOSTNAME, HOST))
    tls12 = trustme_context(ca.issue_cert(HOSTNAME, HOST))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    now = dt.datetime.now(dt.UTC)
    cert, key = make_cert(
        issuer=None,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=90),
    )
    self_signed = server_context(cert, key, work, "self-signed")
    thread = ServerThread()
    ports = {
        "starttls": thread.serve_aiosmtpd(starttls=good),
        "tls12": thread.serve_aiosmtpd(starttls=tls12),
        "self-signed": thread.serve_aiosmtpd(starttls=self_signed),
        "pool": [thread.serve_aiosmtpd(starttls=good) for _ in range(4)],
    }
    print(json.dumps({"ports": ports, "cafile": str(cafile)}), flush=True)
    sys.stdin.read()
    thread.stop()
    shutil.rmtree(work, ignore_errors=True)


def rss_mb() -> float:
    """
    This process's resident memory now, in MB (Linux /proc).
    """
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def peak_rss_mb() -> float:
    """
    This process's peak resident memory so far, in MB.
    """
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], share: float) -> float:
    """
    The nearest-rank percentile.
    """
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


async def in_process(port: int, cafile: str, runs: int) -> dict[str, Any]:
    """
    (a) Sequential probes of one STARTTLS server, timed around the call.
    """
    contexts = build_contexts(cafile=cafile)
    target = f"{HOST}:{port}"
    for _ in range(5):  # warm-up: imports, first handshake
        await probe(target, policy=POLICY, contexts=contexts, servername="mail.test")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await probe(
            target, policy=POLICY, contexts=contexts, servername="mail.test"
        )
        times.append((time.perf_counter() - start) * 1000)
        assert assess(result).verdict == "ok", result
    return {
        "runs": runs,
        "p50_ms": percentile(times, 0.50),
        "p99_ms": percentile(times, 0.99),
        "command": "await probe('127.0.0.1:PORT', ...) in one process, contexts shared",
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    """
    Wall time of one run, in ms; the command must succeed.
    """
    start = time.perf_counter()
    done = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def whole_process(port: int, cafile: str, runs: int) -> dict[str, Any]:
    """
    (b) Median wall times of whole processes, interleaved run by run.
    """
    python = sys.executable
    target = f"{HOST}:{port}"
    commands = {
        "python floor": [
            python,
            "bench/floor_probe.py",
            HOST,
            str(port),
            cafile,
            "mail.test",
        ],
        "smtpbot check --json": [
            *SMTPBOT,
            "check",
            target,
            "--allow-private",
            "--cafile",
            cafile,
            "--servername",
            "mail.test",
            "--json",
        ],
        "python -m bot check --json": [
            python,
            "-m",
            "bot",
            "check",
            target,
            "--allow-private",
            "--cafile",
            cafile,
            "--servername",
            "mail.test",
            "--json",
        ],
        "openssl s_client -starttls smtp": [
            "openssl",
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            target,
            "-CAfile",
            cafile,
            "-servername",
            "mail.test",
        ],
    }
    # As installed: bytecode cached (this sandbox sets PYTHONDONTWRITEBYTECODE, which
    # would recompile every module of the package on every run), no SSL_CERT_FILE.
    installed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    clean = {k: v for k, v in installed.items() if k != "SSL_CERT_FILE"}
    environments = {"": clean, " (SSL_CERT_FILE set)": installed}
    for command in commands.values():
        timed(command, clean)  # warm-up: writes the bytecode caches
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        for suffix, env in environments.items():
            for name, command in commands.items():
                # With a cafile these two never read the system store: SSL_CERT_FILE
                # changes nothing for them.
                if suffix and name in (
                    "python floor",
                    "openssl s_client -starttls smtp",
                ):
                    continue
                times.setdefault(name + suffix, []).append(timed(command, env))
    medians = {
        name: round(statistics.median(values), 1) for name, values in times.items()
    }
    floor = medians["python floor"]
    # Interleaved pairs: each run's time over the floor's run just before it, so load
    # that changes during the benchmark weighs on both sides of each ratio.
    pairs = {
        name: round(
            statistics.median(
                ms / base
                for ms, base in zip(values, times["python floor"], strict=True)
            ),
            2,
        )
        for name, values in times.items()
        if len(values) == len(times["python floor"])
    }
    return {
        "runs": runs,
        "environment": "no PYTHONDONTWRITEBYTECODE, no SSL_CERT_FILE, one warm-up run",
        "median_ms": medians,
        "ratio_to_floor": {name: round(ms / floor, 2) for name, ms in medians.items()},
        "pair_ratio_median": pairs,
        "load_avg_1m": os.getloadavg()[0],
        "commands": {
            name: " ".join(c).replace(cafile, "CA") for name, c in commands.items()
        },
    }


def testssl(port: int) -> dict[str, Any] | None:
    """
    (c) One testssl.sh run with STARTTLS, no DNS and no phoning out, timed.
    """
    binary = shutil.which("testssl.sh") or shutil.which("testssl")
    if binary is None:
        return None
    command = [
        binary,
        "--quiet",
        "--color",
        "0",
        "--nodns",
        "none",
        "--warnings",
        "off",
        "--starttls",
        "smtp",
        f"{HOST}:{port}",
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, timeout=900
    )
    return {
        "wall_s": round(time.perf_counter() - start, 1),
        "exit_code": done.returncode,
        "command": " ".join([Path(binary).name, *command[1:]]),
    }


def openssl_view(port: int, cafile: str) -> dict[str, Any]:
    """
    What ``openssl s_client -starttls smtp`` reports: version, cipher, verify code.
    """
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            f"{HOST}:{port}",
            "-CAfile",
            cafile,
            "-servername",
            "mail.test",
            "-brief",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    text = done.stdout + done.stderr
    version = re.search(r"Protocol version: (\S+)", text)
    cipher = re.search(r"Ciphersuite: (\S+)", text)
    verify = re.search(r"Verification error: (.+)", text)
    return {
        "version": version[1] if version else None,
        "cipher": cipher[1] if cipher else None,
        "trusted": verify is None and "Verification: OK" in text,
        "verify_error": verify[1].strip() if verify else None,
    }


async def agreement(ports: dict[str, Any], cafile: str) -> list[dict[str, Any]]:
    """
    (d) Probe and openssl on the same servers: do version, cipher and trust agree?
    """
    contexts = build_contexts(cafile=cafile)
    rows = []
    for name in ("starttls", "tls12", "self-signed"):
        result = await probe(
            f"{HOST}:{ports[name]}",
            policy=POLICY,
            contexts=contexts,
            servername="mail.test",
        )
        ours = {
            "version": result.tls.version if result.tls else None,
            "cipher": result.tls.cipher if result.tls else None,
            "trusted": bool(result.cert and result.cert.trusted),
            "verify_error": result.cert.verify_message if result.cert else None,
        }
        theirs = await asyncio.to_thread(openssl_view, ports[name], cafile)
        same = all(ours[k] == theirs[k] for k in ("version", "cipher", "trusted"))
        rows.append({"server": name, "probe": ours, "openssl": theirs, "agree": same})
    return rows


async def concurrent(pool: list[int], cafile: str, count: int) -> dict[str, Any]:
    """
    (e) ``count`` probes at once, three times: wall time, and memory after each round.
    """
    contexts = build_contexts(cafile=cafile)
    await probe(
        f"{HOST}:{pool[0]}", policy=POLICY, contexts=contexts, mode=Mode.STARTTLS
    )
    before = rss_mb()
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        results = await asyncio.gather(
            *(
                probe(
                    f"{HOST}:{pool[i % len(pool)]}",
                    policy=POLICY,
                    contexts=contexts,
                    servername="mail.test",
                )
                for i in range(count)
            )
        )
        wall = time.perf_counter() - start
        verdicts = [assess(r).verdict for r in results]
        rounds.append(
            {
                "wall_s": round(wall, 2),
                "ok": verdicts.count("ok"),
                "slowest_probe_ms": max(r.total_ms for r in results),
                "rss_after_mb": rss_mb(),
            }
        )
        del results
    return {
        "probes": count,
        "servers": len(pool),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "rss_before_mb": before,
        "rounds": rounds,
        "peak_rss_mb": peak_rss_mb(),
    }


def print_table(report: dict[str, Any]) -> None:
    """
    The results, one line each.
    """
    a = report["in_process"]
    print(f"(a) in-process probe, {a['runs']} runs:", end=" ")
    print(f"p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms")
    b = report["whole_process"]
    print(f"(b) whole process, median of {b['runs']} runs:")
    for name, ms in b["median_ms"].items():
        pair = b["pair_ratio_median"].get(name)
        pairs = f", pairs {pair:.2f}x" if pair is not None else ""
        print(
            f"      {name:48s} {ms:8.1f} ms  {b['ratio_to_floor'][name]:5.2f}x floor"
            f"{pairs}"
        )
    c = report["testssl"]
    if c is None:
        print("(c) testssl.sh: skipped (--no-testssl) or not installed")
    else:
        print(f"(c) testssl --starttls smtp: {c['wall_s']} s (exit {c['exit_code']})")
    print("(d) agreement with openssl s_client (version, cipher, certificate verdict):")
    for row in report["agreement"]:
        views = [
            f"{who}={view['version']} {view['cipher']} trusted={view['trusted']}"
            for who, view in (("probe", row["probe"]), ("openssl", row["openssl"]))
        ]
        verdict = "agree" if row["agree"] else "DISAGREE"
        print(f"      {row['server']:12s} {verdict:9s} " + " ".join(views))
    e = report["concurrent"]
    print(f"(e) {e['probes']} concurrent probes,", end=" ")
    print(f"{e['servers']} servers, {e['cpus']} CPUs:")
    for index, run in enumerate(e["rounds"], 1):
        print(
            f"      round {index}: {run['wall_s']} s, {run['ok']} ok, "
            f"slowest {run['slowest_probe_ms']:.0f} ms, "
            f"RSS after {run['rss_after_mb']} MB"
        )
    print(f"      RSS before {e['rss_before_mb']} MB, peak {e['peak_rss_mb']} MB")
    print(f"      (machine's 1-minute load average then: {e['load_avg_1m']:.2f})")


def main() -> int:
    """
    Run every part and write the report.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--process-runs", type=int, default=31)
    parser.add_argument(
        "--only-startup",
        action="store_true",
        help="run part (b) only, for quick checks",
    )
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--no-testssl", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    os.chdir(ROOT)
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        setup = json.loads(child.stdout.readline())
        ports, cafile = setup["ports"], setup["cafile"]
        if args.only_startup:
            startup = whole_process(ports["starttls"], cafile, args.process_runs)
            print(json.dumps(startup, indent=2))
            return 0
        report = {
            "machine": {
                "python": platform.python_version(),
                "ssl": ssl.OPENSSL_VERSION,
                "cpus": os.cpu_count(),
                "load_avg_1m": os.getloadavg()[0],
            },
            "in_process": asyncio.run(in_process(ports["starttls"], cafile, args.runs)),
            "whole_process": whole_process(
                ports["starttls"], cafile, args.process_runs
            ),
            "testssl": None if args.no_testssl else testssl(ports["starttls"]),
            "agreement": asyncio.run(agreement(ports, cafile)),
            "concurrent": asyncio.run(
                concurrent(ports["pool"], cafile, args.concurrency)
            ),
        }
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    print_table(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
