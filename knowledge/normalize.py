"""
Text preparation for matching: pick the error-bearing lines of a paste, pull out exact
evidence (reply codes, enhanced status codes, Outlook hex codes) and normalise away the
volatile parts (addresses, host names, ids, timestamps) so that signatures compare on
words.

Pure functions; no I/O.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass
from typing import Final

# A Slack message holds 40,000 characters; uploaded log snippets are larger. Beyond this
# the paste is refused with a clear error rather than scanned (DESIGN.md: up to
# 1,000,000).
MAX_TEXT: Final = 1_000_000
# Lines longer than this are cut: error messages are short, and partial_ratio cost grows
# with length. 40 KB single-line JSON blobs are split into pieces of this size first.
MAX_LINE: Final = 360
# How many error-bearing lines are scored with rapidfuzz; bounds the cost of huge logs.
MAX_LINES: Final = 16

# RFC 3463 §2: class.subject.detail, class 2/4/5; not part of a longer dotted number nor
# a version ("v4.2.2", "nodemailer@4.2.2").
ENHANCED_RE: Final = re.compile(r"(?<![\w.@])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
# RFC 5321 §4.2: a reply code followed by a space or hyphen and its enhanced code (qmail
# writes the latter "#5.1.0"; clients print "550: 5.1.0").
PAIR_RE: Final = re.compile(
    r"(?<![\d.])([2-5][0-5]\d):?[ -]#?([245]\.\d{1,3}\.\d{1,3})(?!\d|\.\d)"
)
# A bare reply code in the usual places: line start, after "code", ":", "(", quotes.
REPLY_RE: Final = re.compile(
    r"(?:^|[\s(\['\"`:=,>])([2-5][0-5]\d)(?=[ \-,)'\"]|$)", re.MULTILINE
)
# Not inside a longer identifier; Chinese or Japanese text may touch it
# ("提示0X800CCC0E错误").
HEX_RE: Final = re.compile(r"(?<![0-9A-Za-z])0[xX][0-9a-fA-F]{8}(?![0-9A-Za-z])")
# A reply code written straight into Chinese or Japanese prose ("出现554错误",
# "依旧535").
CJK_REPLY_RE: Final = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef])([45][0-5]\d)"
    r"(?=[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]|[ \t]*$)",
    re.MULTILINE,
)
# Rust lettre prints a reply code as its parts: Code { severity:
# PermanentNegativeCompletion, category: Unspecified3, detail: Four } is 534.
LETTRE_CODE_RE: Final = re.compile(
    r"severity:\s*(PositiveCompletion|PositiveIntermediate|TransientNegativeCompletion|"
    r"PermanentNegativeCompletion),\s*category:\s*(Syntax|Information|Connections|"
    r"Unspecified3|Unspecified4|MailSystem),\s*detail:\s*(Zero|One|Two|Three|Four|Five|"
    r"Six|Seven|Eight|Nine)\b"
)
_LETTRE_SEVERITY: Final = {
    "PositiveCompletion": "2",
    "PositiveIntermediate": "3",
    "TransientNegativeCompletion": "4",
    "PermanentNegativeCompletion": "5",
}
_LETTRE_CATEGORY: Final = {
    "Syntax": "0",
    "Information": "1",
    "Connections": "2",
    "Unspecified3": "3",
    "Unspecified4": "4",
    "MailSystem": "5",
}
_LETTRE_DETAIL: Final = {
    word: str(digit)
    for digit, word in enumerate(
        ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
    )
}
# A 4xx/5xx reply as a server's answer, not any number that looks like one ("Session
# 422 of user", '"responseTime":439'): at a line start, after a colon, bracket or
# quote, or after words such as "code", "responded", "said"; followed by the reply's
# text, an enhanced code, a quote or the end of the line.
SERVER_REPLY_RE: Final = re.compile(
    # (swaks marks the server's error replies "<** ", its other replies "<- ".)
    r"(?:^[ \t>*#-]*|^<(?:\*\*|-|~\*?) |[:;(\['\"=]\s*|"
    r"\b(?:code|error|responded|response|reply|said|"
    r"smtp|status|server|returned|answered|rejected|failed|got)\W{0,3})"
    r"([45][0-5]\d)(?=[ -][A-Za-z#<\[(\"']|[ -]\d\.\d|[ \t]*$|[\"')]|, b?['\"])",
    re.IGNORECASE | re.MULTILINE,
)
# A reply code a client library or a person introduces as one: after "code", "error",
# "reply", "got", "received", "failed with" ("expected 250, got 552", "received error
# code. [550]", "SMTP code: 436", "error_code :550,"), or opening a line with the
# reply's words ("440 mail from account ..."). Such a code counts even when no table
# lists it (``KnowledgeBase.reply``); a number in brackets or quotes alone
# ("task[546]", '"id":"440"') does not.
WORDED_REPLY_RE: Final = re.compile(
    r"(?:^(?:[ \t>*#-]*|<(?:\*\*|-|~\*?) )(?=\d{3} [A-Za-z])|"
    r"(?:\b|_)(?:code|error|reply|response|said|"
    r"smtp|server|returned|got|received|(?:replied|responded|answered|failed)"
    r"(?: with)?)\W{0,3})"
    r"([45][0-5]\d)(?=[ -][A-Za-z#<(\"']|[ \t]*$|[\])\"']|[.,;](?: |$))",
    re.IGNORECASE | re.MULTILINE,
)

# Words that make a line likely to carry the error. A set lookup per word is far cheaper
# than a big case-insensitive alternation over a 40 KB log.
_CUE_TEXT: Final = """
    error errors err fail failed failure fails denied refused refuse reject rejected
    rejecting timeout timedout timed unable cannot can't couldn't could invalid
    unsupported exception exceeded exceeds blocked block blocklist blacklist blacklisted
    listed unknown expired mismatch doesn't unauthorized unauthorised certificate cert
    certificates ssl tls starttls handshake smtp auth authentication authenticate relay
    relaying quota spam unsolicited spf dkim dmarc ptr mailbox recipient sender password
    login logging logs log debug verbose greeting x509 pkix insecure secure
    econnrefused etimedout enotfound getaddrinfo gethostbyname eauth esocket econnection
    etls refusing prohibited policy permitted allowed accepted trusted verify
    verification self-signed issuer altnames hostname unavailable disabled required
    require requires denied throttled throttling limit rate busy deferred bounced
    undeliverable delivered delivery resolve resolution name
    fehler fehlgeschlagen verweigert zertifikat verbindung ungültig abgelehnt unbekannt
    erreur échec échoué refusé refusée certificat connexion impossible introuvable
    falló fallo rechazado conexión certificado denegó servidor erro falha recusou
    conexão errore impossibile rifiuto certificato connessione autenticação
