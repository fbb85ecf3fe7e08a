"""
How the matcher reads pastes whose cause is implied rather than written: a client's
connect-failure message without a reason, a silence on an implicit-TLS port, a failure
right after the server accepted STARTTLS, other software named only by its driver,
port or product word.

Texts follow what the named software prints (its sources, message catalogues and
documentation), with invented hosts and addresses.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


@pytest.fixture(scope="module")
def recogniser() -> Matcher:
    """The shipped knowledge base's matcher without the learned not-mail check."""
    assert not ERRORS
    return Matcher(KB, not_mail=False, rerank=False)


@pytest.mark.parametrize(
    "text",
    [
        # JavaMail debug output: plain SMTP to the implicit-TLS port, then no greeting.
        'DEBUG SMTP: trying to connect to host "mail.example.org", port 465, '
        "isSSL false\njava.net.SocketTimeoutException: Read timed out",
        # JavaMail without debug output: the greeting read timed out on 465.
        "javax.mail.MessagingException: Exception reading response;\n"
        "  nested exception is:\n\tjava.net.SocketTimeoutException: Read timed out\n"
        "Sending the email to the following server failed : mail.example.org:465",
        # Go clients (Alertmanager, Grafana) print EOF when the server never greets.
        "smtp_smarthost: 'mail.example.org:465'\nlevel=error msg=\"Notify failed\" "
        "err=EOF",
        # PEAR Net_SMTP (Roundcube, Horde) reading an empty reply on port 465.
        "SMTP Error (-1): Connection to server failed.\nFailed to connect socket: "
        "ssl0.example.net:465 [SMTP: Invalid response code received from server "
        "(code: -1, response: )]",
        # SwiftMailer's read timeout on a plain tcp:// stream to 465 or to IMAPS.
        "Swift_IoException: Connection to tcp://smtp.example.org:465 Timed Out at "
        "/var/www/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/"
        "StreamBuffer.php:166",
        "Swift_TransportException: Connection to tcp://mail.example.org:993 Timed Out",
        # Ruby Net::SMTP waiting in recv_response on port 465.
        "Net::ReadTimeout: Net::ReadTimeout\n"
        ":port => 465, :enable_starttls_auto => true",
    ],
)
def test_silence_on_an_implicit_tls_port_is_a_mode_mismatch(
    shipped: Matcher, text: str
) -> None:
    """A read timeout or EOF on port 465 means both ends waited: a TLS-mode mismatch."""
    assert shipped.diagnose(text).category == "tls-port-mismatch"


def test_a_connect_timeout_on_465_stays_a_connection_timeout(shipped: Matcher) -> None:
    """Only a silence after connecting points to the TLS mode, not a connect timeout."""
    text = (
        "com.sun.mail.util.MailConnectException: Couldn't connect to host, port: "
        "mail.example.org, 465; timeout -1;\n  nested exception is:\n"
        "\tjava.net.ConnectException: Connection timed out: connect"
    )
    assert shipped.diagnose(text).category == "connection-timeout"


@pytest.mark.parametrize(
    "text",
    [
        "SMTP Error: Could not connect to SMTP host.",
        "javax.mail.MessagingException: Could not connect to SMTP host: "
        "mail.example.org, port: 587",
        "SMTP ERROR: Failed to connect to server:  (0)",
        "Swift_TransportException: Connection could not be established with host "
        "mail.example.org [ #0]",
        # PHPMailer's connect_host message in its German and Chinese language files.
        "SMTP-Fehler: Konnte keine Verbindung zum SMTP-Host herstellen.",
        "SMTP 错误：无法连接到 SMTP 主机。",
    ],
)
def test_connect_failure_without_a_reason_is_a_blocked_port(
    shipped: Matcher, text: str
) -> None:
    """A client's "could not connect" with no reason is answered as a timeout."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == "connection-timeout"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "SMTP ERROR: Failed to connect to server: Connection refused (111)\n"
            "SMTP Error: Could not connect to SMTP host.",
            "connection-refused",
        ),
        (
            "SMTP ERROR: Failed to connect to server: php_network_getaddresses: "
            "getaddrinfo failed: Name or service not known (0)",
            "dns-failure",
        ),
        (
            "SMTP Error: Could not connect to SMTP host.\n"
            "SERVER -> CLIENT: 554 5.7.1 Service unavailable; Client host blocked "
            "using zen.spamhaus.org",
            "sender-blocklisted",
        ),
    ],
)
def test_a_reason_beside_the_wrapper_decides(
    shipped: Matcher, text: str, category: str
) -> None:
    """An errno, a DNS failure or a server's reply explains the connect failure."""
    assert shipped.diagnose(text).category == category


def test_failure_after_starttls_accepted_is_a_handshake_failure(
    shipped: Matcher,
) -> None:
    """After "220 ready" to STARTTLS, "could not connect" means the handshake."""
    text = (
        "CLIENT -> SERVER: STARTTLS\n"
        "SERVER -> CLIENT: 220 2.0.0 Ready to start TLS\n"
        "SMTP Error: Could not connect to SMTP host."
    )
    assert shipped.diagnose(text).category == "tls-handshake-failed"


@pytest.mark.parametrize(
    "text",
    [
        # SQL Server's driver (TDS) refusing the server's certificate.
        "SqlException: A connection was successfully established with the server, but "
        "then an error occurred during the login process. (provider: SSL Provider, "
        "error: 0 - The certificate chain was issued by an authority that is not "
        "trusted.) connecting to MSSQL",
        "Login to MSSQL failed: The certificate chain was issued by an authority "
        "that is not trusted.",
        # MongoDB drivers' server selection and handshake.
        "No suitable servers found (`serverSelectionTryOnce` set): [connection "
        "refused calling hello on 'db1.example.org:27018']",
        # A Ruby HTTP client (an e-mail API's gem) failing its TLS handshake.
        "Errno::ECONNRESET: Connection reset by peer - SSL_connect\n"
        "  /usr/lib/ruby/3.1.0/net/http.rb:1089:in `connect'\n"
        "  /gems/postmark-1.25.0/lib/postmark/http_client.rb:32:in `post'",
        # A database port named in the error.
        "connect ECONNREFUSED 10.0.0.7:1433",
    ],
)
def test_other_software_named_by_driver_port_or_product_is_not_mail(
    shipped: Matcher, text: str
) -> None:
    """A database or HTTP client named only by its driver, port or word stays none."""
    assert shipped.diagnose(text).category == "none"


def test_nodemailer_error_fields_make_a_paste_about_mail(shipped: Matcher) -> None:
    """Nodemailer's ESOCKET/CONN fields say mail, even in a container's log."""
    text = (
        "docker logs app | grep Error\n"
        "Error: self signed certificate\n"
        "    at TLSSocket.onConnectSecure (_tls_wrap.js:1515:34) {\n"
        "  code: 'ESOCKET',\n  command: 'CONN'\n}"
    )
    assert shipped.diagnose(text).category == "tls-cert-untrusted"


OUTLOOK_EXPRESS = (
    "The connection to the server has failed. Account: 'mail.example.org', Server: "
    "'smtp.example.org', Protocol: SMTP, Port: 25, Secure(SSL): No, Socket Error: "
    "{socket}, Error Number: 0x800CCC0E"
)


