"""
Helpers that write small knowledge trees (entries, code tables, guidance) in tmp_path.

Unit tests build their own knowledge base here instead of depending on the shipped
``knowledge/`` content, which other people are still writing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.loader import collect_knowledge, load_knowledge
from knowledge.matcher import Matcher
from knowledge.model import KnowledgeBase

# Hypothesis imports libcst to print a failing example as a patch; this machine's
# libcst warns (DeprecationWarning from mypy_extensions) on import, and under
# filterwarnings=error that turns any failing Hypothesis test into a pytest
# INTERNALERROR. Import it once, quietly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

GUIDANCE_NAME = "smtp-notes.txt"

# Six entries in six different categories, shaped like the shipped ones.
SAMPLE_ENTRIES: tuple[dict[str, Any], ...] = (
    {
        "id": "starttls-530-must-issue",
        "title": "530 5.7.0 Must issue a STARTTLS command first",
        "category": "starttls-required",
        "signatures": [
            "530 5.7.0 Must issue a STARTTLS command first",
            "Server responded: 530 5.7.0 Issue a STARTTLS command first",
        ],
        "reply_codes": [530],
        "enhanced_codes": ["5.7.0"],
        "applies_to": ["outlook", "gmail"],
        "probe_helps": True,
    },
    {
        "id": "gmail-535-bad-credentials",
        "title": "Gmail: 535 5.7.8 Username and Password not accepted",
        "category": "auth-failed",
        "signatures": [
            "535-5.7.8 Username and Password not accepted",
            "SMTPAuthenticationError: Username and Password not accepted",
        ],
        "reply_codes": [535],
        "enhanced_codes": ["5.7.8"],
        "exceptions": ["javax.mail.AuthenticationFailedException"],
        "applies_to": ["gmail"],
    },
    {
        "id": "postfix-relay-access-denied",
        "title": "Relay access denied",
        "category": "relay-denied",
        "signatures": [
            "554 5.7.1 Relay access denied",
            "550 5.7.1 Unable to relay for this recipient",
        ],
        "reply_codes": [550, 554],
        "enhanced_codes": ["5.7.1"],
        "applies_to": ["postfix"],
    },
    {
        "id": "gmail-552-mailbox-full",
        "title": "Recipient mailbox is full",
        "category": "mailbox-full",
        "signatures": [
            "552 5.2.2 The email account that you tried to reach is over quota",
            "452 4.2.2 Mailbox full",
        ],
        "reply_codes": [452, 552],
        "enhanced_codes": ["4.2.2", "5.2.2"],
    },
    {
        "id": "nodemailer-econnrefused",
        "title": "Connection refused by the mail server",
        "category": "connection-refused",
        "signatures": [
            "Error: connect ECONNREFUSED",
            "No connection could be made because the target machine actively "
            "refused it",
        ],
        "applies_to": ["nodemailer", "dotnet"],
        "probe_helps": True,
    },
    {
        "id": "outlook-0x800ccc1a-encryption-type",
        "title": "Outlook 0x800CCC1A: server does not support the encryption type",
        "category": "tls-port-mismatch",
        "signatures": [
            "Your server does not support the connection encryption type you have "
            "specified",
            "[SSL: WRONG_VERSION_NUMBER] wrong version number",
        ],
        "hex_codes": ["0x800CCC1A"],
        "applies_to": ["outlook"],
        "probe_helps": True,
    },
)

# Tiny code tables: enough rows for the fallback and validation tests.
SAMPLE_CODES: dict[str, list[dict[str, Any]]] = {
    "reply": [
        {"code": "250", "title": "OK", "meaning": "The command worked."},
        {
            "code": "530",
            "title": "Authentication or TLS required",
            "meaning": "Log in first.",
        },
        {
            "code": "535",
            "title": "Authentication credentials invalid",
            "meaning": "The user name or password was rejected.",
            "category": "auth-failed",
        },
        {
            "code": "550",
            "title": "Mailbox unavailable",
            "meaning": "The request was refused.",
        },
    ],
    "enhanced": [
        {
            "code": "X.0.0",
            "title": "Other undefined status",
            "meaning": "Read the text.",
        },
        {
            "code": "X.1.1",
            "title": "Bad destination mailbox address",
            "meaning": "The recipient does not exist.",
            "category": "recipient-unknown",
        },
        {
            "code": "X.3.4",
            "title": "Message too big for system",
            "meaning": "The message is larger than the server accepts.",
            "category": "message-too-large",
        },
    ],
    "hex": [
        {
            "code": "0x8004210B",
            "title": "The operation timed out waiting for a response",
            "meaning": "Outlook gave up waiting for the outgoing server.",
            "category": "connection-timeout",
        },
    ],
}


def entry_data(**overrides: Any) -> dict[str, Any]:
    """A complete, valid entry as a dict; keyword arguments replace or add fields."""
    data: dict[str, Any] = {
        "id": "sample-entry",
        "title": "Sample entry",
        "category": "auth-failed",
        "signatures": ["535 5.7.3 Authentication unsuccessful"],
        "reply_codes": [535],
        "enhanced_codes": ["5.7.3"],
        "cause": "The server rejected the user name or password.",
        "fix": ["Check the user name.", "Reset the password."],
        "sources": [{"title": "Local notes", "file": f"guidance/{GUIDANCE_NAME}"}],
    }
    data.update(overrides)
    return data


def dump_yaml(data: Any) -> str:
    """YAML in block style, keys in insertion order (line numbers are predictable)."""
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def line_of(text: str, needle: str, *, occurrence: int = 1) -> int:
    """The 1-based number of the line holding the ``occurrence``-th ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


