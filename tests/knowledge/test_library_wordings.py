"""
Failures in the words of mail libraries and servers that name nothing else: MailKit's
SslHandshakeException, MailCore2's error domain, libetpan's SSL error constants,
node-imap's connection timer, gen_smtp's failure tuple as Elixir 1.15+ prints a
charlist, Amazon SES's MessageRejected inside an AWS SDK's error, Sendmail's deferred
host map, a bounce for a domain without MX records, PAM's unknown login in Dovecot's
log, Google's "sign-in attempt blocked" alert, an hourly cap written with a slash,
NetEase's IMAP "Unsafe Login", IMAP's tagged refusals and response codes, Dovecot's and
Gmail's connection caps, a DMARC refusal under a size code, mutt's EX_NOHOST and an
Outlook error number that is not the one a signature names; and, the other way, gRPC,
Redis, telnet and apt output that is not mail's, whatever the thread around it says;
Exchange's 504 5.7.4, mutt's missing STARTTLS, Laminas Mail's refused IMAP login, a
missing PTR record, and Microsoft's and Outlook's wordings in Chinese and Japanese;
OpenSMTPD's failed MX lookup, an unrecognised STARTTLS, a refused MAIL FROM before
AUTH, Dovecot's refused plaintext login, Jakarta Mail's trust list, a client's STARTTLS
step and a host's IMAP port in other programs' logs, Exim's DATA refusal after every
RCPT was refused; the mysql client's server errors are not mail's either.
"""

from __future__ import annotations

import pytest