@pytest.mark.parametrize(
    ("socket", "category"),
    [("10061", "connection-refused"), ("10060", "connection-timeout")],
)
def test_the_socket_error_decides_outlooks_cannot_connect(
    shipped: Matcher, socket: str, category: str
) -> None:
    """0x800CCC0E says only "cannot connect"; the socket error beside it says how."""
    text = OUTLOOK_EXPRESS.format(socket=socket)
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Codes written straight into Chinese text.
        ("Outlook 发送邮件一直提示0X800CCC0E错误", "connection-timeout"),
        ("用 smtp.163.com 发信，发到其它邮箱就出现554错误", "sender-blocklisted"),
        ("邮箱配置好了，SMTP 登录依旧535", "auth-failed"),
        # Rust lettre: the error's display and its Code struct.
        (
            "Error: permanent error (535): 5.7.8 Authentication credentials invalid",
            "auth-failed",
        ),
        (
            "lettre::transport::smtp::Error { kind: Permanent(Code { severity: "
            "PermanentNegativeCompletion, category: MailSystem, detail: Zero }) }",
            "recipient-unknown",
        ),
    ],
)
def test_codes_are_read_where_they_are_written(
    shipped: Matcher, text: str, category: str
) -> None:
    """Reply and hex codes touching CJK text, and lettre's code parts, are codes."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "452-4.2.2 The email account that you tried to reach is over quota.",
            "mailbox-full",
        ),
        ("Quota exceeded (mailbox for user is full)", "mailbox-full"),
        ("550 5.4.5 Daily user sending quota exceeded.", "rate-limited"),
        ("450 4.7.3 Organization queue quota exceeded.", "rate-limited"),
        ("SMTP 发信失败：over quota，今天的发送限额已经用完", "rate-limited"),
        ("发信失败 over quota，对方邮箱已满", "mailbox-full"),
    ],
)
def test_quota_words_are_read_with_their_neighbours(
    shipped: Matcher, text: str, category: str
) -> None:
    """A quota counted per day or in sending is a rate limit; storage is a full box."""
    assert shipped.diagnose(text).category == category


def test_a_permanent_reply_is_no_temporary_ones_entry(shipped: Matcher) -> None:
    """ "550 ... try again later" does not match an entry for a 421 reply."""
    text = (
        "S: 550-Requested action not taken: mailbox unavailable\n"
        "S: 550 Mailbox unavailable or access denied. Try again later"
    )
    assert shipped.diagnose(text).category != "rate-limited"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # libcurl's strerror texts, as programs sending mail through libcurl show them.
        (
            "Cannot send mail to smtp://mail.example.org: An authentication function "
            "returned an error",
            "auth-failed",
        ),
        (
            "curl: (64) Requested SSL level failed  (smtp://mail.example.org:25)",
            ("starttls-unavailable"),
        ),
        ("Failed to send e-mail via SMTP: Timeout was reached", "connection-timeout"),
        # Indy's EIdOSSLConnectError (Delphi mail clients).
        (
            "Sending the report by e-mail failed: Error connecting with SSL.",
            ("tls-handshake-failed"),
        ),
        # Java's PKIX validator on an expired certificate.
        (
            "javax.mail.MessagingException: Could not connect to SMTP host: "
            "mail.example.org, port: 465;\n  nested exception is:\n"
            "\tjavax.net.ssl.SSLHandshakeException: PKIX path validation failed: "
            "java.security.cert.CertPathValidatorException: validity check failed",
            "tls-cert-expired",
        ),
        # Exim's router and a desktop client on a name that does not resolve.
        (
            "== user@example.org R=dnslookup defer (-1): host lookup did not complete",
            "dns-failure",
        ),
        (
            'Evolution: sending failed, "Host lookup mail.example.org failed"',
            ("dns-failure"),
        ),
    ],
)
def test_products_own_words_name_the_cause(
    shipped: Matcher, text: str, category: str
) -> None:
    """libcurl, Indy, Java PKIX, Exim and Evolution messages are read by their words."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "When I send a test mail from the app it shows a time out error",
            ("connection-timeout"),
        ),
        (
            "IMAP login works, but the SMTP authentication fails when I send",
            ("auth-failed"),
        ),
        (
            "Sending email with the example code gives a handshake error",
            ("tls-handshake-failed"),
        ),
        ("邮件发送失败，提示连接超时", "connection-timeout"),
    ],
)
def test_plain_descriptions_of_a_mail_failure_are_answered(
    shipped: Matcher, text: str, category: str
) -> None:
    """A mail paste that only describes the failure is answered from its words."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    "text",
    [
        "The build had a time out error on the CI runner again",
        "The SSO authentication fails for the admin page",
    ],
)
def test_the_same_words_without_mail_stay_none(shipped: Matcher, text: str) -> None:
    """Without anything about mail, those descriptions are not answered."""
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    "text",
    [
        "smtplib.SMTPNotSupportedError: SMTP AUTH extension not supported by server.",
        "gomail: could not send email 1: smtp: server doesn't support AUTH",
    ],
)
def test_auth_hidden_until_starttls_is_answered_with_starttls(
    shipped: Matcher, text: str
) -> None:
    """A server that offers AUTH only after STARTTLS needs STARTTLS first."""
    assert shipped.diagnose(text).category == "starttls-required"


def test_a_refused_login_explains_the_not_authenticated_reply(
    shipped: Matcher,
) -> None:
    """.NET's wrapper and 5.7.57 follow a refused login (535): the 535 decides."""
    text = (
        "System.Net.Mail.SmtpException: The SMTP server requires a secure connection "
        "or the client was not authenticated. The server response was: 5.7.57 Client "
        "not authenticated to send mail. Error: 535 5.7.139 Authentication "
        "unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
    )
    assert shipped.diagnose(text).category == "auth-policy-blocked"


def test_dotnet_wrapper_leaves_the_server_reply_to_decide(shipped: Matcher) -> None:
    """Without a refused login, the reply after .NET's wrapper is read as written."""
    text = (
        "System.Net.Mail.SmtpException: The SMTP server requires a secure connection "
        "or the client was not authenticated. The server response was: 5.7.0 Must "
        "issue a STARTTLS command first"
    )
    assert shipped.diagnose(text).category == "starttls-required"


@pytest.mark.parametrize(
    "reply",
    [
        # Postfix without TLS configured (smtpd.c's answer to an unknown command).
        "502 5.5.1 Error: command not implemented",
        # Sendmail and others when the TLS layer cannot start (RFC 3207 §4).
        "454 4.7.0 TLS not available due to local problem",
        # Exim without tls_advertise_hosts.
        "500 5.5.1 Unrecognized command",
    ],
)
def test_starttls_answered_with_an_error_is_starttls_unavailable(
    shipped: Matcher, reply: str
) -> None:
    """SwiftMailer/Symfony name the 220 they expected from STARTTLS before the reply."""
    code = reply.split()[0]
    text = (
        "Swift_TransportException: Expected response code 220 but got code "
        f'"{code}", with message "{reply}"'
    )
    assert shipped.diagnose(text).category == "starttls-unavailable"


def test_a_greeting_refused_with_554_is_not_a_starttls_failure(
    shipped: Matcher,
) -> None:
    """The same 220 expected at the greeting, answered 554 by a blocklist, stays one."""
    text = (
        "Swift_TransportException: Expected response code 220 but got code "
        '"554", with message "554 5.7.1 Service unavailable; Client host '
        '[203.0.113.5] blocked using zen.spamhaus.org"'
    )
    assert shipped.diagnose(text).category == "sender-blocklisted"