class KnowledgeTree:
    """A knowledge folder being built: ``entries/``, ``codes/`` and ``guidance/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "entries").mkdir(parents=True, exist_ok=True)
        (root / "codes").mkdir(exist_ok=True)
        self.guidance(
            GUIDANCE_NAME, "SMTP notes used as the source of the sample entries.\n"
        )

    def guidance(self, name: str, text: str) -> Path:
        """Write a guidance file that entries may cite as ``guidance/<name>``."""
        path = self.root / "guidance" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def entry_text(self, text: str, *, name: str, folder: str = "misc") -> Path:
        """Write raw entry text to ``entries/<folder>/<name>`` (for invalid files)."""
        path = self.root / "entries" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def entry(
        self, *, folder: str | None = None, header: str = "", **fields: Any
    ) -> Path:
        """Write a valid entry (``entry_data`` plus ``fields``) named after its id."""
        data = entry_data(**fields)
        text = header + dump_yaml(data)
        return self.entry_text(
            text, name=f"{data['id']}.yaml", folder=folder or str(data["category"])
        )

    def codes(
        self, kind: str, codes: Iterable[Mapping[str, Any]], *, name: str = ""
    ) -> Path:
        """Write a code table ``codes/<name or kind>.yaml``."""
        rows = [{"source": "RFC 5321", **dict(row)} for row in codes]
        return self.codes_text(
            dump_yaml({"kind": kind, "codes": rows}), name=name or kind
        )

    def codes_text(self, text: str, *, name: str) -> Path:
        """Write raw code-table text to ``codes/<name>.yaml``."""
        path = self.root / "codes" / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def load(self) -> KnowledgeBase:
        """``load_knowledge`` over this tree."""
        return load_knowledge(self.root)

    def collect(self) -> tuple[KnowledgeBase, list[Any]]:
        """``collect_knowledge`` over this tree."""
        return collect_knowledge(self.root)


def fill_sample(tree: KnowledgeTree) -> KnowledgeTree:
    """Write the six sample entries and the tiny code tables into ``tree``."""
    for fields in SAMPLE_ENTRIES:
        tree.entry(
            cause=f"Cause of {fields['title']}.",
            fix=["Read the message.", "Apply the fix."],
            **{"reply_codes": [], "enhanced_codes": [], **fields},
        )
    for kind, rows in SAMPLE_CODES.items():
        tree.codes(kind, rows)
    return tree


@pytest.fixture
def tree(tmp_path: Path) -> KnowledgeTree:
    """An empty knowledge tree (folders and one guidance file) in ``tmp_path``."""
    return KnowledgeTree(tmp_path / "knowledge")


@pytest.fixture
def sample_tree(tree: KnowledgeTree) -> KnowledgeTree:
    """A knowledge tree with six entries in six categories and tiny code tables."""
    return fill_sample(tree)


@pytest.fixture(scope="session")
def sample_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """
    A matcher over the sample tree, built once (it is pure and read-only); the
    recogniser alone, without the learned not-mail check (tests/knowledge/test_learned).
    """
    tree = fill_sample(KnowledgeTree(tmp_path_factory.mktemp("kb") / "knowledge"))
    return Matcher(tree.load(), not_mail=False, rerank=False)


@pytest.fixture(scope="session")
def shipped() -> Matcher:
    """
    The matcher over the shipped knowledge base, with both learned parts, built once
    (a module that needs another matcher defines its own ``shipped``).
    """
    return Matcher(load_knowledge())


# Plain output for a pipe: no colours, a wide terminal so that rich does not wrap words.
CLI_ENV = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for CLI processes: plain output, and a matcher cache of our own."""
    return {**CLI_ENV, "SMTPBOT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}


def run_cli(
    *args: str, env: dict[str, str], stdin: bytes | None = b"", timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m bot ARGS`` in a fresh process from a neutral directory."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env,
        cwd=Path(__file__).anchor,
        check=False,
    )


@pytest.fixture(scope="session")
def shipped_lint(cli_env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """``smtpbot kb lint`` over the shipped knowledge base, once per session (slow)."""
    return run_cli("kb", "lint", env=cli_env)
