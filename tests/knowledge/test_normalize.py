"""
Text preparation: exact evidence (codes), normalisation of volatile parts, and picking
the error-bearing lines out of long pastes.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.normalize import (
    MAX_LINE,
    MAX_LINES,
    error_lines,
    find_evidence,
    normalise,
)

# Fragments of real pastes, so that generated texts hit the regexes' edge cases.
FRAGMENTS = [
    "530 5.7.0",
    "535-5.7.8",
    "5.1.1",
    "0x800ccc0e",
    "smtp.gmail.com",
    ":587",
    "[2001:db8::1]",
    "10.0.0.1",
    "user@example.com",
    "2024-05-01T10:11:12Z",
    "- gsmtp",
    "a1b2c3d4e5f6g7h8",
    "javax.mail.AuthenticationFailedException",
    "https://support.google.com/mail/?p=BadCredentials",
    "_",
    "-",
    ".",
    ":",
    "@",
    "[",
    "]",
    " ",
    "\n",
    "\\n",
    "é",
    "²",
    "İ",
    "ß",
]
paste_text = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=25
    ).map("".join),
)


# find_evidence


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("530 5.7.0 Must issue a STARTTLS command first", (530, "5.7.0")),
        ("535-5.7.8 Username and Password not accepted", (535, "5.7.8")),
        ("550 #5.1.1 RESOLVER.ADR.RecipNotFound; not found", (550, "5.1.1")),
        ("Error: 452-4.2.2 The email account is over quota", (452, "4.2.2")),
        ("smtp; 554 5.7.1 <a@b.c>: Relay access denied", (554, "5.7.1")),
    ],
)
def test_reply_and_enhanced_pair_is_found(text: str, pair: tuple[int, str]) -> None:
    """A reply code and its enhanced code are found as a pair and as both codes."""
    evidence = find_evidence(text)
    assert pair in evidence.pairs
    assert pair[0] in evidence.reply_codes
    assert pair[1] in evidence.enhanced_codes


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("status=bounced (host said: 5.1.1)", {"5.1.1"}),
        ("dsn=4.4.1, status=deferred", {"4.4.1"}),
        ("Remote server returned '550 5.7.708 Access denied'", {"5.7.708"}),
        ("codes 5.7.1 and 4.7.0", {"5.7.1", "4.7.0"}),
    ],
)
def test_enhanced_codes_are_found(text: str, codes: set[str]) -> None:
    """Enhanced status codes are found on their own, with three-digit details too."""
    assert find_evidence(text).enhanced_codes == codes


@pytest.mark.parametrize(
    "text",
    [
        "router at 1.2.3.4 restarted",
        "upgraded to 10.5.2 yesterday",
        "OpenSSL 1.1.1w and Python 3.11.4",
        "listening on 192.168.5.1",
        "release 5.2.10.1 is out",
        "the package is at v4.2.2 now",
        "installed nodemailer@4.2.2",
        "see section 4.2.2.1 of the manual",
    ],
)
def test_version_numbers_are_not_enhanced_codes(text: str) -> None:
    """Dotted version numbers and addresses are not taken for enhanced codes."""
    assert find_evidence(text).enhanced_codes == frozenset()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The operation timed out. Error Number: 0x800ccc0b", "0x800CCC0B"),
        ("Send/Receive error (0x800CCC0E)", "0x800CCC0E"),
        ("Error 0x8004210a while sending", "0x8004210A"),
    ],
)
def test_hex_codes_are_normalised_to_upper_case(text: str, code: str) -> None:
    """Outlook hex codes are found in any case and reported in upper case."""
    assert find_evidence(text).hex_codes == {code}


def test_longer_hex_numbers_are_not_outlook_codes() -> None:
    """Hex numbers of another length (pointers, hashes) are not Outlook error codes."""
    assert find_evidence("at 0x7ffde4a1b2c8 and 0x1234").hex_codes == frozenset()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("421 Too many concurrent SMTP connections", 421),
        ("SMTP Error: (535) Incorrect authentication data", 535),
        ("server replied code=550, message=mailbox unavailable", 550),
        ('got "554 Transaction failed"', 554),
    ],
)
def test_bare_reply_codes_are_found(text: str, code: int) -> None:
    """Reply codes without an enhanced code are found in the usual places."""
    assert code in find_evidence(text).reply_codes


def test_ports_and_errno_are_not_reply_codes() -> None:
    """Port numbers and errno values are not taken for reply codes."""
    evidence = find_evidence(
        "connect to port 587 failed: [Errno 111] ECONNREFUSED, port 2525"
    )
    assert evidence.reply_codes == frozenset()


def test_no_evidence_in_chat() -> None:
    """Plain chat yields no evidence at all."""
    evidence = find_evidence("anyone up for lunch at the usual place?")
    assert not (
        evidence.reply_codes
        or evidence.enhanced_codes
        or evidence.pairs
        or evidence.hex_codes
    )


# normalise


def test_normalise_lower_cases_and_keeps_words() -> None:
    """Words survive lower-cased; punctuation, codes and numbers go."""
    assert normalise("530 5.7.0 Must issue a STARTTLS command first.") == (
        "must issue a starttls command first"
    )


@pytest.mark.parametrize(
    "address",
    ["john@example.com", "john.doe+tag@mail.example.co.uk", "A_B-c%d@Sub.Example.ORG"],
)
def test_normalise_replaces_email_addresses(address: str) -> None:
    """Email addresses become one placeholder word."""
    assert normalise(f"Recipient <{address}> rejected") == "recipient email rejected"


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "203.0.113.5:587",
        "2001:db8:85a3:0:0:8a2e:370:7334",
        "2001:db8::1",
        "[2001:db8::25]:587",
        "fe80::1ff:fe23:4567:890a",
        "::1",
        "2001:db8::1.",
    ],
)
def test_normalise_replaces_ip_addresses(address: str) -> None:
    """IPv4 and IPv6 addresses (with port or brackets) become the word ``ip``."""
    assert (
        normalise(f"connect ECONNREFUSED {address} now")
        == "connect econnrefused ip now"
    )


@pytest.mark.parametrize(
    "host",
    [
        "smtp.gmail.com",
        "smtp.office365.com",
        "mail.example.co.uk",
        "MX1.Example.ORG.",
        "mx.test",
    ],
)
def test_normalise_replaces_host_names(host: str) -> None:
    """Host names become the word ``host``."""
    assert (
        normalise(f"Could not connect to {host} quickly")
        == "could not connect to host quickly"
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (
            "javax.mail.AuthenticationFailedException",
            "javax mail authentication failed exception",
        ),
        ("smtplib.SMTPAuthenticationError", "smtplib smtp authentication error"),
        (
            "javax.net.ssl.SSLHandshakeException",
            "javax net ssl ssl handshake exception",
        ),
        ("System.Net.Mail.SmtpException", "system net mail smtp exception"),
        (
            "com.sun.mail.smtp.SMTPSendFailedException",
            "com sun mail smtp smtp send failed exception",
        ),
        (
            "org.springframework.mail.MailAuthenticationException",
            "org springframework mail mail authentication exception",
        ),
        (
            "MailKit.Security.AuthenticationException",
            "mail kit security authentication exception",
        ),
        ("ssl.SSLCertVerificationError", "ssl ssl certificate verification error"),
    ],
)
def test_normalise_keeps_exception_names(name: str, words: str) -> None:
    """Dotted exception names are kept as words (CamelCase split), never as hosts."""
    assert normalise(f"{name}: failed") == f"{words} failed"


def test_normalise_removes_gmail_trailer_and_url() -> None:
    """Gmail's ``<id> - gsmtp`` trailer and help URL leave only the message words."""
    gmail = (
        "535-5.7.8 Username and Password not accepted. For more information, go to\n"
        "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "
        "d9443c01a7336-1f2fd6f3c4bsm12345675ad.100 - gsmtp"
    )
    result = normalise(gmail)
    assert result == "username and password not accepted for more information go to url"
    assert "gsmtp" not in result


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01 10:11:12,123",
        "2024-05-01T10:11:12.123Z",
        "2024/05/01 10:11",
        "Jan  2 10:11:12",
        "[14/08/2024, 09:58:25]",
        "10:11:12.5",
    ],
)
def test_normalise_removes_timestamps(stamp: str) -> None:
    """Log timestamps in the usual formats are removed."""
    assert normalise(f"{stamp} SMTP error") == "smtp error"


