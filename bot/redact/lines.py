"""
Secrets that only show as whole lines: the client's answers in SMTP, POP3 and IMAP
transcripts (in the formats mail clients and libraries log them), hex dumps of the
same, ``name value`` configuration lines, and a lone key or base64 credential on a
line of its own. Pure; no I/O.

Transcript formats seen in public bug reports and covered here:

    PHPMailer      2024-01-01 12:00:00 CLIENT -> SERVER: dXNlcg==
                   SMTP (level 1): CLIENT -> SERVER: dXNlcg==\\r\\n, referer: ...
    smtplib        send: 'dXNlcg==\\r\\n' after reply: b'334 UGFzc3dvcmQ6\\r\\n'
    swaks          " -> dXNlcg==", TLS " ~> dXNlcg==", after "<-  334" or "<~  334"
    nodemailer     [time] DEBUG [id] C: dXNlcg==   (old: "CLIENT 1:" / "└──dXNlcg==")
    JavaMail, .NET, MailKit, telnet: "C: dXNlcg==" or a bare line after "334 ..."
    Exim, Postfix  "SMTP<< dXNlcg==", "< host[192.0.2.1]: dXNlcg=="
    System.Net     "[1234] 00000000 : 64 58 4E 6C ... : dXNlcg==.." (network trace)
"""

from __future__ import annotations

import re
from typing import Final

from bot.redact.encoding import BASE64, credential_like, random_looking
from bot.redact.patterns import NOT_SECRET, REDACTED, SECRET_NAME

# Where the line's payload starts: after a direction marker of a known log format.
_MARKER: Final = re.compile(
    r"\bCLIENT\s*->\s*SERVER:?|\bSERVER\s*->\s*CLIENT:?|\b[CS]\s*->\s*[CS]:?|"
    r"\b[CS]:|(?<!\S)(?:->|~>|<-|<~|<\*\*|\*\*>|>>>?|<<<?)(?!\S)|└──|"
    r"\bSMTP(?:<<|>>)|\b(?:send|sent|reply|write|read):|\[(?:SEND|RECV)\]|"
    r"(?<!\S)[<>]\s+\S+\[[0-9A-Fa-f.:]+\]:",
    re.IGNORECASE,
)
# A server reply at the start of a payload (smtplib: "b'334 ..." and "retcode (334)").
_REPLY: Final = re.compile(
    r"""^(?:b?['"])?(?:retcode\s*)?\(?(?P<code>[2-5]\d\d)(?:[\s)\-]|\\r|\\n|['"]|$)"""
)
# Decorations around a lone token: quotes (smtplib's b'...'), Markdown, literal CR/LF
# escapes, a trailing /* comment */.
_COMMENT: Final = re.compile(r"/\*.*?\*/")
_OPENERS: Final = "'\"`*("
_CLOSERS: Final = "'\"`*),"
# SMTP verbs and SASL tokens that are never a credential.
_VERBS: Final = frozenset(
    {
        "EHLO",
        "HELO",
        "QUIT",
        "RSET",
        "NOOP",
        "DATA",
        "STARTTLS",
        "HELP",
        "VRFY",
        "EXPN",
        "AUTH",
        "MAIL",
        "RCPT",
        "BDAT",
        "TURN",
        "*",
        "=",
    }
)
# POP3 (RFC 1939 §7) PASS, NNTP AUTHINFO PASS and IMAP (RFC 9051 §6.2.3) LOGIN.
_PASS: Final = re.compile(
    r"^(?P<lead>(?:\S+\s+)?(?:AUTHINFO\s+)?PASS\s+)(?P<value>\S.*)$"
)
_LOGIN: Final = re.compile(r"^(?P<lead>\S+\s+LOGIN\s+\S+\s+)(?P<value>\S.*)$")
# "password hunter2" (msmtp, fetchmail, .netrc, Dovecot ...): a name and one value.
_NAME_VALUE: Final = re.compile(
    r"""^(?P<lead>\s*(?:set\s+|export\s+)?(?P<name>[\w.-]++)[ \t]+)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s"']+)\s*(?:#.*)?$""",
    re.IGNORECASE,
)
# Test runners print "PASS src/app.test.ts": a source file is not a password.
_SOURCE_FILE: Final = re.compile(r"^\S*/\S*\.[A-Za-z]{1,5}\s*$")
# .netrc: "machine smtp.example.com login me password hunter2".
_NETRC: Final = re.compile(
    r"(?P<lead>\blogin\s+\S+\s+password\s+)(?P<value>(?!\[redacted\])\S+)"
)
# Postfix sasl_passwd: "[smtp.example.com]:587 user@example.com:password".
_SASL_PASSWD: Final = re.compile(
    r"^(?P<lead>\s*\[?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\]?(?::\d+)?\s+[^\s:]+:)"
    r"(?P<value>(?!\[redacted\])\S+)\s*$"
)
# Prose after a secret-looking name ("Password incorrect") is not a value.
_PROSE: Final = re.compile(
    r"^(?:changed|reset|mismatch|rejected|accepted|denied|failed|failure|error|ok|"
    r"unknown|not|is|was|too|please|must|for|of|and|or|the|to|if|when|with)$",
    re.IGNORECASE,
)
# System.Net network tracing: "[pid] 00000000 : 41 55 54 48 ... : AUTH login .."
_HEX_DUMP: Final = re.compile(
    r"^(?P<lead>.*?\b[0-9A-Fa-f]{8}\s*:\s*)(?P<hex>(?:[0-9A-Fa-f]{2}[ -]){1,16})"
    r"\s*:\s?(?P<ascii>.*)$"
)
_DUMP_SEND: Final = re.compile(r"::Send\b|\bSend(?:ing)?\b", re.IGNORECASE)
_DUMP_RECEIVE: Final = re.compile(r"::Receive\b|\bReceiv", re.IGNORECASE)
# Lines with more words than this are prose or log lines, not a credential line.
MAX_WORDS: Final = 8


