"""
MTA-STS (RFC 8461): the ``_mta-sts`` TXT record, the policy file, and which MX hosts a
policy covers. Pure: parsing and matching only; ``fetch`` gets the policy.

Parsing follows the RFC's ABNF strictly, because a sender that cannot parse a policy
treats the domain as having none; each error names the line or field at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 8461 §3.1: the record's version tag.
RECORD_VERSION = "v=STSv1"
# RFC 8461 §3.1: "records that do not begin with 'v=STSv1;' are discarded" (so
# ``v=STSv10; id=1`` or ``v=STSv1 ; id=1`` is not an MTA-STS record to a sender).
RECORD_START = "v=STSv1;"
# RFC 8461 §3.3: the policy's well-known path on https://mta-sts.<domain>/.
POLICY_PATH = "/.well-known/mta-sts.txt"
# RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year).
MAX_AGE_LIMIT = 31_557_600
# RFC 8461 §3.2: the modes a policy may have.
MODES = ("enforce", "testing", "none")

# RFC 8461 §3.1 ABNF: sts-id = 1*32(ALPHA / DIGIT).
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# RFC 8461 §3.1/§3.2 ABNF: extension names.
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# RFC 8461 §3.1 ABNF: sts-ext-value, printable ASCII except "=", ";" and space.
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
# RFC 8461 §3.1: fields are separated by ";" with optional spaces or tabs around it.
_DELIM = re.compile(r"[ \t]*;[ \t]*")
# RFC 5321 §4.1.2 Domain, in A-labels (RFC 8461 §3.2 forbids U-labels here).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# RFC 8461 §3.2 ABNF: a policy line is "field:" *WSP value, lines end in LF or CRLF.
_LINE = re.compile(
    r"(?P<key>[A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(?P<value>.*?)[ \t]*"
)


class PolicyError(ValueError):
    """
    A record or policy that senders cannot use; the message names the part at fault.
    """


@dataclass(frozen=True, slots=True)
class StsRecord:
    """
    A valid ``_mta-sts`` TXT record.
    """

    text: str
    id: str


@dataclass(frozen=True, slots=True)
class Policy:
    """
    A parsed policy file.
    """

    mode: str
    max_age: int
    mx: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def select_record(texts: list[str], domain: str) -> StsRecord | None:
    """
    Pick the domain's MTA-STS record from its ``_mta-sts`` TXT records.

    RFC 8461 §3.1: records that do not begin with ``v=STSv1;`` are discarded; exactly
    one must remain, and it must parse. Returns None when none begins with it.

    Raises:
        PolicyError: several records, or one that does not parse.
    """
    candidates = [t for t in texts if t.startswith(RECORD_START)]
    if not candidates:
        return None
    name = f"_mta-sts.{domain}"
    if len(candidates) > 1:
        shown = "; ".join(repr(t) for t in candidates[:3])
        raise PolicyError(
            f"{name} has {len(candidates)} MTA-STS TXT records ({shown}); senders "
            "need exactly one (RFC 8461 §3.1)"
        )
    return parse_record(candidates[0], name)


def lookalikes(texts: list[str]) -> list[str]:
    """
    TXT records that look meant for MTA-STS but that senders discard (RFC 8461 §3.1):
    another version (``v=STSv10``, ``v=STSv2``), other letter case, white space before
    the first ``;``, or nothing after the version.
    """
    return [
        t
        for t in texts
        if not t.startswith(RECORD_START) and t.strip().lower().startswith("v=sts")
    ]


def parse_record(text: str, name: str) -> StsRecord:
    """
    Parse ``v=STSv1; id=...`` (RFC 8461 §3.1): the ABNF's ``sts-text-record``, case
    sensitive, US-ASCII, an optional trailing ``;`` (with white space around it) and
    nothing else after the last field.

    Raises:
        PolicyError: the record does not follow the RFC's grammar.
    """
    if not text.isascii():
        raise PolicyError(f"{name} TXT {text!r} is not US-ASCII (RFC 8461 §3.1)")
    body = re.sub(r"[ \t]*;[ \t]*$", "", text)
    if body != body.rstrip(" \t"):
        raise PolicyError(
            f"{name} TXT {text!r} ends with white space that does not follow a ';'"
        )
    fields = _DELIM.split(body)
    if fields[0] != RECORD_VERSION:
        raise PolicyError(f"{name} TXT {text!r} must start with {RECORD_VERSION!r}")
    record_id = None
    for field in fields[1:]:
        key, sep, value = field.partition("=")
        if not sep or not _EXT_NAME.fullmatch(key):
            raise PolicyError(
                f"{name} TXT {text!r}: {field!r} is not a name=value field"
            )
        if key == "id":
            if not _ID.fullmatch(value):
                raise PolicyError(
                    f"{name} TXT {text!r}: id {value!r} must be 1 to 32 letters and "
                    "digits"
                )
            # RFC 8461 §3.2: of a repeated field, the first counts.
            record_id = record_id or value
        elif not _EXT_VALUE.fullmatch(value):
            raise PolicyError(f"{name} TXT {text!r}: bad value in {field!r}")
    if record_id is None:
        raise PolicyError(f"{name} TXT {text!r} has no id= field")
    return StsRecord(text, record_id)


def parse_policy(body: bytes, url: str) -> Policy:
    """
    Parse a policy file (RFC 8461 §3.2).

    Raises:
        PolicyError: the policy does not follow the RFC's grammar.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"the policy at {url} is not UTF-8 text") from None
    lines = text.split("\n")
    if lines[-1] == "":
        # RFC 8461 §3.2 ABNF: the last line may end with a line break.
        lines.pop()
    if not lines:
        raise PolicyError(f"the policy at {url} is empty")
    first: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        where = f"{url} line {number}"
        match = _LINE.fullmatch(line)
        if match is None:
            shown = line[:80]
            if not shown.strip():
                raise PolicyError(f"{where} is empty; the policy allows no blank lines")
            raise PolicyError(f"{where} {shown!r} is not a 'field: value' line")
        key, value = match["key"], match["value"]
        if key != key.lower() and key.lower() in ("version", "mode", "max_age", "mx"):
            raise PolicyError(
                f"{where}: field names are case-sensitive; write {key.lower()!r}, "
                f"not {key!r}"
            )
        if key == "mx":
            mx.append(_mx_pattern(value, where))
        elif key in ("version", "mode", "max_age"):
            _check_field(key, value, where)
            first.setdefault(key, value)
        elif not value or any(ord(c) < 0x21 and c not in " \t" for c in value):
            raise PolicyError(f"{where}: field {key!r} has no printable value")
    for key in ("version", "mode", "max_age"):
        if key not in first:
            raise PolicyError(f"the policy at {url} has no {key!r} field")
    mode = first["mode"]
    if not mx and mode != "none":
        raise PolicyError(
            f"the policy at {url} has mode {mode} but no 'mx' line; senders could "
            "match no MX host"
        )
    max_age = int(first["max_age"])
    warnings = []
    if max_age > MAX_AGE_LIMIT:
        warnings.append(
            f"max_age {max_age} in {url} is above the RFC 8461 limit of "
            f"{MAX_AGE_LIMIT} s; senders cap it"
        )
    return Policy(mode, max_age, tuple(mx), tuple(warnings))


