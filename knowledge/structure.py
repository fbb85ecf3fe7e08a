"""
Structure first: what a paste is made of, read before any fuzzy matching.

The recogniser finds the pieces that say which kind of failure a paste shows, without
needing the exact sentence in the knowledge base:

- signals (``knowledge/signals/*.yaml``): errno names and numbers, TLS libraries'
  reason strings and alert names, exception classes, servers' reply texts, localised
  operating-system and client messages, each pointing to a category with a weight;
- error codes: RFC 5321 reply codes and RFC 3463 enhanced codes (IANA registry plus
  vendor extensions), each allowing a set of categories, most likely first;
- the protocol step the session stopped at ("in reply to RCPT TO", "MAIL FROM command
  failed", SMTPRecipientsRefused ...), which favours that step's categories;
- the transcript: an EHLO reply without STARTTLS before a client error means the
  server does not offer STARTTLS; a "220 Ready to start TLS" before a TLS error means
  the port was right and the handshake itself failed.

The result is a vote per category. The matcher adds it to the entries' fuzzy scores
and, when no entry is confident, answers from it. Pure and deterministic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Final

from knowledge.model import KnowledgeBase, Signal
from knowledge.normalize import UNSPACED as _UNSPACED
from knowledge.normalize import Evidence, words_of

# Each further signal of the same category counts this fraction of the one before.
DECAY: Final = 0.5
# The most a category gets from signals alone.
SIGNAL_CAP: Final = 60.0
# Code priors: the single category a code table names, then its candidates by rank.
CODE_CATEGORY: Final = 24.0
CODE_RANKS: Final = (14.0, 10.0, 8.0, 6.0, 5.0, 4.0, 3.0, 3.0)
# The protocol step a failure happened at, and a transcript's verdict.
STEP_BONUS: Final = 8.0
TRANSCRIPT_BONUS: Final = 34.0
# When the paste carries an error code, a category the code does not allow keeps this
# share of its signal vote (a TLS error after a "220 ready" keeps all of it).
OFF_CODE: Final = 0.6

_QUOTES: Final = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "\u00a0": " "})
_TOKEN: Final = re.compile(r"\w+")


_SPACES: Final = re.compile(r"\s+")
# Scripts written without spaces between words: their phrases are found as substrings.
# MTA log fields ("relay=", "status=") are structure of the log line, not words.
_LOG_FIELD: Final = re.compile(
    r"\b(?:to|from|relay|delay|delays|dsn|status|stat|orig_to|ctladdr|proto|helo|size|"
    r"nrcpt|conn_use|mailer|pri|msgid|tls|client|sasl_method|sasl_username)=",
    re.IGNORECASE,
)

# The SMTP command a failure answered, as MTAs, libraries and bounces name it.
_STEPS: Final = (
    (
        "rcpt",
        re.compile(
            r"in reply to (?:the )?rcpt to|after rcpt to|rcpt to command failed|"
            r"rcpt command failed|all recipients were rejected|recipients? refused|"
            r"smtprecipientsrefused|smtpaddressfailedexception|"
            # curl's smtp.c: "RCPT failed: 550".
            r"\brcpt failed: [45]\d\d|"
            r"smtpfailedrecipientexception|recipient address rejected|"
            r"<<< 5\d\d|rcpt to:<[^>]*>\s*:?\s*5\d\d|"
            # Go's net/smtp callers (Mailpit's relay): "error response to RCPT
            # command for <address>: 554 ...".
            r"response to (?:the )?rcpt command|"
            # swaks: " -> RCPT TO:<x>" then its error line "<** 550 ...".
            r"rcpt to:<[^>]*>\s*<\*\*\s*[45]\d\d",
            re.IGNORECASE,
        ),
    ),
    (
        "mail",
        re.compile(
            r"in reply to (?:the )?mail from|after mail from|mail from command failed|"
            r"mail command failed|smtpsenderrefused|smtpsenderfailedexception|"
            # curl's smtp.c: "MAIL failed: 530".
            r"\bmail failed: [45]\d\d|response to (?:the )?mail command|"
            r"sender address rejected|mail from:<[^>]*>\s*<\*\*\s*[45]\d\d",
            re.IGNORECASE,
        ),
    ),
    (
        "data",
        re.compile(
            r"in reply to (?:the )?end of data|in reply to (?:the )?data|"
            r"after end of data|after data|data end command failed|"
            r"data command failed|message failed: \d|smtpdataerror|"
            r"response to (?:the )?data command|"
            r"failed after i sent the message|(?:^|\s)-> \.\s*<\*\*\s*[45]\d\d",
            re.IGNORECASE,
        ),
    ),
    (
        "auth",
        re.compile(
            r"in reply to (?:the )?auth|after auth|auth command failed|"
            r"password command failed|username command failed|"
            r"smtpauthenticationerror|authenticationfailedexception|invalid login",
            re.IGNORECASE,
        ),
    ),
    (
        "connect",
        re.compile(
            r"in reply to (?:the )?(?:initial greeting|banner)|after (?:initial )?"
            r"connection|greeting:? 5\d\d|banner:? 5\d\d|smtpconnecterror|"
            r"refused to talk to me|"
            # Nodemailer: "Invalid greeting. response=554 ...".
            r"invalid greeting\. response=[45]\d\d",
            re.IGNORECASE,
        ),
    ),
    (
        "helo",
        re.compile(
            r"in reply to (?:the )?(?:ehlo|helo)|(?:ehlo|helo) command failed|"
            r"smtphelo ?error|invalid helo\. response=[45]\d\d",
            re.IGNORECASE,
        ),
    ),
)
_GREETING_REFUSED: Final = "refused to talk to me"
# A greeting that is an SMTP refusal ("Invalid greeting. response=554 ..."): the
# server spoke SMTP on that port, so the port and its TLS mode were right.
_GREETING_REPLY: Final = re.compile(r"invalid greeting\. response=[45]\d\d\b", re.I)


# Words one of each step's patterns always contains (lower-cased): a text without any
# of them cannot match, and a substring test is far cheaper than the search.
_STEP_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "rcpt": ("rcpt", "recipient", "<<<", "smtpaddressfailed"),
    "mail": ("mail", "sender"),
    "data": ("data", "message failed", "sent the message", "-> ."),
    "auth": ("auth", "password command", "username command", "invalid login"),
    "connect": ("greeting", "banner", "connection", "connecterror", "talk to me"),
    "helo": ("helo", "ehlo"),
}


def step_of(text: str) -> str | None:
    """The SMTP command a failure in ``text`` answered, as ``_STEPS`` names it."""
    low = text.lower()
    return next(
        (
            name
            for name, rx in _STEPS
            if any(word in low for word in _STEP_WORDS[name]) and rx.search(text)
        ),
        None,
    )


def names_step(text: str, step: str) -> bool:
    """True when ``text`` names a failure at ``step`` (one of ``_STEPS``)."""
    return any(rx.search(text) for name, rx in _STEPS if name == step)


_STEP_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "rcpt": ("recipient-unknown", "relay-denied", "mailbox-full", "rate-limited"),
    "mail": (
        "sender-not-permitted",
        "sender-authentication",
        "auth-required",
        "sender-blocklisted",
    ),
    "data": (
        "sender-blocklisted",
        "sender-authentication",
        "message-too-large",
        "mailbox-full",
    ),
    "auth": ("auth-failed", "auth-policy-blocked"),
    # A refused greeting: a listed or too busy client, or one without reverse DNS.
    "connect": ("sender-blocklisted", "rate-limited", "sender-authentication"),
    # A refused EHLO / HELO: the name the client gave, its reverse DNS, its listing.
    "helo": ("sender-authentication", "sender-blocklisted", "rate-limited"),
}

# EHLO keyword lines as transcripts print them: "250-STARTTLS", "S: 250-AUTH ...",
# "SERVER -> CLIENT: 250-SIZE", "< 250-8BITMIME", "reply: b'250-PIPELINING".
_EHLO_LINE: Final = re.compile(
    r"(?:^|[\s:>'\"=b\[])250[- ](?P<word>[A-Z0-9][A-Z0-9-]*)\b", re.MULTILINE
)
_EHLO_WORDS: Final = frozenset(
    {
        "PIPELINING",
        "SIZE",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "AUTH",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
        "BINARYMIME",
        "ETRN",
        "VRFY",
        "HELP",
        "STARTTLS",
        "X-EXPS",
        "XCLIENT",
        "XFORWARD",
        "DELIVERBY",
        "REQUIRETLS",
    }
)
_WANTS_TLS: Final = re.compile(
    r"starttls|\btls\b|\bssl\b|secure connection|encrypt|certificate", re.IGNORECASE
)
_WANTS_AUTH: Final = re.compile(
    r"\bauth|authenti|\blog ?in\b|password|uwierzyteln|аутентиф|авториз|认证|認証|登录",
    re.IGNORECASE,
)
# Roundcube's "SMTP Error (250): Authentication failed" (and its translations): the
# last reply was the EHLO's 250, which listed no AUTH, so no login was even tried.
_AUTH_FAILED_AT_EHLO: Final = re.compile(
    r"\(250\):?\s*[^\n]{0,12}?(?:\b(?:authenti|authentifi|autenti|uwierzyteln)|"
    r"аутентиф|авториз|认证|認証|验证)",
    re.IGNORECASE,
)
# A receiver's callout to the sender's own server failed (Exim, cPanel, Postfix).
_SENDER_CALLOUT: Final = frozenset(
    {
        "sender verify failed",
        "unable to verify sender address",
        "could not verify sender address",
        "sender verification failed",
    }
)
# "Does not exist" says what a recipient's server says of an unknown mailbox only when
# something in the paste makes it about a recipient: a server's reply code, a failure at
# RCPT, a recipient, mailbox, user or account named, or an address just before it. A
# local message ("Failed to create e-mail address for ... File ... does not exist",
# Jenkins email-ext's list of unparsable words) speaks of a file, a key, a path.
_EXISTENCE: Final = re.compile(
    r"\bdoes\W{1,3}not\W{1,3}exist|\bdoesn'?t\W{1,3}exist|existiert nicht|"
    r"n'existe pas|\bno existe|não existe|не существует|nie istnieje|不存在|"
    r"存在しません",
    re.IGNORECASE,
)
_RECIPIENT_WORDS: Final = re.compile(
    r"recipient|\brcpt|mailbox|inbox|\busers?\b|\busername|\baccount|addressee|"
    r"(?:address(?:es)?|@[\w.-]+\.[a-z]{2,}>?)\W{1,3}(?:does|doesn)|"
    r"empfänger|postfach|benutzer|destinataire|utilisateur|boîte|compte|usuario|"
    r"usuário|buzón|caixa|cuenta|\bconta\b|destinat[aá]rio|получател|пользовател|"
    r"ящик|учетн|учётн|odbiorc|użytkownik|skrzynk|konto|用户|收件人|邮箱|帐户|账户|"
    r"账号|地址不存在|宛先|ユーザ|メールボックス|アカウント",
    re.IGNORECASE,
)
# AUTH listed after all (however the paste marks it up), or a login the server answered.
_LOGIN_ANSWERED: Final = re.compile(r"250[- ]AUTH\b|\b(?:334|235|535)\b")
_READY_FOR_TLS: Final = re.compile(
    r"\b220[ -](?:2\.0\.0 )?(?:ready to start tls|start tls|go ahead|ready for tls|"
    r"begin tls negotiation|"
    r"tls go ahead)|"
    # Any 220 reply within two lines after the client's STARTTLS command.
    r"(?<![\w-])STARTTLS[ \t'\"\\rn]*$(?:\n[^\n]*){0,2}?\n[^\n]*?(?<![\d.])220[ -]",
    re.IGNORECASE | re.MULTILINE,
)
# A DNS call that failed with an errno ("queryA ETIMEOUT", "getaddrinfo EAI_AGAIN",
# "lookup smtp.x on 10.0.0.2:53: read: connection refused"): the name did not
# resolve, whatever the errno says about the DNS server's socket.
_DNS_CALL: Final = re.compile(
    r"\b(?:query(?:a|aaaa|mx|any|srv|txt)?|getaddrinfo|gethostbyname|getHostByName|"
    r"resolve[46]?|lookup \S+ on \S+)\s*:?\s+(?:e[a-z_]+\b|read\b|dial )|"
    # Go's resolver without the server's address: "dial tcp: lookup smtp.x.com: i/o
    # timeout" (the name lookup, not the connection, timed out).
    r"\bdial (?:tcp|udp)[46]?: lookup [\w.-]+: (?:i/o timeout|server misbehaving)",
    re.IGNORECASE,
)
DNS_CALL_WEIGHT: Final = 34.0
# A host lookup that failed or did not complete (Exim's "host lookup did not complete",
# GNOME/Evolution's "Host lookup 'x' failed", Sendmail's "host map: lookup (x):
# deferred"), a domain with no MX records ("No MX records were found for the 'x'
# domain" in servers' bounces; "mx记录查询失败"), sendmail's exit status for an unknown
# host as mutt reports it, is a name that did not resolve.
_HOST_LOOKUP: Final = re.compile(
    r"\bhost ?lookup\b[^\n]{0,80}?\b(?:failed|did not complete)|"
    r"\bhost map: lookup \([^)\n]*\): deferred|"
    r"\bno MX records? (?:were |was )?found\b|"
    r"mx ?记录(?:查询|解析)失败|"
    # mutt and other callers of sendmail(8): its exit status EX_NOHOST (68,
    # sysexits.h) "Host unknown.".
    r"\bchild exited 68 \(host unknown\.?\)",
    re.IGNORECASE,
)
# Microsoft's IMAP and POP servers (Exchange Online, Outlook.com) take no password
# login any more: Basic authentication for IMAP and POP was retired in Exchange Online
# from October 2022 and for Outlook.com personal accounts in September 2024, so their
# "LOGIN failed" answers a policy, whatever the password (unless the client sent an
# OAuth token).
_MICROSOFT_MAILBOX_HOST: Final = re.compile(
    r"\b(?:outlook\.office365\.com|outlook\.office\.com|(?:imap|pop)-mail\.outlook\.com)\b",
    re.IGNORECASE,
)
_MAILBOX_LOGIN_FAILED: Final = re.compile(
    r"\b(?:LOGIN|AUTHENTICATE) failed\b|-ERR (?:Logon failure|Authentication failed)",
    re.IGNORECASE,
)
_OAUTH_LOGIN: Final = re.compile(
    r"AUTHENTICATE XOAUTH2|\b(?:auth|authmech) \[XOAUTH2\]", re.IGNORECASE
)
# Windows' refused logon (Exchange's POP3 and IMAP4 services) names an "unknown user
# name": the login's, not a recipient's.
_LOGON_FAILURE: Final = re.compile(
    r"logon failure: unknown user name or bad password|"
    # PAM's and Dovecot's authentication log: the login name is unknown
    # ("pam_unix(dovecot:auth): check pass; user unknown", "passwd-file(x,1.2.3.4):
    # unknown user").
    r"check pass; user unknown|"
    r"\b(?:pam|passwd-file|passwd|shadow|sql|ldap)\([^)\n]*\): unknown user\b",
    re.IGNORECASE,
)
# An IMAP server refusing a login in its tagged reply ("a1 NO LOGIN failed.", "3 NO
# AUTHENTICATE failed.", "a NO LOGIN Login error or password error") or with RFC 5530's
# response code ("[AUTHENTICATIONFAILED] Invalid credentials"): the credentials.
_IMAP_LOGIN_REFUSED: Final = re.compile(
    r"\bNO (?:\[[A-Z]+\] )?(?:LOGIN|AUTHENTICATE)\b[^\n]{0,20}?\b(?:failed|fail|error)|"
    r"\[AUTHENTICATIONFAILED\]",
    re.IGNORECASE,
)
# Outbound port 25 closed by the network the sender is on, as people and providers
# say it: cloud providers block TCP 25 outbound by default (Alibaba Cloud ECS
# "默认封禁TCP 25端口出方向", Tencent Cloud "25端口解封", AWS EC2, Azure, Google Cloud),
# Japanese ISPs practise OP25B (Outbound Port 25 Blocking). Port and verb come in either
# order, with the verb's particles and a "number" counter between ("25号端口被封",
# "禁用了25端口", "25端口不通", "port 25 is blocked by my ISP"), in the languages the
# pastes come in ("blocage du port 25", "puerto 25 bloqueado", "Port 25 gesperrt",
# "порт 25 заблокирован", "port 25 zablokowany"); Alibaba Cloud's notice that new
# servers "不再提供25端口邮件服务" (no longer offer port 25 mail service).
_PORT_25: Final = (
    r"(?:port|puerto|porta|порт[аеу]?|porcie)\s*(?:tcp\s*)?25|25\s*号?\s*端口|"
    r"25 port\b|端口\s*25|25\s*番?ポート|ポート\s*25"
)
_PORT_BLOCKED: Final = re.compile(
    r"(?:封禁|封锁|封|屏蔽|禁用|禁止|关闭|限制|不开放|不再提供|不提供|拦截|解封|block(?:s|ed|ing)?|"
    r"close[sd]?|filter(?:s|ed)?|restrict(?:s|ed)?|blocage d[ue]s?|"
    r"bloqu\w* (?:d[eo]l?|da)|bloqueio d[ao]|sperr\w*|blockier\w*|блокир\w*|"
    r"заблокир\w*|blokad\w*|"
    r"zablokow\w*)\s*(?:了|掉)?\s*"
    r"(?:所有的?|出方向的?|对外的?|外发的?|the |outbound |outgoing |traffic on |"
    r"connections (?:on|to) |sortant |saliente |de saída |ausgehenden? |исходящ\w* )*"
    rf"(?:tcp\s*)?(?:{_PORT_25})(?!\d)|"
    rf"(?:{_PORT_25})(?![\d.:])"
    r"[^\n。;]{0,20}?"
    r"(?:被封|封禁|封了|被屏蔽|屏蔽|禁用|被禁|被限制|限制|"
    r"不通|关闭|不开放|被拦截|不可用|不能用|无法使用|用不了|"
    r"ブロック|制限|遮断|is (?:being )?blocked|blocked|is closed|"
    r"filtered|bloqué|bloquée|bloqueado|bloqueada|blockiert|gesperrt|"
    r"заблокирован\w*|закрыт\w*|zablokowan\w*)|"
    r"(?<![A-Za-z0-9])OP25B(?![A-Za-z0-9])|Outbound Port 25 Blocking",
    re.IGNORECASE,
)
# A port that does not answer at all, written as people write it ("端口不通": the
# port is unreachable; "端口连不上", no connection to the port).
_PORT_UNREACHABLE: Final = re.compile(
    r"端口不通|端口连不上|端口无法连接|ポートに接続できない"
)
PORT_BLOCKED_WEIGHT: Final = 30.0
# A connection to this machine itself that failed: nothing listens there (loopback
# connections are refused at once, they do not time out).
_LOOPBACK_FAILURE: Final = re.compile(
    r"(?:(?:couldn'?t|could not|failed to|unable to|cannot) connect|"
    # SwiftMailer/Symfony: "Connection could not be established with host localhost".
    r"connection could not be established with host)[^\n]{0,60}?"
    r"(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[?::1\]?)\b",
    re.IGNORECASE,
)
LOOPBACK_WEIGHT: Final = 30.0
# STARTTLS configured for the implicit-TLS port, or implicit TLS for a STARTTLS port:
# the two ends will not agree on who speaks TLS first.
_MODE_MISMATCH: Final = re.compile(
    r"starttls[^\n]{0,60}?[:= ,]465\b|\b465\b[^\n]{0,60}?starttls|"
    # (curl's --ssl and --ssl-reqd ask for STARTTLS on smtp://, right on 587.)
    r"(?:(?<!--)\bssl\b(?!-reqd)|\bsmtps\b|secure\W{1,3}true|implicit)"
    r"[^\n]{0,60}?[:= ,]587\b|"
    # (An "SSL certificate problem" or "SSL routines" error after the port is a
    # library's message, not a setting.)
    r"\b587\b[^\n]{0,60}?(?:(?<!--)\bssl\b(?!-reqd|[ \t]{1,3}(?:certificate|routines|"
    r"handshake|operation|peer|alert|problem|library|negotiation)\b)|"
    r"\bsmtps\b|secure\W{1,3}true)|"
    # PHP stream and URL schemes: tls:// and ssl:// are TLS from the first byte.
    # (OpenSMTPD's smtp+tls:// is STARTTLS, right on 25 and 587; its smtps:// is
    # implicit TLS.)
    r"(?<![\w+])(?:ssl|tls|smtps)://[\w.-]+:(?:587|25)\b|"
    # A configuration's host given as ssl://, its port on a later line.
    r"\b(?:ssl|smtps)://[\w.-]+['\"]?(?:[^\n]*\n){0,4}?[^\n]*\bport\W{1,6}(?:587|25)\b|"
    r"\bprotocol\W{1,3}smtps\b(?:[^\n]*\n){0,3}?[^\n]*\bport\W{1,3}(?:587|25)\b|"
    # Python smtplib: the plaintext class on the implicit-TLS port, the TLS class on
    # a STARTTLS port.
    r"\bsmtp\(\s*['\"]?[\w.-]+['\"]?\s*,\s*(?:port\s*=\s*)?465\b|"
    r"\bsmtp_ssl\(\s*['\"]?[\w.-]+['\"]?\s*,\s*(?:port\s*=\s*)?(?:587|25)\b|"
    # Elixir/Erlang gen_smtp: tls: :always is STARTTLS, wrong on port 465.
    r"\b465\b(?:[^\n]*\n){0,4}?[^\n]*\btls:\s*:always|"
    r"\btls:\s*:always(?:[^\n]*\n){0,4}?[^\n]*\b465\b",
    re.IGNORECASE,
)
MODE_WEIGHT: Final = 20.0
# The wrong service or the wrong mode seen from the other end of the connection: an
# IMAP or POP3 server's greeting where an SMTP reply was expected ("short response: *
# OK [CAPABILITY IMAP4rev1 ...] Dovecot ready", RFC 9051 §7.1.1, RFC 1939 §4); an MTA
# that read a TLS ClientHello as commands (Exim's "too many syntax or protocol errors
# (last command was "\026\003...")", Postfix's "improper command pipelining" or
# "non-SMTP command" with binary bytes); .NET SmtpClient's "Syntax error, command
# unrecognized" with no server text, what it prints when its plaintext EHLO reached a
# port that speaks TLS first.
# Each of _WRONG_SERVICE's patterns contains one of these (lower-cased).
_WRONG_SERVICE_WORDS: Final = (
    "* ok",
    "[capability imap4",
    "+ok",
    "syntax",
    "non-smtp",
    "pipelining",
    "\\026",
    "\\x16",
)
_WRONG_SERVICE: Final = re.compile(
    r"(?:response|reply|greeting|banner|got|received)\W{0,5}\* ok\b|"
    r"\* ok \[capability imap4|"
    # The same greeting's capability list as an SMTP client's error shows it
    # (smtplib's SMTPConnectError(-1, b'[CAPABILITY IMAP4rev1 ...')).
    r"(?:-1|error|response|reply|greeting)\W{0,3}b?\W{0,3}\[capability imap4|"
    r"(?:response|reply|greeting|banner)\W{0,5}\+ok\b|"
    r"(?:syntax or protocol errors|non-smtp command|improper command pipelining)"
    r"[^\n]{0,60}?(?:\\\d{3}|\\x[0-9a-f]{2}|\\[btvf])|"
    r"syntax error, command unrecognized\.?[ \t]*"
    r"(?:$|the server response was:?[ \t]*'?[ \t]*(?:$|'))|"
    # A TLS record's first bytes (handshake, version 3.x) logged, escaped, by a
    # plaintext SMTP server: Exim's "input=\"\026\003\001\"", "\x16\x03\x01".
    r"\\026\\003\\00[0-4]|\\x16\\x03\\x0[0-4]",
    re.IGNORECASE | re.MULTILINE,
)
# gen_smtp_client's refusal to go on without a feature the server did not offer
# (gen-smtp/gen_smtp src/gen_smtp_client.erl: throw({missing_requirement, Host, tls})
# when the options say tls: always and the EHLO reply lists no STARTTLS), as Erlang and
# Elixir print the tuple: '{missing_requirement,"smtp.example.org",tls}',
# '{:missing_requirement, "smtp.example.org", :tls}'.
_GEN_SMTP_NO_TLS: Final = re.compile(
    r"\{:?missing_requirement,\s*['\"][^'\"\n]*['\"],\s*:?tls\}"
)
# A web server's refusal of a request body as too large (RFC 9110 §15.5.14: 413
# Content Too Large, "Request Entity Too Large" in RFC 2616 and nginx's error page,
# "Payload Too Large" in RFC 7231 and Express's body parser). Said to a program that
# sends mail (a mail provider's HTTP API, its client library), it refuses the message's
# size.
_HTTP_TOO_LARGE: Final = re.compile(
    r"\b413\W{1,3}(?:request entity|payload|content) too large\b|"
    r"\b(?:request entity|payload) too large\b[^\n]{0,80}\b413\b",
    re.IGNORECASE,
)
# The same disagreement in a settings block, the mode and the port on lines of their
# own ("Port: 587" then "Encryption: SSL"; 'smtp_host' => 'ssl://...' then
# 'smtp_port' => 587; MAIL_ENCRYPTION=ssl beside MAIL_PORT=587; CDO's smtpusessl,
# which is implicit TLS, beside smtpserverport 587): implicit TLS named, and the
# STARTTLS port given as the port, within a few lines of each other. (.NET's EnableSsl
# is STARTTLS, right on 587.)
_IMPLICIT_SETTING: Final = (
    r"(?:\bssl://|\bsmtps://|(?:\b|_)encryption\W{1,4}ssl\b|\bsmtp_?crypto\W{1,6}ssl\b|"
    r"\bsecurity\W{1,4}ssl\b|(?:\b|_|smtp)use_?ssl\W{1,6}true\b|"
    # JavaMail's property (also as an XML entry's key and value).
    r"\bssl\.enable\W{1,6}true\b)"
)
_STARTTLS_PORT: Final = r"(?:\b|_|server|smtp)port\W{1,6}587\b"
# Plaintext first (nodemailer's and its wrappers' secure: false) on the implicit-TLS
# port.
_PLAIN_SETTING: Final = (
    r"(?:\bsecure\W{1,3}false\b|(?:\b|_|smtp)use_?ssl\W{1,6}false\b)"
)
_IMPLICIT_PORT_SETTING: Final = r"(?:\b|_|server|smtp)port\W{1,6}465\b"
_SETTINGS_MISMATCH: Final = re.compile(
    rf"{_IMPLICIT_SETTING}(?:[^\n]*\n){{0,6}}?[^\n]*{_STARTTLS_PORT}|"
    rf"{_STARTTLS_PORT}(?:[^\n]*\n){{0,6}}?[^\n]*{_IMPLICIT_SETTING}",
    re.IGNORECASE,
)
_PLAIN_ON_IMPLICIT: Final = re.compile(
    rf"{_PLAIN_SETTING}(?:[^\n]*\n){{0,6}}?[^\n]*{_IMPLICIT_PORT_SETTING}|"
    rf"{_IMPLICIT_PORT_SETTING}(?:[^\n]*\n){{0,6}}?[^\n]*{_PLAIN_SETTING}",
    re.IGNORECASE,
)
# A plaintext client on an implicit-TLS port (465, and 994 where some providers offer
# SMTPS) connects, then waits for a greeting the server never sends, because the server
# waits for the client's TLS hello: a read timeout, an EOF, JavaMail's "response: -1" or
# its debug line "port 465, isSSL false". The TCP connection was made, so the port is
# not blocked and the timeout is no connection timeout.
_IMPLICIT_PORT: Final = re.compile(
    r"(?:[:=\s,\[\"'(]|\bport\W{1,3})(?:465|994|993|995)\b(?![.:]\d)", re.IGNORECASE
)
_NO_GREETING: Final = re.compile(
    r"\bEOF(?:Error)?\b|\bread timed? ?out|ReadTimeout|exception reading response|"
    # PHPMailer's debug output of an empty read: the greeting never came.
    r"smtp inbound: \"\"|"
    # A client's own words for a greeting that never came.
    r"\b(?:waiting for|wait for|reading) (?:the )?(?:server'?s? |smtp )?greeting|"
    r"\bgreeting (?:timeout|timed out)|"
    r"response: -1|isSSL false|greeting never received|no greeting|end of file reached|"
    # Python smtplib: the server closed while the client waited for its greeting.
    r"connection unexpectedly closed|"
    # SwiftMailer's StreamBuffer when a read times out on a plain tcp:// stream.
    r"connection to tcp://\S+ timed out|"
    # PEAR Net_SMTP (Roundcube, Horde) when the server sent nothing: code -1, empty.
    r"\(code: -1, response: ?\)|"
    # .NET SmtpClient has no implicit TLS: on 465 it times out waiting.
    r"operation has timed out|"
    # Go's net: a read (not a dial) that timed out; curl's transfer timeout after
    # connecting, nothing received.
    r"\bread tcp [^\n]*?: i/o timeout|with 0 bytes received",
    re.IGNORECASE,
)
# The read that timed out or met EOF was the greeting's, as the client's stack says (no
# port needed): JavaMail's readServerResponse called from openServer; Ruby net/smtp's
# recv_response from the block in do_start. A server that accepts the connection and
# says nothing is, for a mail client, most often an implicit-TLS port waiting for the
# client's TLS hello.
_GREETING_READ: Final = re.compile(
    r"readServerResponse\([^)\n]*\)\s+at com\.sun\.mail\.smtp\.SMTPTransport\."
    r"openServer|"
    r"in .recv_response.\s+from [^\n]*\bin .block in do_start.",
    re.IGNORECASE,
)
# The same in one phrase: aiosmtplib's greeting timeout; Net::SMTP's constructor, whose
# $@ is "Net::SMTP: " and the greeting's status (Net::Cmd's "[Net::SMTP] Timeout");
# PHPMailer's debug output with an empty greeting before its connect() gives up.
_GREETING_MISSING: Final = re.compile(
    r"timed out waiting for server ready message|"
    r"\bnet::smtp: 421 \[net::smtp\] timeout|"
    r"server -> client:[ \t]*\n[^\n]*could not connect to smtp host",
    re.IGNORECASE,
)
NO_GREETING_WEIGHT: Final = 34.0
# What still says the TCP connection itself timed out (not a read after connecting).
_CONNECT_TIMEOUT: Final = re.compile(
    r"connect(?:ion)? timed out|etimedout|10060|errno 110|no route|unreachable",
    re.IGNORECASE,
)
_AFTER_READY: Final = re.compile(
    r"enable_?crypto|handshake|ssl routines|reset by peer|certificate|ssl: |tls: |"
    # PHPMailer before 6 reports a failed handshake after STARTTLS this way.
    r"could not connect to smtp host|"
    # The client's own words for a TLS layer that did not come up (Manuel Lemos'
    # smtp class: "could not start TLS connection encryption protocol"), or PHP's
    # crypto method constant it names.
    r"(?:could not|couldn'?t|unable to|failed to|cannot) (?:start|establish) "
    r"(?:the )?(?:tls|ssl)\b|stream_crypto_method",
    re.IGNORECASE,
)
# Asking for or about the client's own transcript: debug output, a logger, a verbose
# mode, a protocol log. Written as words, not as a log line's level ("DEBUG --").
# Chinese and Japanese write no spaces: a word glued to their text ("有没有Debug输出",
# "SMTPのデバッグログ") still stands on its own; "debug" there (调试, デバッグ) is
# always one, while "log" (日志, ログ) is a word of many compounds ("日志发送失败",
# the log's sending failed) and counts glued only where it is output, shown, turned
# on or asked about ("详细日志", "日志输出", "ログを出力").
_CJK: Final = r"\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef"
_LOGGING_INTENT: Final = re.compile(
    rf"(?<![^\W{_CJK}])(?<!\.)"
    r"(?:[Dd]ebug(?:g?ing|level|_?output| output| mode| option| info)?|"
    r"smtp_?debug|SMTPDebug|smtpDebug|mail\.debug|set_debuglevel|debuglevel|"
    r"[Ll]ogg(?:ing|er)|[Vv]erbose|transaction log|protocol log|session log|"
    # MailKit's protocol logger classes (ProtocolLogger, IProtocolLogger).
    r"I?ProtocolLogger|"
    r"[Pp]rotokollierung|[Jj]ournalisation|depuración|registro de depuración|"
    r"отладк\w*|логирован\w*|debugowani\w*|logowani\w*|调试|デバッグ)"
    rf"(?![^\W{_CJK}]|=)|"
    r"(?<![\w.])(?:日志|ログ)(?![\w=])|"
    r"(?:详细|调试|查看|开启|打开|启用|输出|有没有|没有|詳細|デバッグ)日志|"
    r"日志(?:输出|文件|信息|级别|模式|在哪|怎么|吗)|"
    r"(?:詳細|デバッグ|SMTP|通信)ログ|ログ(?:を?出力|を表示|を確認|を見|を有効|ファイル|レベル)"
)
LOGGING_WEIGHT: Final = 30.0
# A signal of this weight decides by itself (docs/knowledge.md).
DECISIVE_SIGNAL: Final = 30.0
_CONNECT_FAILURES: Final = frozenset({"connection-refused", "connection-timeout"})
# "Quota" is a mailbox's storage or a sender's allowance; the words around it tell:
# a sending allowance is counted per day, per hour, in messages or recipients, or
# named as sending, submission, relay or queue (or, for a mail account, as commands or
# bandwidth); a mailbox's is storage, disk, space.
_QUOTA: Final = re.compile(
    r"quota|配额|限额|квот|kontingent|cuota|\bcota\b|контингент", re.IGNORECASE
)
_SENDING_WORDS: Final = re.compile(
    r"\bdaily\b|per (?:day|hour|minute)|\bhourly|\bsending\b|\bsubmission|\bqueue\b|"
    r"\brelay\b|\boutbound|\brecipients\b|\bmessages per|\brate\b|"
    # An account's use of a service, not its storage: Gmail IMAP's "[OVERQUOTA]
    # Account exceeded command or bandwidth limits".
    r"\bbandwidth\b|\bcommand (?:or bandwidth )?limits?\b|"
    r"每天|每日|当日|当天|每小时|发送|发信|收件人数|в день|в сутки|отправ|"
    r"täglich|pro tag|versand|sende|par jour|d'envoi|por día|de envío|diári|de envio|"
    r"dzienn|wysył",
    re.IGNORECASE,
)
_STORAGE_WORDS: Final = re.compile(
    r"mailbox|inbox|storage|\bdisk\b|\bspace\b|\bfull\b|\d\s*[mg]i?b\b|"
    r"邮箱已满|已满|容量|空间|ящик|postfach|speicher|boîte|buzón|caixa|skrzynk",
    re.IGNORECASE,
)
QUOTA_WINDOW: Final = 80
QUOTA_WEIGHT: Final = 34.0
# System.Net.Mail.SmtpException's text for a 530-class reply, followed by the reply
# itself ("The server response was: 5.7.0 Authentication Required"), in the languages
# .NET ships.
_DOTNET_WRAPPER: Final = re.compile(
    r"[^.\n]{0,120}?(?:requires a secure connection|erfordert eine sichere Verbindung|"
    r"requiert une connexion sécurisée|requiere una conexión segura|"
    r"requer uma conexão segura)[^.\n]{0,120}\.\s*(?=[^.\n]{0,40}(?:"
    r"server response was|Serverantwort|réponse du serveur|respuesta del servidor|"
    r"resposta do servidor))",
    re.IGNORECASE,
)
# The phrase every match of _DOTNET_WRAPPER holds: looked for first, because the
# wrapper's leading context makes a search of it cost about 100 times more.
_DOTNET_PHRASE: Final = re.compile(
    r"requires a secure connection|erfordert eine sichere Verbindung|"
    r"requiert une connexion sécurisée|requiere una conexión segura|"
    r"requer uma conexão segura",
    re.IGNORECASE,
)
# The signal family of connect-failure messages that give no reason
# (knowledge/signals/wrappers.yaml).
WRAPPER: Final = "wrapper"
# JavaMail's startTLS wrapper around a read that timed out: the connection was made, the
# server accepted STARTTLS, and the handshake after it stalled (a middlebox that
# swallows TLS, a server whose TLS layer hangs). The timeout is the handshake's, not
# the connection's.
_TLS_UPGRADE_STALLED: Final = re.compile(
    r"could not convert socket to tls[\s\S]{0,300}?"
    r"(?:read timed out|sockettimeoutexception(?!: connect))",
    re.IGNORECASE,
)
_WRAPPER_CATEGORIES: Final = frozenset({"connection-timeout"})
# The client ran out of its own resources (file descriptors, socket buffers): EMFILE,
# ENFILE, ENOBUFS (POSIX errno.h; Linux errno 24, 23, 105), WinSock WSAENOBUFS 10055.
# No connection was refused or timed out and no server limited anything: the failure
# is local, whatever connect or lookup call it surfaced in ("connect EMFILE",
# "getaddrinfo ENOBUFS").
_LOCAL_RESOURCE: Final = re.compile(
    r"\b(?:EMFILE|ENFILE|ENOBUFS|WSAENOBUFS)\b|too many open files|"
    r"no buffer space available|\[Errno (?:23|24|105)\]|\berror 10055\b|"
    r"file table overflow",
    re.IGNORECASE,
)
_LOCAL_EXPLAINS: Final = frozenset(
    {"connection-refused", "connection-timeout", "dns-failure", "rate-limited"}
)
# The generic verification failure and the specific reasons that explain it.
_VERIFY_FAILED: Final = frozenset(
    {
        "certificate verify failed",
        "certificate_verify_failed",
        "the certificate is not trusted",
        # GnuTLS's GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, printed whatever the reason.
        "error in the certificate verification",
        "ssl certificate could not be validated for the following reasons",
        # .NET's SslStream, whatever the validation callback disliked.
        "remote certificate is invalid according to the validation procedure",
    }
)
_CERT_REASONS: Final = frozenset({"tls-cert-expired", "tls-cert-hostname"})
# A client's generic words for a failed TLS session, followed by the TLS library's own
# reason: msmtp's "TLS handshake failed: %s", Exim's "TLS error on connection
# (gnutls_handshake): %s", mutt's "gnutls_handshake: %s", curl's "gnutls_handshake()
# failed: %s", "SSL_connect failed: %s". The reason after the colon is the answer.
_TLS_WRAPPER: Final = re.compile(
    r"(?:\bTLS error on connection(?: \([\w ]+\))?(?: \([\w ]+\))?"
    r"|\bgnutls_handshake(?:\(\))?(?: failed)?"
    # Postfix's own wrapper around OpenSSL's queue (tls_misc.c).
    r"|\bTLS library problem"
    r"|\b(?:SSL_connect|SSL_accept|TLS negotiation|STARTTLS negotiation|TLS"
    r"|SSL/TLS|SSL) (?:handshake )?failed)[ \t]*[:,][ \t]*(?P<reason>[^\n]+)",
    re.IGNORECASE,
)
# Postfix trusted the chain and still could not verify the certificate: the name did
# not match (smtp(8) logs "Trusted TLS connection established", then defers with
# "Server certificate not verified").
_TRUSTED_NOT_VERIFIED: Final = re.compile(
    r"(?<!un)trusted TLS connection established[\s\S]{0,600}?"
    r"server certificate not verified",
    re.IGNORECASE,
)
# A client's "authentication failed" around the server's reply, and the replies that do
# refuse a login (RFC 4954: 535, 534, 538, 454; 530 asks for it; 500-504 reject AUTH).
_AUTH_WRAPPER: Final = re.compile(
    r"authentication failed\W{0,3}(?P<code>[45]\d\d)\b", re.IGNORECASE
)
_AUTH_REPLIES: Final = frozenset({454, 500, 501, 502, 503, 504, 530, 534, 535, 538})
# What a library's reason names, more specific than the wrapper's failed handshake.
_WRAPPED_REASONS: Final = frozenset(
    {"tls-cert-expired", "tls-cert-hostname", "tls-cert-untrusted", "tls-port-mismatch"}
)
# OpenSSL's packed error codes ("error:0A000086:SSL routines::...", OpenSSL 3;
# "error:14090086:SSL routines:...", 1.x): the SSL library (0x14 << 24 in 1.x, 0x0A <<
# 23 in 3.x) and, in the low 12 bits, the reason (include/openssl/sslerr.h).
_OPENSSL_CODE: Final = re.compile(r"\berror:(?:14|0A)[0-9A-F]{6}:", re.IGNORECASE)
_SSL_REASONS: Final[dict[int, str]] = {
    0x086: "tls-cert-untrusted",  # SSL_R_CERTIFICATE_VERIFY_FAILED
    0x10B: "tls-port-mismatch",  # SSL_R_WRONG_VERSION_NUMBER
    0x09C: "tls-port-mismatch",  # SSL_R_HTTP_REQUEST
    0x0C6: "tls-port-mismatch",  # SSL_R_PACKET_LENGTH_TOO_LONG
    0x102: "tls-handshake-failed",  # SSL_R_UNSUPPORTED_PROTOCOL
    0x18A: "tls-handshake-failed",  # SSL_R_DH_KEY_TOO_SMALL
    0x410: "tls-handshake-failed",  # SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE
    0x417: "tls-handshake-failed",  # SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER
    0x42E: "tls-handshake-failed",  # SSL_R_TLSV1_ALERT_PROTOCOL_VERSION
    0x418: "tls-cert-untrusted",  # SSL_R_TLSV1_ALERT_UNKNOWN_CA
    # More of crypto/err/openssl.txt (openssl/openssl 008c92e11b68): a server speaking
    # no TLS, and a negotiation that found nothing both ends accept.
    0x0FC: "tls-port-mismatch",  # SSL_R_UNKNOWN_PROTOCOL
    0x0BF: "tls-handshake-failed",  # SSL_R_NO_PROTOCOLS_AVAILABLE
    0x18C: "tls-handshake-failed",  # SSL_R_VERSION_TOO_LOW
    0x18D: "tls-handshake-failed",  # SSL_R_CA_KEY_TOO_SMALL
    0x18E: "tls-handshake-failed",  # SSL_R_CA_MD_TOO_WEAK
    0x18F: "tls-handshake-failed",  # SSL_R_EE_KEY_TOO_SMALL
    0x0C1: "tls-handshake-failed",  # SSL_R_NO_SHARED_CIPHER
    0x0B5: "tls-handshake-failed",  # SSL_R_NO_CIPHERS_AVAILABLE
    0x19A: "tls-handshake-failed",  # SSL_R_NO_SHARED_GROUPS
    0x076: "tls-handshake-failed",  # SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM
    0x14D: "tls-handshake-failed",  # SSL_R_LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED
    0x152: "tls-handshake-failed",  # SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED
    0x172: "tls-handshake-failed",  # SSL_R_WRONG_SIGNATURE_TYPE
    0x42F: "tls-handshake-failed",  # SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY
    0x43E: "tls-handshake-failed",  # SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK
}
OPENSSL_CODE_WEIGHT: Final = 20.0
STRONG_SIGNAL: Final = 20.0
# Python's ssl.CertificateError: "hostname 'x' doesn't match 'y'" (names quoted inside).
_HOSTNAME_MISMATCH: Final = re.compile(r"hostname '[^']+' doesn't match", re.IGNORECASE)
# Text that went through the wrong character set: GBK/UTF-8 bytes shown as Latin-1
# ("ÇëÊ¹ÓÃÊÚÈ¨Âë") or as Python byte escapes ("\xc7\xeb\xca\xb9").
_ESCAPED_BYTES: Final = re.compile(r"(?:\\x[0-9a-fA-F]{2}){4,}")
_LATIN1_RUN: Final = re.compile(r"[\u0080-\u00ff]{4,}")
_TLS_LEVEL: Final = frozenset(
    {
        "tls-port-mismatch",
        "tls-handshake-failed",
        "tls-cert-untrusted",
        "tls-cert-hostname",
        "tls-cert-expired",
    }
)
# Families whose failures happen before any SMTP reply exists: an error code in the
# same paste does not speak against them.
_BEFORE_REPLY: Final = _TLS_LEVEL | {
    "connection-timeout",
    "connection-refused",
    "dns-failure",
    "starttls-unavailable",
}

MEDIUM_SIGNAL: Final = 12.0
# How near "smtp" must stand to a medium signal to make it strong (characters).
NEAR_SMTP: Final = 40
# "smtp" said of the protocol or a client ("SMTP.login failed", "smtp error"), not a
# server banner's ESMTP or the first label of a host name ("smtp.relay.example.org");
# or the word for mail, or a mail client's outgoing or incoming server, in Chinese,
# Japanese or Korean ("发送邮件失败，提示：附件大于50M": sending mail failed, the
# attachment is over 50 MB).
_SMTP_NEAR: Final = re.compile(
    r"(?<!\w)smtp(?!\w|\.[\w-]+\.)|邮件|郵件|メール|메일|(?:送信|受信)サーバ|[发收]件服务器"
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One signal found in a paste."""

    text: str
    category: str
    weight: float
    family: str


