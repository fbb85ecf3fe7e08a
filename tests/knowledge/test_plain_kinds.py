"""
Kinds of pastes the matcher used to miss, written as other software and people write
them: reply codes inside client libraries' wrappers, unlisted vendor codes, plain
descriptions of a blocked port in Chinese and Japanese, other protocols that share
SMTP's numbers (FTP, HTTP APIs, monitoring tools' web requests), providers' own reply
texts (Alibaba Mail, NetEase, Yandex, Gmail's IPv6 rules), Apple's Secure Transport
codes and a configuration naming implicit TLS for the STARTTLS port.

Texts follow the named software's own wording (RFCs, vendor documentation, library
sources); none is copied from the evaluation corpora.
"""

from __future__ import annotations

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.diagnosis import Decision
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher
from knowledge.model import KnowledgeBase
from knowledge.normalize import find_evidence

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge base."""
    return KB


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("mailer: Expected smtp code 250, got 552", 552),
        ("SMTPC: received error code. [553] (8000) ERR:", 553),
        ("Mail delivery failed, SMTP code: 421", 421),
        ("send failed with error code 535 from smtp.example.org", 535),
        ("smtp client: the server replied with 451. retrying later", 451),
    ],
)
def test_reply_codes_in_client_wrappers_are_server_replies(
    text: str, reply: int
) -> None:
    """A reply code a client library quotes in its own sentence is the server's."""
    assert reply in find_evidence(text).server_replies


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("smtp send error: Expected smtp code 250, got 552", "message-too-large"),
        ("Mail delivery failed, SMTP code: 421", "rate-limited"),
        ("SMTP error code 535 while sending the report mail", "auth-failed"),
    ],
)
def test_a_wrapped_code_is_answered_from_its_meaning(
    matcher: Matcher, text: str, category: str
) -> None:
    """A mail paste with a wrapped reply code is answered, never ``none``."""
    diagnosis = matcher.diagnose(text)
    assert diagnosis.decision is not Decision.NONE
    assert diagnosis.category == category


@pytest.mark.parametrize(
    "text",
    [
        "I paid 535 dollars for the hosting plan",
        "our board has 550 open tickets, got 421 closed last month",
        "the sprint closed with 452 story points",
    ],
)
def test_numbers_in_chat_are_no_codes(matcher: Matcher, text: str) -> None:
    """A bare number outside a mail context stays a number."""
    assert matcher.diagnose(text).decision is Decision.NONE


def test_unlisted_codes_take_their_family(kb: KnowledgeBase) -> None:
    """
    RFC 5321 §4.2.1: the client acts on the first digits of a code it does not know.

    Vendor codes (Alibaba Mail's 526 and 440) read as their family (52z, 53z for 43z);
    HTTP's 403 and 429, syntax (x0z) and information (x1z) codes borrow nothing.
    """
    unlisted = kb.reply(436)
    assert unlisted is not None and "auth-required" in unlisted.categories
    listed = kb.reply(535)
    assert listed is not None and listed.category == "auth-failed"
    for code in (403, 404, 429, 505, 512):
        assert kb.reply(code) is None