def _lone_token(payload: str) -> str | None:
    """
    The payload's only token, without its decorations; None when it has more.
    """
    if "/*" in payload:
        payload = _COMMENT.sub(" ", payload)
    parts = payload.split()
    if len(parts) != 1:
        return None
    token = parts[0]
    if token.startswith(("b'", 'b"')):
        token = token[1:]
    token = token.lstrip(_OPENERS)
    while token and (token.endswith(("\\r", "\\n")) or token[-1] in _CLOSERS):
        token = token[:-2] if token.endswith(("\\r", "\\n")) else token[:-1]
    return token or None


def _may_hold(line: str, words: list[str]) -> bool:
    """
    Whether a line outside any AUTH exchange could hold a secret the rules below
    find: a two-word setting, or a last word long enough to be a credential.
    """
    if len(words) == 2:
        return True
    token = _lone_token(words[-1])
    return token is not None and len(token) >= 8 and BASE64.fullmatch(token) is not None


class Transcript:
    """
    The state of one pass over a text: whether the server just sent a 334 challenge
    (the next client line is a credential), and the direction of a hex dump.
    """

    def __init__(self, *, challenges: bool = True) -> None:
        # False when the text holds no "334": no line can follow a challenge then.
        self.challenges = challenges
        self.challenged = False
        self.dump_sending = False
        self.dump_challenged = False
        self.dump_secret = False

    def line(self, line: str) -> str:
        """
        The line with any credential it carries replaced.
        """
        if len(line) < 4:
            return line
        if ", referer:" in line:  # Apache's error log appends one to each line
            line, _, referer = line.partition(", referer:")
            return f"{self.line(line)}, referer:{referer}"
        words = line.split()
        if not words or self._dump_header(line):
            return line
        dump = _HEX_DUMP.match(line) if " : " in line else None
        if dump is not None:
            return self._dump(dump)
        protocol = "PASS" in line or "LOGIN" in line or "password" in line
        if len(words) > MAX_WORDS:
            if not protocol:
                return line
        elif not (self.challenges or protocol or _may_hold(line, words)):
            return line
        marker = _MARKER.search(line)
        payload = line[marker.end() :] if marker is not None else line
        reply = _REPLY.match(payload.lstrip())
        if reply is not None:
            self.challenged = reply.group("code") == "334"
            return line
        answered = self._protocol(line, payload)
        if answered is not line:
            return answered
        token = _lone_token(payload)
        if token is not None:
            if token == REDACTED:
                self.challenged = False
            elif self._secret_token(token):
                self.challenged = False
                return self._replace_tail(line, token)
        if marker is None:
            return self._config(line)
        return line

    def _secret_token(self, token: str) -> bool:
        if token.upper() in _VERBS:
            return False
        if self.challenged:
            return True
        if not BASE64.fullmatch(token):
            return False
        if len(token) >= 8 and credential_like(token, minimum=4):
            return True
        return random_looking(token)

    @staticmethod
    def _replace_tail(line: str, token: str) -> str:
        stripped = line.rstrip()
        cut = stripped.rfind(token)
        if cut == -1:
            return line
        return line[:cut] + REDACTED + line[cut + len(token) :]

    @staticmethod
    def _protocol(line: str, payload: str) -> str:
        """
        POP3 PASS / IMAP LOGIN arguments, .netrc passwords.
        """
        body = payload.strip()
        for pattern in (_PASS, _LOGIN):
            found = pattern.match(body)
            if (
                found is not None
                and not found.group("value").startswith(REDACTED)
                and not _SOURCE_FILE.match(found.group("value"))
            ):
                start = line.rfind(body) + found.start("value")
                return line[:start] + REDACTED
        if "password" in line:
            replaced = _NETRC.sub(lambda m: m.group("lead") + REDACTED, line)
            if replaced != line:
                return replaced
        return line

    @staticmethod
    def _config(line: str) -> str:
        """
        ``name value`` lines whose name is secret-looking; sasl_passwd lines.
        """
        found = _NAME_VALUE.match(line)
        # Upper-case PASS is the POP3 command, handled with the transcript rules.
        if (
            found is not None
            and found.group("name") != "PASS"
            and SECRET_NAME.fullmatch(found.group("name"))
        ):
            value = found.group("value").strip("\"'")
            if not (
                value.startswith(REDACTED)
                or NOT_SECRET.match(value)
                or _PROSE.match(value)
                or _SOURCE_FILE.match(value)
            ):
                return found.group("lead") + REDACTED
            return line
        found = _SASL_PASSWD.match(line)
        if found is not None:
            return found.group("lead") + REDACTED
        return line

    def _dump_header(self, line: str) -> bool:
        """
        Follow the direction of a network trace's data blocks.
        """
        if "Data from" not in line and "::" not in line:
            return False
        if _DUMP_SEND.search(line):
            self.dump_sending, self.dump_secret = True, self.dump_challenged
            return True
        if _DUMP_RECEIVE.search(line):
            self.dump_sending = False
            return True
        return False

    def _dump(self, dump: re.Match[str]) -> str:
        """
        A hex dump row: credentials sent after AUTH or a 334 lose both columns.
        """
        ascii_ = dump.group("ascii")
        if not self.dump_sending:
            code = re.match(r"([2-5]\d\d)", ascii_)
            if code is not None:
                self.dump_challenged = code.group(1) == "334"
            return dump.string
        if re.match(r"AUTH\s", ascii_, re.IGNORECASE):
            self.dump_secret = True
        if not self.dump_secret or ascii_.startswith(REDACTED):
            return dump.string
        return f"{dump.group('lead')}{REDACTED} : {REDACTED}"


def redact_lines(text: str, *, gated: bool = True) -> str:
    """
    Every line of ``text`` through one ``Transcript``; ``gated=False`` gives every line
    the full treatment (the reference the shortcut must agree with).
    """
    state = Transcript(challenges="334" in text or not gated)
    return "\n".join(state.line(line) for line in text.split("\n"))
