"""
Secrets recognised wherever they stand in a line: private keys, SASL initial
responses, URL credentials, provider API keys and tokens, ``key = value`` settings,
command-line flags and credentials passed to mail libraries in code. Pure; no I/O.

Each pattern's ``hints`` are lower-case words its matches always contain: a pass runs
only when the case-folded text holds one, which keeps redaction cheap on the pastes
(most of them) that hold no secret at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot.redact.encoding import credential_like, wordlike
from bot.redact.tokens import key_like

REDACTED: Final = "[redacted]"
_MARK: Final = re.escape(REDACTED)

# RFC 7468 §2 armour around a private key (PKCS#1/#8, EC, DSA, OpenSSH, encrypted,
# PGP); a paste cut off before the END line loses everything after BEGIN.
_PEM: Final = re.compile(
    r"(-----BEGIN (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY(?P<block>(?: BLOCK)?)-----)"
    r"(?P<body>.*?)(?:(-----END (?P=kind)PRIVATE KEY(?P=block)-----)|\Z)",
    re.DOTALL,
)
# RFC 4954 §4: AUTH mechanism [initial-response]; the response is base64 (never a
# mechanism, nor the next AUTH of a pasted list).
MECHANISMS: Final = (
    r"(?:PLAIN|LOGIN|XOAUTH2?|OAUTHBEARER|CRAM-MD5|DIGEST-MD5|NTLM|GSSAPI|"
    r"SCRAM-SHA-(?:1|256|512)(?:-PLUS)?|PLAIN-CLIENTTOKEN|ANONYMOUS|EXTERNAL)"
)
_AUTH_INITIAL: Final = re.compile(
    rf"(?P<lead>\bAUTH[ \t]+{MECHANISMS}[ \t]+)"
    rf"(?!{MECHANISMS}\b|AUTH\b|-)(?P<value>[A-Za-z0-9+/_-]{{2,}}={{0,2}})",
    re.IGNORECASE,
)
# RFC 3986 §3.2.1 userinfo; the host starts after the last "@" before the path, so a
# user name or password holding "@" (an email address) is still split right. Pasted
# configuration often has "#" or "?" unencoded in the password: they count too.
_URL_USERINFO: Final = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]{1,15}://)(?P<userinfo>[^\s/<>\"'`]+)@"
    r"(?=[^\s/?#@<>\"'`]+)",
    re.IGNORECASE,
)
# A key is a whole token: it starts where no token character precedes it and, in the
# families with a fixed length, ends before the next one (a key may end in "-"), so
# that no family bites into a longer token and leaves the rest of it behind.
_START: Final = r"(?<![\w-])"
_END: Final = r"(?![\w-])"
# Provider keys and tokens, by the formats their issuers document (the same families
# detect-secrets' plugins and gitleaks' rules look for), each with the lower-case
# words its matches start with.
_TOKEN_FAMILIES: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    # Slack tokens, refresh tokens and incoming-webhook URLs.
    (("xox",), r"xox[abposre]-[A-Za-z0-9-]{8,}|xoxe\.xox[bp]-\d-[A-Za-z0-9-]{8,}"),
    (("xapp-",), r"xapp-\d-[A-Za-z0-9-]{8,}"),
    (
        ("hooks.slack.com",),
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+",
    ),
    # SendGrid; Brevo (Sendinblue) API and SMTP keys; Mailgun; Mandrill; Resend.
    (("sg.",), r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    (
        ("xkeysib-", "xsmtpsib-"),
        r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}" + _END,
    ),
    (("key-",), r"key-[0-9a-zA-Z]{32}" + _END),
    (("md-",), r"md-[A-Za-z0-9_-]{22}" + _END),
    (("re_",), r"re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}" + _END),
    # AWS access key ids.
    (
        ("akia", "asia", "a3t", "abia", "acca"),
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}" + _END,
    ),
    # GitHub, GitLab, npm and PyPI tokens.
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{30,}" + _END),
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{60,}" + _END),
    (
        ("glpat-", "gldt-", "glft-", "glrt-", "glsoat-"),
        r"gl(?:pat|dt|ft|rt|soat)-[\w-]{20,}",
    ),
    (("npm_",), r"npm_[A-Za-z0-9]{36}" + _END),
    (("pypi-",), r"pypi-AgE[A-Za-z0-9_-]{50,}"),
    # Google API keys, OAuth client secrets, access and refresh tokens (Gmail
    # XOAUTH2); Microsoft Entra client secrets.
    (("aiza",), r"AIza[0-9A-Za-z_-]{35}" + _END),
    (("gocspx-",), r"GOCSPX-[A-Za-z0-9_-]{28}" + _END),
    (("ya29.",), r"ya29\.[0-9A-Za-z_-]{20,}"),
    (("1//0",), r"1//0[0-9A-Za-z_-]{30,}"),
    (("q~",), r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    # JSON Web Tokens (Microsoft 365 OAuth access tokens among them).
    (("eyj",), r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    # Stripe, OpenAI.
    (("sk_", "rk_"), r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{24,}" + _END),
    (("sk-",), r"sk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
)
# Mailgun private API keys (hex-hex-hex) and Mailchimp keys (hex-usN): no fixed
# prefix, so a pass of their own behind a cheaper hint.
_HEX_KEYS: Final = re.compile(
    _START + r"[0-9a-f]{32}-(?:[0-9a-f]{8}-[0-9a-f]{8}|us\d{1,2})" + _END, re.IGNORECASE
)
# RFC 6750 §2.1 bearer tokens, RFC 7617 Basic credentials, and any Authorization or
# API-key header value.
_AUTHORIZATION: Final = re.compile(
    r"(?P<lead>\b(?:Bearer|Basic)[ \t]+|"
    r"\b(?:Proxy-)?Authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:Bearer |Basic |Token )?)"
    rf"(?!{_MARK})(?P<value>[A-Za-z0-9._~+/=-]{{8,}})",
    re.IGNORECASE,
)
# Names of settings whose value is a secret (key = value, key: value, "key": "value",
# 'key' => 'value', key value). "pass" covers password, passwd, smtp_pass, AuthPass.
SECRET_NAME: Final = re.compile(
    r"[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|credentials?|token|"
    r"(?:api|secret|private|access|auth|server|account|app|client|smtp|signing)"
    r"[_-]?key|apikey)[\w.-]*",
    re.IGNORECASE,
)
# Any "name = value" lead; the name is taken whole (possessively: no backtracking
# into a long word) and checked against SECRET_NAME, then the value is read after it.
_KEY_LEAD: Final = re.compile(
    r"""(?<![\w./\\-])(?P<name>[\w.-]++)["']?[ \t]*(?P<sep>=>|:=|[:=])[ \t]*"""
    r"""(?P<quote>["']?)"""
)
# A value: to the closing quote (backslash escapes allowed), or one unquoted word, or
# an app password as Google shows it (four groups of four letters) ending its line.
# Only after "=" does "&" end a value (the next parameter of a query string); a value
# may hold what an earlier pass redacted.
_APP_GROUPS: Final = r"[a-z]{4}(?: [a-z]{4}){3}(?=[ \t]*(?:[\r\n,;}]|$))|"
_VALUES: Final = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)+'),
    "'": re.compile(r"(?:[^'\\\n]|\\.)+"),
    "=": re.compile(_APP_GROUPS + rf"""(?:{_MARK}|[^\s"',;}}&)\]])+"""),
    ":": re.compile(_APP_GROUPS + rf"""(?:{_MARK}|[^\s"',;}})\]])+"""),
}
# An unquoted value that is a whole function or method call ("creds_key('gmail')",
# "os.getenv('SMTP_PASS')"), closed on its line and followed by a separator: code naming
# where the secret comes from, not a literal.
_CALL: Final = re.compile(r"[A-Za-z_][\w.]*\([^()\n]*\)(?=[\s,;)\]}]|$)")
KEY_HINTS: Final = ("pass", "pwd", "secret", "credential", "token", "key")
# Values after a secret-looking name that are SMTP codes, placeholders or prose.
NOT_SECRET: Final = re.compile(
    r"^(?:[2-5]\d\d|[245]\.\d{1,3}\.\d{1,3}|\*+|x+|\.+|<[^>]*>|"
    r"none|null|nil|undefined|true|false|yes|no|on|off|required|incorrect|invalid|"
    r"wrong|expired|empty|missing|blank|hidden|redacted|secret|password|changeme)$",
    re.IGNORECASE,
)
# Command-line flags that take a password: swaks --auth-password/-ap, sendEmail -xp,
# blat -pw, curl -u/--user user:password, msmtp/mutt style --passwd=.
_FLAGS: Final = re.compile(
    r"(?P<lead>(?<!\S)(?:--[\w-]*pass(?:word|wd)?|-ap|-xp|-pw)(?:=|[ \t]+)"
    r"(?P<quote>[\"']?))(?!{mark})(?P<value>[^\s\"']+)"
    r"|(?P<ulead>(?<!\S)(?:-u|--user)[ \t]+[\"']?[^\s:\"']+:)(?!{mark})"
    r"(?P<uvalue>[^\s\"']+)".replace("{mark}", _MARK)
)
FLAG_HINTS: Final = ("--", "-ap", "-xp", "-pw", "-u")
# Credentials passed positionally in code: .NET NetworkCredential and MailKit
# Authenticate, JavaMail PasswordAuthentication, Commons Email DefaultAuthenticator,
# Python smtplib login, Go smtp.PlainAuth (identity, user, password), PowerShell
# ConvertTo-SecureString; and API clients that take their key or server token first
# (Postmark's ServerClient / AccountClient / PostmarkClient / ApiClient.new, SendGrid's
# setApiKey and clients).
_CALLS: Final = re.compile(
    r"(?P<lead>\b(?:NetworkCredential|PasswordAuthentication|DefaultAuthenticator|"
    r"Authenticate(?:Async)?|login|setAuthentication)\(\s*"
    r"(?:\"[^\"\n]*\"|'[^'\n]*'|[\w.$]+)\s*,\s*(?P<quote>[\"']))"
    r"|(?P<glead>\bPlainAuth\(\s*(?:\"[^\"\n]*\"|'[^'\n]*')\s*,\s*"
    r"(?:\"[^\"\n]*\"|[\w.$]+)\s*,\s*(?P<gquote>[\"']))"
    r"|(?P<plead>\bConvertTo-SecureString\s+(?:-String\s+)?(?P<pquote>[\"']))"
    r"|(?P<klead>\b(?:(?:Server|Account|Postmark|Api)Client(?:\.new)?|setApiKey|"
    r"SendGrid(?:API)?Client)\(\s*(?P<kquote>[\"']))",
    re.IGNORECASE,
)
CALL_HINTS: Final = (
    "networkcredential(",
    "passwordauthentication(",
    "defaultauthenticator(",
    "authenticate(",
    "authenticateasync(",
    "login(",
    "setauthentication(",
    "plainauth(",
    "convertto-securestring",
    "client(",
    "client.new(",
    "setapikey(",
)