"""
CUE_WORDS: Final = frozenset(_CUE_TEXT.split())
# The same for scripts written without spaces between words (Chinese, Japanese,
# Korean): found as substrings of a line, not as its words.
CUE_PHRASES: Final = (
    "错误",
    "錯誤",
    "失败",
    "失敗",
    "拒绝",
    "拒絕",
    "超时",
    "逾時",
    "无法",
    "無法",
    "エラー",
    "拒否",
    "タイムアウト",
    "できません",
    "오류",
    "실패",
    "거부",
    "시간 초과",
)
# A character of those scripts (kana, CJK ideographs, Hangul, full-width forms).
UNSPACED: Final = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")
_WORD: Final = re.compile(r"[\w'-]+")
# A Latin-script word glued to Chinese, Japanese or Korean text ("SSLHandshakeException
# 이", "出现ETIMEDOUT错误") is a word of its own.
_GLUED: Final = re.compile(r"[\u2e80-\U0010ffff]+")


def words_of(text: str, word: re.Pattern[str] = _WORD) -> list[str]:
    """
    The words of ``text`` (matches of ``word``), Latin-script words glued to CJK or
    Hangul split off.
    """
    words = word.findall(text)
    if text.isascii():
        return words
    return [part for word in words for part in _GLUED.split(word) if part] + [
        glued for word in words for glued in _GLUED.findall(word)
    ]


# Codes on a line: a reply code with an enhanced code, an enhanced code, an Outlook hex
# code.
# Starts with a plain character class so that re's fast prefix scan applies: a bounded
# alternation with a look-behind first is 5-10 times slower over a 40 KB log.
_CODE_CUE: Final = re.compile(r"[45](?:[0-5]\d[ -]|\.\d{1,3}\.\d{1,3})")
# Stack-trace frames and similar noise: never the error line itself.
_NOISE: Final = re.compile(r"^\s*(?:#\d+ |-{3,}(?!>)|\.\.\. ?\d+ more)|\.java:\d+\)")
_NOISE_STARTS: Final = ("at ", 'File "', "from /", "^", "===")

_URL: Final = re.compile(r"\b(?:https?|ftp|ssl|tls)://\S+", re.IGNORECASE)
_EMAIL: Final = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)*")
_IPV4: Final = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\d.])")
# IPv6 candidates, "::" shortening and zone included; ``_ipv6`` keeps only real
# addresses (RFC 4291 §2.2), so that times ("10:11:12") and Perl's "Net::SMTP" stay.
_IPV6: Final = re.compile(
    r"(?<![\w:.])\[?((?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4})(?:%\w+)?"
    r"(?![\w:]|\.\w)\]?(?::\d{1,5})?"
)
# Host names: labels ending in a TLD-like label that is not a source-file extension.
_HOST: Final = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?!(?:js|py|go|rb|cs|ts|sh|pl|md|cc|kt|rs|so|h|c|"
    r"cpp|php|java|log|txt|json|yml|yaml|"
    r"conf|cfg|ini|exe|dll|jar|xml|html|lib|class|err|out|net\.js)\b)"
    r"(?:com|net|org|io|edu|gov|mil|info|biz|dev|app|cloud|online|site|tech|"
    r"local|lan|internal|test|example|invalid|[a-z]{2})\b"
    # A TLD is the last label: "javax.net.ssl..." and "System.Net.Mail..." are code
    # names.
    r"(?!\.[A-Za-z_$])\.?",
    re.IGNORECASE,
)
_TIMESTAMP: Final = re.compile(
    r"\b\d{4}[-/]\d{2}[-/]\d{2}[T ,]*\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?|"
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4},? \d{1,2}:\d{2}(?::\d{2})?|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* "
    r"+\d{1,2} \d{2}:\d{2}:\d{2}|"
    r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?",
    re.IGNORECASE,
)
# Gmail appends "<id> - gsmtp"; Exchange Online appends "[HOST 2024-...Z 08DC...]".
_GSMTP: Final = re.compile(
    r"\b[\w.]{4,40}\s{0,3}-\s{0,3}gsmtp\b|\b[a-z0-9]{6,}\.\d{1,4}\s*$", re.IGNORECASE
)
_LONG_ID: Final = re.compile(r"\b(?=[A-Za-z0-9+/=_-]*\d)[A-Za-z0-9+/=_-]{12,}\b")
_NUMBER: Final = re.compile(r"\b\d+\b")
# Two passes that each start with a plain character class (re's fast prefix scan):
# "aB" -> "a B", then "ABc" -> "A Bc".
_CAMEL_LOWER: Final = re.compile(r"([a-z])([A-Z])")
_CAMEL_UPPER: Final = re.compile(r"([A-Z])([A-Z][a-z])")
# Field names of MTA log lines (Postfix "relay=... delay=... dsn=... status=", Sendmail
# "mailer=... pri=... stat="): structure, not wording; "relay=" is no relay problem.
_LOG_KEYS: Final = re.compile(
    r"\b(?:to|from|relay|delay|delays|dsn|status|stat|orig_to|ctladdr|proto|helo|size|"
    r"nrcpt|conn_use|mailer|pri|msgid|tls|ehlo|client|sasl_method|sasl_username)=",
    re.IGNORECASE,
)
# Spellings of one idea that software and people use interchangeably; mapped to one form
# on both sides (signatures and pastes) so that wording, not spelling, is compared.
_SYNONYMS: Final = {
    "auth": "authentication",
    "authenticate": "authentication",
    "authenticated": "authentication",
    "cert": "certificate",
    "certs": "certificate",
    "certificates": "certificate",
    "pwd": "password",
    "passwd": "password",
    "pass": "password",
    "msg": "message",
    "conn": "connection",
    "timedout": "timeout",
    "timeouts": "timeout",
    "mailserver": "server",
    "emails": "email",
    "mails": "mail",
}
# Generic wrapper messages that libraries put around the real error ("Failure sending
# mail. ---> <the reason>"). They say nothing about the cause, so they are removed from
# both signatures and pastes and the reason underneath decides (normalised forms).
_WRAPPERS: Final = re.compile(
    r"\b(?:failure sending mail|smtp connect failed(?: url)?|message could not be sent|"
    r"mailer error|error sending e?mail|failed to send e?mail|unable to send e?mail|"
    r"could not send e?mail|connection could not be established with host|"
    r"an error occurred while attempting to establish an ssl or tls connection|"
    r"the server s ssl certificate could not be validated for the following reasons|"
    r"the server certificate has the following errors|nested exception is|"
    r"smtp error failed to connect to server|connection failed error|"
    r"sending of the message failed|an error occurred while sending mail|"
    r"could not convert socket to tls|unable to connect to the remote server|"
    r"mail connect exception couldn t connect to host port|"
    r"couldn t connect to host port|"
    r"could not connect to smtp host(?: host)? port(?! response)|"
    r"die verbindung mit dem remoteserver kann nicht hergestellt werden|"
    r"impossible de se connecter au serveur distant|"
    r"no es posible conectar con el servidor remoto|"
    r"an outgoing server smtp error occurred while sending mail"
    r"(?: the server responded)?|"
    r"connection opening to(?: host)?(?: timeout)?(?: options array)?|"
    r"(?:mailbox unavailable|transaction failed|syntax error command unrecognized) "
    r"the server response was|"
    r"connection opened|"
    # PHPMailer's DATA refusal around the server's own words.
    r"smtp error data not accepted|smtp server error(?: data end command failed)?"
    r"(?: detail)?|"
    r"connection closed|server > client|client > server)\b"
)
# Letters of every script are kept (German, French, Portuguese ... signatures match as
# written); punctuation and "_" separate words.
_NON_WORD: Final = re.compile(r"[\W_]+")


def stem(word: str) -> str:
    """
    A crude stem (the first six letters).

    It joins refused/refuse and certificate/certificates.
    """
    return word[:6] if len(word) <= 12 else word


# A version number after the word or the software it versions.
_VERSION: Final = re.compile(
    r"\b(?:version|ver\.?|release|php|python|ruby|perl|node(?:\.js)?|openssl|nginx|"
    r"apache|mysql|centos|ubuntu|debian)[\s/:-]*v?\d+(?:\.\d+)+",
    re.IGNORECASE,
)
# A source file's line number in a stack frame or trace ("Executors.java:515)",
# "smtp.rb:540:in", "connection.js:421:15").
_FRAME_LINE: Final = re.compile(
    r"\.(?:java|kt|scala|groovy|clj|cs|vb|py|rb|js|mjs|cjs|ts|go|php|ex|exs|erl|"
    r"swift|dart|pm)(?::\d+)+"
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Exact codes found in a paste: the strongest signals the matcher has."""

    reply_codes: frozenset[int]
    enhanced_codes: frozenset[str]
    pairs: frozenset[tuple[int, str]]
    hex_codes: frozenset[str]
    # 4xx/5xx codes written where a server's reply stands (``SERVER_REPLY_RE``).
    server_replies: frozenset[int] = frozenset()
    # 4xx/5xx codes introduced as codes (``WORDED_REPLY_RE``), or written with their
    # enhanced code: codes for certain, even when no table lists them.
    worded: frozenset[int] = frozenset()


