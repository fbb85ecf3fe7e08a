# ruff: noqa: E501 (known misses are kept whole on their lines)
"""
Real mail clients against real faults (``outside/client_matrix.jsonl``): Python's smtplib,
aiosmtplib, nodemailer, curl, swaks, msmtp, Perl's Net::SMTP, PHPMailer, Ruby's
net/smtp, Go's net/smtp, Jakarta Mail and s-nail, each run against loopback endpoints
that break one way (a port spoken in the wrong TLS mode, no STARTTLS, an untrusted,
misnamed or expired certificate, TLS 1.0 only, a rejected login, a closed port, a name
that does not resolve, a dropped connect, a refusing reply), and what each printed. The
category is the fault's, never the matcher's. Each record must be answered with it,
except the known misses below, which are asserted as still missed.

``tests/knowledge/clientmatrix/build.py`` rebuilds the records; the live test below runs
the same matrix now, with the clients ``.ci/run`` installs.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.categories import CATEGORIES
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.clientmatrix.build import recorded
from tests.knowledge.clientmatrix.clients import CLIENTS
from tests.knowledge.framed_records import load

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = load("client_matrix.jsonl")

# (client, fault, what is answered instead): what the client prints does not say what
# went wrong, or says it in words any other program prints too.
KNOWN_MISSES: set[tuple[str, str, str]] = {
    # curl without -v prints one line naming no protocol: its TLS and timeout errors
    # are every HTTPS fetch's ("curl: (60) SSL certificate problem: self-signed
    # certificate"), so they are no mail paste. "(55) MAIL failed: 530" is a 530 at MAIL
    # FROM, most often "authentication required"; "(8) Weird server reply" says nothing.
    ("curl", "implicit-tls-to-plain-port", "none"),
    ("curl", "starttls-to-implicit-tls-port", "none"),
    ("curl", "starttls-first", "auth-required"),
    ("curl", "self-signed", "none"),
    ("curl", "wrong-name", "none"),
    ("curl", "expired", "none"),
    ("curl", "tls1.0-only", "none"),
    ("curl", "message-too-large", "none"),
    # OpenSSL's "certificate verify failed" without its reason (IO::Socket::SSL and PHP
    # streams print only the error queue): an untrusted chain is the likelier cause.
    ("swaks", "expired", "tls-cert-untrusted"),
    ("perl-net-smtp", "expired", "tls-cert-untrusted"),
    ("phpmailer", "expired", "tls-cert-untrusted"),
    # Perl's Net::SMTP (as the matrix's script prints it) says only "Cannot connect to
    # 127.0.0.1: Connection refused", naming no mail: since the eighteenth set was
    # trained on, the learned not-mail check withholds it, offering the answer first;
    # since the nineteenth, its "Connection timed out" too.
    ("perl-net-smtp", "closed-port", "none"),
    ("perl-net-smtp", "connect-timeout", "none"),
    # "msmtp: network read error: the operation timed out": no port, no step.
    ("msmtp", "starttls-to-implicit-tls-port", "connection-timeout"),
    # PHPMailer's "Failed to connect to server:  (0)" (errno 0, no reason) is any
    # failure of its ssl:// stream: the TLS mode, a certificate, a handshake.
    ("phpmailer", "implicit-tls-to-plain-port", "connection-timeout"),
    # s-nail sends STARTTLS unasked and prints only the server's "502 5.5.2 Error:
    # command not recognized", not the command it answered.
    ("s-nail", "no-starttls", "auth-required"),
    # Go's net/smtp prints the x509 error alone, and curl without -v only "(67) Login
    # denied", naming no mail word: the learned not-mail check finds such lines in
    # other programs' pastes too and withholds the answer, offering it as a choice.
    ("go-net-smtp", "expired", "none"),
    ("go-net-smtp", "self-signed", "none"),
    ("go-net-smtp", "wrong-name", "none"),
    ("curl", "auth-rejected", "none"),
}
# The clients .ci/run installs: under CI the live matrix must run every one of them.
CI_CLIENTS = frozenset(client.name for client in CLIENTS)


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


def misses(
    matcher: Matcher, records: list[dict[str, str]]
) -> set[tuple[str, str, str]]:
    """(client, fault, answered instead) of each record not answered with its category."""
    wrong = set()
    for record in records:
        got = matcher.diagnose(record["text"]).category
        if got != record["label"]:
            wrong.add((record["client"], record["fault"], str(got)))
    return wrong


def test_records_are_well_formed() -> None:
    """Each record says what failed, in which client and version, and how it was run."""
    assert len(RECORDS) >= 200
    assert len({record["client"] for record in RECORDS}) >= 12
    for record in RECORDS:
        assert record["label"] in CATEGORIES and record["label"] != "none", record
        assert record["text"].strip() and record["exit"] not in (0, None), record
        assert record["version"] and record["command"] and record["fault_detail"], (
            record
        )


def test_each_recorded_failure_gets_its_category(shipped: Matcher) -> None:
    """Every record answers its fault's category; each known miss is still missed."""
    wrong = misses(shipped, RECORDS)
    by_client = Counter(client for client, _, _ in wrong)
    print(
        f"{len(RECORDS) - len(wrong)}/{len(RECORDS)} right; misses: {dict(by_client)}"
    )
    assert not wrong - KNOWN_MISSES, sorted(wrong - KNOWN_MISSES)
    assert not KNOWN_MISSES - wrong, (
        "answered right now, remove from KNOWN_MISSES",
        sorted(KNOWN_MISSES - wrong),
    )


