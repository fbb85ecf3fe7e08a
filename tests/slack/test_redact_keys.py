"""
A lone token is a credential unless it reads as a name: keys, server tokens and
generated passwords on a line of their own, or as the client's data in a transport log,
never survive; identifiers, error constants and certificate bodies stay.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.redact import REDACTED, redact
from bot.redact.tokens import key_like, name_shaped

# Where a lone token stands: alone, quoted, as the client's data in the transport logs
# of PHPMailer, smtplib, swaks, curl, nodemailer, msmtp and Exchange, and amid a paste.
LAYOUTS: dict[str, Callable[[str], str]] = {
    "alone": lambda t: t,
    "indented": lambda t: f"    {t}",
    "markdown": lambda t: f"`{t}`",
    "phpmailer": lambda t: f"2024-05-01 10:00:01 CLIENT -> SERVER: {t}",
    "smtplib": lambda t: f"16:50:17.904000 send: '{t}\\r\\n'",
    "swaks": lambda t: f" ~> {t}",
    "curl": lambda t: f"> {t}",
    "nodemailer": lambda t: f"[2024-05-10 07:12:01] DEBUG [lHr1v5x3A] C: {t}",
    "msmtp": lambda t: f"--> {t}",
    "exchange": lambda t: (
        f"2024-01-01T00:00:00.000Z,Out,08DB1,7,10.0.0.1:5555,1.2.3.4:587,>,{t},"
    ),
    "paste": lambda t: (
        "Sending fails with our key:\n"
        f"{t}\n"
        "535-5.7.8 Username and Password not accepted."
    ),
}
# Tokens that once escaped: random 40-character tokens whose character entropy fell
# under the old bar, keys without a digit, a Google key ending in "-".
ESCAPED = [
    "N1YNgSUMJJ8PAR2hIRdeNBq8SYhWBREe8DDRkJqM",
    "NkDfeD_w33wXQJkw-C6JhlUXTNkgROD36hRuPTMk",
    "2OrnRwJ6BYDrSRSwFSSFOSlu9qKe7K72tNFfaSK_",
    "pYkspkwapFppYcL4VGtcU_LBYdeCdMiXrMYkxYV6",
    "XpiGdu8y7a8lIvCtYLYG-IGKfvY-8GpRW848HxaW",
    "qEuyfK_V8mqN180vxNvq1QNtnKUt8ri_XtpXXKxX",
    "DqjY_nBAtnGPDagfVJdMau_OhzPWgDIaLCrdSivQ",
    "NgScBcFlvvBkccqWeepgJUCBQEAzYAVbmqSuwR_z",
    "AIzaICjqInrCEGIQaQQGVvm4ZZdEhDaQ6_hM-E-",
    "-kYNgSUMJJ8PAR2hIRdeNBq8SYhWBREe8DDRkJqM",
    "_kYNgSUMJJ8PAR2hIRdeNBq8SYhWBREe8DDRkJqM",
    "qwhzrtbnxkvmlpdf",
    "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeF",
]


def urlsafe_token(seed: int, size: int) -> str:
    """
    A token as secrets.token_urlsafe(size) makes one, drawn from ``seed``.
    """
    raw = random.Random(seed).randbytes(size)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def survives(token: str, text: str) -> bool:
    """
    Whether the token, or any 12 characters of it, is still in the text.
    """
    return any(token[at : at + 12] in text for at in range(len(token) - 11))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("token", ESCAPED)
def test_tokens_that_once_escaped_are_redacted(token: str, layout: str) -> None:
    """
    Each token that once escaped is redacted in every layout, and nothing of it stays.
    """
    cleaned = redact(LAYOUTS[layout](token))
    assert REDACTED in cleaned and not survives(token, cleaned), cleaned


def test_thousands_of_random_keys_never_survive_any_layout() -> None:
    """
    Keys of 12 to 48 random bytes in base64url (16 to 64 characters), from 4,000 fixed
    seeds, are redacted whole in every layout.
    """
    escaped = []
    for seed in range(4_000):
        token = urlsafe_token(seed, 12 + seed % 37)
        layout = sorted(LAYOUTS)[seed % len(LAYOUTS)]
        if survives(token, redact(LAYOUTS[layout](token))):
            escaped.append((seed, layout, token))
    assert not escaped


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.integers(min_value=0, max_value=2**63),
    st.integers(min_value=12, max_value=64),
    st.sampled_from(sorted(LAYOUTS)),
)
@example(seed=0, size=30, layout="alone")
def test_a_random_key_never_survives(seed: int, size: int, layout: str) -> None:
    """
    Whatever the seed, length and layout, a key from a random source is redacted.
    """
    token = urlsafe_token(seed, size)
    assert not survives(token, redact(LAYOUTS[layout](token)))


@pytest.mark.parametrize(
    "key",
    [
        str(uuid.UUID(bytes=random.Random(1).randbytes(16))),  # Postmark server token
        random.Random(2).randbytes(16).hex(),  # Mailjet key
        random.Random(3).randbytes(20).hex(),  # SparkPost key
        base64.b64encode(random.Random(4).randbytes(33)).decode(),  # SES SMTP password
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS secret access key
        "abcd-efgh-ijkl-mnop",  # Apple app-specific password
        "kxqmzvbwhtlpfjry",  # Google app password, typed without spaces
    ],
)
def test_hex_uuid_and_base64_keys_alone_are_redacted(key: str) -> None:
    """
    Server tokens (UUIDs), hex keys, base64 passwords and app passwords on their own
    line are credentials.
    """
    assert key_like(key)
    assert redact(f"our key:\n{key}\n535 5.7.8 failed") == (
        f"our key:\n{REDACTED}\n535 5.7.8 failed"
    )


@pytest.mark.parametrize(
    "name",
    [
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "ERR_TLS_CERT_ALTNAME_INVALID",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "SELF_SIGNED_CERT_IN_CHAIN",
        "ERR_SSL_WRONG_VERSION_NUMBER",
        "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
        "sslv3_alert_handshake_failure",
        "tlsv1_alert_unknown_ca",
        "x509_verify_cert",
        "SMTPAuthenticationError",
        "SMTPServerDisconnected",
        "SmtpFailedRecipientException",
        "HTTPSConnectionPool",
        "Swift_TransportException",
        "StoreDrvSubmissionException",
        "ClientNotPermittedToSendAsThisSender",
        "javax/mail/internet/MimeMessage",
        "ENHANCEDSTATUSCODES",
        "----------------------------------------",
        "________________________________",
    ],
)
def test_names_alone_on_a_line_stay(name: str) -> None:
    """
    Error constants, exception and class names and rules read as names and stay.
    """
    assert name_shaped(name)
    assert redact(f"Error:\n{name}\n") == f"Error:\n{name}\n"


def test_a_certificate_body_stays_and_a_paste_after_it_is_redacted() -> None:
    """
    A public certificate's base64 lines are not keys; a key after the block is.
    """
    body = base64.b64encode(random.Random(5).randbytes(96)).decode()
    key = urlsafe_token(6, 30)
    text = (
        "-----BEGIN CERTIFICATE-----\n"
        f"{body[:64]}\n{body[64:]}\n"
        "-----END CERTIFICATE-----\n"
        f"{key}\n"
        "ssl.SSLCertVerificationError: certificate verify failed"
    )
    cleaned = redact(text)
    assert body[:64] in cleaned and body[64:] in cleaned
    assert key not in cleaned


def test_an_unfinished_certificate_block_ends_at_its_first_line_of_text() -> None:
    """
    An armour header with no END line shelters only base64 lines: a transcript pasted
    after it still loses its credentials.
    """
    password = base64.b64encode(random.Random(7).randbytes(12)).decode()
    cleaned = redact(
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n"
        "S: 334 UGFzc3dvcmQ6\n"
        f"C: {password}\nS: 535 5.7.8 failed"
    )
    assert password not in cleaned and "MIIDdzCCAl+gAwIBAgIE" in cleaned


@pytest.mark.parametrize("reply", ["250-", "334-", "421-", "550-"])
def test_a_key_that_starts_like_a_reply_is_still_a_key(reply: str) -> None:
    """
    A token that begins with three digits and "-" is a reply only when the rest reads
    as one; a random rest is a key.
    """
    token = reply + urlsafe_token(8, 30)
    assert redact(f"C: {token}") == f"C: {REDACTED}"
    assert redact("S: 250-ENHANCEDSTATUSCODES") == "S: 250-ENHANCEDSTATUSCODES"
