# ruff: noqa: E501 (record keys are kept whole on their lines)
"""
What real software prints when its TLS, connection or name lookup fails, captured on
127.0.0.1 by ``outside/build_nonmail.py`` (``outside/nonmail_errors.jsonl``): curl,
wget, Python's requests/httpx/urllib/aiohttp and its drivers psycopg2, asyncpg,
PyMySQL, mysql-connector and redis-py, pip, Node's https, fetch, axios and got and its
drivers pg, mysql2, ioredis and mongodb, npm, gem, go install, git, skopeo, psql, the
MariaDB client, redis-cli, ``openssl s_client``, Java's HttpsURLConnection and
HttpClient, Go's net/http, Ruby's Net::HTTP, PHP's file_get_contents, curl extension
and PDO against a self-signed,
unknown-CA, wrong-name, expired or TLS 1.0-only endpoint, a plaintext port, a closed
port, a full accept queue and a name that does not resolve. None of it is mail: each
must be answered ``none``. The same faults as mail clients print them (smtplib,
nodemailer, curl smtp://, swaks, Perl's and Ruby's Net::SMTP, Go's net/smtp, ``openssl
s_client -starttls smtp``) must keep their category. The known misses below are
asserted as still missed: a fix makes this test fail until its entry leaves the list.
"""

from __future__ import annotations

from collections import Counter

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.categories import CATEGORIES
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import load

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = load("nonmail_errors.jsonl")
NONMAIL = [record for record in RECORDS if record["label"] == "none"]
MAIL = [record for record in RECORDS if record["label"] != "none"]