@dataclass(frozen=True, slots=True)
class Structure:
    """What a paste is made of: signals, codes, the step, and a vote per category."""

    votes: tuple[tuple[str, float], ...] = ()
    # The part of each vote that comes from signals alone (no code priors).
    signal_votes: tuple[tuple[str, float], ...] = ()
    hits: tuple[Hit, ...] = ()
    codes: tuple[str, ...] = ()
    allowed: frozenset[str] = frozenset()
    # A reply code written with its enhanced code ("550 5.1.1", "535-5.7.8"): a
    # server's reply for certain, not a version number.
    paired: bool = False
    step: str | None = None
    transcript: str | None = None
    # Categories whose evidence a rule explains as a consequence of another failure
    # (a read timeout on an implicit-TLS port is no connection timeout): entries of
    # these categories lose ``EXPLAINED_PENALTY``.
    explained: frozenset[str] = frozenset()
    _index: dict[str, float] = field(default_factory=dict, compare=False)

    def vote(self, category: str) -> float:
        """The vote for one category (0 when nothing points to it)."""
        return self._index.get(category, 0.0)

    def signal_vote(self, category: str) -> float:
        """The part of a category's vote that signals alone give."""
        return dict(self.signal_votes).get(category, 0.0)

    @property
    def best(self) -> tuple[str, float] | None:
        """The category with the highest vote, or None."""
        return self.votes[0] if self.votes else None

    @property
    def coded(self) -> bool:
        """True when the paste carries an SMTP error code (4xx/5xx, 4.x.x/5.x.x)."""
        return bool(self.codes)

    def without(self, categories: frozenset[str]) -> Structure:
        """The same structure with no votes for ``categories``."""
        votes = tuple((c, v) for c, v in self.votes if c not in categories)
        return replace(
            self,
            votes=votes,
            signal_votes=tuple(
                (c, v) for c, v in self.signal_votes if c not in categories
            ),
            allowed=self.allowed - categories,
            _index=dict(votes),
        )

    def signals(self) -> list[str]:
        """Short descriptions of what was found, for the JSON output."""
        found = [f"code:{c}" for c in self.codes]
        found += [f"{h.family}:{h.text}" for h in self.hits]
        if self.step:
            found.append(f"step:{self.step}")
        if self.transcript:
            found.append(f"transcript:{self.transcript}")
        return found


