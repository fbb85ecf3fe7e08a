# ruff: noqa: E501 (record keys are kept whole on their lines)
"""
Mail libraries' and runtimes' own error messages as mail programs print them
(``outside/mail_library_strings.jsonl``): .NET's SmtpClient and SslStream resources,
MailKit's SslHandshakeException help texts, Jakarta/Angus Mail's SMTPTransport with
OpenJDK JSSE's nested exceptions, CPython's smtplib and _ssl.c, nodemailer, Symfony
Mailer, SwiftMailer, go-mail, lettre, Erlang/OTP ssl alerts and gen_smtp_client, each
naming its repository, path, key and commit. Each must be answered with its category,
except the known misses below, which are asserted as still missed: a fix makes this
test fail until its entry leaves the list.

``outside/build_mail_library_strings.py`` rebuilds the records and the signals in
``knowledge/signals/mail-libraries.yaml`` and ``mail-libraries-network.yaml``.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import assert_categories, assert_well_formed, load

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = load("mail_library_strings.jsonl")

# (lang, frame, key, what is answered instead): none at present. (Erlang's bare
# handshake tuple, "handshake_failure: ... {bad_cert, hostname_check_failed}", was
# withheld by the learned not-mail check until the eighteenth set was trained on.)
KNOWN_MISSES: set[tuple[str, str, str, str]] = set()


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    assert not ERRORS
    return Matcher(KB)


def test_records_are_well_formed() -> None:
    """Each record says what it is, where it was read and how it is framed."""
    assert_well_formed(RECORDS, at_least=70)


def test_each_string_gets_its_category(shipped: Matcher) -> None:
    """Every record answers its category; each known miss is still missed, as listed."""
    assert_categories(shipped, RECORDS, KNOWN_MISSES)


@pytest.mark.parametrize(
    "text",
    [
        # JSSE's and .NET's words are every Java or .NET program's: without mail around
        # them (a JDBC driver, Maven, HttpClient) they are another program's error.
        "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\n\n"
        "The last packet successfully received from the server was 0 milliseconds ago.\n"
        "Caused by: javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites are inappropriate)\n"
        "\tat sun.security.ssl.HandshakeContext.<init>(HandshakeContext.java:171)",
        "[ERROR] Failed to execute goal on project api: Could not resolve dependencies: Could not transfer artifact "
        "org.slf4j:slf4j-api:pom:2.0.9 from/to central (https://repo.maven.apache.org/maven2): PKIX path building failed: "
        "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
        "org.postgresql.util.PSQLException: SSL error: Received fatal alert: handshake_failure",
        "System.Net.Http.HttpRequestException: The SSL connection could not be established, see inner exception.\n"
        " ---> System.Security.Authentication.AuthenticationException: The remote certificate was rejected by the provided RemoteCertificateValidationCallback.\n"
        "   at System.Net.Security.SslStream.CompleteHandshake",
        "Unhandled exception. System.Net.Http.HttpRequestException: The SSL connection could not be established, see inner exception.\n"
        " ---> System.Security.Authentication.AuthenticationException: Authentication failed, see inner exception.\n"
        " ---> Interop+OpenSsl+SslException: SSL Handshake failed with OpenSSL error - SSL_ERROR_SSL.",
        # Erlang's own timeouts are no SMTP connection's.
        "** (exit) {:timeout, {GenServer, :call, [MyApp.Worker, :ping, 5000]}}\n{error,timeout}",
    ],
)
def test_runtime_words_outside_mail_are_not_mail(shipped: Matcher, text: str) -> None:
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # The library's reason after a client's wrapper decides, in any wrapper's words.
        (
            "msmtp: TLS handshake failed: The certificate is not yet activated.\n"
            "msmtp: could not send mail (account default from /home/jan/.msmtprc)",
            "tls-cert-expired",
        ),
        (
            "2024-05-02 09:14:07 1rZq3x-0004Ab-2c smtp.example.org [203.0.113.7] TLS error on "
            "connection (gnutls_handshake): Error in the time fields of certificate.",
            "tls-cert-expired",
        ),
        # SwiftMailer's "Unable to connect with TLS encryption" after PHP's warning that
        # names OpenSSL's reason: the reason decides.
        (
            "PHP Warning:  stream_socket_enable_crypto(): SSL operation failed with code 1. OpenSSL Error messages:\n"
            "error:1416F086:SSL routines:tls_process_server_certificate:certificate verify failed in "
            "/var/www/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/StreamBuffer.php on line 94\n"
            "PHP Fatal error:  Uncaught Swift_TransportException: Unable to connect with TLS encryption",
            "tls-cert-untrusted",
        ),
        # After "220 Ready to start TLS" the handshake rule stands, wrapper or not.
        (
            "<= 220 2.0.0 Ready to start TLS\n"
            "msmtp: TLS handshake failed: An unexpected TLS packet was received.",
            "tls-handshake-failed",
        ),
    ],
)
def test_the_reason_after_the_wrapper_decides(
    shipped: Matcher, text: str, label: str
) -> None:
    assert shipped.diagnose(text).category == label
