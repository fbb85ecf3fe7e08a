"""
SMTP TLS Reporting (RFC 8460): the ``_smtp._tls`` TXT record that tells senders where
to report TLS failures. Pure: parsing only. A missing or broken record never fails a
domain (mail flows without it); it only means nobody hears about TLS problems.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.mxcheck.model import Level, Reason, Result, TlsRpt

# RFC 8460 §3: the version tag every record starts with.
RECORD_VERSION = "v=TLSRPTv1"
# RFC 8460 §3: fields are separated by ";" with optional spaces or tabs around it.
_DELIM = re.compile(r"[ \t]*;[ \t]*")
# RFC 8460 §3 ABNF: tlsrpt-ext-name.
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# RFC 8460 §3 ABNF: tlsrpt-ext-value, printable ASCII except "=", ";" and space.
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
# RFC 5322 addr-spec, loosely: something@a.domain.
_MAILBOX = re.compile(r"[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")

KB_ENTRY = "tls-rpt-record-missing-or-malformed"
ADVICE = (
    "Publish one TXT record at _smtp._tls.<domain> such as "
    '"v=TLSRPTv1; rua=mailto:tlsrpt@<domain>" so senders report TLS failures to you '
    "(RFC 8460 §3)."
)


def judge_tlsrpt(domain: str, texts: list[str], *, error: str | None = None) -> TlsRpt:
    """
    Read the domain's TLS-RPT record: pass listing ``rua``, none, or warn naming the
    part that is wrong.
    """
    name = f"_smtp._tls.{domain}"
    if error is not None:
        return TlsRpt(
            Result.WARN,
            reasons=(Reason(Level.WARN, f"the TXT lookup of {name} failed: {error}"),),
        )
    candidates = [t for t in texts if t.startswith(RECORD_VERSION)]
    if not candidates:
        return TlsRpt(
            Result.NONE,
            reasons=(
                Reason(
                    Level.INFO,
                    f"{name} has no TLS-RPT record, so senders cannot report TLS "
                    "failures to this domain",
                    ADVICE,
                    KB_ENTRY,
                ),
            ),
        )
    if len(candidates) > 1:
        shown = "; ".join(repr(t) for t in candidates[:3])
        return _malformed(
            candidates[0],
            (),
            f"{name} has {len(candidates)} TLS-RPT records ({shown}); senders "
            "ignore them all and need exactly one (RFC 8460 §3)",
        )
    record = candidates[0]
    body = re.sub(r"[ \t]*;?[ \t]*$", "", record)
    fields = _DELIM.split(body)
    if fields[0] != RECORD_VERSION:
        return _malformed(
            record, (), f"{name} TXT {record!r} must start with '{RECORD_VERSION};'"
        )
    rua: list[str] = []
    problems: list[str] = []
    seen_rua = False
    for field in fields[1:]:
        key, sep, value = field.partition("=")
        if not sep or not _EXT_NAME.fullmatch(key):
            problems.append(f"{name}: {field!r} is not a name=value field")
        elif key == "rua":
            if seen_rua:
                continue
            seen_rua = True
            for uri in re.split(r"[ \t]*,[ \t]*", value):
                problem = _uri_problem(uri)
                if problem is None:
                    rua.append(uri)
                else:
                    problems.append(f"{name}: rua {uri!r} {problem}")
        elif not _EXT_VALUE.fullmatch(value):
            problems.append(f"{name}: bad value in {field!r}")
    if not seen_rua:
        problems.append(
            f"{name} TXT {record!r} has no rua= field, so senders have no "
            "address to report to"
        )
    if problems:
        return _malformed(record, tuple(rua), *problems)
    listed = ", ".join(rua)
    return TlsRpt(
        Result.PASS,
        record,
        tuple(rua),
        (Reason(Level.INFO, f"senders report TLS failures to {listed}"),),
    )


def _uri_problem(uri: str) -> str | None:
    """
    Why a ``rua`` URI is unusable (RFC 8460 §3: ``mailto:`` or ``https:``), or None.
    """
    if not uri:
        return "is empty"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError as exc:  # "https://[::1/x": an unclosed IPv6 literal
        return f"is not a valid URI ({exc})"
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        if not _MAILBOX.fullmatch(parts.path):
            return "is not a mailto: address"
        return None
    if scheme == "https":
        if not host:
            return "has no host"
        return None
    return "must be a mailto: or https: URI"


def _malformed(record: str, rua: tuple[str, ...], *problems: str) -> TlsRpt:
    """
    A record that senders cannot fully use: a warning naming each part at fault.
    """
    return TlsRpt(
        Result.WARN,
        record,
        rua,
        tuple(Reason(Level.WARN, p, ADVICE, KB_ENTRY) for p in problems),
    )