from knowledge.matcher import Matcher


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # MailKit/Security/SslHandshakeException.cs, the bare message.
        (
            "Send failed: An error occurred while attempting to establish an SSL or "
            "TLS connection.",
            "tls-handshake-failed",
        ),
        # MailCore2's MCOErrorCertificate (4).
        (
            'Error Domain=MCOErrorDomain Code=4 "The certificate for this server is '
            'invalid." UserInfo={NSLocalizedDescription=The certificate for this '
            "server is invalid.}",
            "tls-cert-untrusted",
        ),
        # libetpan's IMAP layer (a client's account check).
        ("Account check failed: MAILIMAP_ERROR_SSL", "tls-handshake-failed"),
        # node-imap lib/Connection.js: the connect timer.
        (
            "[Error: Timed out while connecting to server] source: 'timeout'",
            "connection-timeout",
        ),
        # gen_smtp_client's {temporary_failure, Host, tls_failed}, host as a charlist.
        (
            '{:error, {:temporary_failure, ~c"198.51.100.20", :tls_failed}}',
            "tls-handshake-failed",
        ),
        # SES's MessageRejected as the AWS SDK for JavaScript returns it from Lambda.
        (
            '{"errorMessage": "Email address is not verified. The following '
            'identities failed the check in region EU-WEST-1: ops@example.org", '
            '"errorType": "MessageRejected", "stackTrace": ["Request.extractError '
            '(/var/runtime/node_modules/aws-sdk/lib/protocol/query.js:50:29)"]}',
            "sender-not-permitted",
        ),
        # Sendmail's queue: the host map (DNS) lookup could not complete.
        ("Deferred: host map: lookup (example.org): deferred", "dns-failure"),
        # A server's bounce for a recipient domain with no MX records.
        (
            "Could not deliver message to the following recipient(s):\n"
            "Failed Recipient: ops@example.invalid\nReason: Failed to connect to the "
            "recipients mail server. No MX records were found for the "
            "'example.invalid' domain.",
            "dns-failure",
        ),
        # A Go mail server's log: the MX lookup failed ("域名mx记录查询失败").
        (
            "[error] send.go:154 ops@example.org 域名mx记录查询失败",
            "dns-failure",
        ),
        # Dovecot's PAM login: the name is unknown to PAM, a refused login.
        (
            "auth[3906]: pam_unix(dovecot:auth): check pass; user unknown\n"
            "auth[3906]: pam_unix(dovecot:auth): authentication failure; logname= "
            "uid=0 euid=0 tty=dovecot ruser=ops rhost=198.51.100.7",
            "auth-failed",
        ),
        # Google's security alert after a client's password sign-in was refused.
        (
            "Thunderbird cannot send: Google Account: sign-in attempt blocked",
            "auth-policy-blocked",
        ),
        # NetEase's IMAP servers before the client sent the IMAP ID command.
        (
            "a01 OK LOGIN completed\na02 NO SELECT Unsafe Login. Please contact "
            "kefu@188.com for help",
            "auth-policy-blocked",
        ),
        # An IMAP server's tagged refusal of a login, with no other word for mail.
        ("a1 NO LOGIN failed.", "auth-failed"),
        # RFC 5530's response code as Gmail's IMAP sends it.
        (
            "Error while authenticating account: [AUTHENTICATIONFAILED] Invalid "
            "credentials (Failure)",
            "auth-failed",
        ),
        # Dovecot's login process (ERR_TOO_MANY_USERIP_CONNECTIONS).
        (
            "imap-login: Maximum number of connections from user+IP exceeded "
            "(mail_max_userip_connections=10): user=<ops@example.org>",
            "rate-limited",
        ),
        # Gmail's IMAP alert, through a Rust client's debug output.
        (
            'Sync exited with error: Login failed: (No(No { information: "Too many '
            'simultaneous connections. (Failure)", code: Some(Alert) }))',
            "rate-limited",
        ),
        # A DMARC refusal under a size-limit reply code.
        ("552 bizsmtp 0bqv1i0054 DMARC validation failed", "sender-authentication"),
        # mutt after sendmail(8) exited with EX_NOHOST.
        ("Error sending message, child exited 68 (Host unknown.)", "dns-failure"),
        # A server comparing the envelope sender with the login, as Outlook shows it.
        (
            "Protocol: SMTP, Server Response: '554 Originator address does not match "
            "authentication credentials', Port: 25, Secure(SSL): No, Server Error: "
            "554, Error Number: 0x800CCC6F",
            "sender-not-permitted",
        ),
        # Exchange's refusal of an AUTH mechanism it does not offer (Microsoft 365
        # with SMTP AUTH switched off), as Ruby's Net::SMTP raises it.
        (
            "Net::SMTPAuthenticationError: 504 5.7.4 Unrecognized authentication "
            "type [SN4PR0501CA0012.namprd05.prod.outlook.com]",
            "auth-policy-blocked",
        ),
        # mutt/neomutt with $ssl_force_tls and a server that offered no STARTTLS.
        (
            "Connecting to imap.example.org...\nEncrypted connection unavailable",
            "starttls-unavailable",
        ),
        # Laminas Mail's IMAP storage after the server refused LOGIN.
        (
            "Laminas\\Mail\\Storage\\Exception\\RuntimeException: cannot login, user "
            "or password wrong in /srv/app/vendor/laminas/laminas-mail/src/Storage/"
            "Imap.php:140",
            "auth-failed",
        ),
        # A receiver's refusal of a client whose address has no PTR record.
        (
            "554 mx1.example.net bizsmtp no DNS reverse for 203.0.113.9",
            "sender-authentication",
        ),
        # Microsoft 365 operated by 21Vianet, in Chinese, through JavaMail.
        (
            "com.sun.mail.smtp.SMTPSendFailedException: 451 5.7.3 "
            "发送邮件需要 STARTTLS "
            "[SH0PR01CA0001.CHNPR01.prod.partner.outlook.cn]",
            "starttls-required",
        ),
        # Exchange's connector log, Japanese documentation's wording.
        ("SMTP 送信エラー: TLS ネゴシエーションが失敗しました", "tls-handshake-failed"),
        # Outlook's logging option, Japanese UI.
        (
            "Outlook の [ファイル] > [オプション] > [詳細設定] で "
            "[トラブル シューティングを記録する (Outlook の再起動が必要)] "
            "をオンにするには？",
            "client-logging",
        ),
        # OpenSMTPD's relay cannot look up the recipient domain's MX.
        (
            "smtpd[2211]: smtp-out: Failed to resolve MX for [relay:example.net,smtp]: "
            "Temporary failure in MX lookup",
            "dns-failure",
        ),
        # A server without RFC 3207 answering STARTTLS, through Symfony Mailer.
        (
            'Expected response code "220" but got code "500", with message "500 5.5.1 '
            'Command unrecognized: "STARTTLS"".',
            "starttls-unavailable",
        ),
        # A submission server refusing MAIL FROM before AUTH, through smtplib.
        (
            "smtplib.SMTPSenderRefused: (502, b'5.7.0 Please authenticate first', "
            "'ops@example.org')",
            "auth-required",
        ),
        # Dovecot with disable_plaintext_auth, a client that never started TLS.
        (
            "dovecot: imap-login: Aborted login (tried to use disallowed plaintext "
            "auth): user=<>, rip=203.0.113.5, lip=198.51.100.2, session=<x1>",
            "starttls-required",
        ),
        # Jakarta Mail's trust list (mail.smtp.ssl.trust) without the host.
        (
            "javax.mail.MessagingException: Could not connect to SMTP host: "
            "mail.example.org, port: 25;\n  nested exception is:\n\t"
            "java.io.IOException: Server is not trusted: mail.example.org",
            "tls-cert-untrusted",
        ),
        # Alertmanager's email notifier in a pod's log: the STARTTLS step is mail's.
        (
            "$ kubectl -n monitoring logs alertmanager-main-0\n"
            'level=error component=dispatcher msg="Notify for alerts failed" '
            'err="email/email[0]: notify retry canceled after 3 attempts: send '
            'STARTTLS command: x509: certificate signed by unknown authority"',
            "tls-cert-untrusted",
        ),
        # A CMS testing its IMAP account: the host's IMAP port says mail.
        ("Connection to mail.example.org:993 Timed Out", "connection-timeout"),
        # Exim's answer to DATA after every RCPT was refused: the refusal decides.
        (
            'Expected response code 354 but got code "503", with message "503-All '
            "RCPT commands were rejected with this error: 503-No Such User Here 503 "
            'Valid RCPT command must precede DATA"',
            "recipient-unknown",
        ),
    ],
)
def test_the_library_s_own_words_are_answered(
    shipped: Matcher, text: str, category: str
) -> None:
    answer = shipped.diagnose(text).to_json()
    assert answer["category"] == category, answer