def test_an_unknown_enhanced_detail_reads_as_its_subject(kb: KnowledgeBase) -> None:
    """RFC 3463 §2: 5.2.9 is still about the mailbox (X.2.0)."""
    info = kb.enhanced("5.2.9")
    assert info is not None and info.code == "X.2.0"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Alibaba Mail's reply texts
        (
            "SMTP error: 440 mail from account doesn't conform with authentication",
            "sender-not-permitted",
        ),
        (
            "smtp reply: 510 The length of Attach is achieved the maximum threshold",
            "message-too-large",
        ),
        # an unlisted enhanced detail with the mailbox's words
        ("Diagnostic-Code: smtp; 550 5.2.9 Mail folder is full", "mailbox-full"),
        # Yandex's refusal of plaintext submission
        (
            "SMTP Error: 530 5.7.7 Email sending without SSL/TLS encryption is not "
            "allowed. Please see the help page",
            "starttls-required",
        ),
        # Gmail's IPv6 sender rules
        (
            "host alt1.gmail-smtp-in.l.google.com said: 550-5.7.1 This message does "
            "not meet IPv6 sending guidelines regarding PTR records and "
            "authentication.",
            "sender-authentication",
        ),
        # Apple Secure Transport codes from a macOS/iOS mail app
        (
            "MailCore: CFNetwork SSLHandshake failed (-9807) while connecting to "
            "the SMTP server",
            "tls-cert-untrusted",
        ),
        (
            "smtp session error: CFNetwork SSLHandshake failed (-9843)",
            "tls-cert-hostname",
        ),
        # Gmail's refusal of a residential or dynamic address (its SMTP error table).
        (
            "550-5.7.1 [203.0.113.9] The IP you're using to send mail is not "
            "authorized to send email directly to our servers. Please use the SMTP "
            "relay at your service provider instead.",
            "sender-blocklisted",
        ),
        # QQ Mail's notice that a mailbox sends too often.
        ("用smtp.qq.com发信，网页上突然提醒邮件发送频次过快", "rate-limited"),
        ("163邮箱SMTP发送频率过快，被暂时限制", "rate-limited"),
        # A refused envelope sender, through Symfony Mailer's expected-code message.
        (
            'Expected response code "250" but got code "550", with message "550 '
            '"envelope sender not allowed"',
            "sender-not-permitted",
        ),
        # MailKit's protocol logger, asked about.
        (
            "How do I attach a ProtocolLogger to SmtpClient to see the SMTP "
            "conversation?",
            "client-logging",
        ),
    ],
)
def test_provider_and_platform_texts(
    matcher: Matcher, text: str, category: str
) -> None:
    """Providers' own reply texts and platforms' TLS codes name the cause."""
    assert matcher.diagnose(text).category == category


@pytest.mark.parametrize(
    "text",
    [
        "阿里云服务器默认封禁了TCP 25端口，邮件一直发不出去",
        "腾讯云的25号端口被封了，SMTP发信失败",
        "服务器的25端口不通，邮箱配置好了也发不出邮件",
        "プロバイダがOP25Bでポート25をブロックしているのでメールが送れません",
        "My VPS provider blocks outgoing port 25, so sendmail cannot deliver mail",
        "企业邮箱的SMTP端口25，在海外服务器上不可用，只能换465",
        "L'hébergeur applique un blocage du port 25 sortant, les mails ne partent pas",
        "El puerto 25 está bloqueado por el proveedor y el correo no sale",
        "Port 25 ist beim Hoster gesperrt, deshalb gehen keine Mails raus",
        "Порт 25 заблокирован провайдером, письма не отправляются",
        # Alibaba Cloud's notice to new ECS customers.
        "自即日起阿里云新购服务器不再提供25端口邮件服务，建议您尝试使用465加密端口发送邮件",
        "Our hosting blocked the 25 port, so the alert mails never leave the server",
    ],
)
def test_a_blocked_port_in_plain_words(matcher: Matcher, text: str) -> None:
    """A blocked outbound port 25, described rather than printed, is a timeout."""
    diagnosis = matcher.diagnose(text)
    assert diagnosis.category == "connection-timeout"


def test_an_open_port_is_no_block(matcher: Matcher) -> None:
    """Saying the port was opened is not a blocked port."""
    assert matcher.diagnose("25端口已经开放了").decision is Decision.NONE
    assert matcher.diagnose("The 25 port is open now").decision is Decision.NONE


@pytest.mark.parametrize(
    "text",
    [
        # FTP servers (Pure-FTPd, vsftpd and ProFTPD wording)
        "Status: Connecting...\nResponse: 421 Too many connections (4) from this IP",
        "Response: 530 Login incorrect.\nError: Critical error: Could not connect",
        "550 Failed to open file.",
        # HTTP APIs
        "Error code: 429 - Rate limit reached for requests. Please try again in 20s.",
        "upload failed: status code 403, server said Forbidden",
        # a monitoring tool's web request
        "Sending failed: cannot get URL: Couldn't resolve host name.",
        # urllib3's retry error around Python's ssl error
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
        "expired (_ssl.c:1006)')))",
    ],
)
def test_other_protocols_with_smtp_like_numbers(matcher: Matcher, text: str) -> None:
    """FTP and HTTP replies that share SMTP's numbers are not mail."""
    assert matcher.diagnose(text).category == "none"