def _check_field(key: str, value: str, where: str) -> None:
    """
    Check the value of ``version``, ``mode`` or ``max_age`` (case matters, RFC 8461).
    """
    if key == "version" and value != "STSv1":
        raise PolicyError(f"{where}: version {value!r} must be 'STSv1'")
    if key == "mode" and value not in MODES:
        raise PolicyError(f"{where}: mode {value!r} must be enforce, testing or none")
    if key == "max_age" and not re.fullmatch(r"[0-9]{1,10}", value):
        raise PolicyError(
            f"{where}: max_age {value!r} must be a number of seconds (up to 10 digits)"
        )


def _mx_pattern(value: str, where: str) -> str:
    """
    Check one ``mx:`` value: a domain name, or ``*.`` and a domain name.
    """
    name = value[2:] if value.startswith("*.") else value
    if not _DOMAIN.fullmatch(name) or len(name) > 253:
        raise PolicyError(
            f"{where}: mx {value!r} is not a host name or a '*.' wildcard of one"
        )
    return value.lower()


def pattern_for(host: str, patterns: tuple[str, ...]) -> str | None:
    """
    The first ``mx`` pattern that covers ``host``, or None.

    RFC 8461 §4.1: a pattern matches the host name exactly, or ``*.`` stands for
    exactly one leftmost label: ``*.example.com`` covers ``mx.example.com`` but
    neither ``example.com`` nor ``a.b.example.com``.
    """
    name = host.rstrip(".").lower()
    for pattern in patterns:
        if pattern.startswith("*."):
            label, dot, rest = name.partition(".")
            if label and dot and rest == pattern[2:]:
                return pattern
        elif name == pattern:
            return pattern
    return None
