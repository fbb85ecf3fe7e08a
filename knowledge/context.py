"""
Does a paste talk about mail, or plainly about other software?

Substring tests on the lower-cased paste (fast on 40 KB) plus two small regexes. The
matcher uses the answer to keep generic wording ("connection refused", "certificate
verify failed") from answering a PostgreSQL, HTTP or Docker error. The score
adjustments it makes from context (penalties, category priors, a quoted server reply)
live here too. Pure.
"""

from __future__ import annotations

import re
from typing import Final

from knowledge import other_software

_STRONG_MAIL: Final = (
    "smtp",
    "starttls",
    "ehlo",
    "postfix",
    "exim",
    "sendmail",
    "nodemailer",
    "phpmailer",
    "smtplib",
    "mailkit",
    "javax.mail",
    "jakarta.mail",
    "mail.smtp",
    "outlook",
    "thunderbird",
    "gmail",
    "office 365",
    "office365",
    "mailgun",
    "sendgrid",
    "amazon ses",
    "aws ses",
    "mail server",
    "mailserver",
    "mail-server",
    "mailer",
    "e-mail",
    "邮件",
    "邮箱",
    "郵件",
    "メール",
    # A mail client's outgoing and incoming servers (Japanese, Chinese).
    "送信サーバ",
    "受信サーバ",
    "发件服务器",
    "收件服务器",
    "почта",
    "почты",
    "почту",
    "почтов",
    "courriel",
    "sendemail",
    # A function or task named for sending mail (Django's send_mail, a Celery task's
    # send_email): the failure inside it is the mail transfer's.
    "send_email",
    "send_mail",
    # Django's management command that sends a test message.
    "sendtestemail",
    # JavaMail's own words for a failed STARTTLS upgrade: no other library says them.
    "convert socket to tls",
    # Amazon SES's refusal of a message (its API's MessageRejected error).
    "messagerejected",
    "sendrawemail",
    "amazonses",
    "email-smtp.",
    "postmarkapp",
    "mailjet",
    "sparkpost",
    "sendinblue",
    "brevo",
    "maximum sending rate exceeded",
    "daily message quota exceeded",
    "sending email",
    "send email",
    "sending mail",
    "send mail",
    "sending e-mail",
    "发送邮件",
    "邮件发送",
    "发邮件",
    # "Mailbox" in traditional Chinese, "send mail" and "e-mail" in Vietnamese, "send a
    # letter" in Russian: mail words as the people who paste errors write them.
    "郵箱",
    # "Post office": what Chinese users and hosting panels call their mail server
    # ("企业邮局", "邮局25端口").
    "邮局",
    "郵局",
    "gửi mail",
    "отправить письмо",
    "отправки письма",
    "отправка письма",
    "отправлено письмо",
    "gửi email",
    "thư điện tử",
    # "Mail" and "e-mail" in Korean (메일 발송: sending mail, 메일 서버: mail server).
    "메일",
    "전자우편",
    # A delivery status notification's field (RFC 3464).
    "diagnostic-code",
)
# Words that name the SMTP protocol or an SMTP program itself: mail for certain.
_SMTP_MARKERS: Final = (
    "smtp",
    "ehlo",
    "helo ",
    "mail from:",
    "rcpt to:",
    # curl's SMTP steps ("RCPT failed: 550", "MAIL failed: 530").
    "rcpt failed: ",
    # A client's report of the step it failed at ("send STARTTLS command: x509: ...",
    # Go's net/smtp callers such as Alertmanager): LDAP and XMPP call theirs an
    # operation or a stream feature, not a command.
    "starttls command",
    # Go's net/smtp callers (Mailpit's relay): "error response to RCPT command for".
    "rcpt command",
    "postfix",
    "exim",
    "sendmail",
    "qmail",
    "nodemailer",
    "phpmailer",
    "swiftmailer",
    "swift_transport",
    "smtplib",
    "mailkit",
    "javax.mail",
    "jakarta.mail",
    "com.sun.mail",
    "mail.smtp",
    "actionmailer",
    "net::smtp",
    "lettre",
    "gen_smtp",
    "msmtp",
    "ssmtp",
    "swaks",
    # BSD/Heirloom mailx and its successor s-nail prefix their messages with their name.
    "s-nail:",
    "mailx:",
    # Nodemailer's error fields: its socket error code and the SMTP step it was at.
    "'esocket'",
    "command: 'conn'",
    # Postfix's bounce wording around the receiving server's reply, and the RFC 3464
    # fields of a delivery status notification.
    "in reply to rcpt",
    "in reply to mail from",
    "in reply to end of data",
    "in reply to data command",
    "refused to talk to me",
    "final-recipient:",
    "remote-mta:",
    # Postfix's own log wording: its TLS layer ("warning: TLS library problem: ...",
    # tls_misc.c) and the queue manager's "delivery temporarily suspended: ...".
    "tls library problem",
    "delivery temporarily suspended",
    # Gmail's replies point at its mail help pages ("Learn more at
    # ...?p=BadCredentials", "... - gsmtp").
    "support.google.com/mail",
    "gsmtp",
    # Postfix's SMTP client before the server's 220 ("lost connection with X while
    # receiving the initial server greeting", smtp_proto.c).
    "the initial server greeting",
    # MailKit's SslHandshakeException (MailKit/Security/SslHandshakeException.cs),
    # MailCore2's error domain and libetpan's SMTP layer (mailsmtp_*, MAILSMTP_ERROR_*):
    # mail libraries' own words.
    "an error occurred while attempting to establish an ssl or tls connection",
    "mcoerrordomain",
    "mailsmtp",
)
# gen_smtp_client's failure tuples, which name the SMTP host they were talking to
# (gen-smtp/gen_smtp src/gen_smtp_client.erl: {network_failure, Host, Reason},
# {missing_requirement, Host, tls | auth}, {temporary_failure, Host, Reason},
# {permanent_failure, Host, Message}), as Erlang and Elixir print them
# ("{:network_failure, 'smtp.example.org', {:error, ...}}"): mail for certain.
_GEN_SMTP_TUPLE: Final = re.compile(
    r"\{:?(?:network_failure|missing_requirement|temporary_failure|permanent_failure),"
    r"\s*(?:~c)?['\"<]"
)
# node-imap's connection timers (lib/Connection.js: "Timed out while connecting to
# server", "Timed out while authenticating with server", with err.source 'timeout'),
# as Node prints the error object.
_NODE_IMAP_TIMEOUT: Final = re.compile(
    r"timed out while (?:connecting to|authenticating with) server[\s\S]{0,160}?"
    r"source: ?'timeout'"
)
# The mailbox protocols, named or spoken: "IMAP", "imaps://", imaplib, imap.gmail.com,
# POP3; an IMAP server's tagged refusal of a login ("a1 NO LOGIN failed", "3 NO
# AUTHENTICATE failed.") and its response codes (RFC 5530: "[AUTHENTICATIONFAILED]").
_MAILBOX_PROTOCOL: Final = re.compile(
    r"\bimap|\bpop3s?\b|"
    # A host's IMAP or POP3 port ("Connection to mail.example.org:143 Timed Out",
    # "imap.example.org:993"), as _MAIL_PORT reads the SMTP ports.
    r"(?<![\d:])[a-z0-9-]\.[a-z]{2,}:(?:143|993|110|995)\b(?![:.]\d)|"
    r"\bno (?:\[[a-z]+\] )?(?:login|authenticate|select|examine) |"
    r"\[(?:authenticationfailed|authorizationfailed|unavailable|alert|overquota)\]"
)
# Sending mail said in a short phrase ("Failed to send alert notification email",
# "could not send the notification e-mail", "error sending welcome mail"): a few words
# between the verb and the mail, written with spaces, so a URL's path or an API's name
# ("/v3/send/email", "SendEmail") is not read as it.
_SEND_MAIL_PHRASE: Final = re.compile(
    r"(?<![\w/.-])(?:send|sending|sent)(?: [a-z][a-z'-]*){0,3} (?:e-?mail|mail)s?\b"
    r"(?![/.-]\w)"
)
# Mail providers whose APIs are reached over HTTPS.
_MAIL_SERVICES: Final = (
    "sendgrid",
    "mailgun",
    "postmark",
    "mailjet",
    "sparkpost",
    "sendinblue",
    "brevo",
    "mandrill",
    "amazon ses",
    "aws ses",
    "amazonses",
    "sendemail",
    "sendrawemail",
    "resend",
    # Amazon SES's API errors (SES API reference, Common Errors and each action's
    # Errors): the SDK that carried them is another protocol, the refusal is mail's.
    "messagerejected",
    "mailfromdomainnotverified",
    "accountsendingpaused",
    "configurationsetsendingpaused",
)
# Names of another protocol or its client: stronger than a mail provider's name.
_DECISIVE_OTHER: Final = (
    "httpsconnectionpool",
    "httpconnectionpool",
    "requests.exceptions",
    "urllib3",
    "for url:",
    "hy000",
    "(2026,",
    "ssl provider",
    "odbc",
    "jdbc",
    "psql",
    "psycopg",
    "mongodb",
    "kafka",
    "rabbitmq",
    "amqp",
    "mqtt",
    "xmpp",
    "ldap",
    "grpc",
    "rpc error",
    # apt's own output: installing a package (php-imap) is no mail failure.
    "unable to locate package",
    "reading package lists",
    # gRPC-Go's transport credentials ("transport: authentication handshake failed:
    # x509: ..."), Redis clients' exceptions (phpredis, redis-py, Predis), Python's
    # telnet client.
    "transport: authentication handshake failed",
    "redisexception",
    "redis.exceptions",
    "predis\\",
    # Redis's own refusal of an unauthenticated command (the server's NOAUTH reply as
    # every client prints it) and MySQL's refusal of the client's authentication plugin
    # (server error 1251, ER_NOT_SUPPORTED_AUTH_MODE).
    "noauth authentication required",
    "client does not support authentication protocol requested by server",
    "telnetlib",
    "webhook",
    "curl error",
    "npm err",
    "registry.npmjs",
    "packagist",
    "kubectl",
    "httprequestexception",
    "okhttp",
    # Database drivers and servers named by product or by their own protocol's words
    # (SQL Server's TDS, MongoDB's server selection and ismaster/hello handshake).
    "mssql",
    "sql server",
    "sqlserver",
    "serverselection",
    "no suitable servers found",
    "calling ismaster",
    "calling hello on",
    # HTTP client libraries in a stack trace (Ruby Net::HTTP, PHP Guzzle, Ruby
    # Faraday, Python aiohttp/httpx, a gem's http_client).
    "net/http",
    "net::http",
    "http_client",
    "guzzle",
    "faraday",
    "aiohttp",
    "httpx",
    # Mailchimp's Marketing API (Ruby's Gibbon gem) is HTTPS only.
    "gibbon::",
    "mailchimp",
    # Python's urllib and the brokers' clients (Celery's kombu, RabbitMQ's pika).
    "urlopen error",
    "urllib.error",
    "kombu.",
    "pika.exceptions",
)
_DECISIVE_OTHER_RE: Final = re.compile(
    r"\b(?:sdk|epp)\b|\bapi\.[a-z0-9-]+\.[a-z]{2,}|https?://[^\s'\"]*/api/"
    # The mysql client's report of a server error: "ERROR 1045 (28000): ..." (a
    # four-digit server error number and its five-character SQLSTATE).
    r"|\berror [12]\d{3} \([0-9a-z]{5}\)"
)
_WEAK_MAIL: Final = (
    "mail",
    "imap",
    "pop3",
    "recipient",
    "sender",
    "mailbox",
    "exchange",
    "stream_socket_enable_crypto",
    "correo",
    "posta",
    "mx ",
    # A delivery failure notice's own words ("Your message couldn't be delivered",
    # "konnte nicht zugestellt werden", "n'a pas pu être remis").
    "couldn't be delivered",
    "could not be delivered",
    "undeliverable",
    "zugestellt",
    "être remis",
    "no se pudo entregar",
    "não pôde ser entregue",
    "nie został dostarczon",
    # "Attachment" where mail is the only thing that has one.
    "附件",
)
# Nodemailer's error codes (ESOCKET, EENVELOPE, EMESSAGE) as words: not the same
# letters inside a name ("handleSocketError", "handleMessage").
_WEAK_MAIL_RE: Final = re.compile(r"(?<![a-z])(?:esocket|eenvelope|emessage)(?![a-z])")
# Other protocols that share SMTP's three-digit replies, named by their own replies:
# FTP servers (RFC 959; vsftpd, ProFTPD and Pure-FTPd wording) and HTTP, whose client
# errors 400-420 and 422-431 (RFC 9110, RFC 6585: 429 Too Many Requests) SMTP never
# sends, written as a status or error code; monitoring tools' web requests; an HTTP
# client's retry error.
_OTHER_PROTOCOL_WORDS: Final = (
    "login incorrect",
    "failed to open file",
    "could not create file",
    "entering passive mode",
    "passive mode",
    "too many connections from your internet address",
    "too many connected users",
    # FTP's 530 (RFC 959) as .NET's FtpWebRequest words it.
    "(530) not logged in",
)
_OTHER_PROTOCOL_RE: Final = re.compile(
    r"too many connections \(\d+\) from this ip|"
    # .NET's WebException from WebRequest (HttpWebRequest, FtpWebRequest): "The remote
    # server returned an error: (530) Not logged in." (its net_servererror resource);
    # SmtpClient throws SmtpException with the server's own reply instead.
    r"the remote server returned an error: \(\d{3}\)|"
    # urllib3's retry error around Python's ssl error: "(_ssl.c:997)')))" closes
    # SSLError(SSLCertVerificationError(...)) inside MaxRetryError's "Caused by".
    r"\(_ssl\.c:\d+\)'\)\)\)|"
    r"\b(?:https?|status(?: code)?|error code|response code|status_code)\W{0,3}"
    r"(?:40[0-9]|41\d|42[02-9]|431)\b"
)
_OTHER_WORDS: Final = (
    "unable to locate package",
    "reading package lists",
    "postgres",
    "psycopg",
    "pg_hba",
    "psql",
    "django.db",
    "sqlalchemy",
    "sqlstate",
    "mysql",
    "mariadb",
    "hy000",
    "(2026,",
    "ssl provider",
    "tcp provider",
    "odbc",
    "sql server",
    "sqlclient",
    "sqlexception",
    "jdbc",
    "oracle.net",
    "service bus",
    "servicebus",
    "event hub",
    "sqs",
    "pubsub",
    "httprequestexception",
    "the ssl connection could not be established",
    "okhttp",
    "retrofit",
    "axios",
    "node-fetch",
    "fetcherror",
    "websocket",
    "grpc",
    "pypi",
    "maven",
    "gradle",
    "artifactory",
    "git clone",
    "git pull",
    "git push",
    "unable to access 'https",
    "curl error",
    "unable to connect to the server: x509",
    "k3s",
    "kubelet",
    "kube-",
    "rpc error",
    "resettransport",
    "pure-ftpd",
    "vsftpd",
    "proftpd",
    "filezilla",
    "downloading http",
    "could not be downloaded",
    "packagist",
    "composer",
    "webhook",
    "uses an invalid security certificate",
    "redis",
    "mongo",
    "mqtt",
    "rabbitmq",
    "amqp",
    "kafka",
    "elasticsearch",
    "ldap",
    "kubectl",
    "kubernetes",
    "terraform",
    "docker",
    "npm err",
    "openvpn",
    "wifi",
    "wi-fi",
    "globalprotect",
    "internal server error",
    "bad gateway",
    "forbidden",
    "for url:",
    "httpsconnectionpool",
    "requests.exceptions",
    "urllib3",
    "retrying (retry(",
    "could not find a version that satisfies",
    "nginx",
    "apache",
    "java.net.http",
    "httpclient",
    "status code",
    "ratelimiterror",
    "rate limit reached for requests",
    "api rate limit",
    "botocore",
    "boto3",
    "accessdenied",
    "net::err",
    "nullpointerexception",
    "keyerror",
    "typeerror",
    "/api/",
    "registry",
    # .NET's HttpWebRequest/WebClient (SmtpClient never says "trust relationship"),
    # cargo, OpenVPN, Oracle's TNS, Cloudflare's edge errors, browsers' net errors,
    # JavaScript package managers.
    "could not establish trust relationship",
    "httpwebrequest",
    "webclient",
    "spurious network error",
    "cargo",
    "tls key negotiation failed",
    "tns:",
    "cloudflare",
    "site can't be reached",
    "site can’t be reached",
    "err_connection_",
    "err_name_not_resolved",
    "err_cert_",
    "dns_probe_",
    "npm install",
    "yarn install",
    "pnpm",
    "herunterladen",
    # Databases named in several languages, browsers' certificate pages, monitoring
    # agents, DNS forwarders, MQTT brokers, mobile HTTP clients, reverse proxies,
    # Kubernetes, AI APIs' rate limits, webhooks' URL fetches.
    "database connection",
    "database server",
    "to the database",
    "to database",
    "database error",
    "datenbank",
    "base de datos",
    "banco de dados",
    "base de données",
    "bazą danych",
    "bazy danych",
    "база данных",
    "базе данных",
    "数据库",
    "データベース",
    "firefox",
    "sec_error_",
    "non-properly terminated",
    "zabbix agent",
    "get value from agent",
    "dnsmasq",
    "mosquitto",
    "dioerror",
    "to upstream",
    "k8s",
    "unable to connect to the server: dial tcp",
    "openai",
    "rate limit reached for",
    "error code: 429",
    "cannot get url",
    # HTTP's own reason phrases (RFC 9110): a web server's answer, not an SMTP reply.
    "too many requests",
    "request entity too large",
    "payload too large",
    "gateway timeout",
    # wget's messages ("cannot verify x's certificate, issued by ...").
    "wget",
    "'s certificate, issued by",
    "unable to resolve host address",
)
# Replies only SMTP writes: Rust lettre's display ("permanent error (535): ...",
# "transient error (421)"), a reply with its enhanced code, RFC 4954's login refusal.
_SMTP_REPLY_SHAPE: Final = re.compile(
    r"\b(?:permanent|transient) error \([45]\d\d\)|"
    # An SMTP reply with its RFC 3463 enhanced code ("550 5.7.1", "535-5.7.8",
    # "421 4.7.0"): no other protocol writes the pair; and the RFC 4954 refusal of a
    # login, which no HTTP or FTP server sends under 535.
    r"(?<![\d.])([245])\d\d[ -]\1\.\d{1,3}\.\d{1,3}\b|"
    r"(?<![\d.])535[ -](?:authentication failed|incorrect authentication data|"
    r"authentication credentials invalid)|"
    # Python smtplib's reply tuple: code and the server's bytes in Python 3
    # ("(550, b'...')"), its str in Python 2 ("(551, 'Sender address ...', u'...')").
    r"\([45]\d\d, [bu]?['\"]|"
    # qmail's bounce reasons end with the enhanced code after a "#" in parentheses
    # ("Sorry, I couldn't find any host named example.org. (#5.1.2)").
    r"\(#[45]\.\d{1,3}\.\d{1,3}\)"
)
# A mail port after a host or "port" (also a quoted "port" key); not a time of day
# ("10:25:33", "6:36:25 PM"), a version, a key's value ('"temperature":25', a Node
# object's "total: 25"), or
# a number in an argument list ("substring(col,1,25)").
_MAIL_PORT: Final = re.compile(
    r"(?:(?<!\d:\d\d)(?<![\"'])(?<![a-z_]:)[:\s\[]|(?<!\d),|port[\"']?[=: ]{1,2})"
    r"(?:25|465|587|2525)\b(?![:.]\d)|"
    # The same port named in Chinese or Japanese ("25端口", "端口465", "587番ポート").
    r"(?<![\d.])(?:25|465|587|2525)\s*(?:号|番)?\s*(?:端口|埠|ポート)|"
    r"(?:端口|埠|ポート)\s*(?:号|番号)?\s*[:：]?\s*(?:25|465|587|2525)(?![\d.])"
)
_OTHER_RE: Final = re.compile(
    r"[:\s](?:443|5432|3306|1433|1521|6379|27017|5672|1883|9200|9092|6443|8080|8443|"
    r"3000|5000)\b|"
    r"\b(?:pip|git|ssh|vpn|helm|curl https?|epp|sftp|ftps?|ftplib|chrome|browser|"
    r"sdk)\b|xmpp|"
    # Chromium's net errors (ERR_SSL_PROTOCOL_ERROR); not Node's error objects, whose
    # code: 'ERR_SSL_WRONG_VERSION_NUMBER' carries OpenSSL's reason for any client.
    r"(?<!code: ')(?<!code: \")(?<!code: )\berr_ssl_|"
    # Oracle's ORA-nnnnn errors.
    r"\bora-\d{5}\b|"
    # An HTTP API's host name ("api.mailjet.com", "api.sendgrid.com").
    r"\bapi\.[a-z0-9-]+\.[a-z]{2,}|"
    r"\bhttp/\d|"
    # curl's exit codes of a web transfer (resolve, connect, TLS, certificate, HTTP);
    # those a mail transfer also gives (login denied, SSL level) are not listed.
    r"curl: \((?:6|7|22|28|35|47|51|52|58|60|77|92)\)|"
    # A web request's target named as what the client was fetching.
    r"\b(?:connecting to|connect to|request to|requesting|fetching|url:?|uri:?)\s*"
    r"['\"<(]?https?://|"
    r"\b(?:get|post|put|delete|patch) (?:request )?(?:for |to )?\"?https?://"
)
# A web application's report of the request it was serving when the error happened
# (Django's debug page and its django.request logger, Rails' and Laravel's request
# lines): the incoming request, not a web call the failing code made, so it says
# nothing about the protocol that failed.
_SERVED_REQUEST: Final = re.compile(
    r"^[ \t]*request (?:url|method):[^\n]*|"
    r"internal server error: /[^\s]*|"
    r"completed 5\d\d internal server error",
    re.MULTILINE,
)
# Numbers that are no port. Bytes printed as numbers: Node's util.inspect of a Buffer
# or Uint8Array ("raw: Buffer(386) [Uint8Array] [ 48, 130, 1, 126, ... ]", "<Buffer 30
# 82 01 89 ... 347 more bytes>") and colon-separated hex digests (a certificate's
# fingerprint or serial number, "3A:49:3B:CF:..."). A 25 or 587 among them is a byte.
_BYTE_DUMP: Final = re.compile(
    r"\[uint8array\] \[[\d,\s]*(?:\.\.\. \d+ more items?[\s,]*)?\]|"
    r"<buffer(?: [0-9a-f]{2})*(?: \.\.\. \d+ more bytes?)?>|"
    r"\b(?:[0-9a-f]{2}:){7,}[0-9a-f]{2}\b|"
    # A stack frame's source position: line and column after a source file or a
    # Node.js internal module ("event_handler.js:355:25", "node:events:524:25",
    # "main.go:25:3"), a JVM frame's line ("(Foo.java:587)").
    r"(?:\.(?:[cm]?js|ts|py|rb|go|php|cs|kt|rs|exs?|erl|scala)|\bnode:[\w/.-]+)"
    r":\d+:\d+\b|\.(?:java|kt|scala):\d+\)|"
    # A count with its unit ("has read 587 bytes", "after 25 ms").
    r"\b\d+ (?:bytes?|bits|ms|milliseconds|seconds|secs)\b"
)
# How much of a huge paste is read for context: its head and its tail.
CONTEXT_SCAN: Final = 30_000