# (program, case, frame, what is answered instead)
Miss = tuple[str, str, str, str]
KNOWN_MISSES: set[Miss] = {
    # node-postgres lets Node's own TLS and lookup errors through untouched: "Error:
    # ... at TLSSocket.onConnectSecure (node:_tls_wrap...) { code: ... }" names no pg
    # frame, and older nodemailer versions print the very same object for a mail
    # server. The learned not-mail check, trained on real pastes in which such bare
    # Node errors were mostly mail, no longer withholds them (trained with the
    # seventeenth set it withheld the self-signed and unknown-CA ones; with the
    # eighteenth it answers them again and withholds the closed port's; with the
    # nineteenth it withholds the unknown-CA one again, with the twentieth not: that
    # one is UNSETTLED below; since the twentieth it withholds the old-TLS and lookup
    # errors).
    ("node-pg", "self-signed", "output", "tls-cert-untrusted"),
    ("node-pg", "unknown-ca", "output", "tls-cert-untrusted"),
    # The MongoDB driver's 9 KB error dump repeats Node's own reason in a nested
    # cause's properties ("code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: \"IP: ... is
    # not in the cert's list\"") dozens of lines away from any word naming the driver.
    ("node-mongodb", "wrong-name", "output", "tls-cert-hostname"),
    # `openssl s_client`'s output without the command names neither the port nor the
    # protocol: it reads the same as a test of a mail server's port 465, the likelier
    # paste here. With the command above it (frame command+output) it is answered none.
    ("openssl-s_client", "expired", "output", "tls-cert-expired"),
    ("openssl-s_client", "self-signed", "output", "tls-cert-untrusted"),
    ("openssl-s_client", "wrong-name", "output", "tls-cert-hostname"),
    ("openssl-s_client", "tls1.0-only", "output", "tls-handshake-failed"),
    ("openssl-s_client", "plaintext-port", "output", "tls-port-mismatch"),
    # The same BIO_connect lines, output alone, from a `-starttls smtp` run: since the
    # nineteenth set was trained on, the learned not-mail check withholds them (they
    # name nothing but the socket), offering the answer first, as it should for the
    # plain s_client's; with the command, they are answered.
    ("openssl-s_client-smtp", "closed-port", "output", "none"),
    ("openssl-s_client", "unresolvable-name", "output", "dns-failure"),
    # curl without -v prints one line naming no protocol, the same for smtp:// as for
    # https:// ("curl: (60) SSL certificate problem: self-signed certificate"): as in
    # the client matrix, such a line is no mail paste. With the command line above it,
    # it is answered.
    ("curl", "plaintext-port", "output", "none"),
    ("curl", "self-signed", "output", "none"),
    ("curl", "wrong-name", "output", "none"),
    ("curl", "expired", "output", "none"),
    ("curl", "tls1.0-only", "output", "none"),
    ("curl", "closed-port", "output", "none"),
    # curl -v to a port that refuses, or that speaks no TLS, shows only the connect and
    # the TLS layer: no SMTP reply was read, and the port (kernel-picked here) is no
    # mail port. Against 465 or 587 (the client matrix) it is answered.
    ("curl-verbose", "plaintext-port", "output", "none"),
    ("curl-verbose", "closed-port", "output", "none"),
    # OpenSSL's "certificate verify failed" without its reason (IO::Socket::SSL prints
    # only the error queue): an untrusted chain is the likelier cause.
    ("swaks", "expired", "output", "tls-cert-untrusted"),
    ("perl-net-smtp", "expired", "output", "tls-cert-untrusted"),
    # The command line's own "--connect-timeout 4" is read as a timed-out connection,
    # outweighing curl's "(7) Failed to connect" and "(35)" lines.
    ("curl", "tls1.0-only", "command+output", "connection-timeout"),
    ("curl", "closed-port", "command+output", "connection-timeout"),
    # A mail client's bare line naming no mail word (Go's net/smtp prints the x509
    # error or the dial error alone): the learned not-mail check finds such lines in
    # other programs' pastes too and withholds the answer, offering it as a choice.
    # ("dial tcp ...: connect: connection refused" joined these once the sixteenth set
    # was trained on, was answered again with the seventeenth and is withheld again
    # since the eighteenth, with Perl's bare "Connection refused" line; swaks's, whose
    # "=== Trying" and "*** Error connecting" lines are its own, is answered again
    # since the twentieth.)
    ("go-net-smtp", "closed-port", "output", "none"),
    ("perl-net-smtp", "closed-port", "output", "none"),
    ("go-net-smtp", "expired", "output", "none"),
    ("go-net-smtp", "self-signed", "output", "none"),
    ("go-net-smtp", "wrong-name", "output", "none"),
}
# Known misses the learned not-mail check reads one way or the other from one training
# to the next (node-postgres's bare unknown-CA error, which older nodemailer prints
# alike): listed above, but not required to stay missed.
UNSETTLED: frozenset[Miss] = frozenset(
    {("node-pg", "unknown-ca", "output", "tls-cert-untrusted")}
)


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    assert not ERRORS
    return Matcher(KB)


def test_records_are_well_formed() -> None:
    """Each record says what printed it, for which fault, framed how, run how."""
    assert len(NONMAIL) >= 300 and len(MAIL) >= 70
    assert len({record["program"] for record in NONMAIL}) >= 30
    for record in RECORDS:
        assert record["text"].strip(), record
        assert record["label"] == "none" or record["label"] in CATEGORIES, record
        assert record["program"] and record["case"] and record["command"], record
        assert record["frame"] in ("output", "command+output"), record


def misses(matcher: Matcher, records: list[dict[str, str]]) -> set[Miss]:
    """(program, case, frame, answered instead) of each record not answered right."""
    wrong: set[Miss] = set()
    for record in records:
        got = matcher.diagnose(record["text"]).category
        if got != record["label"]:
            wrong.add((record["program"], record["case"], record["frame"], str(got)))
    return wrong