def test_mailkit_s_certificate_reason_outranks_its_opening_sentence(
    shipped: Matcher,
) -> None:
    """The handshake sentence is MailKit's preface; the reason after it decides."""
    answer = shipped.diagnose(
        "MailKit.Security.SslHandshakeException: An error occurred while attempting "
        "to establish an SSL or TLS connection.\n\nThe server's SSL certificate could "
        "not be validated for the following reasons:\n• The server certificate has "
        "the following errors:\n  • unable to get local issuer certificate"
    ).to_json()
    assert answer["category"] == "tls-cert-untrusted", answer


@pytest.mark.parametrize(
    "text",
    [
        # gRPC-Go's transport credentials.
        "rpc failed: transport: authentication handshake failed: x509: certificate "
        "signed by unknown authority",
        # A queue worker's Redis client, in a thread about undelivered mail.
        "发不出去邮件\ncat queue.log\nRedisException  : Connection refused",
        # apt installing PHP's IMAP extension.
        "$ sudo apt install php8.1-imap\nReading package lists... Done\n"
        "E: Unable to locate package php8.1-imap",
        # Python's telnet client resolving a name.
        'Traceback (most recent call last):\n  File "t.py", line 8, in <module>\n'
        "    tn = telnetlib.Telnet(HOST)\n"
        "socket.gaierror: [Errno -2] Name or service not known",
        # Redis's refusal of an unauthenticated command, as redis-cli prints it.
        "127.0.0.1:6379> get mail:queue\n(error) NOAUTH Authentication required.",
        # The mysql client refused by the server, for a user called mail.
        "ERROR 1045 (28000): Access denied for user 'mail'@'localhost' (using "
        "password: YES)",
    ],
)
def test_other_protocols_errors_are_not_mail(shipped: Matcher, text: str) -> None:
    assert shipped.diagnose(text).to_json()["category"] == "none"