def test_normalise_removes_queue_ids_and_numbers() -> None:
    """Long ids with digits (queue ids, hashes) and plain numbers are removed."""
    text = (
        "postfix/smtp[12345]: 4Bc9Xq2kLmZ7: to=<a@b.example>, delay=1.2, "
        "status=deferred"
    )
    assert normalise(text) == "postfix smtp email deferred"


def test_same_error_with_different_volatile_parts_normalises_equal() -> None:
    """Two pastes of one error from different servers and times normalise the same."""
    one = (
        "2024-05-01 10:11:12 connect to smtp.example.com[203.0.113.5]:25: "
        "Connection timed out"
    )
    two = (
        "Dec 31 23:59:59 connect to mx.other.org[198.51.100.7]:25: Connection timed out"
    )
    assert normalise(one) == normalise(two)


def test_normalise_empty_and_blank() -> None:
    """Empty and whitespace-only texts normalise to the empty string."""
    assert normalise("") == ""
    assert normalise(" \n\t ") == ""


@settings(max_examples=400, deadline=None)
@given(paste_text)
def test_normalise_never_raises_and_is_idempotent(text: str) -> None:
    """normalise accepts any text and normalising twice changes nothing."""
    once = normalise(text)
    assert normalise(once) == once


@settings(max_examples=200, deadline=None)
@given(paste_text)
def test_normalise_output_is_lower_case_words(text: str) -> None:
    """The normal form holds only case-folded words (any script), single-spaced."""
    result = normalise(text)
    assert result == result.strip()
    assert "  " not in result
    assert all(re.fullmatch(r"[^\W_]+", word) for word in result.split())
    assert result == result.casefold()