@dataclass(frozen=True, slots=True)
class Pass:
    """
    One substitution over the whole text, run when a hint word is present.
    """

    hints: tuple[str, ...]
    apply: Callable[[str], str]


def _pem(match: re.Match[str]) -> str:
    begin = match.group(1)
    end = f"-----END {match.group('kind')}PRIVATE KEY{match.group('block')}-----"
    return f"{begin}{REDACTED}{end}"


def _authorization(match: re.Match[str]) -> str:
    value = match.group("value")
    if wordlike(value) and not credential_like(value):
        return match.group(0)  # "basic authentication is disabled": prose
    return match.group("lead") + REDACTED


def _auth_initial(match: re.Match[str]) -> str:
    value = match.group("value")
    if wordlike(value) and not credential_like(value):
        return match.group(0)  # "AUTH PLAIN failed": prose, not a response
    return match.group("lead") + REDACTED


def _userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    user, colon, password = userinfo.partition(":")
    if colon and password and password != REDACTED:
        userinfo = f"{user}:{REDACTED}"
    elif not colon and key_like(user):
        userinfo = REDACTED  # a token used as the user name (https://TOKEN@host)
    return f"{match.group('scheme')}{userinfo}@"


def _flag(match: re.Match[str]) -> str:
    if match.group("ulead") is not None:
        return match.group("ulead") + REDACTED
    return match.group("lead") + REDACTED


