# ruff: noqa: E501 (record keys are kept whole on their lines)
"""
TLS libraries' own error strings as mail software prints them
(``outside/tls_library_strings.jsonl``: OpenSSL's verify and reason strings in 3.x and
1.1 wording, GnuTLS's gnutls_strerror and verification status texts in English and the
languages Debian's libgnutls30 ships, NSS's SSL/SEC strings, rustls's Display texts,
Thunderbird's certificate dialog (certError.ftl) in every locale), each framed the way a
mail program prints it (smtplib, Net::SMTP, nodemailer, PHPMailer, curl smtp://, msmtp,
mutt, Exim, Postfix, gnutls-cli/openssl s_client with STARTTLS for SMTP, lettre) and
naming its repository, path, key and commit. Each must be answered with its category,
except the known misses below, which are asserted as still missed: a fix makes this
test fail until its entry leaves the list.

``outside/build_tls_library_strings.py`` rebuilds the records and the signals in
``knowledge/signals/tls-libraries.yaml`` and ``tls-libraries-l10n.yaml``.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from tests.knowledge.framed_records import assert_categories, assert_well_formed, load

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
RECORDS = load("tls_library_strings.jsonl")

# (lang, frame, key, what is answered instead). Kinds:
# - Thunderbird's "The certificate for X expired on DATE." cut at its placeholders leaves
#   pieces too short to be a signal of their own in most languages ("a expiré le").
# - PHPMailer's OpenSSL "packet length too long" / "unknown protocol" after "220 Ready
#   to start TLS": the server agreed to TLS, so the handshake rule answers.
# - OpenSSL's "certificate rejected" and NSS's "Issuer certificate is invalid" are read
#   as other certificate problems by entries close in words.
KNOWN_MISSES: set[tuple[str, str, str, str]] = {
    ("bg", "thunderbird", "cert-error-expired", "none"),
    ("bg", "thunderbird", "cert-error-inline-expired", "none"),
    ("da", "thunderbird", "cert-error-expired", "none"),
    ("da", "thunderbird", "cert-error-inline-expired", "none"),
    ("de", "thunderbird", "cert-error-expired", "none"),
    ("de", "thunderbird", "cert-error-not-yet-valid", "none"),
    ("dsb", "thunderbird", "cert-error-inline-expired", "none"),
    ("el", "thunderbird", "cert-error-expired", "none"),
    ("el", "thunderbird", "cert-error-inline-expired", "none"),
    ("en", "curl smtp", "X509_V_ERR_CERT_REJECTED (openssl3)", "tls-cert-expired"),
    (
        "en",
        "openssl s_client -starttls smtp",
        "X509_V_ERR_CERT_REJECTED (openssl3)",
        "tls-cert-expired",
    ),
    ("en", "phpmailer", "SSL_R_PACKET_LENGTH_TOO_LONG", "tls-handshake-failed"),
    ("en", "phpmailer", "SSL_R_UNKNOWN_PROTOCOL", "tls-handshake-failed"),
    ("en", "python smtplib", "SSL_R_UNEXPECTED_EOF_WHILE_READING", "tls-port-mismatch"),
    (
        "en",
        "python smtplib",
        "X509_V_ERR_CA_MD_TOO_WEAK (openssl3)",
        "tls-cert-untrusted",
    ),
    ("en", "thunderbird", "SEC_ERROR_CA_CERT_INVALID", "tls-cert-expired"),
    ("es-AR", "thunderbird", "cert-error-expired", "none"),
    ("es-AR", "thunderbird", "cert-error-inline-expired", "none"),
    ("es-ES", "thunderbird", "cert-error-expired", "none"),
    ("es-ES", "thunderbird", "cert-error-inline-expired", "none"),
    ("fi", "thunderbird", "cert-error-expired", "none"),
    ("fi", "thunderbird", "cert-error-inline-expired", "none"),
    ("fr", "thunderbird", "cert-error-expired", "none"),
    ("fr", "thunderbird", "cert-error-inline-expired", "none"),
    ("fy-NL", "thunderbird", "cert-error-expired", "none"),
    ("fy-NL", "thunderbird", "cert-error-inline-expired", "none"),
    ("gl", "thunderbird", "cert-error-expired", "none"),
    ("gl", "thunderbird", "cert-error-inline-expired", "none"),
    ("hr", "thunderbird", "cert-error-expired", "none"),
    ("hr", "thunderbird", "cert-error-inline-expired", "none"),
    ("hsb", "thunderbird", "cert-error-not-yet-valid", "none"),
    ("ia", "thunderbird", "cert-error-expired", "none"),
    ("ia", "thunderbird", "cert-error-inline-expired", "none"),
    ("id", "thunderbird", "cert-error-expired", "none"),
    ("id", "thunderbird", "cert-error-inline-expired", "none"),
    ("is", "thunderbird", "cert-error-expired", "none"),
    ("is", "thunderbird", "cert-error-inline-expired", "none"),
    ("it", "thunderbird", "cert-error-expired", "none"),
    ("it", "thunderbird", "cert-error-inline-expired", "none"),
    ("ka", "thunderbird", "cert-error-inline-expired", "none"),
    ("nb-NO", "thunderbird", "cert-error-expired", "none"),
    ("nb-NO", "thunderbird", "cert-error-inline-expired", "none"),
    ("nl", "thunderbird", "cert-error-expired", "none"),
    ("nn-NO", "thunderbird", "cert-error-expired", "none"),
    ("nn-NO", "thunderbird", "cert-error-inline-expired", "none"),
    ("pl", "thunderbird", "cert-error-expired", "none"),
    ("pl", "thunderbird", "cert-error-inline-expired", "none"),
    ("pt-BR", "thunderbird", "cert-error-expired", "none"),
    ("pt-BR", "thunderbird", "cert-error-inline-expired", "none"),
    ("pt-PT", "thunderbird", "cert-error-expired", "none"),
    ("pt-PT", "thunderbird", "cert-error-inline-expired", "none"),
    ("rm", "thunderbird", "cert-error-expired", "none"),
    ("rm", "thunderbird", "cert-error-inline-expired", "none"),
    ("ro", "thunderbird", "cert-error-expired", "none"),
    ("ro", "thunderbird", "cert-error-inline-expired", "none"),
    ("sk", "thunderbird", "cert-error-inline-expired", "none"),
    ("sl", "thunderbird", "cert-error-expired", "none"),
    ("sl", "thunderbird", "cert-error-not-yet-valid", "none"),
    ("sq", "thunderbird", "cert-error-expired", "none"),
    ("sq", "thunderbird", "cert-error-inline-expired", "none"),
    ("sr", "thunderbird", "cert-error-expired", "none"),
    ("sr", "thunderbird", "cert-error-inline-expired", "none"),
    ("sv-SE", "thunderbird", "cert-error-expired", "none"),
    ("sv-SE", "thunderbird", "cert-error-inline-expired", "none"),
    ("tr", "thunderbird", "cert-error-expired", "none"),
    ("zh-CN", "thunderbird", "cert-error-expired", "none"),
    ("zh-CN", "thunderbird", "cert-error-not-yet-valid", "none"),
    ("zh-TW", "thunderbird", "cert-error-expired", "none"),
    ("zh-TW", "thunderbird", "cert-error-not-yet-valid", "none"),
}


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


def test_records_are_well_formed() -> None:
    """Each record says what it is, where it was read and how it is framed."""
    assert_well_formed(RECORDS, at_least=900)


def test_each_string_gets_its_category(shipped: Matcher) -> None:
    """Every record answers its category; each known miss is still missed, as listed."""
    assert_categories(shipped, RECORDS, KNOWN_MISSES)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # curl's --ssl-reqd asks for STARTTLS on smtp://: right on 587, no mode mismatch.
        (
            "$ curl --ssl-reqd --url 'smtp://mail.example.net:587' --mail-from a@example.net\n"
            "curl: (60) SSL certificate problem: certificate not trusted",
            "tls-cert-untrusted",
        ),
        # An "SSL certificate problem" after the port is the library's message.
        (
            "Connecting to mail.example.net port 587 SSL certificate problem: "
            "unable to get local issuer certificate",
            "tls-cert-untrusted",
        ),
        # Implicit TLS named beside 587 is still a mode mismatch.
        (
            "SMTP settings: host mail.example.net, port 587, ssl\nerror: timed out",
            "tls-port-mismatch",
        ),
        # OpenSSL 3's packed reason codes beyond the first few (crypto/err/openssl.txt).
        (
            "SMTP Error: Could not connect to SMTP host. stream_socket_enable_crypto(): "
            "SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A00018E:SSL routines::",
            "tls-handshake-failed",
        ),
    ],
)
def test_curl_starttls_flag_and_packed_reasons(
    shipped: Matcher, text: str, label: str
) -> None:
    assert shipped.diagnose(text).category == label