@settings(max_examples=200, deadline=None)
@given(paste_text)
def test_find_evidence_never_raises_and_codes_are_well_formed(text: str) -> None:
    """find_evidence accepts any text and returns only well-formed codes."""
    evidence = find_evidence(text)
    assert all(200 <= code <= 559 for code in evidence.reply_codes)
    assert all(
        code[0] in "245" and code.count(".") == 2 for code in evidence.enhanced_codes
    )
    assert all(
        h.startswith("0x") and h[2:] == h[2:].upper() for h in evidence.hex_codes
    )
    assert {code for code, _ in evidence.pairs} <= evidence.reply_codes


# error_lines


def _filler(count: int) -> list[str]:
    """Ordinary log lines, some with debugging words, none with an error."""
    return [
        f"2024-05-01 10:{i // 60 % 60:02d}:{i % 60:02d} INFO worker-{i % 7} "
        f"processed job {i} for tenant acme in {i % 50} ms, queue size {i % 13}, "
        f"debug trace id {i * 7919}"
        for i in range(count)
    ]


ERROR_LINE = (
    "2024-05-01 10:30:00 ERROR mailer: SMTP send failed: 535-5.7.8 Username and "
    "Password not accepted - gsmtp"
)


def test_error_line_is_picked_out_of_a_long_log() -> None:
    """The error line in the middle of a 40,000-character log is chosen."""
    filler = _filler(400)
    text = "\n".join([*filler[:200], ERROR_LINE, *filler[200:]])
    assert len(text) >= 40_000
    windows = error_lines(text)
    assert any("Username and Password not accepted" in w for w in windows)
    assert len(windows) <= MAX_LINES


def test_error_line_is_found_in_a_single_line_blob() -> None:
    """A 40,000-character paste without newlines is cut up and still searched."""
    filler = _filler(400)
    text = " ".join([*filler[:200], ERROR_LINE, *filler[200:]])
    assert "\n" not in text
    windows = error_lines(text)
    assert any("Username and Password" in w for w in windows)
    assert all(len(w) <= MAX_LINE + 120 for w in windows)


def test_error_line_is_found_in_json_escaped_log() -> None:
    """A log pasted as a JSON string (``\\n`` escapes) is split into its lines."""
    text = json.dumps({"log": "\n".join([*_filler(50), ERROR_LINE, *_filler(50)])})
    windows = error_lines(text)
    assert any(w.startswith("2024-05-01 10:30:00 ERROR mailer") for w in windows)


@pytest.mark.parametrize("limit", [1, 5, MAX_LINES])
def test_error_lines_never_exceeds_the_limit(limit: int) -> None:
    """However many lines look like errors, at most ``limit`` windows are returned."""
    text = "\n".join(
        f"ERROR {i}: SMTP connection refused by the server" for i in range(3000)
    )
    assert len(text) >= 40_000
    assert len(error_lines(text, limit=limit)) == limit


def test_error_lines_default_limit_is_max_lines() -> None:
    """Without ``limit`` the cap is MAX_LINES."""
    text = "\n".join(f"fatal error {i}: TLS handshake failed" for i in range(500))
    assert len(error_lines(text)) == MAX_LINES


def test_error_lines_are_in_paste_order_and_joined_with_successor() -> None:
    """Chosen lines come in paste order, each joined with the line after it."""
    text = "hello\nError: Invalid login: 535 Authentication failed\nplease help\nthanks"
    windows = error_lines(text)
    assert windows == ["Error: Invalid login: 535 Authentication failed please help"]


def test_stack_frames_are_not_error_lines() -> None:
    """Stack-trace frames are skipped; the exception message line is kept."""
    trace = "\n".join(
        [
            "Error: Invalid login: 535-5.7.8 Username and Password not accepted",
            "    at SMTPConnection._formatError (node_modules/nodemailer/lib/"
            "smtp-connection/index.js:784:19)",
            "    at SMTPConnection._actionAUTHComplete (node_modules/nodemailer/lib/"
            "smtp-connection/index.js:1536:34)",
            '  File "/usr/lib/python3.11/smtplib.py", line 750, in login',
            "\tat com.sun.mail.smtp.SMTPTransport.protocolConnect("
            "SMTPTransport.java:732)",
        ]
    )
    windows = error_lines(trace)
    assert windows == [
        "Error: Invalid login: 535-5.7.8 Username and Password not accepted"
    ]


def test_short_paste_without_cues_is_kept_whole() -> None:
    """A paste of up to three lines is kept even without error words."""
    assert error_lines("my mail app keeps spinning") == ["my mail app keeps spinning"]


def test_error_lines_of_empty_text() -> None:
    """Empty and blank pastes have no error lines."""
    assert error_lines("") == []
    assert error_lines("\n \n\t\n") == []


@settings(max_examples=200, deadline=None)
@given(paste_text, st.integers(min_value=1, max_value=40))
def test_error_lines_respects_limit_on_any_text(text: str, limit: int) -> None:
    """For any text, error_lines gives at most ``limit`` non-empty, bounded windows."""
    windows = error_lines(text, limit=limit)
    assert len(windows) <= limit
    assert all(w and len(w) <= MAX_LINE + 120 for w in windows)