@pytest.mark.parametrize(
    "text",
    [
        "Outgoing server settings:\nPort: 587\nEncryption: SSL/TLS\n"
        "Username: me@example.org\n\nthe report mail is never sent",
        "MAIL_HOST=smtp.example.org\nMAIL_PORT=587\nMAIL_ENCRYPTION=ssl\n\n"
        "Connection could not be established with host smtp.example.org",
        "'smtp_host' => 'ssl://smtp.example.org',\n'smtp_timeout' => 30,\n"
        "'smtp_port' => 587,\n\nfsockopen error when sending mail",
    ],
)
def test_implicit_tls_configured_for_the_starttls_port(
    matcher: Matcher, text: str
) -> None:
    """A settings block naming implicit TLS on port 587 is a mode mismatch."""
    assert matcher.diagnose(text).category == "tls-port-mismatch"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # connect(2) refused by a local policy (SELinux, a host firewall)
        (
            "SMTP ERROR: Failed to connect to server: Permission denied (13)\n"
            "SMTP connect() failed.",
            "connection-refused",
        ),
        ("Error: connect EACCES 203.0.113.5:587 (nodemailer)", "connection-refused"),
        # JavaMail's STARTTLS wrapper alone, and with the reason under it
        (
            "javax.mail.MessagingException: Could not convert socket to TLS\n"
            "\tat com.sun.mail.smtp.SMTPTransport.startTLS(SMTPTransport.java:2155)\n"
            "\tat com.sun.mail.smtp.SMTPTransport.protocolConnect"
            "(SMTPTransport.java:752)",
            "tls-handshake-failed",
        ),
        (
            "javax.mail.MessagingException: Could not convert socket to TLS;\n"
            "  nested exception is:\n"
            "\tjavax.net.ssl.SSLHandshakeException: PKIX path building failed: "
            "unable to find valid certification path to requested target",
            "tls-cert-untrusted",
        ),
        # STARTTLS asked for on the implicit-TLS port
        (
            "MAIL_PORT = 465\nMAIL_USE_TLS = True\nMAIL_USE_SSL = True\n"
            "smtplib.SMTPNotSupportedError: STARTTLS extension not supported by "
            "server.",
            "tls-port-mismatch",
        ),
        # Dart's mailer package
        (
            "SmtpClientAuthenticationException: Incorrect username / password / "
            "credentials",
            "auth-failed",
        ),
    ],
)
def test_runtime_and_client_spellings(
    matcher: Matcher, text: str, category: str
) -> None:
    """Errno names, client wrappers and settings read as their cause."""
    assert matcher.diagnose(text).category == category


def test_stack_frame_line_numbers_are_no_codes() -> None:
    """'Executors.java:515)' and 'smtp.rb:550:in' are line numbers."""
    evidence = find_evidence(
        "\tat java.base/java.util.concurrent.Executors$RunnableAdapter.call"
        "(Executors.java:515)\n/usr/lib/ruby/2.7.0/net/smtp.rb:550:in `tcp_socket'"
    )
    assert not evidence.server_replies
    assert not evidence.reply_codes


def test_nginx_mail_proxy_lines_are_mail(matcher: Matcher) -> None:
    """nginx's mail proxy logs a TLS failure on a mail port; the same on 443 is web."""
    line = (
        "2024/01/02 10:00:00 [info] 12#12: *3 SSL_do_handshake() failed (SSL: "
        "error:0A000102:SSL routines::unsupported protocol) while SSL handshaking, "
        "client: 198.51.100.7, server: 0.0.0.0:{port}"
    )
    mail = matcher.diagnose("mail server logs:\n" + line.format(port=993))
    assert mail.category == "tls-handshake-failed"
    web = matcher.diagnose("web server logs:\n" + line.format(port=443))
    assert web.category == "none"


def test_a_server_named_smtpserver_is_no_smtps(matcher: Matcher) -> None:
    """'SMTPServer ... :587' names no implicit TLS ('smtps' is a word)."""
    diagnosis = matcher.diagnose(
        "[info]: [SMTPServer] Server started on any-ip:587\n"
        "[error]: [MailQueue] Failed to send message\n"
        "How do I turn on debug logging to see more?"
    )
    assert diagnosis.category != "tls-port-mismatch"