# Django's technical 500 page (django/views/templates/technical_500.html) and its
# django.request logger ("Internal Server Error: %s" with the request's path).
_DJANGO_PAGE = (
    "error at /accounts/invite/\n{error}\nRequest Method:\tPOST\n"
    "Request URL:\thttp://203.0.113.7:8000/accounts/invite/\nDjango Version:\t4.2\n"
    "Exception Type:\t{kind}\nException Value:\t\n{error}\n"
    "Exception Location:\t/usr/lib/python3.11/socket.py in create_connection, line 851"
)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            _DJANGO_PAGE.format(
                error="[Errno 110] Connection timed out", kind="TimeoutError"
            ),
            "connection-timeout",
        ),
        (
            "app_1  | error: [Errno 111] Connection refused\n"
            "app_1  | ERROR:django.request:Internal Server Error: /accounts/register/\n"
            "app_1  | Traceback (most recent call last):\n"
            'app_1  |   File "/app/django/core/handlers/base.py", line 181, in '
            "_get_response",
            "connection-refused",
        ),
    ],
)
def test_the_request_a_web_app_served_is_not_another_protocol(
    recogniser: Matcher, text: str, category: str
) -> None:
    """
    The page's Request URL is the incoming request, not a web call that failed.

    A rule of the recogniser: with no word naming mail either, the learned not-mail
    check may still withhold the answer (tests/knowledge/test_learned.py).
    """
    assert recogniser.diagnose(text).category == category


def test_a_web_call_inside_a_django_page_stays_other_software(shipped: Matcher) -> None:
    """What the view itself fetched over HTTPS is still named, and still not mail."""
    text = _DJANGO_PAGE.format(
        error="HTTPSConnectionPool(host='api.example.com', port=443): Max retries "
        "exceeded with url: /v1/items (Caused by NewConnectionError('<urllib3."
        "connection.HTTPSConnection object>: Failed to establish a new connection: "
        "[Errno 110] Connection timed out'))",
        kind="ConnectionError",
    )
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    "text",
    [
        # A Postfix policy service's per-sender recipient limit.
        "SMTP failed: 550 5.7.1 <DATA>: Data command rejected: limit of 400 rcpts per "
        "24 hours for client user@example.org reached",
        # Exim's ratelimit ACL as its documentation words the refusal.
        "451 4.7.0 Sender rate exceeds 100 messages per 1h",
        "SMTP Error: You have exceeded the limit of 100 emails per hour",
        "smtplib.SMTPDataError: (550, b'500 recipients/day limit reached for this "
        "account')",
    ],
)
def test_a_counted_allowance_reached_is_a_rate_limit(
    shipped: Matcher, text: str
) -> None:
    """A number of messages or recipients per period, named as a limit, is a quota."""
    assert shipped.diagnose(text).category == "rate-limited"


@pytest.mark.parametrize(
    "text",
    [
        "The old box relayed 400 mails a day for us and now the new one does too",
        "I get about 50 emails an hour from cron, can I filter them?",
        "552 5.3.4 Message size exceeds fixed limit of 25 MB per message",
    ],
)
def test_counts_without_a_limit_reached_are_no_rate_limit(
    shipped: Matcher, text: str
) -> None:
    """A volume mentioned in passing, or a size limit, is not a sending allowance."""
    assert shipped.diagnose(text).category != "rate-limited"


@pytest.mark.parametrize(
    "text",
    [
        # QQ Mail's documented reply, and the same reply with articles, as servers
        # and their translations word it.
        "501 mail from address must be same as authorization user",
        '"501 mail from address must be the same as the authorization user."',
    ],
)
def test_articles_do_not_change_a_known_reply(shipped: Matcher, text: str) -> None:
    """A signal is found with or without English articles around its words."""
    assert shipped.diagnose(text).category == "sender-not-permitted"


def test_a_generic_phrase_said_of_smtp_answers(shipped: Matcher) -> None:
    """A medium signal next to "SMTP" is strong enough to answer with."""
    smtp = shipped.diagnose("SMTP.login failed for user sam@example.org (Login failed)")
    assert smtp.category == "auth-failed"
    ftp = shipped.diagnose("FTP login failed for user deploy (Login failed)")
    assert ftp.category == "none"


def test_a_reply_continued_over_lines_reads_as_one_sentence(shipped: Matcher) -> None:
    """Postfix keeps each line's '550-5.7.1' when it logs Gmail's multi-line reply."""
    text = (
        "postfix/smtp[1093]: 4Wy9rQ: to=<sam@gmail.com>, relay=aspmx.l.google.com"
        "[142.250.1.27]:25, delay=3.3, dsn=5.7.1, status=bounced (host "
        "aspmx.l.google.com[142.250.1.27] said: 550-5.7.1 [203.0.113.9] The IP "
        "you're using to send mail is not authorized to 550-5.7.1 send email "
        "directly to our servers. Please use the SMTP relay at your 550-5.7.1 "
        "service provider instead. For more information, go to 550 5.7.1  "
        "https://support.google.com/mail/?p=NotAuthorizedError (in reply to end "
        "of DATA command))"
    )
    assert shipped.diagnose(text).category == "sender-blocklisted"


@pytest.mark.parametrize(
    "text",
    [
        "Swift_TransportException: Connection could not be established with host "
        "127.0.0.1 [Connection refused #111]",
        "Connection could not be established with host localhost",
        "com.sun.mail.util.MailConnectException: Couldn't connect to host, port: "
        "127.0.0.2, 25; timeout -1",
    ],
)
def test_a_failed_connection_to_this_machine_is_refused(
    shipped: Matcher, text: str
) -> None:
    """Anything in 127.0.0.0/8 is this machine: nothing listens, it is refused."""
    assert shipped.diagnose(text).category == "connection-refused"


@pytest.mark.parametrize(
    "text",
    [
        # An SMTP client that reached Dovecot's IMAP port (RFC 9051 greeting).
        'error="short response: * OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID '
        'ENABLE IDLE STARTTLS AUTH=PLAIN] Dovecot ready."',
        # Exim reading a TLS ClientHello as commands on a plaintext port.
        "SMTP call from client.example.net [198.51.100.7]:39166 dropped: too many "
        'syntax or protocol errors (last command was "\\026\\003\\001\\002\\000")',
        # .NET SmtpClient's plaintext EHLO on a TLS-first port: no server text.
        "System.Net.Mail.SmtpException: Syntax error, command unrecognized.",
        "An error occurred while sending an email: 'Syntax error, command "
        "unrecognized. The server response was: '",
    ],
)
def test_the_wrong_service_or_mode_seen_from_the_other_end(
    shipped: Matcher, text: str
) -> None:
    """An IMAP greeting, binary commands or an empty 500 mean the wrong port or mode."""
    assert shipped.diagnose(text).category == "tls-port-mismatch"


def test_a_500_with_the_servers_text_is_no_mode_mismatch(shipped: Matcher) -> None:
    """When the server's own 500 text is there, it was an SMTP server answering."""
    text = (
        "System.Net.Mail.SmtpException: Syntax error, command unrecognized. The "
        "server response was: 500 5.5.1 Unknown command XYZ"
    )
    assert shipped.diagnose(text).category != "tls-port-mismatch"


