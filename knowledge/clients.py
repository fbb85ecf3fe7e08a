"""
Which client or runtime printed a paste, so the answer's entry speaks of it.

Entries name the software they are written for (``applies_to``). When a paste's
category is clear but its wording is shared by every runtime ("Connection refused",
"certificate has expired"), the best-scoring entry may be another runtime's: a Python
traceback answered with the PHP entry, or a bare errno with ".NET, Go or Ruby". This
module reads the runtime from the paste's own marks (traceback shapes, stack-frame
forms, exception and errno spellings, program names) and groups entries' ``applies_to``
names into the same families, so the matcher can prefer an entry for the runtime the
paste shows, or the category's generic entry when the paste shows none. Pure.
"""

from __future__ import annotations

import re
from typing import Final

from knowledge.model import Entry

# applies_to names → runtime family.
_FAMILY_OF: Final[dict[str, str]] = {
    **dict.fromkeys(
        (
            "python",
            "smtplib",
            "django",
            "flask-mail",
            "aiosmtplib",
            "airflow",
            "superset",
            "yagmail",
            "odoo",
        ),
        "python",
    ),
    **dict.fromkeys(("nodemailer", "node"), "node"),
    **dict.fromkeys(
        (
            "php",
            "phpmailer",
            "wordpress",
            "wp-mail-smtp",
            "laravel",
            "swiftmailer",
            "symfony-mailer",
            "symfony",
        ),
        "php",
    ),
    **dict.fromkeys(
        ("javamail", "jakarta-mail", "spring", "spring-boot", "java"), "java"
    ),
    **dict.fromkeys(("dotnet", "smtpclient", "mailkit", "powershell"), "dotnet"),
    **dict.fromkeys(
        ("go", "gomail", "go-mail", "grafana", "gitea", "alertmanager", "mattermost"),
        "go",
    ),
    **dict.fromkeys(
        (
            "ruby",
            "rails",
            "actionmailer",
            "action-mailer",
            "net-smtp",
            "sidekiq",
            "discourse",
            "gitlab",
            "mastodon",
        ),
        "ruby",
    ),
    **dict.fromkeys(
        ("outlook", "windows-live-mail", "outlook-express", "outlook-2000"), "outlook"
    ),
    **dict.fromkeys(("thunderbird", "seamonkey", "betterbird"), "thunderbird"),
    **dict.fromkeys(("curl", "swaks", "msmtp", "ssmtp", "mutt"), "cli"),
}