def mail_context(text: str) -> tuple[bool, bool]:
    """
    (about mail, about other software) for a paste.

    Both are true for a mail provider's API reached over another protocol.
    """
    if len(text) > 2 * CONTEXT_SCAN:
        text = text[:CONTEXT_SCAN] + "\n" + text[-CONTEXT_SCAN:]
    low = _BYTE_DUMP.sub(" ", _SERVED_REQUEST.sub(" ", text.lower()))
    if (
        any(word in low for word in _SMTP_MARKERS)
        or _GEN_SMTP_TUPLE.search(low)
        or _MAIL_PORT.search(low)
        or _SMTP_REPLY_SHAPE.search(low)
    ):
        return True, False
    # A named other protocol (an HTTPS client's pool, an API host, a database
    # driver, XMPP) outweighs a mail provider's name: Mailjet's HTTP API is not SMTP.
    if (
        any(word in low for word in _DECISIVE_OTHER)
        or any(word in low for word in other_software.DECISIVE)
        or _DECISIVE_OTHER_RE.search(low)
    ):
        # A mail provider's API over HTTPS: its sender or quota refusals are still
        # mail problems, its TLS and connection errors are not (the matcher caps only
        # the generic categories when both are true).
        return any(word in low for word in _MAIL_SERVICES), True
    if (
        any(word in low for word in _STRONG_MAIL)
        or _SEND_MAIL_PHRASE.search(low)
        or _NODE_IMAP_TIMEOUT.search(low)
        or _MAILBOX_PROTOCOL.search(low)
    ):
        return True, False
    if (
        any(word in low for word in _OTHER_WORDS)
        or any(word in low for word in other_software.OTHER)
        or _OTHER_RE.search(low)
        or other_software.OTHER_RE.search(low)
        or any(word in low for word in _OTHER_PROTOCOL_WORDS)
        or _OTHER_PROTOCOL_RE.search(low)
    ):
        return False, True
    return (
        any(word in low for word in _WEAK_MAIL) or bool(_WEAK_MAIL_RE.search(low))
    ), False