def test_a_host_name_or_banner_is_no_smtp_said_of_a_phrase(shipped: Matcher) -> None:
    """'relay' in a host name next to its ESMTP banner is no error."""
    text = (
        "=== Connected to smtp.relay-corp.example.\n"
        "<-  220 smtp.relay-corp.example ESMTP Postfix\n"
        "<~  235 2.7.0 Authentication successful\n"
        "<~  250 2.0.0 Ok: queued as 4WbY1r0kQmz3xJd\n"
        "works now after the firewall change"
    )
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # MailKit names the reason, then .NET's SslStream adds its generic words.
        (
            "MailKit.Security.SslHandshakeException: An error occurred while "
            "attempting to establish an SSL or TLS connection.\n\nThe host name did "
            "not match the name given in the server's SSL certificate.\n ---> "
            "System.Security.Authentication.AuthenticationException: The remote "
            "certificate is invalid according to the validation procedure.",
            "tls-cert-hostname",
        ),
        (
            "System.Security.Authentication.AuthenticationException: The remote "
            "certificate is invalid according to the validation procedure: "
            "certificate has expired (NotTimeValid)",
            "tls-cert-expired",
        ),
        # The generic words alone still mean an untrusted certificate.
        (
            "System.Net.Mail.SmtpException: Failure sending mail. ---> "
            "System.Security.Authentication.AuthenticationException: The remote "
            "certificate is invalid according to the validation procedure.",
            "tls-cert-untrusted",
        ),
    ],
)
def test_generic_certificate_words_yield_to_the_named_reason(
    shipped: Matcher, text: str, category: str
) -> None:
    """
    .NET says "remote certificate is invalid" for any reason; the reason decides. (A
    bare .NET line naming no mail may be withheld by the learned not-mail check: then
    the recogniser's category is offered first.)
    """
    recogniser = Matcher(shipped.kb, not_mail=False, rerank=False)
    assert recogniser.diagnose(text).category == category
    answer = shipped.diagnose(text)
    if answer.category == "none":
        assert answer.alternatives[0].entry.category == category
    else:
        assert answer.category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Gmail's 534-5.7.9 reply beside a browser word and its help URL.
        (
            "534-5.7.9 Please log in with your web browser and then try again. Learn "
            "more at\n534 5.7.9  https://support.google.com/mail/?p=WebLoginRequired "
            "x1sm123456wrb.12 - gsmtp",
            "auth-policy-blocked",
        ),
        # A web app's request log around the SMTP reply it got.
        (
            "ERROR app.middleware.log POST /api/email/test 500 112.0 ms\n"
            '{:message "535 Authentication failed: Bad username / password"}',
            "auth-failed",
        ),
        # A client's "Authentication failed:" wrapping a reply about something else.
        (
            "Unable to send message;Reason:Authentication failed:554 5.1.8 Sender "
            "Address Blocked",
            "sender-blocklisted",
        ),
        # JavaMail names every refused AUTH an AuthenticationFailedException; the
        # 530 says TLS had to come first (QQ Mail spells it "requiered").
        (
            "javax.mail.AuthenticationFailedException: 530 Login fail. A secure "
            "connection is requiered(such as ssl).",
            "starttls-required",
        ),
        # Gmail's "Send mail as" bounce: the reason after the comma decides.
        (
            "TLS Negotiation failed, the certificate doesn\u2019t match the host.",
            "tls-cert-hostname",
        ),
        # A plaintext Exim port read a TLS ClientHello (escaped bytes in its log).
        (
            "SMTP protocol synchronization error (input sent without waiting for "
            "greeting): rejected connection from H=(client) [192.0.2.7] "
            'input="\\026\\003\\001\\002\\000\\001\\000\\001\\374\\003\\003"',
            "tls-port-mismatch",
        ),
        # Postfix trusted the chain, then could not verify the name.
        (
            "postfix/smtp[2529]: Trusted TLS connection established to "
            "mx.example.net[192.0.2.4]:25: TLSv1.2 with cipher "
            "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)\npostfix/smtp[2529]: "
            "D33A0250: to=<a@example.net>, relay=mx.example.net[192.0.2.4]:25, "
            "delay=8.4, dsn=4.7.5, status=deferred (Server certificate not verified)",
            "tls-cert-hostname",
        ),
        (
            "postfix/smtp[2529]: Untrusted TLS connection established to "
            "mx.example.net[192.0.2.4]:25: TLSv1.2\npostfix/smtp[2529]: D33A0250: "
            "to=<a@example.net>, dsn=4.7.5, status=deferred (Server certificate not "
            "verified)",
            "tls-cert-untrusted",
        ),
        # Postfix's server log: the client sent alert 46 about our certificate.
        (
            "postfix/smtpd[811]: SSL_accept error from client.example.com[192.0.2.9]: "
            "-1\npostfix/smtpd[811]: warning: TLS library problem: error:14094416:SSL "
            "routines:ssl3_read_bytes:sslv3 alert certificate unknown:"
            "../ssl/record/rec_layer_s3.c:1528:SSL alert number 46:",
            "tls-cert-untrusted",
        ),
        # Outlook in Japanese: 0x800CCC1A and the wrong principal name.
        (
            "テスト電子メール メッセージの送信: "
            "このサーバーは、指定した種類の接続暗号化をサポートしていません",
            "tls-port-mismatch",
        ),
        (
            "接続しているサーバーは、確認できないセキュリティ証明書を使用しています。"
            "対象のプリンシパル名が間違っています",
            "tls-cert-hostname",
        ),
        # Qt's QSslError, as a Qt mail client shows it.
        (
            "SMTP error: The issuer certificate of a locally looked up certificate "
            "could not be found",
            "tls-cert-untrusted",
        ),
        # Postfix disabled TLS (unusable key), so it offers no STARTTLS.
        (
            "postfix/smtpd[1024]: warning: cannot get RSA private key from file "
            '"/etc/postfix/ssl/key": disabling TLS support',
            "starttls-unavailable",
        ),
        # POP-before-SMTP servers want a POP login first.
        ("554 sorry, you must get POP/APOP authorization.", "auth-required"),
        # Questions about where the log is, or how to get the whole error.
        (
            "Mails are not sent by my installation. In which log file can I see the "
            "sent mails and the errors?",
            "client-logging",
        ),
        (
            "How do I get the full error with the SMTP response so our provider can "
            "look into it",
            "client-logging",
        ),
        # Zoho's wording for a From address the account does not own.
        ("553 Relaying disallowed", "sender-not-permitted"),
        # Outlook: no AUTH offered that it can use (AUTH only after STARTTLS).
        (
            "Send test e-mail message: None of the authentication methods supported "
            "by this client are supported by your server.",
            "starttls-required",
        ),
        (
            "テスト電子メール メッセージの送信: "
            "このクライアントでサポートされている認証方法が、サーバーでサポートされていません。",
            "starttls-required",
        ),
        # A refused login explains the "authentication required" said before it.
        (
            "530 5.7.0 Authentication required\n535 5.7.8 Error: authentication "
            "failed: Invalid credentials",
            "auth-failed",
        ),
        # Exim's sender callout: the envelope sender is no deliverable address.
        (
            "SMTPRecipientsRefused: {'user@example.org': (550, b'Verification "
            "failed for <noreply@app.example.net>\\nNo Such User Here\\nSender "
            "verify failed')}",
            "sender-not-permitted",
        ),
        (
            "550 Verification failed for <test@example.com> The mail server does not "
            "recognize test@example.com as a valid sender. Sender verify failed",
            "sender-not-permitted",
        ),
        (
            "(504, b'5.5.2 <webmaster@localhost>: Sender address rejected: need "
            "fully-qualified address')",
            "sender-not-permitted",
        ),
        # The sender's domain has no DNS: the receiver's check of the domain.
        (
            "450 4.1.8 <app@internal.example>: Sender address rejected: Domain not "
            "found",
            "sender-authentication",
        ),
    ],
)
def test_replies_wrappers_and_logs_name_the_cause(
    shipped: Matcher, text: str, category: str
) -> None:
    """
    The server's reply, the reason after a wrapper, a provider's or client's own
    wording, what a receiver checked, or the question decides.
    """
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    "text",
    [
        # mosquitto_pub / libmosquitto.
        "OpenSSL Error[0]: error:1416F086:SSL routines:tls_process_server_certificate:"
        "certificate verify failed\nError: A TLS error occurred.",
        "Client (null) sending CONNECT\nOpenSSL Error[0]: error:0A000086:SSL "
        "routines::certificate verify failed",
        # conda fetching repodata.
        "$ conda search numpy\nFetching package metadata: SSL verification error: "
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:590)",
        # Prisma's engine, a database connection.
        "Error: P1011\n\nError opening a TLS connection: The TLS settings didn't "
        "allow the connection to be established. Please review your connection "
        "string. (error: certificate verify failed (self signed certificate))",
        # Node's got HTTP client.
        "Stack: RequestError: self signed certificate in certificate chain",
    ],
)
def test_other_clients_tls_errors_are_not_mail(shipped: Matcher, text: str) -> None:
    """MQTT, conda, database and HTTP clients print the same TLS reasons."""
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    "text",
    [
        "Error: getaddrinfo EAI_AGAIN api\n    at GetAddrInfoReqWrap.onlookup [as "
        "oncomplete] (node:dns:107:26) {\n  errno: -3001,\n  code: 'EAI_AGAIN',\n  "
        "syscall: 'getaddrinfo',\n  hostname: 'api'\n}",
        "Error: getaddrinfo ENOTFOUND postgres",
        # A web or API endpoint's name.
        "dial tcp: lookup www.example.org: no such host",
        "Error: getaddrinfo ENOTFOUND api.example.net",
    ],
)
def test_a_container_service_name_that_does_not_resolve_is_not_mail(
    shipped: Matcher, text: str
) -> None:
    """A bare back-end service name ("api", "postgres") is not the mail relay."""
    assert shipped.diagnose(text).category == "none"


