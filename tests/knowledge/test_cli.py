"""
The ``smtpbot diagnose`` and ``smtpbot kb`` commands as users run them: real processes
over the shipped knowledge base (DESIGN.md's CLI contract), plus the pure helpers in
``bot.commands``.
"""

from __future__ import annotations

import io
import json
import re
import selectors
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.commands import decode_input, diagnose_lines, find_shadows, run_jsonl
from bot.errors import InputError
from knowledge.loader import collect_knowledge, load_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.conftest import KnowledgeTree, run_cli

CONTRACT_KEYS = {"category", "entry", "score", "alternatives"}
STARTTLS_ERROR = "530 5.7.0 Must issue a STARTTLS command first"

# The --jsonl batch: good lines and every kind of bad line, separated by LF and CRLF,
# the last one without a line end. GOOD_LINES are the indexes that must get a diagnosis.
JSONL_LINES = [
    json.dumps({"text": STARTTLS_ERROR}).encode(),
    b"this is not json",
    json.dumps({"message": "no text key"}).encode(),
    json.dumps([{"text": STARTTLS_ERROR}]).encode(),
    json.dumps({"text": "a" * 1_000_001}).encode(),
    b'{"text": "530 \xff\xfe invalid"}',
    b"",
    json.dumps({"text": 530}).encode(),
    b"[" * 100_000,
    json.dumps({"text": "anyone up for lunch?", "user": "U1"}).encode(),
    json.dumps({"text": STARTTLS_ERROR}).encode(),
]
GOOD_LINES = {0, 9, 10}

# Every one-shot command the tests below look at: (arguments, stdin). Each process loads
# the whole knowledge base, so they are started together once (see ``runs``).
RUNS: dict[str, tuple[list[str], bytes]] = {
    "json": (["diagnose", "--json", STARTTLS_ERROR], b""),
    "human": (["diagnose", STARTTLS_ERROR], b""),
    "stdin": (["diagnose", "--json", "-"], STARTTLS_ERROR.encode()),
    "empty-arg": (["diagnose", "  \n\t "], b""),
    "empty-stdin-json": (["diagnose", "--json"], b""),
    "binary": (["diagnose"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8\xff"),
    # 10 MB of a two-byte character: cut at any byte limit it splits a character.
    "ten-mb": (["diagnose"], "\xe9".encode() * 5_000_000),
    "over-limit": (["diagnose", "--json"], b"y" * 1_000_001),
    "jsonl": (
        ["diagnose", "--jsonl"],
        b"\n".join(JSONL_LINES[:5]) + b"\r\n" + b"\n".join(JSONL_LINES[5:]),
    ),
    "show-missing": (["kb", "show", "no-such-entry-id"], b""),
    "stats": (["kb", "stats"], b""),
    "kb-help": (["kb", "--help"], b""),
}


@pytest.fixture(scope="module")
def runs(cli_env: dict[str, str]) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """The RUNS commands by name: first one alone (to fill the cache), then the rest."""
    first, *rest = RUNS
    done = {first: run_cli(*RUNS[first][0], env=cli_env, stdin=RUNS[first][1])}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(run_cli, *RUNS[name][0], env=cli_env, stdin=RUNS[name][1])
            for name in rest
        }
        done.update({name: future.result() for name, future in futures.items()})
    return done


def assert_clean_failure(
    result: subprocess.CompletedProcess[bytes], *words: str
) -> None:
    """Exit 2 with an ``error:`` message containing ``words`` and no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ")
    for word in words:
        assert word in stderr


# diagnose TEXT / --json


def test_diagnose_json_prints_one_contract_object(runs: dict[str, Any]) -> None:
    """``diagnose --json TEXT`` prints one JSON object with the contract keys."""
    result = runs["json"]
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) >= CONTRACT_KEYS
    assert answer["category"] == "starttls-required"
    assert isinstance(answer["entry"], str)
    assert 0 <= answer["score"] <= 100
    assert all({"entry", "category", "score"} <= set(a) for a in answer["alternatives"])


def test_diagnose_text_prints_answer_for_a_person(runs: dict[str, Any]) -> None:
    """``diagnose TEXT`` prints the entry's category and numbered fix steps."""
    result = runs["human"]
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "starttls-required" in out
    assert re.search(r"^\s+1\. ", out, re.MULTILINE)


def test_diagnose_reads_stdin_for_dash(runs: dict[str, Any]) -> None:
    """With ``-`` as TEXT the paste is read from stdin."""
    result = runs["stdin"]
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["category"] == "starttls-required"


def test_blank_text_exits_2_with_message(runs: dict[str, Any]) -> None:
    """A blank paste exits 2 saying the text is empty."""
    assert_clean_failure(runs["empty-arg"], "empty")


def test_empty_stdin_with_json_prints_error_object(runs: dict[str, Any]) -> None:
    """With ``--json`` an empty stdin gives an ``{"error": ...}`` object and exit 2."""
    result = runs["empty-stdin-json"]
    assert result.returncode == 2
    assert "empty" in json.loads(result.stdout)["error"]


def test_binary_on_stdin_exits_2_with_message(runs: dict[str, Any]) -> None:
    """Binary (invalid UTF-8) stdin exits 2 with a clear message, not a traceback."""
    assert_clean_failure(runs["binary"], "UTF-8")


def test_ten_megabytes_on_stdin_is_a_clear_error(runs: dict[str, Any]) -> None:
    """A 10 MB paste exits 2 naming the 1,000,000-character limit, not "UTF-8"."""
    result = runs["ten-mb"]
    assert_clean_failure(result, "1,000,000")
    assert "UTF-8" not in result.stderr.decode()


def test_text_just_over_limit_is_a_clear_error(runs: dict[str, Any]) -> None:
    """A paste of 1,000,001 characters exits 2 with a JSON error naming the limit."""
    result = runs["over-limit"]
    assert result.returncode == 2
    assert "1,000,000" in json.loads(result.stdout)["error"]


# diagnose --jsonl


def test_jsonl_answers_every_line_in_order_and_goes_on(runs: dict[str, Any]) -> None:
    """One output line per input line, in order; bad ones give error objects; exit 0."""
    result = runs["jsonl"]
    assert result.returncode == 0, result.stderr.decode()
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(answers) == len(JSONL_LINES)
    for number, answer in enumerate(answers):
        if number in GOOD_LINES:
            assert set(answer) >= CONTRACT_KEYS, answer
        else:
            assert set(answer) == {"error"}, answer
            assert answer["error"].startswith(f"line {number + 1}: ")
    assert answers[0]["category"] == answers[10]["category"] == "starttls-required"
    assert answers[9]["category"] == "none"
    assert "1,000,000" in answers[4]["error"]
    assert "UTF-8" in answers[5]["error"]


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """One line of the process's stdout; fails if none comes within ``timeout``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(
                f"no output line within {timeout} s: not flushed per line"
            )
    return proc.stdout.readline()


@pytest.mark.skipif(sys.platform == "win32", reason="selectors on pipes need POSIX")
def test_jsonl_flushes_each_answer_before_next_input(cli_env: dict[str, str]) -> None:
    """Each answer is written and flushed while stdin is still open (streaming use)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "diagnose", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps({"text": STARTTLS_ERROR}).encode() + b"\n")
        proc.stdin.flush()
        first = json.loads(_read_line(proc, timeout=30))
        assert first["category"] == "starttls-required"
        proc.stdin.write(b"not json\n")
        proc.stdin.flush()
        second = json.loads(_read_line(proc, timeout=10))
        assert "error" in second
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# kb commands and help


