"""
The answer's entry speaks of the client that printed the paste: a Python traceback is
not answered with the PHP entry, and a bare errno from an unknown program gets the
category's generic entry, not one titled for another runtime.

Texts are what each runtime prints (its source and documentation).
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.clients import families, runtimes
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
LOW_LEVEL = (
    "connection-refused",
    "connection-timeout",
    "dns-failure",
    "tls-cert-untrusted",
    "tls-cert-expired",
    "tls-cert-hostname",
    "tls-handshake-failed",
    "tls-port-mismatch",
)


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    return Matcher(KB)


def test_every_low_level_category_has_a_generic_entry() -> None:
    """Connection, DNS and TLS categories each have an entry for any client."""
    generic = {e.category for e in KB.entries if e.generic}
    assert set(LOW_LEVEL) <= generic
    for entry in KB.entries:
        if entry.generic:
            assert not families(entry), entry.id


@pytest.mark.parametrize(
    ("text", "runtime"),
    [
        (
            'Traceback (most recent call last):\n  File "mail.py", line 4, in <module>'
            "\nConnectionRefusedError: [WinError 10061] No connection could be made "
            "because the target machine actively refused it",
            "python",
        ),
        (
            "Error: connect ECONNREFUSED 10.0.0.5:587\n    at TCPConnectWrap."
            "afterConnect [as oncomplete] (node:net:1555:16) {\n  code: 'ESOCKET', "
            "command: 'CONN'\n}",
            "node",
        ),
        (
            "dial tcp 10.0.0.5:587: connect: connection refused (sending mail)",
            "go",
        ),
        (
            "javax.mail.MessagingException: Could not connect to SMTP host: "
            "smtp.example.com, port: 587;\n  nested exception is:\n\t"
            "java.net.ConnectException: Connection refused",
            "java",
        ),
        (
            "SMTP Error: Could not connect to SMTP host. Connection failed. "
            "stream_socket_client(): unable to connect to tcp://smtp.example.com:587 "
            "(Connection refused)",
            "php",
        ),
    ],
)
def test_entry_is_for_the_runtime_the_paste_shows(
    shipped: Matcher, text: str, runtime: str
) -> None:
    """Each runtime's refused connection is answered with its own entry."""
    assert runtime in runtimes(text)
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == "connection-refused"
    assert diagnosis.entry is not None
    assert runtime in families(diagnosis.entry), diagnosis.entry.id


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "Mail delivery failed via SMTP server 'mail.example.org': "
            "Connection refused",
            "connection-refused",
        ),
        (
            "sending mail: the SMTP server smtp.example.org:587 Connection timed out",
            "connection-timeout",
        ),
        ("Error sending mail: certificate has expired", "tls-cert-expired"),
        (
            "smtp: error:0A00010B:SSL routines::wrong version number "
            "(host mail.example.org port 587)",
            "tls-port-mismatch",
        ),
    ],
)
def test_unknown_runtime_gets_the_generic_entry(
    shipped: Matcher, text: str, category: str
) -> None:
    """No runtime in the paste: the answer's title names no client."""
    assert not runtimes(text)
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == category
    assert diagnosis.entry is not None
    assert not families(diagnosis.entry), diagnosis.entry.title


def test_a_specific_cause_keeps_its_entry(shipped: Matcher) -> None:
    """An entry about the failure itself, not a client, is kept for any runtime."""
    diagnosis = shipped.diagnose(
        "SMTP: error:0A00018A:SSL routines:tls_process_ske_dhe:dh key too small"
    )
    assert diagnosis.entry is not None
    assert diagnosis.entry.id == "dh-key-too-small"


@pytest.mark.parametrize(
    ("text", "runtime"),
    [
        ("Error: Invalid login: 535 Incorrect authentication data", "node"),
        (
            "The SMTP server requires a secure connection or the client was not "
            "authenticated. The server response was: 5.7.0 Authentication Required",
            "dotnet",
        ),
        ("failed to send email: unencrypted connection", "go"),
        (
            "Sending of the message failed.\nAn error occurred while sending mail: "
            "Unable to establish a secure link with Outgoing server (SMTP)",
            "thunderbird",
        ),
    ],
)
def test_a_clients_own_words_show_its_runtime(text: str, runtime: str) -> None:
    """A message only one client prints names that client's runtime."""
    assert runtimes(text) == {runtime}


def test_a_provider_named_by_its_domain_is_not_the_client() -> None:
    """A title naming the provider by its domain (Outlook.com) is for any client."""
    entry = KB.get("office365-550-5-1-10-recipient-not-found")
    assert entry is not None and "Outlook.com" in entry.title
    assert "outlook" in entry.applies_to
    assert not families(entry)
    outlook = KB.get("outlook-530-issue-starttls-first")
    assert outlook is not None and families(outlook) == {"outlook"}