def test_a_mail_host_that_does_not_resolve_stays_a_dns_failure(
    shipped: Matcher,
) -> None:
    """The same lookup failure for a mail host is answered."""
    text = "Error: getaddrinfo EAI_AGAIN smtp.example.com"
    assert shipped.diagnose(text).category == "dns-failure"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Roundcube's rcube_smtp after PEAR Net_SMTP found no AUTH in the EHLO reply:
        # the code shown is the EHLO's 250 (Postfix lists AUTH only after STARTTLS).
        ("SMTP Error (250): Authentication failed.", "starttls-required"),
        (
            "SMTP Fehler (250): Die Authentisierung ist fehlgeschlagen",
            "starttls-required",
        ),
        (
            "ERROR: SMTP server does not support authentication ()\n"
            "SMTP Error: Authentication failure: SMTP server does not support "
            "authentication (Code: )",
            "starttls-required",
        ),
        # A transcript: STARTTLS offered, AUTH not, the client never upgraded.
        (
            "Connecting to mail.example.org:587...\n"
            "Recv: 220 mail.example.org ESMTP Postfix\nSend: EHLO web.example.org\n"
            "Recv: 250-mail.example.org\nRecv: 250-PIPELINING\n"
            "Recv: 250-SIZE 10240000\n"
            "Recv: 250-STARTTLS\nRecv: 250-ENHANCEDSTATUSCODES\nRecv: 250 8BITMIME\n"
            "Send: QUIT\nRecv: 221 2.0.0 Bye\nLogin failed: authentication failed",
            "starttls-required",
        ),
        # listmonk (Go): STARTTLS missing from the EHLO extensions.
        (
            "Error sending test SMTP STARTTLS extension not found",
            "starttls-unavailable",
        ),
        # Node's error object for OpenSSL's reason (not Chromium's ERR_SSL_ net error).
        (
            "[Error: 13308:error:1408F10B:SSL routines:ssl3_get_record:wrong version "
            "number:c:\\ws\\deps\\openssl\\openssl\\ssl\\record\\"
            "ssl3_record.c:332:\n"
            "] {\n  library: 'SSL routines',\n  function: 'ssl3_get_record',\n"
            "  reason: 'wrong version number',\n"
            "  code: 'ERR_SSL_WRONG_VERSION_NUMBER'\n}",
            "tls-port-mismatch",
        ),
        # Exim's sender callout under nodemailer's RCPT-stage error.
        (
            "{ [RecipientError: Can't send mail - all recipients were rejected]\n"
            "  name: 'RecipientError',\n  data: '550-Verification failed for "
            "<noreply@app.example.org>\\r\\n550-Unrouteable address\\r\\n550 unable to "
            "verify sender address',\n  stage: 'rcpt' }",
            "sender-not-permitted",
        ),
        # WinSock 10061 and 10060 as localised Windows prints them, translated back
        # into English by the person posting.
        (
            "Unable to connect due to active rejection by the target computer.\n"
            "at System.Net.Sockets.Socket.AwaitableSocketAsyncEventArgs.ThrowException("
            "SocketError error, CancellationToken cancellationToken)",
            "connection-refused",
        ),
        (
            "System.Net.Mail.SmtpException: 'Failure sending mail.'\n"
            "ExtendedSocketException: An attempt to establish a connection was "
            "unsuccessful, because from another computer for the required time, the "
            "desired response was not received 192.0.2.7:587",
            "connection-timeout",
        ),
        # qmail's enhanced code after the reply, "#5.1.0".
        ("550: #5.1.0 Address rejected", "recipient-unknown"),
        # Exchange's NDR in German.
        (
            "Ihre Nachricht an max@example.se konnte nicht zugestellt werden.\n"
            "max wurde nicht in example.se gefunden.",
            "recipient-unknown",
        ),
        # A greeting that never came on the implicit-TLS port; Python's plaintext
        # class on that port.
        (
            "Error: Timeout waiting for greeting from smtp.example.org:465",
            "tls-port-mismatch",
        ),
        (
            "socket.timeout: timed out\nserver = smtplib.SMTP('smtp.example.org', 465)",
            "tls-port-mismatch",
        ),
    ],
)
def test_mail_kinds_in_their_own_words(
    shipped: Matcher, text: str, category: str
) -> None:
    """Each client's own wording of a known kind gets that kind."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Go's resolver, the lookup itself timing out (Grafana, Gitea).
        (
            "failed to send notification to email addresses: ops@example.org: "
            "dial tcp: lookup smtp.example.org: i/o timeout",
            "dns-failure",
        ),
        # Rust lettre: rustls found no TLS record (a plaintext port), and SChannel's
        # SEC_E_INVALID_TOKEN as a signed decimal with Windows' message.
        (
            "Could not send email: lettre::transport::smtp::Error { kind: Network, "
            "source: Custom { kind: InvalidData, error: CorruptMessage } }",
            "tls-port-mismatch",
        ),
        (
            "Could not send email: lettre::transport::smtp::Error { kind: Connection, "
            "source: Failure(Os { code: -2146893048, kind: Uncategorized, message: "
            '"The token supplied to the function is invalid" }) }',
            "tls-port-mismatch",
        ),
        # Postfix refusing a STARTTLS its EHLO did not offer.
        (
            "send reset password email err: 503 5.5.1 STARTTLS command used when not "
            "advertised",
            "starttls-unavailable",
        ),
        # Django's test-mail command is mail.
        (
            "$ python manage.py sendtestemail admin@example.org\n"
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] "
            "certificate verify failed: unable to get local issuer certificate "
            "(_ssl.c:1129)",
            "tls-cert-untrusted",
        ),
        # JavaMail's implicit TLS switched on for the STARTTLS port, as XML entries.
        (
            "WARN: Could not connect to SMTP host: smtp.example.org, port: 587 - "
            "MessagingException\n<entry key='mail.smtp.port'>587</entry>\n"
            "<entry key='mail.smtp.starttls.enable'>true</entry>\n"
            "<entry key='mail.smtp.ssl.enable'>true</entry>",
            "tls-port-mismatch",
        ),
        # Plaintext first on the implicit-TLS port (a nodemailer wrapper's settings).
        (
            "with:\n  server_address: smtp.example.org\n  server_port: 465\n"
            "  secure: false\nError: Timeout",
            "tls-port-mismatch",
        ),
        # SChannel's "function not supported" after the server said to begin TLS.
        (
            "<-- STARTTLS\n--> 220 Begin TLS negotiation\n"
            "* SSL error 0x80090302 The function requested is not supported",
            "tls-handshake-failed",
        ),
        # A Java exception name glued to Korean text.
        (
            "메일발송시 SSLHandshakeException이 나는데\nsmtp.host=smtp.example.org\n"
            "smtp.port=465\nsmtp.ssl=true",
            "tls-handshake-failed",
        ),
        # smtplib reached an IMAP server: its capability list instead of a greeting.
        (
            "smtplib.SMTPConnectError: (-1, b'[CAPABILITY IMAP4rev1 LITERAL+ SASL-IR "
            "ID ENABLE IDLE STARTTLS AUTH=PLAIN] Dovecot ready.')",
            "tls-port-mismatch",
        ),
        # smtplib on 465 heard nothing before the server gave up.
        (
            "SMTP_HOST: smtp.example.org\nSMTP_PORT: 465\n"
            "smtplib.SMTPServerDisconnected: Connection unexpectedly closed",
            "tls-port-mismatch",
        ),
        # Refusals of a recipient and of a From domain in hosting MTAs' words.
        (
            "SMTPAddressFailedException: 550 I cannot deliver mail for "
            "<user@example.net>",
            "relay-denied",
        ),
        (
            "The mail server does not understand the RCPT TO command. Reason: "
            '550-"Your IP: 192.0.2.9 : Your domain example.org is not allowed in '
            'header 550 From"',
            "sender-not-permitted",
        ),
    ],
)
def test_more_kinds_in_their_own_words(
    shipped: Matcher, text: str, category: str
) -> None:
    """Each client's own wording of a known kind gets that kind."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    "text",
    [
        # Rust reqwest fetching an HTTPS URL.
        "error sending request for url (https://example.org/archive/main.tar.gz): "
        "error trying to connect: invalid peer certificate: UnknownIssuer",
        # Python's ftplib.
        'Traceback (most recent call last):\n  File "./ftplib.py", line 132, in '
        "connect\nsocket.gaierror: [Errno -2] Name or service not known",
        # Chromium's net error.
        "This site can't provide a secure connection\nERR_SSL_PROTOCOL_ERROR",
    ],
)
def test_web_and_ftp_clients_are_not_mail(shipped: Matcher, text: str) -> None:
    """An HTTPS fetch, an FTP connection or a browser page is another program's."""
    assert shipped.diagnose(text).category == "none"


