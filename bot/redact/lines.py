"""
Secrets that only show as whole lines: the client's answers in SMTP, POP3 and IMAP
transcripts (in the formats of ``formats``), hex dumps of the same, ``name value``
configuration lines, and a lone key or base64 credential on a line of its own. Pure;
no I/O.

Two rules decide a lone token (a line's only word, or the data of a transport-log
line). Inside an AUTH exchange (after an ``AUTH``/``AUTHENTICATE`` command or a
``334``/``+`` challenge, until the server's next reply) the client's answers are
credentials whatever they decode to: the first answer whatever it is (a password typed
raw), the next ones while they are base64. Outside one, a token is a credential when
it is base64 of readable text, unmistakably padded base64, or a key
(``tokens.key_like``: 16 or more characters that do not read as a name). Lines of a
public armour block (a certificate) are not keys.
"""

from __future__ import annotations

import re
from typing import Final

from bot.redact.encoding import BASE64, credential_like, padded_base64, wordlike
from bot.redact.formats import (
    AUTH_ANYWHERE,
    AUTH_COMMAND,
    CONTINUATION,
    FINAL,
    MARKER,
    REPLY,
    lone_token,
    unwrap,
)
from bot.redact.logins import config_password, typed_password
from bot.redact.patterns import REDACTED
from bot.redact.tokens import key_like

# SMTP verbs and SASL tokens that are never a credential ("*" cancels an exchange).
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
# An app password standing alone: "abcd efgh ijkl mnop"; a line that may end in one.
_APP_PASSWORD_LINE: Final = re.compile(r"[a-z]{4}( [a-z]{4}){3}")
_APP_PASSWORD_TAIL: Final = re.compile(r"[a-z]{4}( [a-z]{4}){3}\s*$")
# RFC 7468 armour that is public (certificates, CRLs, public keys, signatures): its
# body lines are not keys. Private keys are cut by the PEM pass before this one.
_PUBLIC_ARMOUR: Final = re.compile(
    r"-----BEGIN (?![A-Z0-9 ]*(?:PRIVATE|SECRET))[A-Z0-9 ]+-----"
)
# System.Net network tracing: "[pid] 00000000 : 41 55 54 48 ... : AUTH login .."
_HEX_DUMP: Final = re.compile(
    r"^(?P<lead>.*?\b[0-9A-Fa-f]{8}\s*:\s*)(?P<hex>(?:[0-9A-Fa-f]{2}[ -]){1,16})"
    r"\s*:\s?(?P<ascii>.*)$"
)
_DUMP_SEND: Final = re.compile(r"::Send\b|\bSend(?:ing)?\b", re.IGNORECASE)
_DUMP_RECEIVE: Final = re.compile(r"::Receive\b|\bReceiv", re.IGNORECASE)
# Words a POP3 PASS, an IMAP LOGIN or a .netrc line holds (in the cases they are
# written in).
_PROTOCOL_WORDS: Final = ("PASS", "pass", "LOGIN", "login")
# Lines with more words than this are prose or log lines, not a credential line.
MAX_WORDS: Final = 8


def _may_hold(line: str, words: list[str]) -> bool:
    """
    Whether a line outside any AUTH exchange could hold a secret the rules below
    find: a two-word setting, an app password, or a last word long enough to be a
    credential.
    """
    if len(words) == 2:
        return True
    if len(words) >= 4 and len(words[-1]) == 4 and _APP_PASSWORD_TAIL.search(line):
        return True
    last = words[-1].rstrip(",").rpartition(",")[2]  # a CSV log's last field
    token = lone_token(last)
    return token is not None and len(token) >= 8 and BASE64.fullmatch(token) is not None


def _replace_tail(line: str, token: str) -> str:
    stripped = line.rstrip()
    cut = stripped.rfind(token)
    if cut == -1:
        return line
    return line[:cut] + REDACTED + line[cut + len(token) :]


