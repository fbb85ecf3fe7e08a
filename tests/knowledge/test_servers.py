"""
Finding the mail server (and port) a paste names, for the "Run STARTTLS check" offer.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.servers import ServerRef, find_server


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The forms listed in the servers.py docstring.
        (
            "connect to smtp.office365.com:587 failed",
            ServerRef("smtp.office365.com", 587),
        ),
        ("relay=[smtp.gmail.com]:587, delay=0.2", ServerRef("smtp.gmail.com", 587)),
        ("SMTP error: host=mail.example.org", ServerRef("mail.example.org")),
        (
            "TLS handshake failed peeraddr=203.0.113.9:587",
            ServerRef("203.0.113.9", 587),
        ),
        ("Error: connect ECONNREFUSED 203.0.113.5:587", ServerRef("203.0.113.5", 587)),
        (
            "stream_socket_client(): unable to connect to ssl://smtp.x.com:465",
            ServerRef("smtp.x.com", 465),
        ),
        (
            "Could not connect to SMTP host: smtp.gmail.com, port: 465;",
            ServerRef("smtp.gmail.com", 465),
        ),
        ("my outgoing server is smtp.x.com and it fails", ServerRef("smtp.x.com")),
    ],
)
def test_docstring_forms(text: str, expected: ServerRef) -> None:
    """Each form named in the servers.py docstring yields that host and port."""
    assert find_server(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("connect to [2001:db8::25]:587 failed", ServerRef("2001:db8::25", 587)),
        ("relay=[2001:db8::1]:25", ServerRef("2001:db8::1", 25)),
        ("Error: connect ECONNREFUSED [::1]:25", ServerRef("::1", 25)),
    ],
)
def test_ipv6_in_brackets(text: str, expected: ServerRef) -> None:
    """A bracketed IPv6 address with a port is found without its brackets."""
    assert find_server(text) == expected


def test_ipv6_server_prints_in_brackets() -> None:
    """An IPv6 server with a port prints as ``[addr]:port`` (``smtpbot check`` form)."""
    assert str(ServerRef("2001:db8::25", 587)) == "[2001:db8::25]:587"
    assert str(ServerRef("smtp.gmail.com", 587)) == "smtp.gmail.com:587"
    assert str(ServerRef("smtp.gmail.com")) == "smtp.gmail.com"


def test_to_json() -> None:
    """The JSON form has the host and the port (null when not given)."""
    assert ServerRef("smtp.gmail.com", 465).to_json() == {
        "host": "smtp.gmail.com",
        "port": 465,
    }
    assert ServerRef("smtp.gmail.com").to_json() == {
        "host": "smtp.gmail.com",
        "port": None,
    }


def test_trailing_dot_is_dropped() -> None:
    """A fully-qualified name with a trailing dot is reported without it."""
    assert find_server("server: smtp.gmail.com.") == ServerRef("smtp.gmail.com")


def test_mail_port_wins_over_earlier_name() -> None:
    """A name with a mail port outranks a bare name mentioned earlier."""
    text = "I use mail.example.com for IMAP; sending to smtp.example.net:587 fails"
    assert find_server(text) == ServerRef("smtp.example.net", 587)


def test_out_of_range_port_is_dropped() -> None:
    """A port outside 1-65535 is not reported."""
    assert find_server("connect to smtp.gmail.com:99999") == ServerRef("smtp.gmail.com")


@pytest.mark.parametrize(
    "text",
    [
        "550 5.1.1 <john.doe@gmail.com>: Recipient address rejected",
        "mail from user@smtp.example.com bounced",
        "see config.yaml and /etc/postfix/main.cf and app.js",
        "loaded settings.json and mailer.py",
        "at com.sun.mail.smtp.SMTPTransport.openServer(SMTPTransport.java:2209)",
        "javax.mail.AuthenticationFailedException: 535 5.7.8",
        "System.Net.Mail.SmtpException: Failure sending mail",
        "org.springframework.mail.MailSendException: Mail server connection failed",
        "see https://support.google.com/mail/?p=BadCredentials",
        "read https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online",
        "https://docs.python.org/3/library/smtplib.html",
        "answered on stackoverflow.com/questions/16512592",
        "https://aka.ms/smtp_auth_disabled",
        "Client host blocked using zen.spamhaus.org",
        "node_modules/nodemailer/lib/smtp-connection/index.js:787",
        "upgraded to version 1.2.3.4 yesterday",
        "anyone up for lunch?",
    ],
)
def test_not_servers(text: str) -> None:
    """Email domains, files, code names, doc sites and blocklists are not servers."""
    assert find_server(text) is None


def test_bare_ip_without_port_or_prefix_is_not_a_server() -> None:
    """A lone IP address (a client address in a log, say) is not offered for probing."""
    assert find_server("client 198.51.100.7 said hello") is None


def test_ip_with_prefix_but_no_port_is_a_server() -> None:
    """``host=<ip>`` names the server even without a port."""
    assert find_server("host=198.51.100.7 said: 554 rejected") == ServerRef(
        "198.51.100.7"
    )


def test_upper_case_name_is_found() -> None:
    """Host names are matched in any case (Outlook shows them as typed)."""
    assert find_server("SMTP.GMAIL.COM:587") == ServerRef("SMTP.GMAIL.COM", 587)


def test_server_in_long_paste() -> None:
    """A server named deep in a 40,000-character log is still found."""
    filler = "INFO processed job for tenant acme in 12 ms\n" * 900
    text = filler + "connect to smtp.example.net:587: Connection timed out\n" + filler
    assert len(text) > 40_000
    assert find_server(text) == ServerRef("smtp.example.net", 587)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_find_server_never_raises(text: str) -> None:
    """Any text gives a ServerRef with a sane port, or None."""
    found = find_server(text)
    if found is not None:
        assert found.host
        assert found.port is None or 0 < found.port < 65536