def hex_codes(text: str) -> frozenset[str]:
    """The Outlook/Windows error numbers in ``text``, written 0x plus upper-case hex."""
    return frozenset("0x" + h[2:].upper() for h in HEX_RE.findall(text))


def find_evidence(text: str) -> Evidence:
    """Collect reply codes, enhanced status codes and Outlook hex codes from a text."""
    if ":" in text:
        # A stack frame's "File.java:515)" is a line number, not a reply.
        text = _FRAME_LINE.sub(" ", text)
    if "." in text:
        # "PHP Version 5.4.45", "OpenSSL 1.0.2" are versions, not enhanced codes.
        text = _VERSION.sub(" ", text)
    pairs = frozenset((int(r), e) for r, e in PAIR_RE.findall(text))
    enhanced = frozenset(".".join(m) for m in ENHANCED_RE.findall(text))
    replies = frozenset(int(c) for c in REPLY_RE.findall(text)) | {r for r, _ in pairs}
    hexes = hex_codes(text)
    worded = frozenset(int(c) for c in WORDED_REPLY_RE.findall(text)) | {
        r for r, _ in pairs if r >= 400
    }
    served = frozenset(int(c) for c in SERVER_REPLY_RE.findall(text)) | worded
    replies |= worded
    if "severity" in text:
        lettre = {
            int(_LETTRE_SEVERITY[a] + _LETTRE_CATEGORY[b] + _LETTRE_DETAIL[c])
            for a, b, c in LETTRE_CODE_RE.findall(text)
        }
        replies |= lettre
        served |= {r for r in lettre if r >= 400}
    if any(ch > "\u3000" for ch in text):
        written = {int(c) for c in CJK_REPLY_RE.findall(text)}
        replies |= written
        served |= written
    return Evidence(
        reply_codes=frozenset(replies),
        enhanced_codes=enhanced,
        pairs=pairs,
        hex_codes=hexes,
        server_replies=served,
        worded=worded,
    )