def _shipped_entry_id() -> str:
    """The id of some valid entry in the shipped knowledge base."""
    kb, _ = collect_knowledge()
    if not kb.entries:
        pytest.fail("the shipped knowledge base has no valid entries")
    return kb.entries[0].id


def test_kb_show_prints_the_entry(cli_env: dict[str, str]) -> None:
    """``kb show ID`` prints the entry as JSON and its file, exit 0."""
    entry_id = _shipped_entry_id()
    result = run_cli("kb", "show", entry_id, env=cli_env)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    body, _, file_line = out.rstrip("\n").rpartition("\n")
    shown = json.loads(body)
    assert shown["id"] == entry_id
    assert {"title", "category", "signatures", "cause", "fix", "sources"} <= set(shown)
    assert file_line.startswith("file: ") and file_line.endswith(f"{entry_id}.yaml")


def test_kb_show_unknown_id_exits_2(runs: dict[str, Any]) -> None:
    """``kb show`` with an id that does not exist exits 2 with a message."""
    assert_clean_failure(runs["show-missing"], "no-such-entry-id")


def test_kb_stats_exits_0_with_totals(runs: dict[str, Any]) -> None:
    """``kb stats`` prints per-category counts, a total and the code tables, exit 0."""
    result = runs["stats"]
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    total = re.search(r"^total\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    assert total is not None
    assert int(total.group(1)) == len(collect_knowledge()[0].entries)
    assert "code tables:" in out


def test_kb_lint_exit_code_follows_its_findings(
    shipped_lint: subprocess.CompletedProcess[bytes],
) -> None:
    """``kb lint`` exits 0 exactly when it reports no errors and no shadows."""
    result = shipped_lint
    out = result.stdout.decode()
    summary = re.search(
        r"(\d+) entries, (\d+) errors, (\d+) shadowed signatures\s*$", out
    )
    assert summary is not None, out
    errors, shadows = int(summary.group(2)), int(summary.group(3))
    assert result.returncode == (1 if errors or shadows else 0)
    assert len(re.findall(r"^error: ", out, re.MULTILINE)) == errors
    assert len(re.findall(r"^shadow: ", out, re.MULTILINE)) == shadows


# DESIGN.md's commands, plus the knowledge-base group.
COMMANDS = ["diagnose", "check", "run", "console", "kb"]


def test_help_lists_every_command(cli_env: dict[str, str]) -> None:
    """``smtpbot --help`` (the installed script) lists every DESIGN.md command."""
    script = Path(sys.executable).with_name("smtpbot")
    assert script.exists(), f"console script not installed next to {sys.executable}"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        env=cli_env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    out = result.stdout.decode()
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\b", out, re.MULTILINE), name


def test_kb_help_lists_subcommands(runs: dict[str, Any]) -> None:
    """``smtpbot kb --help`` lists lint, stats and show."""
    result = runs["kb-help"]
    assert result.returncode == 0
    out = result.stdout.decode()
    for name in ("lint", "stats", "show"):
        assert re.search(rf"\b{name}\b", out)


# The pure helpers behind the commands (in-process, over the sample knowledge base)


def test_decode_input_accepts_utf8_with_bom_and_drops_nul() -> None:
    """UTF-8 with a BOM decodes; NUL bytes are dropped."""
    assert decode_input("\ufeff530 caf\xe9\x00!".encode()) == "530 caf\xe9!"


def test_decode_input_rejects_invalid_utf8() -> None:
    """Invalid UTF-8 raises InputError giving the byte offset."""
    with pytest.raises(InputError, match=r"not valid UTF-8 \(byte 3\)"):
        decode_input(b"abc\xff")


def test_diagnose_lines_one_result_per_line(sample_matcher: Matcher) -> None:
    """diagnose_lines yields one dict per input line, errors included, in order."""
    lines = [
        b'{"text": "554 5.7.1 Relay access denied"}\n',
        b"\n",
        b'{"text": null}\n',
        b"{bad\n",
        b'{"text": "452 4.2.2 Mailbox full"}',
    ]
    results = list(diagnose_lines(lines, sample_matcher))
    assert [r.get("category", "error") for r in results] == [
        "relay-denied",
        "error",
        "error",
        "error",
        "mailbox-full",
    ]
    assert results[1]["error"] == "line 2: empty line"


def test_run_jsonl_writes_json_lines(sample_matcher: Matcher) -> None:
    """run_jsonl writes one JSON object per input line to the text stream."""
    stdin = io.BytesIO(b'{"text": "554 5.7.1 Relay access denied"}\nnope\n')
    stdout = io.StringIO()
    run_jsonl(stdin, stdout, sample_matcher)
    answers: list[dict[str, Any]] = [
        json.loads(x) for x in stdout.getvalue().splitlines()
    ]
    assert answers[0]["entry"] == "postfix-relay-access-denied"
    assert set(answers[1]) == {"error"}


def test_find_shadows_clean_kb(sample_matcher: Matcher) -> None:
    """A knowledge base whose signatures all find their own entries has no shadows."""
    assert find_shadows(sample_matcher) == []


def test_find_shadows_reports_signature_won_by_other_category(
    tree: KnowledgeTree,
) -> None:
    """A signature better matched by an entry of another category is reported."""
    tree.entry(
        id="relay-denied-outlook",
        category="relay-denied",
        signatures=["Relay access denied 0x800CCC79"],
        reply_codes=[],
        enhanced_codes=[],
    )
    tree.entry(
        id="auth-failed-outlook",
        category="auth-failed",
        signatures=["Relay access denied"],
        reply_codes=[],
        enhanced_codes=[],
        hex_codes=["0x800CCC79"],
    )
    shadows = find_shadows(Matcher(tree.load()))
    assert shadows == [
        (
            "relay-denied-outlook",
            "auth-failed-outlook",
            "Relay access denied 0x800CCC79",
        )
    ]


def test_find_shadows_passes_over_a_generic_entry_given_for_the_structure() -> None:
    """
    Another category's entry for any client, given for what the structure reads (a
    rate limit Outlook.com explains by IP reputation is a listing), is no shadow: no
    entry matched the signature better.
    """
    kb = load_knowledge()
    kept = {
        "exchange-online-451-4-7-500-server-busy",
        "any-client-sender-blocklisted",
        "any-client-rate-limited",
    }
    reduced = replace(kb, entries=tuple(e for e in kb.entries if e.id in kept))
    matcher = Matcher(reduced, not_mail=False, rerank=False)
    signature = "has been temporarily rate limited due to IP reputation"
    diagnosis = matcher.diagnose(signature)
    assert diagnosis.basis == "structure"
    assert diagnosis.entry is not None
    assert diagnosis.entry.id == "any-client-sender-blocklisted"
    assert find_shadows(matcher) == []


def test_find_shadows_reports_a_signature_that_is_only_a_class_name(
    tree: KnowledgeTree,
) -> None:
    """
    A signature that is a wrapper message plus a class name ("System.Net.WebException:
    Unable to connect to the remote server") matches every error of that class: lint
    reports it as saying nothing specific.
    """
    tree.entry(
        id="dotnet-timeout",
        category="connection-timeout",
        signatures=[
            "System.Net.WebException: Unable to connect to the remote server",
            "A connection attempt failed because the connected party did not respond",
        ],
        reply_codes=[],
        enhanced_codes=[],
    )
    shadows = find_shadows(Matcher(tree.load()))
    assert [(entry, signature) for entry, _, signature in shadows] == [
        (
            "dotnet-timeout",
            "System.Net.WebException: Unable to connect to the remote server",
        )
    ]