def test_each_record_gets_its_answer(shipped: Matcher) -> None:
    """Non-mail records answer none, mail ones their category; known misses stay missed."""
    wrong = misses(shipped, RECORDS)
    false_triggers = Counter(
        record["program"]
        for record in NONMAIL
        if shipped.diagnose(record["text"]).category != "none"
    )
    mail_right = sum(
        shipped.diagnose(record["text"]).category == record["label"] for record in MAIL
    )
    rate = sum(false_triggers.values()) / len(NONMAIL)
    print(
        f"\nnon-mail: {len(NONMAIL)} records, false triggers {sum(false_triggers.values())}"
        f" ({rate:.3f}) by program {dict(false_triggers)}; "
        f"mail: {mail_right}/{len(MAIL)} answered with their category"
    )
    assert rate <= 0.05
    assert not wrong - KNOWN_MISSES, sorted(wrong - KNOWN_MISSES)
    assert not KNOWN_MISSES - UNSETTLED - wrong, (
        "answered right now, remove from KNOWN_MISSES",
        sorted(KNOWN_MISSES - UNSETTLED - wrong),
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A host named as a mail server keeps an s_client test mail, port or not.
        (
            "$ openssl s_client -connect mail.example.org:2465 -verify_return_error\n"
            "40C7A5E12E7F0000:error:0A000086:SSL routines:tls_post_process_server_certificate:"
            "certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n"
            "verify error:num=10:certificate has expired",
            "tls-cert-expired",
        ),
        # PHP's mailers speak SMTP over PHP's streams: OpenSSL's reason in a stream
        # warning stays mail, libcurl's own words in a PHP exception line do not.
        (
            "PHP Warning:  stream_socket_enable_crypto(): SSL operation failed with code 1. OpenSSL Error messages:\n"
            "error:0A000086:SSL routines::certificate verify failed in /var/www/html/send.php on line 12",
            "tls-cert-untrusted",
        ),
        (
            "PHP Fatal error:  Uncaught Exception: SSL certificate problem: unable to get local issuer certificate "
            "in C:\\xampp\\htdocs\\sync.php:14\nStack trace:\n#0 {main}",
            "none",
        ),
        # GNU Wget's progress lines name it, whatever it fetched.
        (
            "--2024-05-02 09:14:07--  https://downloads.example.org/release.tar.gz\n"
            "Resolving downloads.example.org (downloads.example.org)... 203.0.113.9\n"
            "Connecting to downloads.example.org (downloads.example.org)|203.0.113.9|:443... connected.\n"
            "ERROR: The certificate of ‘downloads.example.org’ has expired.",
            "none",
        ),
        # mysqljs/mysql2's "fatal: true" on a refused connection.
        (
            "Error: connect ECONNREFUSED 10.0.0.5:41234\n"
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16) {\n"
            "  errno: -111,\n  code: 'ECONNREFUSED',\n  syscall: 'connect',\n  fatal: true\n}",
            "none",
        ),
        # Nodemailer's code as a word still makes a bare TLS error mail.
        (
            "Error: self signed certificate in certificate chain\n  code: 'ESOCKET'",
            "tls-cert-untrusted",
        ),
        # Bytes that happen to be 25 or 587 in a certificate dump are not a mail port.
        (
            "Error: self-signed certificate\n"
            "    at TLSSocket.onConnectSecure (node:_tls_wrap:1674:34) {\n"
            "  code: 'DEPTH_ZERO_SELF_SIGNED_CERT'\n"
            "  fingerprint: '3A:49:25:CF:81:94:BD:0A:46:CE:22:7C:AC:FB:7F:AA:F7:A2:28:10',\n"
            "  raw: Buffer(386) [Uint8Array] [ 48, 130, 1, 25, 48, 130, 587 ]\n"
            "Emitted 'error' event on ClientRequest instance at:\n"
            "    at TLSSocket.socketErrorListener (node:_http_client:501:9)",
            "none",
        ),
    ],
)
def test_kinds(shipped: Matcher, text: str, label: str) -> None:
    assert shipped.diagnose(text).category == label