def _call(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _CALLS.finditer(text):
        quote = next(q for q in match.group("quote", "gquote", "pquote", "kquote") if q)
        start = match.end()
        close = text.find(quote, start)
        if close == -1 or "\n" in text[start:close] or close == start:
            continue
        out.append(text[last:start])
        out.append(REDACTED if text[start:close] != REDACTED else REDACTED)
        last = close
    out.append(text[last:])
    return "".join(out)


def _key_values(text: str) -> str:
    out: list[str] = []
    last = 0
    for lead in _KEY_LEAD.finditer(text):
        if lead.start() < last or not SECRET_NAME.fullmatch(lead.group("name")):
            continue
        if text.startswith(REDACTED, lead.end()):
            continue
        kind = lead.group("quote") or ("=" if lead.group("sep") == "=" else ":")
        found = _VALUES[kind].match(text, lead.end())
        if found is None:
            continue
        value = found.group()
        if value.startswith(REDACTED) or NOT_SECRET.match(value.strip()):
            continue
        if not lead.group("quote") and _CALL.match(text, found.start()):
            # "credentials = creds_key(...)": code naming where the secret comes from;
            # a literal inside the call is read by the passes for literals.
            continue
        out += [text[last : lead.end()], REDACTED]
        last = found.end()
    out.append(text[last:])
    return "".join(out)


PASSES: Final = (
    Pass(("private key",), lambda t: _PEM.sub(_pem, t)),
    Pass(("auth",), lambda t: _AUTH_INITIAL.sub(_auth_initial, t)),
    Pass(("://",), lambda t: _URL_USERINFO.sub(_userinfo, t)),
    *(
        Pass(
            hints, functools.partial(re.compile(f"{_START}(?:{pattern})").sub, REDACTED)
        )
        for hints, pattern in _TOKEN_FAMILIES
    ),
    Pass(("-",), lambda t: _HEX_KEYS.sub(REDACTED, t)),
    Pass(
        ("bearer", "basic", "authorization"),
        lambda t: _AUTHORIZATION.sub(_authorization, t),
    ),
    Pass(KEY_HINTS, _key_values),
    Pass(FLAG_HINTS, lambda t: _FLAGS.sub(_flag, t)),
    Pass(CALL_HINTS, _call),
)