def _ipv6(match: re.Match[str]) -> str:
    """
    `` ip `` for a real IPv6 address with a digit in it, else the match as is.

    "::" alone is prose.
    """
    candidate = match.group(1)
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return match.group(0)
    return " ip " if any(c.isdigit() for c in candidate) else match.group(0)


def normalise(text: str) -> str:
    """
    Reduce a text to lower-case words only.

    Codes, addresses, names, ids, numbers and timestamps are removed.
    """
    if "=" in text:
        text = _LOG_KEYS.sub(" ", text)
    # Each pattern runs only when its tell-tale character is present: most log lines
    # lack several of them, and this is the matcher's hottest loop.
    if "://" in text:
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _EMAIL.sub(" email ", text)
    if ":" in text:
        text = _TIMESTAMP.sub(" ", text)
    if "." in text:
        text = _GSMTP.sub(" ", text)
        text = PAIR_RE.sub(" ", text)
        text = ENHANCED_RE.sub(" ", text)
        text = _IPV4.sub(" ip ", text)
    if text.count(":") >= 2:
        text = _IPV6.sub(_ipv6, text)
    if "." in text:
        text = _HOST.sub(" host ", text)
    text = _LONG_ID.sub(" ", text)
    # CamelCase identifiers read as words: TLSErrorAlertReceivedHandshakeFailure,
    # SmtpFailedRecipientException ("handshake failure", "failed recipient").
    text = _CAMEL_UPPER.sub(r"\1 \2", _CAMEL_LOWER.sub(r"\1 \2", text))
    text = _NUMBER.sub(" ", text)
    text = _NON_WORD.sub(" ", text.casefold().replace("_", " "))
    # "_" and non-ASCII letters hid some ids and numbers from \b above; drop them now
    # that only ASCII words are left, so that normalise(normalise(x)) == normalise(x).
    text = _NUMBER.sub(" ", _LONG_ID.sub(" ", text))
    text = text.replace("timed out", "timeout").replace("time out", "timeout")
    text = " ".join(_SYNONYMS.get(word, word) for word in text.split())
    return " ".join(_WRAPPERS.sub(" ", text).split()) if text else text


