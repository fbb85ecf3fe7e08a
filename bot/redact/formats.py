"""
How mail clients and libraries write a transport log, line by line: where the data of a
line starts (after the direction marker of its format), the server's replies, the
client's AUTH and login commands, and the quoting around the data. Pure; no I/O.

Formats seen in public bug reports and covered here:

    PHPMailer      2024-01-01 12:00:00 CLIENT -> SERVER: dXNlcg==
                   SMTP (level 1): CLIENT -> SERVER: dXNlcg==\\r\\n, referer: ...
    smtplib        send: 'dXNlcg==\\r\\n' after reply: b'334 UGFzc3dvcmQ6\\r\\n'
    aiosmtplib,    Sending : b'a1 LOGIN me "pw"\\r\\n'   Received : b'334 ...'
      aioimaplib
    poplib         *cmd* 'PASS pw'
    imaplib        12:34.56 > b'ABCD1 LOGIN me "pw"'
    swaks          " -> dXNlcg==", TLS " ~> dXNlcg==", after "<-  334" or "<~  334"
    curl -v,       "> dXNlcg==" after "< 334 VXNlcm5hbWU6"
      Symfony Mailer
    msmtp --debug  "--> dXNlcg==" after "<-- 334 VXNlcm5hbWU6"
    Perl Net::SMTP Net::SMTP=GLOB(0x1d2f6c8)>>> dXNlcg==
    Ruby Net::SMTP <- "dXNlcg==\\r\\n" after -> "334 VXNlcm5hbWU6\\r\\n"
    node-imap      ==> A2 LOGIN "me" "pw"
    nodemailer     [time] DEBUG [id] C: dXNlcg==   (old: "CLIENT 1:" / "└──dXNlcg==")
    JavaMail, .NET, MailKit, telnet: "C: dXNlcg==" or a bare line after "334 ..."
    rust-imap      client: a1 LOGIN me pw
    Exim, Postfix  "SMTP<< dXNlcg==", "< host[192.0.2.1]: dXNlcg=="
    Exchange       ...,1.2.3.4:587,>,dXNlcg==,   (protocol log, comma-separated)
    System.Net     "[1234] 00000000 : 64 58 4E 6C ... : dXNlcg==.." (network trace)
"""

from __future__ import annotations

import re
from typing import Final

from bot.redact.patterns import MECHANISMS

# Where a line's data starts: after the direction marker of a known log format, or any
# arrow standing alone ("<", ">>>", "-->", "<~*", "==>", ",>,"). Postfix's
# "< host[addr]:" is tried before the lone "<" it starts with.
MARKER: Final = re.compile(
    r"(?<!\S)[<>]\s+\S+\[[0-9A-Fa-f.:]+\]:|"
    r"\bCLIENT\s*->\s*SERVER:?|\bSERVER\s*->\s*CLIENT:?|\b[CS]\s*->\s*[CS]:?|"
    r"\b[CS]:|\b(?:client|server)\s*:|└──|\bSMTP(?:<<|>>)|"
    r"\b(?:send(?:ing)?|sent|receiv(?:e|ed|ing)|reply|write|read)\s*:|"
    r"\[(?:SEND|RECV)\]|\*(?:cmd|put|resp|get)\*|"
    r"(?<![^\s,)])(?:<+[-=~*]*|[-=~*]*>+)(?:,|(?!\S))",
    re.IGNORECASE,
)
# A server reply at the start of the data (smtplib: "b'334 ..." and "retcode (334)").
REPLY: Final = re.compile(
    r"""^(?:b?['"])?(?:retcode\s*)?\(?(?P<code>[2-5]\d\d)(?:[\s)\-]|\\r|\\n|['"]|$)"""
)
# Whether a text could hold an AUTH command at all.
AUTH_ANYWHERE: Final = re.compile(rf"\bAUTH(?:ENTICATE)?\s+{MECHANISMS}", re.IGNORECASE)
# POP3 (RFC 1939) and IMAP (RFC 9051 §7.1) final replies: they end an AUTH exchange.
FINAL: Final = re.compile(r"^(?:\+OK|-ERR)\b|^[A-Za-z0-9.]+\s+(?:OK|NO|BAD)\b")
# A SASL continuation: "+ challenge" in POP3 (RFC 5034) and IMAP (RFC 9051 §7.5).
CONTINUATION: Final = re.compile(r"\+(?:\s+[A-Za-z0-9+/]*=*)?")
# RFC 4954 AUTH (SMTP, POP3) and RFC 9051 §6.2.2 AUTHENTICATE (IMAP, after a tag),
# with or without an initial response: the client's next lines are credentials.
AUTH_COMMAND: Final = re.compile(
    rf"^(?:[A-Za-z0-9.]+\s+)?AUTH(?:ENTICATE)?\s+{MECHANISMS}(?:\s+(?P<response>\S+))?$",
    re.IGNORECASE,
)
# Decorations around a lone token: quotes (smtplib's b'...'), Markdown, literal CR/LF
# escapes, a trailing /* comment */, a trailing comma (Exchange's CSV).
COMMENT: Final = re.compile(r"/\*.*?\*/")
OPENERS: Final = "'\"`*("
CLOSERS: Final = "'\"`*),"


def unwrap(payload: str) -> str:
    """
    The data of a line without the quotes around it (smtplib's b'...'), its literal
    CR/LF escapes and a trailing comma.
    """
    data = payload.strip()
    if data.startswith(("b'", 'b"')):
        data = data[1:]
    while data.endswith(("\\r", "\\n", ",")):
        data = data[:-1] if data.endswith(",") else data[:-2]
    if len(data) > 1 and data[0] in "'\"`" and data.endswith(data[0]):
        data = data[1:-1]
        while data.endswith(("\\r", "\\n")):
            data = data[:-2]
    return data.strip()


def lone_token(payload: str) -> str | None:
    """
    The payload's only token, without its decorations; None when it has more.
    """
    if "/*" in payload:
        payload = COMMENT.sub(" ", payload)
    parts = payload.split()
    if len(parts) != 1:
        return None
    token = parts[0]
    if token.startswith(("b'", 'b"')):
        token = token[1:]
    token = token.lstrip(OPENERS)
    while token and (token.endswith(("\\r", "\\n")) or token[-1] in CLOSERS):
        token = token[:-2] if token.endswith(("\\r", "\\n")) else token[:-1]
    return token or None