def test_a_greeting_timeout_on_port_25_stays_a_timeout(shipped: Matcher) -> None:
    """An MTA that hears no greeting on port 25 meets a blocked or silent port."""
    text = "Timeout waiting for greeting from mx.example.org:25"
    assert shipped.diagnose(text).category == "connection-timeout"


@pytest.mark.parametrize(
    "text",
    [
        # Nacos' configuration client: its server address is an http:// URL.
        "[NACOS ConnectException httpGet] currentServerAddr:http://127.0.0.1:8848, "
        "err : Connection refused (Connection refused)",
        # Rocket.Chat's push relay.
        "server.js:204 System ➔ error Error sending push to gateway (4 try) -> { "
        "Error: certificate has expired\n"
        "    at TLSSocket.<anonymous> (_tls_wrap.js:1116:38)",
        # PowerShell's warning for an [Obsolete] cmdlet: no failure.
        "WARNING: The command 'Send-MailMessage' is obsolete. This cmdlet does not "
        "guarantee secure connections to SMTP servers.",
    ],
)
def test_push_http_and_warnings_are_not_mail(shipped: Matcher, text: str) -> None:
    """An HTTP client's, a push relay's error or a deprecation warning is no answer."""
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # STARTTLS inside a session that is already TLS (implicit TLS on 465 with
        # STARTTLS switched on too): ESP-Mail-Client's transcript, Postfix's and
        # Exim's replies.
        (
            "> C: send STARTTLS command\n"
            "< S: 454 Command not permitted when TLS active\n"
            "Error, SMTP server greeting failed",
            "tls-port-mismatch",
        ),
        ("STARTTLS\n554 5.5.1 Error: TLS already active", "tls-port-mismatch"),
        ("STARTTLS\n554 Already in TLS", "tls-port-mismatch"),
        # Go crypto/tls's handshake reasons in a Go server's reply to STARTTLS.
        (
            "STARTTLS failed: 554 5.5.0 Error in TLS handshake: tls: no cipher suite "
            "supported by both client and server",
            "tls-handshake-failed",
        ),
        (
            "STARTTLS failed: 554 5.5.0 Error in TLS handshake: tls: no supported "
            "versions satisfy MinVersion and MaxVersion",
            "tls-handshake-failed",
        ),
        (
            "STARTTLS failed: 554 5.5.0 Error in TLS handshake: tls: protocol version "
            "not supported",
            "tls-handshake-failed",
        ),
        (
            "STARTTLS failed: 554 5.5.0 Error in TLS handshake: remote error: tls: "
            "handshake failure",
            "tls-handshake-failed",
        ),
        (
            "Error sending mail: 454 4.7.0 TLS handshake failed: tls: no ECDHE curve "
            "supported by both client and server",
            "tls-handshake-failed",
        ),
        # OpenSMTPD: smtp+tls:// is STARTTLS, right on port 25; the alert is the
        # handshake's reason.
        (
            "smtp-out: Connecting to smtp+tls://192.0.2.7:25 (mx.example.org) on "
            "session 0123abcd\nsmtp-out: Connected on session 0123abcd\n"
            "smtp-out: Error on session 0123abcd: IO Error: error:14077417:SSL "
            "routines:SSL23_GET_SERVER_HELLO:sslv3 alert illegal parameter",
            "tls-handshake-failed",
        ),
        # ... while its smtps:// (implicit TLS) on port 25 is a mode mismatch.
        (
            "smtp-out: Connecting to smtps://192.0.2.7:25 (mx.example.org) on "
            "session 0123abcd\nsmtp-out: Error on session 0123abcd: IO Error: "
            "error:1408F10B:SSL routines:ssl3_get_record:wrong version number",
            "tls-port-mismatch",
        ),
        # Manuel Lemos' PHP smtp class (WireMailSmtp): the server said go ahead, TLS
        # did not start.
        (
            "S 250 STARTTLS\nC STARTTLS\nS 220 Go ahead\n"
            "Starting TLS cryptographic protocol\n"
            "could not start TLS connection encryption protocol: "
            "STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT",
            "tls-handshake-failed",
        ),
        # Apache Commons Email over JavaMail: STARTTLS accepted, the handshake stalled.
        (
            "org.apache.commons.mail.EmailException: Sending the email to the "
            "following server failed : mail.example.org:587 "
            "(javax.mail.MessagingException: Could not convert socket to TLS; nested "
            "exception is: java.net.SocketTimeoutException: Read timed out)",
            "tls-handshake-failed",
        ),
        # Node smtp-connection: a 4xx greeting that refuses for load is throttling.
        (
            "Error: Invalid greeting from server:\n451 ESMTP MailEnable Service "
            "temporarily refused connection at 11/27/25 11:25:27 from IP "
            "(192.0.2.6) because the server is too busy.",
            "rate-limited",
        ),
        # Chinese: the mail server ("post office") and its port, timed out or refused.
        ("发送失败，显示邮局25端口连接超时", "connection-timeout"),
        ("发送失败，服务器25端口拒绝连接", "connection-refused"),
        ("发信失败：连接被拒绝，端口：465", "connection-refused"),
        # Celery's trace of a task named for sending mail: a bare socket timeout.
        (
            "[ERROR] celery.app.trace: Task app.tasks.email.send_email[d7f9] raised "
            "unexpected: TimeoutError('timed out')",
            "connection-timeout",
        ),
        # A deprecation warning before the error is not the error.
        (
            "/usr/lib/python3/dist-packages/app/mailer.py:12: DeprecationWarning: "
            "ssl.PROTOCOL_TLS is deprecated\n"
            "smtplib: ConnectionRefusedError: [Errno 111] Connection refused",
            "connection-refused",
        ),
        # A read timeout on the implicit-TLS port is still the two ends waiting.
        (
            "javax.mail.MessagingException: Exception reading response;\n"
            "  nested exception is:\n\tjava.net.SocketTimeoutException: Read timed "
            "out\nmail.smtp.port=465",
            "tls-port-mismatch",
        ),
        # A URL merely mentioned (a web UI's) is no HTTP client's server address.
        (
            "Error: connect ECONNREFUSED 127.0.0.1:1025\n"
            "MailHog web UI at http://localhost:8025",
            "connection-refused",
        ),
    ],
)
def test_transport_kinds_in_their_own_words(
    shipped: Matcher, text: str, category: str
) -> None:
    """Each program's own wording of a transport or TLS failure gets its kind."""
    assert shipped.diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Python 2 smtplib's SMTPSenderRefused tuple: a reply without the b'' prefix.
        (
            "(551, 'Sender address is not valid for your login. Check your email "
            "program settings.', u'Office <office@example.org>')",
            "sender-not-permitted",
        ),
        # A relay's refusal of a From domain not set up as a sending domain (Ruby).
        (
            "Net::SMTPFatalError: 550 5.7.1 Unconfigured Sending Domain <example.org>",
            "sender-not-permitted",
        ),
        # Kerio Connect's temporary block after too many connections or failures.
        (
            "Unexpected_Response: 421 4.7.1 Intrusion prevention active for "
            "[192.0.2.4][R]",
            "rate-limited",
        ),
        # Mailpit's relay (Go net/smtp): the reply to RCPT says the address is unknown.
        (
            "error response to RCPT command for ann@example.org: 554 RCPT "
            "(ann@example.org) doesn't exist",
            "recipient-unknown",
        ),
        # Jenkins email-ext's local parsing message: a file, not a mailbox, is missing.
        (
            "Failed to create e-mail address for ERROR:, File, "
            "'/var/lib/jenkins/workspace/build/authors.txt', does, not, exist",
            "none",
        ),
        # A helpdesk application's report of a refused SMTP login.
        ("Unable to log in. Check SMTP settings.", "auth-failed"),
        # An IMAP APPEND refused over the account's storage limit.
        ("NO APPEND The 2048 MB storage limit has been exceeded.", "mailbox-full"),
        # A bare "Quota exceeded" with no sending words: a storage quota.
        ('メールを削除すると、"Quota exceeded" エラーが発生する。', "mailbox-full"),
        # Gmail IMAP's command and bandwidth limits under an OVERQUOTA tag.
        (
            "command: FETCH => [OVERQUOTA] Account exceeded command or bandwidth "
            "limits.",
            "rate-limited",
        ),
        # Asking for SMTP debug output, in Chinese and in Japanese.
        ("SMTP 邮件有没有Debug输出？目前smtp无法发邮件。", "client-logging"),
        ("SMTPのデバッグログを出力するには？", "client-logging"),
    ],
)
def test_reply_quota_and_question_kinds_in_their_own_words(
    shipped: Matcher, text: str, category: str
) -> None:
    """Replies, quotas and logging questions in their software's words get the kind."""
    assert shipped.diagnose(text).category == category