# A warning that a command or function is obsolete, printed while it still runs:
# PowerShell's for a cmdlet marked [Obsolete] ("WARNING: The command
# 'Send-MailMessage' is obsolete. This cmdlet does not guarantee secure connections to
# SMTP servers. ..."), Python's warnings module ("x.py:12: DeprecationWarning: ..."),
# Node's ("(node:123) [DEP0123] DeprecationWarning: ..."), PHP's ("PHP Deprecated:
# ..."). It names no failure, and its words (secure connections, SMTP servers) are not
# the error a paste is about.
_DEPRECATION_NOTICE: Final = re.compile(
    r"^(?:warning: the command '[^'\n]+' is obsolete\b|"
    r"(?:\S+:\d+: |\(node:\d+\) (?:\[\w+\] )?)?(?:\w+\.)*"
    r"(?:Pending)?DeprecationWarning: |"
    r"(?:PHP )?Deprecated: )",
    re.IGNORECASE,
)


def _is_notice(line: str) -> bool:
    """True for a deprecation or obsolescence warning (``_DEPRECATION_NOTICE``)."""
    return ("bsolete" in line or "eprecat" in line) and _DEPRECATION_NOTICE.match(
        line
    ) is not None


def _pieces(text: str) -> list[str]:
    """
    Split a paste into lines.

    JSON-escaped newlines are undone and very long lines are cut. Deprecation
    warnings are left out: they name no failure.
    """
    if "\\n" in text and text.count("\n") < 3:
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _is_notice(line):
            continue
        while len(line) > MAX_LINE:
            cut = line.rfind(" ", MAX_LINE // 2, MAX_LINE)
            cut = cut if cut > 0 else MAX_LINE
            lines.append(line[:cut])
            line = line[cut:].lstrip()
        lines.append(line)
    return lines


def _is_noise(line: str) -> bool:
    """A stack frame, a separator or a dependency path: never the error line itself."""
    head = line.lstrip()
    if head.startswith(_NOISE_STARTS) or "node_modules" in line:
        return True
    return (
        bool(_NOISE.search(line))
        if (
            "---" in head[:4]
            or "#" in head[:1]
            or "..." in head[:3]
            or ".java:" in line
        )
        else False
    )


def _coded_lines(lines: list[str], *, strict: bool = False) -> set[int]:
    """
    Indexes of the lines carrying a 4xx/5xx reply, an enhanced or a hex code.

    ``strict`` (long logs): a bare number counts only where a server's reply stands
    (``SERVER_REPLY_RE``), not "user 543 logged in".
    """
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    joined = "\n".join(lines)
    starts = [
        m.start()
        for m in _CODE_CUE.finditer(joined)
        if m.start() == 0
        or not (joined[m.start() - 1].isalnum() or joined[m.start() - 1] == ".")
    ]
    low = joined.lower()
    found = low.find("0x800")
    while found != -1:
        starts.append(found)
        found = low.find("0x800", found + 1)
    found_lines = {bisect.bisect_right(offsets, start) - 1 for start in starts}
    if strict:
        found_lines = {
            i
            for i in found_lines
            if "0x800" in lines[i].lower()
            or ENHANCED_RE.search(lines[i])
            or SERVER_REPLY_RE.search(lines[i])
        }
    return found_lines


# Lines of another protocol's log: an HTTP access line, nginx's upstream errors, an
# HTTPS client's pool. Their status numbers are no SMTP codes and their errors are
# not the mail error a long log was pasted for.
# nginx's mail proxy (ngx_mail): the listening port is a mail port.
_MAIL_PROXY: Final = re.compile(
    r"\bserver: [\w.\[\]:-]*:(?:25|465|587|2525|993|995|143|110)\b"
)
_OTHER_LINE: Final = re.compile(
    r'"(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS|CONNECT|PROPFIND) \S* ?HTTP/\d|'
    r"HTTPS?ConnectionPool\(|\bupstream(?::| prematurely| timed out| sent)|"
    r"while (?:connecting to|reading response header from|SSL handshaking)|"
    r'\brequest: "(?:GET|POST|PUT|HEAD)|\bclient: [\w.:\[\]]+, server: |'
    r"\bsshd\[\d+\]: "
)


def other_protocol_line(line: str) -> bool:
    """
    True for a line of an HTTP server's or client's log.

    nginx also proxies mail: its line for a mail port ("server: 0.0.0.0:993") is
    mail's.
    """
    return (
        ("HTTP" in line or "upstream" in line or "client: " in line or "sshd[" in line)
        and _OTHER_LINE.search(line) is not None
        and _MAIL_PROXY.search(line) is None
    )


# A log line at an informational level ("INFO", "level=info", pino's "level":30):
# routine, not the error a long log was pasted for.
_ROUTINE: Final = re.compile(
    r"\b(?:INFO|DEBUG|TRACE|NOTICE)\b|level=(?:info|debug)\b|\"level\":(?:10|20|30)\b"
)
# The start of a new log record (a timestamp, a syslog prefix, an access-log address,
# a JSON log object): not the continuation of the line before.
_RECORD_START: Final = re.compile(
    r"(?:\d{4}[-/]\d\d[-/]\d\d[T ]\d|[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d |"
    r"\d{1,3}(?:\.\d{1,3}){3} - |\{\"(?:level|time|ts|timestamp)\"|\[\d{4}-\d\d-\d\d)"
)


def _routine(line: str) -> bool:
    """True for a log line at an informational level (cheap substring test first)."""
    return (
        "INFO" in line
        or "DEBUG" in line
        or "TRACE" in line
        or "NOTICE" in line
        or "level" in line
    ) and _ROUTINE.search(line) is not None


# From this many lines on, routine lines without a code are not error candidates.
LONG_PASTE_LINES: Final = 60


@dataclass(frozen=True, slots=True)
class Selection:
    """The lines of a paste and the indexes of its most error-like ones."""

    lines: list[str]
    keep: list[int]

    def windows(self) -> list[str]:
        """
        The kept lines, each joined with a short continuation line.

        Messages wrapped over two lines thus still compare whole.
        """
        windows: list[str] = []
        for index in self.keep:
            line = self.lines[index]
            nxt = self.lines[index + 1] if index + 1 < len(self.lines) else ""
            if (
                nxt
                and len(line) + len(nxt) <= MAX_LINE
                and not _is_noise(nxt)
                and not other_protocol_line(nxt)
                and not _RECORD_START.match(nxt)
            ):
                windows.append(f"{line} {nxt}")
            else:
                windows.append(line)
        return windows

    def neighbourhoods(self, radius: int) -> list[str]:
        """
        Per kept line, the log record it belongs to, within ``radius`` lines.

        A record ends where the next one starts (a timestamp, a syslog prefix, a JSON
        log object): the log around an error is not part of it. Another protocol's
        log lines are left out too.
        """
        found: list[str] = []
        for index in self.keep:
            # Up to the line after the previous record's start: that start line may
            # be another program's record as well as this one's head.
            start = index
            while (
                start > max(0, index - radius)
                and not _RECORD_START.match(self.lines[start])
                and not _RECORD_START.match(self.lines[start - 1])
            ):
                start -= 1
            end = index + 1
            while end < min(
                len(self.lines), index + radius + 1
            ) and not _RECORD_START.match(self.lines[end]):
                end += 1
            near = [
                self.lines[i]
                for i in range(start, end)
                if i == index or not other_protocol_line(self.lines[i])
            ]
            found.append("\n".join(near))
        return found

    def around(self, radius: int) -> str:
        """The kept lines with ``radius`` lines either side: their local context."""
        picked: set[int] = set()
        for index in self.keep:
            picked.update(range(max(0, index - radius), index + radius + 1))
        return "\n".join(self.lines[i] for i in sorted(picked) if i < len(self.lines))


def select_lines(
    text: str,
    *,
    limit: int = MAX_LINES,
    cues: frozenset[str] | None = None,
    phrases: tuple[str, ...] = (),
) -> Selection:
    """
    The paste's lines and the ``limit`` most error-like, in paste order.

    ``cues`` replaces the words that mark an error line (the matcher adds its
    knowledge base's signal words to ``CUE_WORDS``); ``phrases`` are added to
    ``CUE_PHRASES``, the marks of a line in a script written without spaces (the
    matcher adds its knowledge base's signals in Chinese, Japanese and Korean:
    "积极拒绝" in a sentence around a stack trace). Lines of an HTTP log are passed
    over while other candidates exist.
    """
    words = CUE_WORDS if cues is None else cues
    marks = CUE_PHRASES + phrases
    lines = _pieces(text)
    long = len(lines) >= LONG_PASTE_LINES
    coded = _coded_lines(lines, strict=long)
    scored: list[tuple[int, int]] = []
    other: list[tuple[int, int]] = []
    for index, line in enumerate(lines):
        if _is_noise(line):
            continue
        if long and index not in coded and _routine(line):
            continue
        found = len(words.intersection(words_of(line.lower())))
        if not line.isascii() and UNSPACED.search(line):
            folded = line.casefold()
            found += sum(mark in folded for mark in marks)
        if index in coded:
            found += 2
        if found or len(lines) <= 3:
            (other if other_protocol_line(line) else scored).append((found, index))
    scored = scored or other
    if not scored and lines:
        scored = [(0, i) for i in range(min(len(lines), limit))]
    # Most cues first; among equals the earlier line (the message precedes its trace).
    keep = sorted(i for _, i in sorted(scored, key=lambda p: (-p[0], p[1]))[:limit])
    return Selection(lines, keep)


def error_lines(
    text: str, *, limit: int = MAX_LINES, cues: frozenset[str] | None = None
) -> list[str]:
    """
    The lines most likely to carry the error, in paste order (``select_lines``).

    Each is joined with a short continuation line so that messages wrapped over two
    lines still compare whole.
    """
    return select_lines(text, limit=limit, cues=cues).windows()