class Transcript:
    """
    The state of one pass over a text: whether an AUTH exchange is under way (the
    client's next lines are credentials), whether a public armour block is open, and
    the direction of a hex dump.
    """

    def __init__(self, *, exchanges: bool = True) -> None:
        # False when the text holds neither "334" nor an AUTH command: no exchange
        # can start.
        self.exchanges = exchanges
        self.authing = False
        self.challenged = False
        # The first answer after a challenge may be anything (a password typed raw);
        # later ones are base64 or the exchange is over.
        self.fresh = False
        self.armour = False
        self.dump_sending = False
        self.dump_challenged = False
        self.dump_secret = False

    def line(self, line: str) -> str:
        """
        The line with any credential it carries replaced.
        """
        if len(line) < 4:
            return self._short(line)
        if ", referer:" in line:  # Apache's error log appends one to each line
            line, _, referer = line.partition(", referer:")
            return f"{self.line(line)}, referer:{referer}"
        words = line.split()
        if not words or self._dump_header(line):
            self.challenged = self.challenged and bool(words)
            return line
        dump = _HEX_DUMP.match(line) if " : " in line else None
        if dump is not None:
            return self._dump(dump)
        if self._armoured(line):
            return line
        protocol = any(word in line for word in _PROTOCOL_WORDS)
        if len(words) > MAX_WORDS:
            if not protocol:
                self.challenged = False
                return line
        elif not (self.exchanges or protocol or _may_hold(line, words)):
            return line
        marker = MARKER.search(line)
        payload = line[marker.end() :] if marker is not None else line
        token = lone_token(payload)
        if self._exchange(payload, token):
            return line
        answered = typed_password(line, payload)
        if answered is not line:
            return answered
        if token is not None:
            secret = token != REDACTED and self._secret_token(token)
            self.fresh = False
            return _replace_tail(line, token) if secret else line
        if _APP_PASSWORD_LINE.fullmatch(payload.strip()):
            return _replace_tail(line, payload.strip())
        self.challenged = False  # a command or prose: no answer to a challenge
        if marker is None:
            return config_password(line)
        return line

    def _short(self, line: str) -> str:
        """
        A bare "334" or "+" challenge starts the client's answers; a blank line ends
        an exchange.
        """
        data = line.strip()
        if data == "334" or (data == "+" and self.authing):
            self.challenged = self.fresh = True
        elif not data:
            self.challenged = False
        return line

    def _exchange(self, payload: str, token: str | None) -> bool:
        """
        Follow the AUTH exchange through a reply, a continuation or a command; True
        when the line was one of them (and holds no credential).
        """
        data = unwrap(payload)
        reply = REPLY.match(data)
        if reply is not None and not (token is not None and key_like(token[4:])):
            self.challenged = self.fresh = reply.group("code") == "334"
            self.authing = self.challenged
            return True
        if FINAL.match(data):
            self.authing = self.challenged = False
            return True
        if self.authing and CONTINUATION.fullmatch(data):
            self.challenged = self.fresh = True
            return True
        command = AUTH_COMMAND.match(data)
        if command is not None:
            response = command.group("response")
            if response is None or not wordlike(response) or credential_like(response):
                self.authing = self.challenged = self.fresh = True
                return True
        return False

    def _secret_token(self, token: str) -> bool:
        if token.upper() in _VERBS:
            return False
        if self.challenged:
            if self.fresh or BASE64.fullmatch(token):
                return True
            self.challenged = False  # not an answer: the exchange is over
        if not BASE64.fullmatch(token):
            return False
        if len(token) >= 8 and credential_like(token, minimum=4):
            return True
        return padded_base64(token) or key_like(token)

    def _armoured(self, line: str) -> bool:
        """
        Whether the line opens or closes a public armour block, or is a line of its
        base64 body (anything else ends the block).
        """
        if "-----" in line:
            if _PUBLIC_ARMOUR.search(line):
                self.armour = True
                return True
            if "-----END " in line and self.armour:
                self.armour = False
                return True
        if self.armour:
            token = line.strip()
            self.armour = BASE64.fullmatch(token) is not None
        return self.armour

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
    exchanges = (
        not gated
        or "334" in text
        or ("auth" in text.lower() and AUTH_ANYWHERE.search(text) is not None)
    )
    state = Transcript(exchanges=exchanges)
    return "\n".join(state.line(line) for line in text.split("\n"))