# Categories whose wording also appears in non-mail software (databases, HTTP, VPNs):
# they need mail context in the paste, and lose heavily when the paste is clearly about
# other software (PostgreSQL on 5432 refusing a connection is not our problem).
GENERIC: Final = frozenset(
    {
        "connection-timeout",
        "connection-refused",
        "dns-failure",
        "tls-cert-untrusted",
        "tls-cert-hostname",
        "tls-cert-expired",
        "tls-handshake-failed",
        "auth-failed",
        "client-logging",
    }
)
NO_MAIL_PENALTY: Final = 6.0
GENERIC_PENALTY: Final = 8.0
OTHER_SOFTWARE_PENALTY: Final = 45.0
OTHER_SOFTWARE_CEILING: Final = 50.0

# "The server responded: 530 ..." (Outlook, Thunderbird, Apple Mail wrap the reply in a
# "cannot connect" or "sending failed" message): the server was reached and refused, so
# the categories of not reaching it lose this much.
UNREACHED: Final = frozenset(
    {"connection-refused", "connection-timeout", "dns-failure"}
)
ANSWERED_PENALTY: Final = 30.0
_SERVER_ANSWER: Final = re.compile(
    r"\b(?:the )?server (?:responded|response was|replied|said)\s*:?\s*[\"'(]?5\d\d\b",
    re.IGNORECASE,
)
# When several categories fit, the more specific diagnosis is the more useful one.
PRIOR: Final[dict[str, float]] = {
    "auth-policy-blocked": 3.0,
    "tls-cert-hostname": 3.0,
    "tls-cert-expired": 3.0,
    "starttls-required": 2.0,
    "sender-not-permitted": 2.0,
    "sender-authentication": 1.5,
    "tls-port-mismatch": 1.5,
    "dns-failure": 1.0,
    "auth-failed": 1.0,
}


def server_answered(text: str) -> bool:
    """
    True when the text quotes a 5xx reply as the server's answer to the client.
    """
    return _SERVER_ANSWER.search(text) is not None
