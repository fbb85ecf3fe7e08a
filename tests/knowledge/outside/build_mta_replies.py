# ruff: noqa: E501 (server texts and sources are kept whole on their lines)
"""
Rebuild ``mta_replies.jsonl``: reply texts of real SMTP server software, each framed
as a mail client prints the refusal (not collected by pytest; run by hand).

    mkdir -p /tmp/mta && cd /tmp/mta && npm init -y \\
        && npm install --ignore-scripts Haraka smtp-server \\
        && apt-get download postfix exim4-daemon-light exim4-config
    python tests/knowledge/outside/build_mta_replies.py /tmp/mta

The npm packages are only unpacked (no install scripts, nothing started) and the
Debian packages are only downloaded and unpacked with ``dpkg-deb -x`` into a
temporary folder (never installed, so no daemon is configured or started); aiosmtpd
is the one in the project's environment. None of their code is kept here.

Sources, each reply read where the software writes it:

- Haraka (npm ``Haraka`` and the ``haraka-plugin-*`` packages it depends on): the
  DENY / DENYSOFT texts of its core (``connection.js``) and plugins (relay,
  dns-list, fcrdns, helo.checks, spf, limit, auth, rcpt_to.host_list_base,
  data.signatures, spamassassin, uribl), with the reply code Haraka gives that hook's
  DENY (connect 554, HELO/MAIL/RCPT 550, DATA 554; DENYSOFT 4xx) and the enhanced
  code where the text is a ``haraka-dsn`` object;
- smtp-server (npm, Nodemailer's server library): its ``send(code, text, context)``
  replies with the enhanced code its table or context adds;
- aiosmtpd (PyPI): the replies ``smtp.py`` pushes;
- Postfix (Debian ``postfix``): the reply formats compiled into ``smtpd``
  (``strings``), with their default reject codes;
- Exim (Debian ``exim4-daemon-light`` / ``exim4-config``): the replies compiled into
  ``exim4`` and the ACL messages of Debian's default configuration.

Besides the replies, the sending side's own messages of the same packages, as their
logs show them (Postfix's smtp client and its DNS and TLS libraries: a relay name that
does not resolve, a connection timed out or refused, TLS required but not offered or
refused, certificate verification failures; Exim's full-mailbox deliveries), framed
once, held out like the third frames.

Only replies whose meaning is one of the fixed categories are taken; syntax errors,
command-sequence errors, server-side faults, greylisting, load shedding and the
checks whose advice is unclear are left out. Each entry's ``needle`` must occur in
its file (the build fails otherwise); ``reply`` is that text with sample values
filled in. Each reply is framed twice, by two of the first five frames below in
turn, and once more by a held-out frame (an Exim log line, Ruby's Net::SMTP, .NET's
SmtpClient) added after the recogniser was improved on the first two, so that its
figure tells how far the improvements carry to clients they were not read from.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "mta_replies.jsonl"

IP = "192.0.2.10"
HELO = "mail.example.net"
SENDER = "me@example.com"
RCPT = "bob@example.org"
MX = "mx.example.org"

# (server, file inside the package, needle, reply code, enhanced code or "",
#  reply text, category, command, key)
H = "Haraka"
SS = "smtp-server"
AIO = "aiosmtpd"
PF = "postfix"
EX = "exim4"
ENTRIES: list[tuple[str, str, str, int, str, str, str, str]] = [
    # --- Haraka core and plugins
    (
        H,
        "haraka-plugin-relay/index.js",
        "You are not allowed to relay",
        550,
        "",
        "You are not allowed to relay",
        "relay-denied",
        "RCPT",
    ),
    (
        H,
        "haraka-plugin-relay/index.js",
        "Mail for that recipient is not accepted here.",
        550,
        "",
        "Mail for that recipient is not accepted here.",
        "relay-denied",
        "RCPT",
    ),
    (
        H,
        "Haraka/plugins/rcpt_to.host_list_base.js",
        "is not allowed from your host",
        550,
        "",
        "Mail from domain 'example.com' is not allowed from your host",
        "sender-not-permitted",
        "MAIL",
    ),
    (
        H,
        "Haraka/plugins/auth/auth_base.js",
        "doesn't match AUTH domain",
        550,
        "",
        "Envelope domain 'example.com' doesn't match AUTH domain 'example.net'",
        "sender-not-permitted",
        "MAIL",
    ),
    (
        H,
        "Haraka/plugins/auth/auth_base.js",
        "5.7.8 Authentication failed",
        535,
        "",
        "5.7.8 Authentication failed",
        "auth-failed",
        "AUTH",
    ),
    (
        H,
        "Haraka/connection.js",
        "'Authentication required'",
        550,
        "",
        "Authentication required",
        "auth-required",
        "MAIL",
    ),
    (
        H,
        "Haraka/connection.js",
        "'Message too big!'",
        550,
        "",
        "Message too big!",
        "message-too-large",
        "MAIL",
    ),
    (
        H,
        "Haraka/connection.js",
        "'rDNS Lookup Failed'",
        554,
        "",
        "rDNS Lookup Failed",
        "sender-authentication",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-dns-list/index.js",
        "is listed on ${zones.join(', ')}",
        554,
        "",
        f"host [{IP}] is listed on zen.spamhaus.org",
        "sender-blocklisted",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-dns-list/index.js",
        "is listed by ips.backscatterer.org",
        554,
        "",
        f"Host {HELO} [{IP}] is listed by ips.backscatterer.org",
        "sender-blocklisted",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-fcrdns/index.js",
        "rejected; no rDNS",
        554,
        "",
        f"client [{IP}] rejected; no rDNS",
        "sender-authentication",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-fcrdns/index.js",
        "Sorry, no FCrDNS match found",
        554,
        "",
        "Sorry, no FCrDNS match found",
        "sender-authentication",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-fcrdns/index.js",
        "generic rDNS, please use your ISPs SMTP relay",
        554,
        "",
        f"client {HELO} [{IP}] rejected; generic rDNS, please use your ISPs SMTP relay",
        "sender-blocklisted",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-helo.checks/index.js",
        "HELO host does not match rDNS",
        550,
        "",
        "HELO host does not match rDNS",
        "sender-authentication",
        "EHLO",
    ),
    (
        H,
        "haraka-plugin-spf/index.js",
        "SPF Fail",
        550,
        "",
        f"sender <{SENDER}> SPF Fail",
        "sender-authentication",
        "MAIL",
    ),
    (
        H,
        "haraka-plugin-spf/index.js",
        "SPF SoftFail",
        550,
        "",
        f"sender <{SENDER}> SPF SoftFail",
        "sender-authentication",
        "MAIL",
    ),
    (
        H,
        "haraka-plugin-spf/index.js",
        "SPF record not found",
        550,
        "",
        f"sender <{SENDER}> SPF record not found",
        "sender-authentication",
        "MAIL",
    ),
    (
        H,
        "haraka-plugin-spf/index.js",
        "SPF Permanent Error",
        550,
        "5.7.23",
        f"sender <{SENDER}> SPF Permanent Error",
        "sender-authentication",
        "MAIL",
    ),
    (
        H,
        "haraka-plugin-spf/index.js",
        "http://www.openspf.org/Why?s=",
        550,
        "5.7.23",
        f"http://www.openspf.org/Why?s=mfrom&id={SENDER}&ip={IP}",
        "sender-authentication",
        "MAIL",
    ),
    (
        H,
        "haraka-plugin-limit/index.js",
        "'Too many concurrent connections'",
        421,
        "",
        "Too many concurrent connections",
        "rate-limited",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-limit/index.js",
        "'connection rate limit exceeded'",
        421,
        "",
        "connection rate limit exceeded",
        "rate-limited",
        "CONNECT",
    ),
    (
        H,
        "haraka-plugin-limit/index.js",
        "'recipient rate limit exceeded'",
        450,
        "",
        "recipient rate limit exceeded",
        "rate-limited",
        "RCPT",
    ),
    (
        H,
        "haraka-plugin-limit/index.js",
        "'rcpt rate limit exceeded'",
        450,
        "",
        "rcpt rate limit exceeded",
        "rate-limited",
        "RCPT",
    ),
    (
        H,
        "Haraka/plugins/data.signatures.js",
        "Mail matches a known spam signature",
        554,
        "",
        "Mail matches a known spam signature",
        "sender-blocklisted",
        "DATA",
    ),
    (
        H,
        "haraka-plugin-spamassassin/index.js",
        "spam score exceeded threshold",
        550,
        "",
        "spam score exceeded threshold",
        "sender-blocklisted",
        "DATA",
    ),
    (
        H,
        "haraka-plugin-rspamd/config/rspamd.ini",
        "Detected as spam",
        550,
        "",
        "Detected as spam",
        "sender-blocklisted",
        "DATA",
    ),
    (
        H,
        "haraka-plugin-uribl/index.js",
        "blacklisted in ${zone}",
        554,
        "",
        "example.net blacklisted in dbl.spamhaus.org",
        "sender-blocklisted",
        "DATA",
    ),
    # --- smtp-server (Nodemailer's server library)
    (
        SS,
        "smtp-server/dist/cjs/smtp-connection.js",
        "'Error: authentication Required'",
        530,
        "5.7.0",
        "Error: authentication Required",
        "auth-required",
        "MAIL",
    ),
    (
        SS,
        "smtp-server/dist/cjs/sasl.js",
        "'Error: Username and Password not accepted'",
        535,
        "5.7.8",
        "Error: Username and Password not accepted",
        "auth-failed",
        "AUTH",
    ),
    (
        SS,
        "smtp-server/dist/cjs/smtp-connection.js",
        "'Error: Must issue a STARTTLS command first'",
        538,
        "5.7.0",
        "Error: Must issue a STARTTLS command first",
        "starttls-required",
        "AUTH",
    ),
    (
        SS,
        "smtp-server/dist/cjs/smtp-connection.js",
        "'Error: message exceeds fixed maximum message size '",
        552,
        "5.3.4",
        "Error: message exceeds fixed maximum message size 10485760",
        "message-too-large",
        "DATA",
    ),
    (
        SS,
        "smtp-server/dist/cjs/smtp-connection.js",
        "' Too many connected clients, try again in a moment'",
        421,
        "",
        f"{MX} Too many connected clients, try again in a moment",
        "rate-limited",
        "CONNECT",
    ),
    # --- aiosmtpd
    (
        AIO,
        "aiosmtpd/smtp.py",
        "'530 Must issue a STARTTLS command first'",
        530,
        "",
        "Must issue a STARTTLS command first",
        "starttls-required",
        "MAIL",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        "'454 TLS not available'",
        454,
        "",
        "TLS not available",
        "starttls-unavailable",
        "STARTTLS",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        "'530 5.7.0 Authentication required'",
        530,
        "5.7.0",
        "Authentication required",
        "auth-required",
        "MAIL",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        '"538 5.7.11 Encryption required for requested "',
        538,
        "5.7.11",
        "Encryption required for requested authentication mechanism",
        "starttls-required",
        "AUTH",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        '"535 5.7.8 Authentication credentials invalid"',
        535,
        "5.7.8",
        "Authentication credentials invalid",
        "auth-failed",
        "AUTH",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        "'552 Error: message size exceeds fixed maximum message '",
        552,
        "",
        "Error: message size exceeds fixed maximum message size",
        "message-too-large",
        "MAIL",
    ),
    (
        AIO,
        "aiosmtpd/smtp.py",
        "'552 Error: Too much mail data'",
        552,
        "",
        "Error: Too much mail data",
        "message-too-large",
        "DATA",
    ),
    # --- Postfix smtpd (default reject codes: relay 554, unknown local recipient 550,
    #     sender login mismatch 553, RBL 554, unknown client 450)
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "530 5.7.0 Must issue a STARTTLS command first",
        530,
        "5.7.0",
        "Must issue a STARTTLS command first",
        "starttls-required",
        "MAIL",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "454 4.7.0 TLS not available due to local problem",
        454,
        "4.7.0",
        "TLS not available due to local problem",
        "starttls-unavailable",
        "STARTTLS",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "535 5.7.8 Error: authentication failed: %s",
        535,
        "5.7.8",
        "Error: authentication failed: authentication failure",
        "auth-failed",
        "AUTH",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "504 5.5.4 Encryption required for requested authentication mechanism",
        504,
        "5.5.4",
        "Encryption required for requested authentication mechanism",
        "starttls-required",
        "AUTH",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "Message size exceeds fixed limit",
        552,
        "5.3.4",
        "Message size exceeds fixed limit",
        "message-too-large",
        "DATA",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "552 5.3.4 Message file too big",
        552,
        "5.3.4",
        "Message file too big",
        "message-too-large",
        "DATA",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "421 4.7.0 %s Error: too many connections from %s",
        421,
        "4.7.0",
        f"{MX} Error: too many connections from {IP}",
        "rate-limited",
        "CONNECT",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "450 4.7.1 Error: too much mail from %s",
        450,
        "4.7.1",
        f"Error: too much mail from {IP}",
        "rate-limited",
        "MAIL",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "454 4.7.0 Error: too many new TLS sessions from %s",
        454,
        "4.7.0",
        f"Error: too many new TLS sessions from {IP}",
        "rate-limited",
        "STARTTLS",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "<%s>: %s rejected: Relay access denied",
        554,
        "5.7.1",
        f"<{RCPT}>: Recipient address rejected: Relay access denied",
        "relay-denied",
        "RCPT",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "<%s>: Sender address rejected: not owned by user %s",
        553,
        "5.7.1",
        f"<{SENDER}>: Sender address rejected: not owned by user alice",
        "sender-not-permitted",
        "MAIL",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "<%s>: Sender address rejected: not logged in",
        553,
        "5.7.1",
        f"<{SENDER}>: Sender address rejected: not logged in",
        "auth-required",
        "MAIL",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "<%s>: %s rejected: User unknown%s",
        550,
        "5.1.1",
        f"<{RCPT}>: Recipient address rejected: User unknown in local recipient table",
        "recipient-unknown",
        "RCPT",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "Client host rejected: cannot find your hostname, [%s]",
        450,
        "4.7.1",
        f"Client host rejected: cannot find your hostname, [{IP}]",
        "sender-authentication",
        "RCPT",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "Client host rejected: cannot find your reverse hostname, [%s]",
        550,
        "5.7.1",
        f"Client host rejected: cannot find your reverse hostname, [{IP}]",
        "sender-authentication",
        "RCPT",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtpd",
        "Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain",
        554,
        "5.7.1",
        f"Service unavailable; Client host [{IP}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{IP}",
        "sender-blocklisted",
        "RCPT",
    ),
    # --- Exim 4 (binary and Debian's default ACLs)
    (
        EX,
        "usr/sbin/exim4",
        "535 Incorrect authentication data",
        535,
        "",
        "Incorrect authentication data",
        "auth-failed",
        "AUTH",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "552 Message size exceeds maximum permitted",
        552,
        "",
        "Message size exceeds maximum permitted",
        "message-too-large",
        "MAIL",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "454 TLS currently unavailable",
        454,
        "",
        "TLS currently unavailable",
        "starttls-unavailable",
        "STARTTLS",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "421 Too many concurrent SMTP connections from this IP address; please try again later.",
        421,
        "",
        "Too many concurrent SMTP connections from this IP address; please try again later.",
        "rate-limited",
        "CONNECT",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "421 %s: Too many concurrent SMTP connections; please try again later",
        421,
        "",
        f"{MX}: Too many concurrent SMTP connections; please try again later",
        "rate-limited",
        "CONNECT",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "421 too many messages in this connection",
        421,
        "",
        "too many messages in this connection",
        "rate-limited",
        "MAIL",
    ),
    (
        EX,
        "etc/exim4/exim4.conf.template",
        "message = relay not permitted",
        550,
        "",
        "relay not permitted",
        "relay-denied",
        "RCPT",
    ),
    (
        EX,
        "etc/exim4/exim4.conf.template",
        "is not allowed to send mail from",
        550,
        "",
        f"[SPF] {IP} is not allowed to send mail from example.com.",
        "sender-authentication",
        "RCPT",
    ),
    (
        EX,
        "etc/exim4/exim4.conf.template",
        "sender IP address $sender_host_address is locally blacklisted here.",
        550,
        "",
        f"sender IP address {IP} is locally blacklisted here. If you think this is wrong, get in touch with postmaster",
        "sender-blocklisted",
        "RCPT",
    ),
    (
        EX,
        "etc/exim4/exim4.conf.template",
        "cannot_route_message = Unknown user",
        550,
        "",
        "Unknown user",
        "recipient-unknown",
        "RCPT",
    ),
]


def _nodemailer(reply: str, code: int, command: str) -> str:
    # Nodemailer 10's SMTPConnection: _formatError(message, code, response, command)
    # appends ": <response>" to the message.
    head, ecode, cmd = {
        "AUTH": ("Invalid login", "EAUTH", "AUTH PLAIN"),
        "MAIL": ("Mail command failed", "EENVELOPE", "MAIL FROM"),
        "RCPT": (
            "Can't send mail - all recipients were rejected",
            "EENVELOPE",
            "RCPT TO",
        ),
        "DATA": ("Message failed", "EMESSAGE", "DATA"),
        "STARTTLS": ("Error upgrading connection with STARTTLS", "ETLS", "STARTTLS"),
        "CONNECT": (f"Invalid greeting. response={reply}", "EPROTOCOL", "CONN"),
        "EHLO": (f"Invalid HELO. response={reply}", "EPROTOCOL", "HELO"),
    }[command]
    return (
        f"Error: {head}: {reply}\n"
        "    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:809:19)\n"
        f"    at SMTPConnection._action{command.title()} (/app/node_modules/nodemailer/lib/smtp-connection/index.js:1597:34) {{\n"
        f"  code: '{ecode}',\n  response: '{reply}',\n  responseCode: {code},\n  command: '{cmd}'\n}}"
    )


def _smtplib(reply: str, code: int, command: str) -> str:
    text = reply.split(" ", 1)[1]
    exc = {
        "AUTH": f"smtplib.SMTPAuthenticationError: ({code}, b'{text}')",
        "MAIL": f"smtplib.SMTPSenderRefused: ({code}, b'{text}', '{SENDER}')",
        "RCPT": f"smtplib.SMTPRecipientsRefused: {{'{RCPT}': ({code}, b'{text}')}}",
        "DATA": f"smtplib.SMTPDataError: ({code}, b'{text}')",
        "STARTTLS": f"smtplib.SMTPResponseException: ({code}, b'{text}')",
        "CONNECT": f"smtplib.SMTPConnectError: ({code}, b'{text}')",
        "EHLO": f"smtplib.SMTPHeloError: ({code}, b'{text}')",
    }[command]
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/notify.py", line 41, in send_report\n'
        "    server.send_message(msg)\n" + exc
    )


def _phpmailer(reply: str, code: int, command: str) -> str:
    failed, after = {
        "AUTH": ("Password", "SMTP Error: Could not authenticate."),
        "MAIL": (
            "MAIL FROM",
            f"SMTP Error: The following From address failed: {SENDER}",
        ),
        "RCPT": (
            "RCPT TO",
            f"SMTP Error: The following recipients failed: {RCPT}: {reply.split(' ', 1)[1]}",
        ),
        "DATA": ("DATA END", "SMTP Error: data not accepted."),
        "STARTTLS": ("STARTTLS", "SMTP Error: Could not connect to SMTP host."),
        "EHLO": ("EHLO", "SMTP Error: Could not connect to SMTP host."),
    }.get(command, ("", ""))
    if command == "CONNECT":
        # PHPMailer's SMTP::connect() only prints the greeting; the refusing server
        # then closes the connection before EHLO is answered.
        return (
            f"SERVER -> CLIENT: {reply}\nCLIENT -> SERVER: EHLO web01\n"
            "SMTP NOTICE: EOF caught while checking if connected\n"
            "SMTP Error: Could not connect to SMTP host."
        )
    return f"SERVER -> CLIENT: {reply}\nSMTP ERROR: {failed} command failed: {reply}\n{after}"


def _postfix(reply: str, code: int, command: str) -> str:
    if command == "CONNECT":
        return f"<{RCPT}>: host {MX}[198.51.100.25] refused to talk to me: {reply}"
    if command == "AUTH":
        return f"SASL authentication failed; server {MX}[198.51.100.25] said: {reply}"
    what = {
        "MAIL": "MAIL FROM",
        "RCPT": "RCPT TO",
        "DATA": "end of DATA",
        "STARTTLS": "STARTTLS",
        "EHLO": "EHLO",
    }[command]
    return (
        f"<{RCPT}>: host {MX}[198.51.100.25] said: {reply} (in reply to {what} command)"
    )


def _swaks(reply: str, code: int, command: str) -> str:
    sent = {
        "AUTH": " -> AUTH LOGIN\n<-  334 VXNlcm5hbWU6\n -> bWVAZXhhbXBsZS5jb20=\n<-  334 UGFzc3dvcmQ6\n -> c2VjcmV0",
        "MAIL": f" -> MAIL FROM:<{SENDER}>",
        "RCPT": f" -> MAIL FROM:<{SENDER}>\n<-  250 2.1.0 Ok\n -> RCPT TO:<{RCPT}>",
        "DATA": " -> .",
        "STARTTLS": " -> STARTTLS",
        "CONNECT": f"=== Connected to {MX}.",
        "EHLO": f" -> EHLO {HELO}",
    }[command]
    return f"=== Trying {MX}:587...\n{sent}\n<** {reply}\n -> QUIT"


FRAMES = [
    ("nodemailer", _nodemailer),
    ("smtplib", _smtplib),
    ("PHPMailer", _phpmailer),
    ("postfix bounce", _postfix),
    ("swaks", _swaks),
]


def _exim(reply: str, code: int, command: str) -> str:
    # Exim's transport failure in its main log: "SMTP error from remote mail server
    # after <command>: <reply>".
    after = {
        "AUTH": "AUTH PLAIN",
        "MAIL": f"MAIL FROM:<{SENDER}> SIZE=2048",
        "RCPT": f"RCPT TO:<{RCPT}>",
        "DATA": "end of data",
        "STARTTLS": "STARTTLS",
        "CONNECT": "initial connection",
        "EHLO": f"EHLO {HELO}",
    }[command]
    return (
        f"2026-12-07 06:00:01 1uXyZa-000Abc-7Q ** {RCPT} R=dnslookup T=remote_smtp "
        f"H={MX} [198.51.100.25]: SMTP error from remote mail server after {after}: "
        f"{reply}"
    )


def _ruby(reply: str, code: int, command: str) -> str:
    # Net::SMTP::Response#exception: 4xx busy, 50x syntax, 53x authentication, else fatal.
    if code >= 500 and str(code).startswith("53"):
        name = "Net::SMTPAuthenticationError"
    elif code >= 500 and str(code).startswith("50"):
        name = "Net::SMTPSyntaxError"
    elif code >= 500:
        name = "Net::SMTPFatalError"
    else:
        name = "Net::SMTPServerBusy"
    return (
        f"{name}: {reply}\n"
        "  /usr/lib/ruby/3.3.0/net/smtp.rb:1088:in `check_response'\n"
        "  /usr/lib/ruby/3.3.0/net/smtp.rb:1056:in `getok'"
    )


# System.Net.Mail.SmtpException's message for the status codes it names, then "The
# server response was: <the reply without its code>".
_DOTNET = {
    421: "Service not available, closing transmission channel.",
    450: "Mailbox unavailable.",
    530: "The SMTP server requires a secure connection or the client was not authenticated.",
    550: "Mailbox unavailable.",
    552: "Exceeded storage allocation.",
    553: "Mailbox name not allowed.",
    554: "Transaction failed.",
}


def _dotnet(reply: str, code: int, command: str) -> str:
    return (
        f"System.Net.Mail.SmtpException: {_DOTNET[code]} The server response was: "
        f"{reply.split(' ', 1)[1]}\n"
        "   at System.Net.Mail.SmtpTransport.SendMail(MailAddress sender, MailAddressCollection recipients, String deliveryNotify, Boolean allowUnicode, SmtpFailedRecipientException& exception)\n"
        "   at System.Net.Mail.SmtpClient.Send(MailMessage message)"
    )


def _held_out(index: int, code: int) -> tuple[str, object]:
    """A third frame per reply, from clients the recogniser was not tuned on."""
    frames = [("exim log", _exim), ("Ruby Net::SMTP", _ruby)]
    if code in _DOTNET:
        frames.append((".NET SmtpClient", _dotnet))
    return frames[index % len(frames)]


# The sending side's own messages, as Postfix's smtp client and Exim's local delivery
# log them (held out: added after the recogniser was improved on the replies above).
# (server, file, needle, message with sample values, category, Postfix dsn or "exim")
RELAY = "smtp.example.com[198.51.100.25]:587"
CLIENT_ENTRIES: list[tuple[str, str, str, str, str, str]] = [
    (
        PF,
        "usr/lib/postfix/libpostfix-dns.so",
        "Host or domain name not found. Name service error for name=%s type=%s: %s",
        "Host or domain name not found. Name service error for name=smtp.example.com type=A: Host not found",
        "dns-failure",
        "5.4.4",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtp",
        "connect to %s[%s]:%d: %m",
        f"connect to {RELAY}: Connection timed out",
        "connection-timeout",
        "4.4.1",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtp",
        "connect to %s[%s]:%d: %m",
        f"connect to {RELAY}: Connection refused",
        "connection-refused",
        "4.4.1",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtp",
        "TLS is required, but was not offered by host %s",
        "TLS is required, but was not offered by host smtp.example.com[198.51.100.25]",
        "starttls-unavailable",
        "4.7.4",
    ),
    (
        PF,
        "usr/lib/postfix/sbin/smtp",
        "TLS is required, but host %s refused to start TLS: %s",
        "TLS is required, but host smtp.example.com[198.51.100.25] refused to start TLS: 454 4.7.0 TLS not available due to local problem",
        "starttls-unavailable",
        "4.7.5",
    ),
    (
        PF,
        "usr/lib/postfix/libpostfix-tls.so",
        "certificate verification failed for %s: untrusted issuer %s",
        f"certificate verification failed for {RELAY}: untrusted issuer /C=US/O=Example Corp/CN=Example Internal Root CA",
        "tls-cert-untrusted",
        "4.7.5",
    ),
    (
        PF,
        "usr/lib/postfix/libpostfix-tls.so",
        "certificate verification failed for %s: self-signed certificate",
        f"certificate verification failed for {RELAY}: self-signed certificate",
        "tls-cert-untrusted",
        "4.7.5",
    ),
    (
        PF,
        "usr/lib/postfix/libpostfix-tls.so",
        "certificate verification failed for %s: not trusted by local or TLSA policy",
        f"certificate verification failed for {RELAY}: not trusted by local or TLSA policy",
        "tls-cert-untrusted",
        "4.7.5",
    ),
    (
        PF,
        "usr/lib/postfix/libpostfix-tls.so",
        "%s certificate verification failed for %s: certificate has expired",
        f"server certificate verification failed for {RELAY}: certificate has expired",
        "tls-cert-expired",
        "4.7.5",
    ),
    (
        PF,
        "usr/lib/postfix/libpostfix-tls.so",
        "%s certificate verification failed for %s: certificate not yet valid",
        f"server certificate verification failed for {RELAY}: certificate not yet valid",
        "tls-cert-expired",
        "4.7.5",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "mailbox is full (MTA-imposed%s quota exceeded while writing to %s)",
        "mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/bob)",
        "mailbox-full",
        "exim",
    ),
    (
        EX,
        "usr/sbin/exim4",
        "System quota exceeded for %s%s%s",
        "System quota exceeded for /var/mail/bob",
        "mailbox-full",
        "exim",
    ),
]


def _client_log(message: str, dsn: str) -> tuple[str, str]:
    if dsn == "exim":
        return "exim log", (
            f"2026-12-07 06:00:01 1uXyZa-000Abc-7Q == bob@example.net R=local_user "
            f"T=mail_spool defer (-22): {message}"
        )
    status = "bounced" if dsn.startswith("5") else "deferred"
    return "postfix log", (
        f"Dec  7 06:00:01 web01 postfix/smtp[23817]: 4F2A31C0A2: to=<{RCPT}>, "
        f"relay=smtp.example.com[198.51.100.25]:587, delay=31, delays=0.02/0.01/30/0, "
        f"dsn={dsn}, status={status} ({message})"
    )


def _npm_version(node: Path, path: str) -> str:
    return json.loads((node / path.split("/")[0] / "package.json").read_text())[
        "version"
    ]


def _deb_version(deb: Path) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main(root: Path) -> None:
    """Read every entry's file under ROOT (see the docstring) and write the records."""
    node = root / "node_modules"
    versions = {
        H: json.loads((node / "Haraka/package.json").read_text())["version"],
        SS: json.loads((node / "smtp-server/package.json").read_text())["version"],
        AIO: importlib.metadata.version("aiosmtpd"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        debs = {PF: ["postfix"], EX: ["exim4-daemon-light", "exim4-config"]}
        for server, names in debs.items():
            for name in names:
                deb = next(root.glob(f"{name}_*.deb"))
                subprocess.run(
                    ["dpkg-deb", "-x", str(deb), f"{tmp}/{server}"], check=True
                )
                versions.setdefault(server, _deb_version(deb))
        aiosmtpd_dir = Path(importlib.util.find_spec("aiosmtpd").origin).parent.parent
        bases = {
            H: node,
            SS: node,
            AIO: aiosmtpd_dir,
            PF: Path(tmp, PF),
            EX: Path(tmp, EX),
        }
        records = []
        for index, (
            server,
            path,
            needle,
            code,
            enhanced,
            text,
            label,
            command,
        ) in enumerate(ENTRIES):
            data = (bases[server] / path).read_bytes()
            if needle.encode() not in data:
                sys.exit(f"{server} {path}: {needle!r} not found")
            reply = " ".join(str(part) for part in (code, enhanced, text) if part)
            for turn in (0, 1, 2):
                frame, render = (
                    FRAMES[(index * 2 + turn) % len(FRAMES)]
                    if turn < 2
                    else _held_out(index, code)
                )
                records.append(
                    {
                        "text": render(reply, code, command),
                        "label": label,
                        "lang": "en",
                        "server": server,
                        "version": _npm_version(node, path)
                        if server in (H, SS)
                        else versions[server],
                        "source": f"{server}@{path}",
                        "key": needle.strip("'\""),
                        "command": command,
                        "frame": frame,
                        "held_out": turn == 2,
                    }
                )
        for server, path, needle, message, label, dsn in CLIENT_ENTRIES:
            if needle.encode() not in (bases[server] / path).read_bytes():
                sys.exit(f"{server} {path}: {needle!r} not found")
            frame, text = _client_log(message, dsn)
            records.append(
                {
                    "text": text,
                    "label": label,
                    "lang": "en",
                    "server": server,
                    "version": versions[server],
                    "source": f"{server}@{path}",
                    "key": needle,
                    "command": "CLIENT",
                    "frame": frame,
                    "held_out": True,
                }
            )
    OUT.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        encoding="utf-8",
    )
    print(
        f"{len(records)} records from {len(ENTRIES)} replies and "
        f"{len(CLIENT_ENTRIES)} client messages -> {OUT.name}"
    )


if __name__ == "__main__":
    import importlib.util

    main(Path(sys.argv[1]))