def _without_dotnet_wrapper(text: str) -> str:
    """
    ``text`` with .NET's 530-class wrapper sentences blanked (see _DOTNET_WRAPPER).
    """
    if _DOTNET_PHRASE.search(text) is None:
        return text
    return _DOTNET_WRAPPER.sub(" ", text)


class Recogniser:
    """
    Finds signals, codes, the protocol step and the transcript's verdict in a paste.

    Build once per knowledge base; ``recognise`` is pure.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        # Spaced phrases are filed under their longest word; a text wakes only the
        # phrases whose longest word it contains, then each is confirmed by a
        # substring search with word boundaries.
        self._by_word: dict[str, list[tuple[str, Signal]]] = defaultdict(list)
        self._unspaced: list[tuple[str, Signal]] = []
        for signal in kb.signals:
            phrase = _prepare(signal.text)
            if _UNSPACED.search(phrase):
                self._unspaced.append((phrase, signal))
                continue
            words = _TOKEN.findall(phrase)
            if not words:
                continue
            key = max(words, key=lambda w: (len(w), w))
            self._by_word[key].append((phrase, signal))
        self.cue_words: frozenset[str] = frozenset(
            w for w in self._by_word if not w.isdigit() and len(w) > 3
        )
        # Phrases in scripts written without spaces mark their lines by substring.
        self.cue_phrases: tuple[str, ...] = tuple(
            sorted({phrase for phrase, _ in self._unspaced})
        )

    def scan(self, text: str) -> list[Hit]:
        """Every signal in ``text``; a phrase inside a longer one found drops."""
        prepared = _CONTINUED.sub(
            "", _prepare(_LOG_FIELD.sub(" ", text + _recovered(text)))
        )
        spans: list[tuple[int, int, Signal]] = []
        for word in set(words_of(prepared, _TOKEN)):
            for phrase, signal in self._by_word.get(word, ()):
                start = _find(prepared, phrase)
                if start >= 0:
                    spans.append((start, start + len(phrase), signal))
        if _UNSPACED.search(prepared):
            for phrase, signal in self._unspaced:
                start = prepared.find(phrase)
                if start >= 0:
                    spans.append((start, start + len(phrase), signal))
        # The longer phrase is the more specific reading: "Relaying disallowed as"
        # (the From address) beats the "relaying disallowed" inside it.
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), s[2].text))
        hits: list[Hit] = []
        kept: list[tuple[int, int]] = []
        for start, end, signal in spans:
            if any(s <= start and end <= e for s, e in kept):
                continue
            kept.append((start, end))
            weight = signal.weight
            if (
                weight == MEDIUM_SIGNAL
                # "Too many" is as often the host's own files or processes.
                and signal.category != "rate-limited"
                and _SMTP_NEAR.search(
                    prepared, max(0, start - NEAR_SMTP), end + NEAR_SMTP
                )
            ):
                # "SMTP.login failed", "SMTP connect() failed ... timed out": a
                # generic phrase said of SMTP itself.
                weight = STRONG_SIGNAL
            hits.append(Hit(signal.text, signal.category, weight, signal.family))
        return hits

    def recognise(
        self, text: str, evidence: Evidence, *, mail: bool, settings: str = ""
    ) -> Structure:
        """
        Read ``text`` (the paste's error lines) with its exact ``evidence``.

        ``mail``: the paste is about mail, so a bare reply code counts as one.
        ``settings``: the paste's head, where a pasted configuration stands (its
        lines carry no error words, so they are not among the error lines).
        """
        # .NET's wrapper around any 530-class reply names two causes; the server's
        # reply after it is the one that says which.
        hits = self.scan(_without_dotnet_wrapper(text))
        if call := _DNS_CALL.search(text):
            # The errno after a DNS call describes the lookup, not a connection.
            hits = [
                h for h in hits if h.family != "network" or h.category == "dns-failure"
            ]
            hits.append(
                Hit(call.group(0).strip(), "dns-failure", DNS_CALL_WEIGHT, "rule")
            )
        if lookup := _HOST_LOOKUP.search(text):
            hits.append(Hit(lookup.group(0), "dns-failure", DNS_CALL_WEIGHT, "rule"))
        blocked = ("25" in text and _PORT_BLOCKED.search(text)) or (
            ("端口" in text or "ポート" in text) and _PORT_UNREACHABLE.search(text)
        )
        if blocked and not any(
            h.text.casefold() in blocked.group(0).casefold() for h in hits
        ):
            hits.append(
                Hit(
                    blocked.group(0),
                    "connection-timeout",
                    PORT_BLOCKED_WEIGHT,
                    "rule",
                )
            )
        if _READY_FOR_TLS.search(text) and _AFTER_READY.search(text):
            # The server said "go ahead" and the TLS layer then failed.
            hits.append(
                Hit("220 then TLS failure", "tls-handshake-failed", 20.0, "rule")
            )
        low = text.lower()
        if (
            mode := (
                ("465" in text or "587" in text or "25" in text)
                and _MODE_MISMATCH.search(text)
            )
            or (
                "587" in (settings or text)
                and _SETTINGS_MISMATCH.search(settings or text)
            )
            or (
                "465" in (settings or text)
                and "false" in (settings or text).lower()
                and _PLAIN_ON_IMPLICIT.search(settings or text)
            )
        ):
            hits.append(Hit(mode.group(0), "tls-port-mismatch", MODE_WEIGHT, "rule"))
            if not _CONNECT_TIMEOUT.search(text):
                # A timeout that is not the connect's own ("timed out", a read
                # timeout) under a mismatched mode is the two ends waiting for each
                # other, the mismatch's consequence.
                hits = [
                    h
                    for h in hits
                    if h.category != "connection-timeout" or h.weight >= 30
                ]
        if any(word in low for word in _WRONG_SERVICE_WORDS) and (
            wrong := _WRONG_SERVICE.search(text)
        ):
            hits.append(
                Hit(wrong.group(0), "tls-port-mismatch", DECISIVE_SIGNAL, "rule")
            )
        if no_tls := _GEN_SMTP_NO_TLS.search(text):
            hits.append(
                Hit(no_tls.group(0), "starttls-unavailable", DECISIVE_SIGNAL, "rule")
            )
        if mail and (too_large := _HTTP_TOO_LARGE.search(text)):
            hits.append(
                Hit(too_large.group(0), "message-too-large", DECISIVE_SIGNAL, "rule")
            )
        if refused := _IMAP_LOGIN_REFUSED.search(text):
            hits.append(Hit(refused.group(0), "auth-failed", DECISIVE_SIGNAL, "rule"))
        explained: set[str] = set()
        whole = f"{text}\n{settings}"
        if (
            (failed := _MAILBOX_LOGIN_FAILED.search(text))
            and _MICROSOFT_MAILBOX_HOST.search(whole)
            and not _OAUTH_LOGIN.search(whole)
        ):
            hits = [h for h in hits if h.category != "auth-failed"]
            hits.append(
                Hit(failed.group(0), "auth-policy-blocked", DECISIVE_SIGNAL, "rule")
            )
            explained.add("auth-failed")
        if _LOGON_FAILURE.search(text):
            hits = [h for h in hits if h.category != "recipient-unknown"]
            explained.add("recipient-unknown")
        if (
            _TLS_UPGRADE_STALLED.search(text)
            and not _CONNECT_TIMEOUT.search(text)
            and not _IMPLICIT_PORT.search(text)
        ):
            hits = [h for h in hits if h.category != "connection-timeout"]
            hits.append(
                Hit(
                    "TLS upgrade, then a read timeout",
                    "tls-handshake-failed",
                    DECISIVE_SIGNAL,
                    "rule",
                )
            )
            explained.add("connection-timeout")
        if _GREETING_REPLY.search(text):
            hits = [h for h in hits if h.category != "tls-port-mismatch"]
            explained.add("tls-port-mismatch")
        if _TRUSTED_NOT_VERIFIED.search(text):
            hits = [h for h in hits if h.category != "tls-cert-untrusted"]
            explained.add("tls-cert-untrusted")
            hits.append(
                Hit(
                    "trusted chain, not verified",
                    "tls-cert-hostname",
                    DECISIVE_SIGNAL,
                    "rule",
                )
            )
        head = settings or text
        if (
            (silent := _NO_GREETING.search(text))
            and (
                # (The stack frames that name the greeting's read are no error lines:
                # they are read in the paste's head.)
                _IMPLICIT_PORT.search(text) or _GREETING_READ.search(head)
            )
        ) or (silent := _GREETING_MISSING.search(head)):
            # Connected to an implicit-TLS port (or to a port that sent no greeting)
            # and heard nothing: the two ends wait for each other. A timeout here is a
            # read timeout, the consequence.
            hits = [
                h
                for h in hits
                if h.category != "connection-timeout" or _CONNECT_TIMEOUT.search(h.text)
            ]
            port = "465" if _IMPLICIT_PORT.search(text) else "no greeting"
            hits.append(
                Hit(
                    f"{port} then {silent.group(0)}",
                    "tls-port-mismatch",
                    NO_GREETING_WEIGHT,
                    "rule",
                )
            )
            if not _CONNECT_TIMEOUT.search(text):
                explained.add("connection-timeout")
        for code in sorted({m.group(0).upper() for m in _OPENSSL_CODE.finditer(text)}):
            if reason := _SSL_REASONS.get(int(code[8:14], 16) & 0xFFF):
                hits.append(Hit(code, reason, OPENSSL_CODE_WEIGHT, "tls"))
        if any(h.category in _CERT_REASONS and h.weight >= STRONG_SIGNAL for h in hits):
            # "certificate verify failed: certificate has expired": the verification
            # failed for the reason named after it, not for an untrusted chain.
            generic = [
                h
                for h in hits
                if h.text.casefold() in _VERIFY_FAILED
                or (h.category == "tls-cert-untrusted" and h.text.startswith("ERROR:"))
            ]
            hits = [h for h in hits if h not in generic]
            if generic and not any(h.category == "tls-cert-untrusted" for h in hits):
                # Only the generic words spoke of trust: an entry written for them
                # describes the consequence of the reason named beside them.
                explained.add("tls-cert-untrusted")
        if not _READY_FOR_TLS.search(text) and (
            reasons := [
                m.group("reason").casefold().replace("\u2019", "'")
                for m in _TLS_WRAPPER.finditer(text)
            ]
        ):
            # "TLS handshake failed: The certificate is not yet activated": the
            # library's reason after the client's wrapper says why the handshake
            # failed. (After "220 Ready to start TLS" the handshake rule stands.)
            said = [
                h
                for h in hits
                if h.category in _WRAPPED_REASONS
                and h.family == "tls"
                and h.weight >= STRONG_SIGNAL
                and any(h.text.casefold() in reason for reason in reasons)
            ]
            if said:
                # Where it stands confirms it: a strong reason ("The session or
                # certificate has expired") counts as decisive there.
                # Outside a mail context the reason only chooses among TLS
                # readings; it does not make the paste more certainly mail's.
                hits = [
                    replace(h, weight=max(h.weight, DECISIVE_SIGNAL))
                    if h in said and mail
                    else h
                    for h in hits
                    if h.category != "tls-handshake-failed"
                    or h.weight > DECISIVE_SIGNAL
                ]
                explained.add("tls-handshake-failed")
        if _LOCAL_RESOURCE.search(text) and not (
            evidence.server_replies or evidence.enhanced_codes
        ):
            # Out of descriptors or buffers on this machine: the errno names the
            # call it failed in, not a refusal, a timeout or a server's limit.
            hits = [
                h
                for h in hits
                if h.family not in {"network", "wrapper", "rule"}
                or h.category not in _LOCAL_EXPLAINS
            ]
            explained |= _LOCAL_EXPLAINS
        if any(
            h.category == "starttls-unavailable" and h.weight >= DECISIVE_SIGNAL
            for h in hits
        ) and _IMPLICIT_PORT.search(settings or text):
            # On 465 the server speaks TLS from the first byte and never offers
            # STARTTLS: a client asking for it there was set to both modes, or to
            # STARTTLS on the implicit-TLS port.
            hits = [h for h in hits if h.category != "starttls-unavailable"]
            hits.append(
                Hit(
                    "465 then STARTTLS not offered",
                    "tls-port-mismatch",
                    NO_GREETING_WEIGHT,
                    "rule",
                )
            )
            explained.add("starttls-unavailable")
        if mismatch := _HOSTNAME_MISMATCH.search(text):
            hits.append(Hit(mismatch.group(0), "tls-cert-hostname", 30.0, "rule"))
        if loop := _LOOPBACK_FAILURE.search(text):
            hits.append(
                Hit(loop.group(0), "connection-refused", LOOPBACK_WEIGHT, "rule")
            )
        if any(h.family == WRAPPER for h in hits) and (
            evidence.enhanced_codes
            or evidence.server_replies
            or any(
                h.family != WRAPPER
                and h.category in _BEFORE_REPLY
                and h.category not in _WRAPPER_CATEGORIES
                for h in hits
            )
        ):
            # "Could not connect" without a reason is a blocked port only when
            # nothing else in the paste says why (an errno, a TLS error, a reply).
            hits = [h for h in hits if h.family != WRAPPER]
        if any(h.text == _GREETING_REFUSED for h in hits) and any(
            h.weight >= DECISIVE_SIGNAL and h.category != "sender-blocklisted"
            for h in hits
        ):
            # Postfix's "refused to talk to me" says only that the greeting was a
            # refusal: a listed client is the usual reason, a reason the server
            # gives beside it ("reverse DNS required") is the answer.
            hits = [h for h in hits if h.text != _GREETING_REFUSED]
        if _RATE_LIMITED.search(text) and any(
            h.category in _RATE_CAUSES and h.weight >= DECISIVE_SIGNAL for h in hits
        ):
            rated = [h for h in hits if h.category == "rate-limited"]
            if rated and all(_RATE_LIMITED.search(h.text) for h in rated):
                # A provider names why it slowed the sender down (Gmail's "rate
                # limited because DKIM authentication didn't pass", "... does not
                # have a PTR record ... temporarily rate limited", Microsoft's "rate
                # limited due to IP reputation"): the cause is the answer.
                hits = [h for h in hits if h.category != "rate-limited"]
                explained.add("rate-limited")
        if _REPLY_SAYS_REFUSED.search(text):
            # "421 Connection refused, too many sessions", "554 Connection refused.
            # This IP has a poor reputation": the server answered and wrote the words;
            # the TCP connection was not refused.
            hits = [
                h
                for h in hits
                if not (h.family == "network" and h.category == "connection-refused")
            ]
            explained.add("connection-refused")
        if allowance := _ALLOWANCE.search(text):
            hits.append(Hit(allowance.group(0), "rate-limited", QUOTA_WEIGHT, "rule"))
        if quota := _quota_reading(text):
            # A sending allowance, not a full mailbox: the quota words' mailbox
            # reading gives way.
            hits = [h for h in hits if h.category != "mailbox-full"]
            hits.append(Hit(quota, "rate-limited", QUOTA_WEIGHT, "rule"))
            explained.add("mailbox-full")
        elif (
            mail
            and not allowance
            and all(code[2] == "2" for code in evidence.enhanced_codes)
        ):
            # A quota said to be exceeded with no sending, rate or period words near
            # it ("Quota exceeded" alone, Dovecot's and Cyrus's refusal) is a
            # mailbox's storage quota: the words say so more strongly than alone.
            # Under a policy code (4.7.1 "Policy Rejection- Quota Exceeded") it is a
            # policy service's allowance, and the code decides.
            hits = [
                replace(h, weight=STRONG_SIGNAL)
                if h.category == "mailbox-full"
                and h.weight < STRONG_SIGNAL
                and _QUOTA.search(h.text)
                and _QUOTA.fullmatch(h.text) is None
                else h
                for h in hits
            ]
        if any(
            h.weight >= DECISIVE_SIGNAL and h.category in _BEFORE_REPLY for h in hits
        ):
            # The connection or TLS failed first: a client's "could not
            # authenticate" after it (PHPMailer words every early failure so) is its
            # consequence, unless the server itself refused the login.
            hits = [
                h
                for h in hits
                if h.category != "auth-failed" or h.weight >= DECISIVE_SIGNAL
            ]
        if any(
            h.category == "auth-policy-blocked" and h.weight >= DECISIVE_SIGNAL
            for h in hits
        ):
            # The provider names why it refused the login (an app password or OAuth
            # is required, basic authentication is off): the 535 and its "failed"
            # words are that policy's consequence, not a wrong password.
            hits = [
                h
                for h in hits
                if h.category != "auth-failed" or h.weight >= DECISIVE_SIGNAL
            ]
            explained.add("auth-failed")
        if (
            _EXISTENCE.search(text)
            and not (evidence.server_replies or evidence.enhanced_codes)
            and not any(
                h.category == "recipient-unknown" and h.weight >= DECISIVE_SIGNAL
                for h in hits
            )
            and not _RECIPIENT_WORDS.search(text)
            and not names_step(text, "rcpt")
        ):
            # "Does not exist" with no reply, no RCPT and no recipient named: some
            # local thing (a file, a key, a path) is missing, not a mailbox.
            hits = [h for h in hits if h.category != "recipient-unknown"]
            explained.add("recipient-unknown")
        if any(h.text.casefold() in _SENDER_CALLOUT for h in hits):
            # Exim's callout to the sender's own server: its "No Such User Here" or
            # "Unrouteable address" is about the sender, not the recipient.
            hits = [h for h in hits if h.category != "recipient-unknown"]
            explained.add("recipient-unknown")
        if any(
            h.category == "starttls-required" and h.weight >= DECISIVE_SIGNAL
            for h in hits
        ) or (
            (wrapped := _AUTH_WRAPPER.search(text))
            and int(wrapped.group("code")) not in _AUTH_REPLIES
        ):
            # The login was refused because TLS was not started first ("530 ... A
            # secure connection is required" under AuthenticationFailedException), or
            # a client's "Authentication failed:" wraps a reply about something else
            # ("554 5.1.8 Sender Address Blocked"): the reply is the cause.
            hits = [
                h
                for h in hits
                if h.category != "auth-failed" or h.weight > DECISIVE_SIGNAL
            ]
            explained.add("auth-failed")
        if (
            535 in evidence.server_replies
            or any(
                h.category == "auth-failed" and h.weight >= DECISIVE_SIGNAL
                for h in hits
            )
        ) and any(h.category == "auth-required" for h in hits):
            # The login was tried and refused (535, "invalid credentials"): the "not
            # authenticated" reply to the next command is its consequence.
            hits = [h for h in hits if h.category != "auth-required"]
            explained.add("auth-required")
        # An operating system's errno says how the connection failed (refused or timed
        # out); a client's "cannot connect" code or message around it does not. When
        # the decisive errno points one way only, the other way's entries lose.
        errnos = {
            h.category
            for h in hits
            if h.family == "network" and h.weight >= DECISIVE_SIGNAL
        } & _CONNECT_FAILURES
        if len(errnos) == 1:
            explained |= _CONNECT_FAILURES - errnos
        # A question about seeing the SMTP conversation, with no error of its own.
        if (
            mail
            and not evidence.enhanced_codes
            and not evidence.server_replies
            and not any(h.weight >= 30 for h in hits)
            and (intent := _LOGGING_INTENT.search(text))
        ):
            hits.append(Hit(intent.group(0), "client-logging", LOGGING_WEIGHT, "rule"))
        verdict = _transcript(text)
        if verdict is None and _auth_before_tls(settings):
            verdict = "starttls-required"
        if verdict == "starttls-required":
            # The server listed no AUTH before TLS: the failed login is its consequence.
            hits.append(Hit("AUTH offered only after STARTTLS", verdict, 30, "rule"))
            hits = [h for h in hits if h.category != "auth-failed"]
            explained.add("auth-failed")
        votes: dict[str, float] = defaultdict(float)
        by_category: dict[str, list[float]] = defaultdict(list)
        for hit in hits:
            by_category[hit.category].append(hit.weight)
        for category, weights in by_category.items():
            total = sum(
                w * DECAY**i for i, w in enumerate(sorted(weights, reverse=True))
            )
            votes[category] = min(SIGNAL_CAP, total)
        signal_votes = tuple(sorted(votes.items()))
        # A bare number is only a code in a mail context, next to a mail signal, or
        # written as a server writes a reply ("550 5.1.1"): "version 5.1.1" is not.
        trusted = mail or bool(evidence.pairs) or bool(hits)
        codes, allowed, priors = (
            self._codes(evidence, mail=mail) if trusted else ((), set(), {})
        )
        ready = _READY_FOR_TLS.search(text) is not None
        # A code that allows no category (501 syntax error) does not speak against any.
        if codes and allowed:
            for category in list(votes):
                if category not in allowed and not (
                    category in _BEFORE_REPLY and (ready or category in _TLS_LEVEL)
                ):
                    votes[category] *= OFF_CODE
            for category, prior in priors.items():
                # A reply code narrows its enhanced code: 554 with 5.7.9 is a policy
                # rejection, 534 with 5.7.9 an app-password demand.
                votes[category] += prior if category in allowed else prior * OFF_CODE
        step = step_of(text)
        if step:
            for category in _STEP_CATEGORIES[step]:
                if votes.get(category):
                    votes[category] += STEP_BONUS
        if verdict:
            votes[verdict] += TRANSCRIPT_BONUS
        if ready and votes.get("tls-port-mismatch"):
            # After "220 ready to start TLS" the port was right: the handshake failed.
            votes["tls-handshake-failed"] += votes.pop("tls-port-mismatch")
        ranked = tuple(
            sorted(
                ((c, v) for c, v in votes.items() if v > 0), key=lambda p: (-p[1], p[0])
            )
        )
        return Structure(
            votes=ranked,
            signal_votes=signal_votes,
            hits=tuple(hits),
            codes=codes,
            allowed=frozenset(allowed),
            paired=bool(evidence.pairs),
            step=step,
            transcript=verdict,
            explained=frozenset(explained),
            _index=dict(ranked),
        )

    def _codes(
        self, evidence: Evidence, *, mail: bool
    ) -> tuple[tuple[str, ...], set[str], dict[str, float]]:
        """Error codes in the paste, the categories they allow, and their priors."""
        replies = {r for r, _ in evidence.pairs} | (
            set(evidence.server_replies) if mail or evidence.enhanced_codes else set()
        )
        errors = sorted(r for r in replies if r >= 400)
        enhanced = sorted(c for c in evidence.enhanced_codes if c[0] in "45")
        codes: list[str] = []
        allowed: set[str] = set()
        priors: dict[str, float] = defaultdict(float)
        # An enhanced code is more specific than its reply code: when both are there,
        # the enhanced code's categories decide, narrowed by the reply code's.
        enhanced_sets: list[tuple[str, ...]] = []
        for code in enhanced:
            info = self.kb.enhanced(code)
            codes.append(code)
            if info is None or not info.categories:
                continue
            enhanced_sets.append(info.categories)
            self._prior(priors, info.categories, info.category)
        reply_sets: list[tuple[str, ...]] = []
        for reply in errors:
            # A code introduced as one is read even when unlisted (its family);
            # an unlisted number elsewhere is no evidence.
            info = (
                self.kb.reply(reply)
                if reply in evidence.worded
                else self.kb.reply_codes.get(str(reply))
            )
            codes.append(str(reply))
            if info is None or not info.categories:
                continue
            reply_sets.append(info.categories)
            self._prior(priors, info.categories, info.category, scale=0.6)
        for categories in enhanced_sets or reply_sets:
            allowed.update(categories)
        if enhanced_sets and reply_sets:
            narrowed = allowed & {c for s in reply_sets for c in s}
            allowed = narrowed or allowed
        return tuple(codes), allowed, priors

    @staticmethod
    def _prior(
        priors: dict[str, float],
        categories: tuple[str, ...],
        single: str | None,
        *,
        scale: float = 1.0,
    ) -> None:
        for rank, category in enumerate(categories):
            bonus = CODE_RANKS[min(rank, len(CODE_RANKS) - 1)]
            if category == single:
                bonus = max(bonus, CODE_CATEGORY)
            priors[category] = max(priors[category], bonus * scale)


# A rate limit a provider applies as the consequence of a cause it names beside it
# (support.google.com/a/answer/3726730: 4.7.23, 4.7.24, 4.7.27, 4.7.29, 4.7.30, 4.7.40;
# Outlook.com's 4.7.650 "rate limited due to IP reputation").
_RATE_LIMITED: Final = re.compile(r"\brate[- ]?limit(?:ed)?\b", re.IGNORECASE)
_RATE_CAUSES: Final = frozenset(
    {"sender-authentication", "starttls-required", "sender-blocklisted"}
)
# A server's reply line whose own text says "Connection refused" (GoDaddy's IB007 and
# IB103-IB106, "421 Connection refused, too many sessions from this IP").
_REPLY_SAYS_REFUSED: Final = re.compile(
    r"(?im)^[ \t>]*(?:\S+ said:\s*)?[45]\d\d[ -](?:[45]\.7\.\d{1,3} )?"
    r"(?:connection refused\b|"
    # A greeting that names the refusal after the banner (MailEnable's "451 ESMTP
    # MailEnable Service temporarily refused connection at ... because the server is
    # too busy"; Exim logs "temporarily refused connection from ...").
    r"[^\n]{0,60}?\b(?:temporarily )?refused (?:the |your )?connection\b)"
)

# A counted sending allowance: a number of messages or recipients in a period, named
# as a limit that was reached ("limit of 400 rcpts per 24 hours ... reached",
# "exceeded the limit of 100 emails per hour", "500 recipients/day limit", Exim's
# "Sender rate exceeds 100 messages per 1h"), the way policy services (Postfix
# policyd, Exim ratelimit, providers' outbound limits) word it.
_COUNTED: Final = (
    r"\d[\d,.]*\s*(?:messages?|mails?|e-?mails?|recipients?|rcpts?|sends?)\s*"
    r"(?:per|a|an|every|each|/|in)\s*(?:\d+\s*)?(?:seconds?|minutes?|mins?|hours?|"
    r"days?|24 ?h(?:ours?)?|hr|h|d)\b"
)
_ALLOWANCE: Final = re.compile(
    rf"\blimits? (?:of |is |at )?{_COUNTED}|"
    rf"{_COUNTED}[^\n]{{0,40}}?\b(?:limit|exceeded|reached|quota)|"
    rf"\b(?:limit|exceeds?|exceeded|reached)\b[^\n]{{0,40}}?{_COUNTED}",
    re.IGNORECASE,
)


def _quota_reading(text: str) -> str | None:
    """
    The words that make a quota in ``text`` a sending allowance, or None.

    None when no quota is named, or when storage words are at least as close to it.
    """
    sending = storage = 0
    found = ""
    for match in _QUOTA.finditer(text):
        near = text[max(0, match.start() - QUOTA_WINDOW) : match.end() + QUOTA_WINDOW]
        if words := _SENDING_WORDS.findall(near):
            sending += len(words)
            found = found or f"{words[0]} {match.group(0)}"
        storage += len(_STORAGE_WORDS.findall(near))
    return found if sending > storage else None


def _recovered(text: str) -> str:
    """
    Text hidden by a wrong character set, decoded, or "" when there is none.

    Runs of byte escapes and of Latin-1 letters are tried as UTF-8, then as GB18030
    (Chinese providers' replies through libraries that assume Latin-1).
    """
    pieces: list[str] = []
    if "\\x" in text:
        for run in _ESCAPED_BYTES.findall(text):
            pieces.append(_decode(bytes(int(h, 16) for h in run.split("\\x")[1:])))
    if any("\u0080" <= ch <= "\u00ff" for ch in text):
        for run in _LATIN1_RUN.findall(text):
            pieces.append(_decode(run.encode("latin-1")))
    found = [p for p in pieces if p]
    return "\n" + "\n".join(found) if found else ""


def _decode(raw: bytes) -> str:
    """``raw`` as UTF-8 or GB18030 when it decodes to CJK text, else ""."""
    for encoding in ("utf-8", "gb18030"):
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _UNSPACED.search(decoded):
            return decoded
    return ""


# The code prefix of a multi-line reply's continuation lines (RFC 5321 §4.2.1:
# "550-5.7.1 "), as Gmail's replies carry on every line and Postfix's logs keep when
# they join the lines: "is not authorized to 550-5.7.1 send email directly". The
# sentence reads on without it.
_CONTINUED: Final = re.compile(
    r"(?<=[\w.,;:!?)] )[245]\d\d-(?:[245]\.\d{1,3}\.\d{1,3} )?"
)


def _prepare(text: str) -> str:
    """
    Case-folded, quotes unified, English articles dropped, runs of white space made
    one space: servers and libraries word the same message with and without them
    ("must be same as authorization user", "must be the same as the authorization
    user").
    """
    return _SPACES.sub(" ", _ARTICLES.sub(" ", text.translate(_QUOTES).casefold()))


_ARTICLES: Final = re.compile(r"(?<![\w'-])(?:the|an?)(?=\s)")


def _glued(edge: str, neighbour: str) -> bool:
    """
    True when a Latin-script phrase edge touches a CJK or Hangul character.

    Chinese, Japanese and Korean write no space between words, so "SSLHandshakeException
    이" or "出现ETIMEDOUT错误" still name the identifier.
    """
    return edge.isascii() and neighbour >= "\u2e80"


def _find(text: str, phrase: str) -> int:
    """The first occurrence of ``phrase`` that starts and ends on word boundaries."""
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        before_ok = (
            not phrase[0].isalnum()
            or start == 0
            or not text[start - 1].isalnum()
            or _glued(phrase[0], text[start - 1])
        )
        after_ok = (
            not phrase[-1].isalnum()
            or end == len(text)
            or not text[end].isalnum()
            or _glued(phrase[-1], text[end])
        )
        if before_ok and after_ok:
            return start
        start = text.find(phrase, start + 1)
    return -1


# The client's STARTTLS command in a transcript ("C: STARTTLS", "<= STARTTLS",
# "CLIENT -> SERVER: STARTTLS"), then the server's refusal within two lines.
_STARTTLS_REFUSED: Final = re.compile(
    r"^[^\n]*?(?<![\w-])STARTTLS[ \t'\\rn]*$(?:\n[^\n]*){0,1}?\n[^\n]*?"
    r"(?<![\d.])(?:4[0-5]\d|5[0-5]\d)[ -]",
    re.IGNORECASE | re.MULTILINE,
)

# SwiftMailer and Symfony Mailer name the reply they expected before the one they got:
# 220 is what a greeting and STARTTLS are answered with (RFC 3207 §4), and a greeting
# is never answered "command not implemented" (500-504) or "TLS not available" (454),
# so such a reply answered STARTTLS.
_EXPECTED_220_REFUSED: Final = re.compile(
    r"expected response code \"?220\"?,? but got (?:an? )?(?:code )?"
    r"\"?(?:50[0-4]|454)\b",
    re.IGNORECASE,
)


def _transcript(text: str) -> str | None:
    """
    The verdict a protocol transcript gives on its own.

    An EHLO reply listing extensions without STARTTLS, in a paste where the client
    wanted TLS, means the server does not offer STARTTLS; so does a STARTTLS command
    answered with an error, also where a client library names the 220 it expected.
    """
    if "starttls" in text.lower() and _STARTTLS_REFUSED.search(text):
        return "starttls-unavailable"
    if _EXPECTED_220_REFUSED.search(text):
        return "starttls-unavailable"
    if _AUTH_FAILED_AT_EHLO.search(text):
        return "starttls-required"
    words = {m.group("word") for m in _EHLO_LINE.finditer(text)}
    extensions = words & _EHLO_WORDS
    if len(extensions) < 2 or "STARTTLS" in words:
        return None
    if _READY_FOR_TLS.search(text):
        return None
    return "starttls-unavailable" if _WANTS_TLS.search(text) else None


def _auth_before_tls(text: str) -> bool:
    """
    True for a transcript whose EHLO reply offers STARTTLS but no AUTH, where the
    client did not start TLS and a login then failed.

    The server lists AUTH only after TLS (Postfix smtpd_tls_auth_only), so a client
    that logs in without STARTTLS finds no AUTH. Read from the paste's head, where the
    EHLO reply's lines stand (they carry no error words of their own).
    """
    if "250" not in text or "STARTTLS" not in text or _LOGIN_ANSWERED.search(text):
        return False
    words = {m.group("word") for m in _EHLO_LINE.finditer(text)}
    return (
        "STARTTLS" in words
        and "AUTH" not in words
        and len(words & _EHLO_WORDS) >= 3
        and not _READY_FOR_TLS.search(text)
        and _WANTS_AUTH.search(text) is not None
    )
