"""
Passwords typed as commands or settings: POP3 ``PASS`` and IMAP ``LOGIN`` lines in any
client's log format, .netrc entries, ``name value`` configuration lines (msmtp,
fetchmail, Dovecot) and Postfix ``sasl_passwd`` lines. Pure; no I/O.
"""

from __future__ import annotations

import re
from typing import Final

from bot.redact.formats import unwrap
from bot.redact.patterns import NOT_SECRET, REDACTED, SECRET_NAME

# POP3 (RFC 1939 §7) PASS and NNTP AUTHINFO PASS (the rest of the line, spaces and
# all), lower-case "pass" as clients and people type it (one word).
_PASS: Final = re.compile(
    r"^(?P<lead>(?:\S+\s+)?(?:AUTHINFO\s+)?PASS\s+)(?P<value>\S.*)$"
    r"|^(?P<llead>(?:authinfo\s+)?pass\s+)(?P<lvalue>\"[^\"]*\"|'[^']*'|\S+)\s*$"
)
# IMAP LOGIN user password (RFC 9051 §6.2.3), tagged or not; each argument an atom or
# a quoted string.
_ARGUMENT: Final = r"(?:\"(?:[^\"\\]|\\.)*\"|[^\s\"]+)"
_LOGIN: Final = re.compile(
    rf"^(?P<lead>(?:[A-Za-z0-9.]+\s+)?(?:LOGIN|login)\s+(?P<user>{_ARGUMENT})\s+)"
    rf"(?P<value>{_ARGUMENT})\s*$"
)
# "password hunter2" (msmtp, fetchmail, .netrc, Dovecot ...): a name and one value, or
# an app password in Google's four groups.
_NAME_VALUE: Final = re.compile(
    r"""^(?P<lead>\s*(?:set\s+|export\s+)?(?P<name>[\w.-]++)[ \t]+)"""
    r"""(?P<value>[a-z]{4}(?: [a-z]{4}){3}|"[^"]*"|'[^']*'|[^\s"']+)\s*(?:#.*)?$""",
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
# Prose after a secret-looking name or a login verb ("Password incorrect", "LOGIN
# failed for") is not a value.
_PROSE: Final = re.compile(
    r"^(?:changed|reset|mismatch|rejected|accepted|denied|failed|failure|error|ok|"
    r"unknown|not|is|was|too|please|must|for|of|and|or|the|to|if|when|with|"
    r"attempt|attempts|successful|succeeded|required|disabled)$",
    re.IGNORECASE,
)


def typed_password(line: str, payload: str) -> str:
    """
    The line with the password of a POP3 PASS, an IMAP LOGIN or a .netrc entry
    replaced; ``payload`` is its data after any transport-log marker.
    """
    body = unwrap(payload)
    found = _PASS.match(body)
    if found is not None:
        group = "value" if found.group("value") is not None else "lvalue"
        value = found.group(group)
        if not (
            value.startswith(REDACTED)
            or _SOURCE_FILE.match(value)
            or (group == "lvalue" and (_PROSE.match(value) or NOT_SECRET.match(value)))
        ):
            return line[: line.rfind(body) + found.start(group)] + REDACTED
    found = _LOGIN.match(body)
    if found is not None:
        value = found.group("value")
        if not (
            value.startswith(REDACTED)
            or _PROSE.match(found.group("user"))
            or _PROSE.match(value)
        ):
            return line[: line.rfind(body) + found.start("value")] + REDACTED
    if "password" in line:
        replaced = _NETRC.sub(lambda m: m.group("lead") + REDACTED, line)
        if replaced != line:
            return replaced
    return line


def config_password(line: str) -> str:
    """
    The line with the value of a ``name value`` setting whose name is secret-looking,
    or the password of a sasl_passwd line, replaced.
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