@pytest.mark.slow
@pytest.mark.peers
def test_live_clients_against_live_faults(shipped: Matcher, tmp_path: Path) -> None:
    """What each installed client prints now, against each fault, gets its category."""
    if os.geteuid() != 0:
        pytest.skip("the endpoints listen on ports 25, 465 and 587: needs root")
    from tests.knowledge.clientmatrix.matrix import run_matrix

    available = {client.name for client in CLIENTS if client.available()}
    if os.environ.get("CI") == "true":
        assert available == CI_CLIENTS, (
            f"not installed: {sorted(CI_CLIENTS - available)}"
        )
    results = run_matrix(tmp_path, workers=12)
    live = [result for result in results if recorded(result)]
    assert len(live) >= len(results) - 5, [
        (r["client"], r["fault"], r["exit"]) for r in results if not recorded(r)
    ]
    known = {(client, fault) for client, fault, _ in KNOWN_MISSES}
    wrong = {miss for miss in misses(shipped, live) if (miss[0], miss[1]) not in known}
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A read timeout of another protocol's client stays another program's error.
        (
            "/usr/lib/ruby/3.1.0/net/protocol.rb:219:in `rbuf_fill': Net::ReadTimeout with #<TCPSocket:(closed)> (Net::ReadTimeout)\n"
            "\tfrom /usr/lib/ruby/3.1.0/net/protocol.rb:193:in `readuntil'\n"
            "\tfrom /usr/lib/ruby/3.1.0/net/http/response.rb:40:in `read_status_line'",
            "none",
        ),
        (
            "2024/05/01 10:00:00 read tcp 10.0.0.5:51234->10.0.0.9:5432: i/o timeout",
            "none",
        ),
        (
            "* Connected to api.example.com (203.0.113.5) port 443 (#0)\n"
            "curl: (28) Operation timed out after 30001 milliseconds with 0 bytes received",
            "none",
        ),
        # JavaMail's read timeout after the message, not at the greeting: no TLS mode.
        (
            "jakarta.mail.MessagingException: Exception reading response;\n  nested exception is:\n"
            "\tjava.net.SocketTimeoutException: Read timed out\n"
            "\tat com.sun.mail.smtp.SMTPTransport.readServerResponse(SMTPTransport.java:2476)\n"
            "\tat com.sun.mail.smtp.SMTPTransport.issueSendCommand(SMTPTransport.java:2370)\n"
            "\tat com.sun.mail.smtp.SMTPTransport.finishData(SMTPTransport.java:2140)",
            "connection-timeout",
        ),
        # The greeting's read, on 465 or in the library's own words.
        (
            "2024/05/01 10:00:00 read tcp 192.168.1.5:51234->74.125.140.108:465: i/o timeout",
            "tls-port-mismatch",
        ),
        (
            "Cannot connect to smtp.example.com: Net::SMTP: 421 [Net::SMTP] Timeout",
            "tls-port-mismatch",
        ),
    ],
)
def test_a_missing_greeting_is_read_only_at_the_greeting(
    shipped: Matcher, text: str, label: str
) -> None:
    """Read timeouts are a TLS-mode mismatch only where the greeting was awaited."""
    assert shipped.diagnose(text).category == label