# What each runtime's pastes carry: traceback and stack-frame shapes, its exception and
# errno spellings, its library names.
_MARKS: Final[dict[str, re.Pattern[str]]] = {
    "python": re.compile(
        r"Traceback \(most recent call last\)|\.py\", line \d|\bsmtplib\b|"
        r"\[(?:Errno|WinError) -?\d+\]|socket\.gaierror|\bssl\.SSL\w*Error|"
        r"\bConnection(?:Refused|Reset|Aborted)Error\b|_ssl\.c:\d+|\bdjango\b|"
        r"aiosmtplib|yagmail|(?<!::)\bSMTP(?:Authentication|Recipients|Sender|Data|Connect|"
        r"Server|Response|Helo|NotSupported)\w*\b|\[SSL: [A-Z_]+\]|"
        r"Connection unexpectedly closed|Hostname mismatch, certificate is not valid"
    ),
    "node": re.compile(
        r"nodemailer|\(node:[\w/]+:\d+|\bnode:internal|TCPConnectWrap|"
        r"GetAddrInfoReqWrap|TLSSocket\.|\berrno: -?\d+|\bcode: '[A-Z_]+'|"
        r"\.js:\d+:\d+|\bconnect E[A-Z]+ [\w.:\[\]-]+:\d+|"
        # Node's own TLS and socket messages and codes.
        r"Hostname/IP (?:does not|doesn't) match certificate's altnames|"
        r"\b(?:SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|"
        r"UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|"
        r"ERR_TLS_CERT_ALTNAME_INVALID|ESOCKET|EENVELOPE|EAUTH)\b|"
        r"Greeting never received|\bInvalid login: \d{3}"
    ),
    "php": re.compile(
        r"PHPMailer|\.php\b|stream_socket_\w+|fsockopen|Swift_\w+|Symfony\\|"
        r"Illuminate\\|[Ll]aravel|php_network_getaddresses|SMTP -> (?:ERROR|FROM)|"
        r"SMTP ERROR:|SMTP Error: |SMTP connect\(\) failed|[Ww]ord[Pp]ress|"
        r"WP Mail SMTP|Connection could not be established with host|"
        r"Failed to authenticate on SMTP server|Expected response code \d+"
    ),
    "java": re.compile(
        r"\bjavax?\.[a-z]|\bjakarta\.mail|\bcom\.sun\.mail|\.java:\d+\)|"
        r"org\.springframework|\bMailSendException|MailConnectException|"
        r"PKIX path building failed|Unrecognized SSL message|No appropriate protocol|"
        r"No subject alternative (?:DNS )?name|Couldn't connect to host, port"
    ),
    "dotnet": re.compile(
        r"\bSystem\.(?:Net|IO|Security|Exception)|MailKit|SmtpClient|SmtpException|"
        r"\.cs:line \d|\bPowerShell\b|Send-MailMessage|"
        # .NET's and SChannel's own messages.
        r"remote certificate is invalid|do not possess a common algorithm|"
        r"remote party has closed the transport stream|"
        r"Unable to read data from the transport connection|"
        r"The operation has timed out|Failure sending mail|"
        r"target principal name is incorrect|No such host is known|"
        r"remote name could not be resolved|"
        r"requires a secure connection or the client was not authenticated"
    ),
    "go": re.compile(
        r"\bdial tcp\b|\bgoroutine \d+|\.go:\d+|\bx509: |\bnet/smtp\b|\bgomail\b|"
        r"\blookup [\w.-]+ on [\d.:]+|first record does not look like a TLS handshake|"
        r"remote error: tls:|tls: failed to verify|"
        # net/smtp's PlainAuth refusing to send a password without TLS.
        r"\bunencrypted connection\b"
    ),
    "ruby": re.compile(
        r"Errno::[A-Z]+|\bNet::(?:SMTP|Open|Read)\w*|\.rb:\d+|OpenSSL::SSL::|"
        r"ActionMailer|SSL_connect returned=\d"
    ),
    # The client itself, not a mailbox at outlook.com or Microsoft's servers.
    "outlook": re.compile(
        r"0[xX]800[0-9A-Fa-f]{5}|Microsoft Outlook|\bOutlook (?:\d{2,4}|Express)\b|"
        r"Windows (?:Live )?Mail|Send/Receive|Outgoing server \(SMTP\) error"
    ),
    "thunderbird": re.compile(
        r"thunderbird|seamonkey|betterbird|Sending of the message failed\.",
        re.IGNORECASE,
    ),
    "cli": re.compile(r"\bcurl\b|\bswaks\b|\bs?msmtp\b|\bs_client\b|\bmutt\b"),
}


def runtimes(text: str) -> frozenset[str]:
    """The runtime families whose marks ``text`` carries."""
    return frozenset(name for name, marks in _MARKS.items() if marks.search(text))


# A title that begins by naming clients ("Python smtplib / Django: ...", "Go, Ruby,
# msmtp or swaks: ...", "Outlook 0x800CCC0E: ...") is written for them; one that
# begins with the failure ("dh key too small / ...", "OpenSSL 3: ...") is not, and
# neither is one naming a provider ("Microsoft 365 / Outlook.com: ...").
_CLIENT_TITLE: Final = re.compile(
    r"^[^:]{0,60}?(?<![\w-])(?:python|smtplib|django|node(?:\.js)?|nodemailer|php|"
    r"phpmailer|wordpress|laravel|java|javamail|spring|\.net|mailkit|powershell|"
    r"windows|go|ruby|rails|gitlab|outlook|thunderbird|curl|msmtp)(?![\w-]|\.com)[^:]*:",
    re.IGNORECASE,
)


def families(entry: Entry) -> frozenset[str]:
    """
    The runtime families an entry is written for.

    Empty when its title does not name clients: the entry is about the failure
    whichever client shows it.
    """
    if not _CLIENT_TITLE.search(entry.title):
        return frozenset()
    return frozenset(
        _FAMILY_OF[name] for name in entry.applies_to if name in _FAMILY_OF
    )