_NGINX_413 = (
    "{ [Error: <html>\n"
    "    <head><title>413 Request Entity Too Large</title></head>\n"
    '    <body bgcolor="white">\n'
    "    <center><h1>413 Request Entity Too Large</h1></center>\n"
    "    <hr><center>nginx/1.7.9</center>\n"
    "    </body>\n"
    "    </html>\n"
    "    ] statusCode: 413 }"
)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Bamboo's SMTP adapter around gen_smtp's refusal: tls: :always, and the
        # server's EHLO reply offered no STARTTLS.
        (
            "** (Bamboo.SMTPAdapter.SMTPError) There was a problem sending the email "
            "through SMTP.\n\nThe error is :retries_exceeded\n\nMore detail below:\n\n"
            '{:missing_requirement, "smtp.example.org", :tls}',
            "starttls-unavailable",
        ),
        # The same tuple as Erlang prints it.
        (
            '{error,retries_exceeded,{missing_requirement,"192.0.2.5",tls}}',
            "starttls-unavailable",
        ),
        # gen_smtp's network failure carrying Erlang ssl's alert (OTP 20 wording).
        (
            "{:network_failure, 'smtp.example.org', {:error, {:tls_alert, 'bad record "
            "mac'}}}\n        (bamboo_smtp) lib/bamboo/adapters/smtp_adapter.ex:96: "
            "Bamboo.SMTPAdapter.handle_response/1",
            "tls-handshake-failed",
        ),
        # Swoosh over gen_smtp: the implicit-TLS connection got a plaintext record
        # ("2" of a 220 greeting is type 50).
        (
            "[notice] TLS :client: In state :hello at tls_record.erl:564 generated "
            "CLIENT ALERT: Fatal - Unexpected Message\n - {:unsupported_record_type, "
            "50}\n{:error,\n {:retries_exceeded,\n  {:network_failure, '192.0.2.5',\n"
            "   {:error,\n    {:tls_alert,\n     {:unexpected_message, 'TLS client: In "
            "state hello at tls_record.erl:564 generated CLIENT ALERT: Fatal - "
            "Unexpected Message'}}}}}}",
            "tls-port-mismatch",
        ),
        # Keila (Swoosh, gen_smtp): the server's certificate is not usable for TLS
        # server authentication; the host is only an address.
        (
            "[notice] TLS :client: In state :wait_cert_cr at ssl_handshake.erl:2158 "
            "generated CLIENT ALERT: Fatal - Unsupported Certificate\n - "
            "{:key_usage_mismatch,\n {{:Extension, {2, 5, 29, 15}, true, "
            "[:keyCertSign, :cRLSign]},\n  {:Extension, {2, 5, 29, 37}, false, "
            "[{1, 3, 6, 1, 5, 5, 7, 3, 2}]}}}\n{:error,\n {:retries_exceeded,\n  "
            "{:network_failure, '192.0.2.7',\n   {:error,\n    {:tls_alert,\n     "
            "{:unsupported_certificate,\n      'TLS client: In state wait_cert_cr at "
            "ssl_handshake.erl:2158 generated CLIENT "
            "ALERT: Fatal - Unsupported Certificate'}}}}}}",
            "tls-handshake-failed",
        ),
        # Grafana's alert notifier: sending the notification email met Go's x509 error.
        (
            't=2017-04-13T09:16:45+0000 lvl=eror msg="Failed to send alert '
            'notification email" logger=alerting.notifier.email error="x509: '
            'certificate signed by unknown authority"',
            "tls-cert-untrusted",
        ),
        # Go's HTTP server logging a client that spoke plaintext to its TLS port.
        (
            "http: TLS handshake error from 192.0.2.86:13765: tls: first record does "
            "not look like a TLS handshake",
            "none",
        ),
        # A mail-sending path in a web API's URL names the API, not mail.
        (
            'Post "https://api.example.org/v3/send/email": x509: certificate signed '
            "by unknown authority",
            "none",
        ),
        # .NET FtpWebRequest: FTP's 530.
        (
            "System.Net.WebException: The remote server returned an error: (530) Not "
            "logged in.",
            "none",
        ),
        # tedious, SQL Server's Node driver.
        (
            "ConnectionError: Failed to connect to localhost:1433 - self signed "
            "certificate\n    at ConnectionError "
            "(/app/node_modules/tedious/lib/errors.js:13:12)",
            "none",
        ),
        # StackExchange.Redis over TLS.
        (
            "StackExchange.Redis.RedisConnectionException: It was not possible to "
            "connect to the redis server(s). AuthenticationException: The remote "
            "certificate is invalid according to the validation procedure.",
            "none",
        ),
        # Mailgun's HTTP API (mailgun-js) refusing the message's size at its proxy.
        ("mailgun-js send failed:\n" + _NGINX_413, "message-too-large"),
        # The same page with no mail program named: a web upload.
        (_NGINX_413, "none"),
    ],
)
def test_erlang_tls_context_and_other_servers_in_their_own_words(
    text: str, category: str
) -> None:
    """Erlang ssl and gen_smtp, a mail API's size refusal, other servers' own logs."""
    assert not ERRORS
    assert Matcher(KB).diagnose(text).category == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Delta Chat quoting a submission server's refusal of a From the login may
        # not use.
        (
            "Error: Send error: permanent: 5.7.1 forged sender address",
            "sender-not-permitted",
        ),
        # Python smtplib's tuple for the same refusal.
        (
            "SMTPSenderRefused: (553, b'5.7.1 forged sender address', "
            "'ann@example.org')",
            "sender-not-permitted",
        ),
        # 5.1.0 said of the sender is a refused sender, not an unknown recipient.
        ("5.1.0 <john@example.org> sender rejected", "sender-not-permitted"),
        # A hosting MTA's refusal as Postfix joins its continuation lines.
        (
            'The "MAIL FROM" email address root@localhost / 550-localhost you are '
            "using\n    is not hosted on this server. Tried to use 550-root@localhost "
            "/ localhost\n    as mail from address. Sending mails from 550-addresses "
            "not hosted on our\n    server is not allowed.",
            "sender-not-permitted",
        ),
        # Gmail's content verdict behind JavaMail's wrapper and on its own lines.
        (
            "com.sun.mail.smtp.SMTPSendFailedException: 550-5.7.1 This message has "
            "been rejected due to matching a prohibited domain in 550 5.7.1 the body "
            "of your email. - gsmtp",
            "sender-blocklisted",
        ),
        (
            "550-5.7.1 This message has been rejected due to matching a prohibited "
            "domain in\n550 5.7.1 the body of your email. - gsmtp",
            "sender-blocklisted",
        ),
        # Aruba: a spam verdict under a 552 5.2.0.
        (
            "ERRORE: 552 5.2.0 igxL1p00E1WDM2s01gxMXG spam detected",
            "sender-blocklisted",
        ),
        # La Poste's LPN007 refusal after DATA, as Postfix reports it.
        (
            "<ann@example.fr>: host smtpz4.example.fr[192.0.2.1] said: 550\n"
            "    5.5.0 Service refuse. Veuillez essayer plus tard. service refused, "
            "please\n    try later. LPN007_510 (in reply to end of DATA command)",
            "sender-blocklisted",
        ),
        # Outlook.com: the From domain's DMARC policy.
        (
            "5.7.0 (COL004-MC1F52) Unfortunately, messages from (192.0.2.100) on "
            "behalf of (example.com) could not be delivered due to domain owner "
            "policy restrictions.",
            "sender-authentication",
        ),
        # A Korean ISP filtering the sending IP until it is registered.
        (
            "421 4.3.2 Your IP(192.0.2.104) is filtered and this connection will be "
            "closed. You must register your IP to postmaster@example.net",
            "sender-blocklisted",
        ),
        # qmail-remote: the recipient domain does not resolve.
        (
            "Sorry, I couldn't find any host named example.com.cn. (#5.1.2)",
            "dns-failure",
        ),
        (
            "Sorry, I couldnt find any host named example.com.cn. (#5.1.2)",
            "dns-failure",
        ),
        # MyChat's report of a refused login, and the same said of authentication.
        ("Error #0226: authorization on the mail server has failed", "auth-failed"),
        ("Error: authentication with the mail server failed", "auth-failed"),
        # The readings these must not take over.
        (
            "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown",
            "recipient-unknown",
        ),
        ("552 5.2.2 <a@example.org>: Mailbox full", "mailbox-full"),
        ("554 5.7.1 <a@example.org>: Relay access denied", "relay-denied"),
    ],
)
def test_sender_and_content_refusals_in_their_own_words(
    text: str, category: str
) -> None:
    """Sender, content and login refusals in their software's words get the kind."""
    assert not ERRORS
    assert Matcher(KB).diagnose(text).category == category