def test_mailchimp_api_is_https(matcher: Matcher) -> None:
    """Mailchimp's Marketing API (Gibbon) is HTTPS: its TLS errors are not mail."""
    text = (
        "Gibbon::MailChimpError: SSL_connect returned=1 errno=0 state=error: "
        "certificate verify failed\n  app/controllers/subscribers_controller.rb:12"
    )
    assert matcher.diagnose(text).category == "none"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("发送邮件时报错：SSL证书验证失败", "tls-cert-untrusted"),
        ("メール送信時に証明書の検証に失敗しました", "tls-cert-untrusted"),
        (
            "Ошибка отправки почты: не удалось проверить сертификат",
            "tls-cert-untrusted",
        ),
        (
            "E-Mail-Versand fehlgeschlagen: Zertifikat konnte nicht überprüft werden",
            "tls-cert-untrusted",
        ),
        (
            "Envoi du courriel impossible : échec de la vérification du certificat",
            "tls-cert-untrusted",
        ),
        (
            "Error al enviar el correo: no se pudo verificar el certificado del "
            "servidor SMTP",
            "tls-cert-untrusted",
        ),
        (
            "Falha ao enviar e-mail: não foi possível verificar o certificado",
            "tls-cert-untrusted",
        ),
        ("Не удалось отправить письмо: в соединении отказано", "connection-refused"),
        (
            "Ошибка отправки почты: не удалось разрешить имя хоста smtp.example.ru",
            "dns-failure",
        ),
        ("邮件服务器域名解析失败", "dns-failure"),
        (
            "Erro ao enviar e-mail: tempo esgotado ao conectar ao servidor SMTP",
            "connection-timeout",
        ),
        ("发送邮件太频繁，被限制发送", "rate-limited"),
    ],
)
def test_plain_descriptions_in_other_languages(
    matcher: Matcher, text: str, category: str
) -> None:
    """Certificate, name and time-out failures described in the pastes' languages."""
    assert matcher.diagnose(text).category == category


def test_a_version_is_no_enhanced_code() -> None:
    """'PHP Version 5.4.45' and 'OpenSSL 1.0.2' are versions."""
    evidence = find_evidence("mail.php (PHP Version 5.4.45), built with OpenSSL 5.1.1")
    assert not evidence.enhanced_codes


def test_a_coded_answer_offers_the_codes_other_readings(matcher: Matcher) -> None:
    """552 answered as message-too-large offers mailbox-full, its other reading."""
    diagnosis = matcher.diagnose("mailer: Expected smtp code 250, got 552")
    assert diagnosis.category == "message-too-large"
    assert diagnosis.uncertain
    assert "mailbox-full" in {c.entry.category for c in diagnosis.alternatives}


@pytest.mark.parametrize("clock", ["6:36:25 PM", "18:36:25", "2026-03-12 07:00:25,113"])
def test_a_time_ending_in_25_seconds_is_no_mail_port(
    matcher: Matcher, clock: str
) -> None:
    """
    A log timestamp whose seconds are 25 is no connection to port 25: a web app's
    refused Redis connection stays another program's, whatever second it was logged.
    """
    text = (
        f"[Nest] 1  - 03/12/2026, {clock}   ERROR [RedisModule] default: "
        "connect ECONNREFUSED 127.0.0.1:6379 +2004ms\n"
        "Error: connect ECONNREFUSED 127.0.0.1:6379\n"
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1494:16)"
    )
    assert matcher.diagnose(text).category == "none"
    # The same lines against the submission port are a mail problem.
    mail = text.replace("127.0.0.1:6379", "127.0.0.1:587")
    assert matcher.diagnose(mail).category == "connection-refused"


def test_a_json_value_of_25_is_no_mail_port(matcher: Matcher) -> None:
    """
    '"temperature":25' in another program's payload is no port 25: an MQTT client's
    failed certificate check stays another program's. A quoted "port" key still is.
    """
    text = (
        'mosquitto_pub -h broker.local -p 8883 -m {"temperature":25}\n'
        "OpenSSL Error[0]: error:1416F086:SSL routines:"
        "tls_process_server_certificate:certificate verify failed\n"
        "Error: A TLS error occurred."
    )
    assert matcher.diagnose(text).category == "none"
    config = '{"host": "mail.example.com", "port":587}\n' + text.split("\n", 1)[1]
    assert matcher.diagnose(config).category == "tls-cert-untrusted"
