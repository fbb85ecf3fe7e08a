"""
Refusals in the words of particular servers and clients, taken from their sources:
Sendmail's TLS requirement (cf/m4/proto.m4), Exim's own bounce for a message over its
size limit (src/moan.c), a per-session message cap, Exchange's send-on-behalf refusal
as Japanese Outlook shows it, cPanel's Exim asking a client that did not log in to
turn on SMTP authentication (against plain Exim's relay refusal), and Microsoft's IMAP
and POP servers refusing a password login since Basic authentication was retired.
"""

from __future__ import annotations

import pytest

from knowledge.matcher import Matcher


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Sendmail's access map asks for TLS (ENCR:128) and the session had none.
        (
            "Mar  3 10:12:40 mx sendmail[4410]: 52A9Cd0f004410: ruleset=check_mail, "
            "arg1=<ops@example.org>, relay=[192.0.2.7], reject=403 4.7.0 encryption "
            "too weak 0 less than 128",
            "starttls-required",
        ),
        # Exim's bounce for a message over message_size_limit.
        (
            "Subject: Mail failure\n\nA message that you sent was longer than the "
            "maximum size allowed on this\nsystem. It was not delivered to any "
            "recipients.",
            "message-too-large",
        ),
        # A server that closes the session after so many messages.
        (
            "smtp: 421 Connection closed by server. Maximum message count per "
            "session reached.",
            "rate-limited",
        ),
        # cPanel's Exim: the client did not log in.
        (
            "SMTP -> ERROR: RCPT not accepted from server: 550-Please turn on SMTP "
            "Authentication in your mail client. (laptop) [198.51.100.7]:50811 is "
            "not permitted to relay through this server without authentication.",
            "auth-required",
        ),
        # Exchange's POP3 service refusing a login (Windows' ERROR_LOGON_FAILURE):
        # the unknown user is the login's, not a recipient.
        (
            "POP3: -ERR Logon failure: unknown user name or bad password.",
            "auth-failed",
        ),
        # Exchange Web Services throttling a mailbox (exchangelib names the code).
        (
            "sending the report mail failed: exchangelib.errors.ErrorServerBusy",
            "rate-limited",
        ),
        # Plain Exim: the host may not relay.
        ("SMTP Error: 550 relay not permitted", "relay-denied"),
        # Exchange's SendAsDenied as Japanese Outlook words it.
        (
            "このメッセージは配信されませんでした: 指定されたユーザーの代理として"
            "メッセージを送信するアクセス権がありません",
            "sender-not-permitted",
        ),
    ],
)
def test_the_server_s_own_words_are_answered(
    shipped: Matcher, text: str, category: str
) -> None:
    answer = shipped.diagnose(text).to_json()
    assert (answer["category"], answer["decision"]) == (category, "confident"), answer


def test_weak_encryption_with_tls_is_not_read_as_missing_tls(shipped: Matcher) -> None:
    """The same reply with a TLS session's bits is about the cipher, not STARTTLS."""
    answer = shipped.diagnose(
        "reject=403 4.7.0 encryption too weak 56 less than 128"
    ).to_json()
    assert answer["category"] != "starttls-required", answer


@pytest.mark.parametrize(
    "text",
    [
        "imapsync: Host2 failure: Error login on [outlook.office365.com] with user "
        "[ops@example.org] auth [LOGIN]: 2 NO LOGIN failed.",
        'imaplib.IMAP4.error: b"AUTHENTICATE failed."\n'
        "IMAP_HOST=outlook.office365.com IMAP_PORT=993",
        "fetchmail: pop-mail.outlook.com: -ERR Logon failure: unknown user name or "
        "bad password.",
    ],
)
def test_a_password_login_to_microsoft_s_mailboxes_is_the_policy(
    shipped: Matcher, text: str
) -> None:
    """Exchange Online and Outlook.com take OAuth only over IMAP and POP."""
    assert shipped.diagnose(text).to_json()["category"] == "auth-policy-blocked"


@pytest.mark.parametrize(
    "text",
    [
        # The same refusal from another provider's server: the password.
        'imaplib.IMAP4.error: b"LOGIN failed."\nIMAP_HOST=imap.example.org',
        # An OAuth token Microsoft refused: the token, not the policy.
        "C: A1 AUTHENTICATE XOAUTH2 <redacted>\nS: A1 NO AUTHENTICATE failed.\n"
        "host outlook.office365.com",
    ],
)
def test_other_login_failures_stay_failed_logins(shipped: Matcher, text: str) -> None:
    assert shipped.diagnose(text).to_json()["category"] != "auth-policy-blocked"
