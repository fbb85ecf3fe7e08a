# ruff: noqa: E501 (library texts and sources are kept whole on their lines)
"""
Rebuild ``mail_library_strings.jsonl`` from mail libraries' and runtimes' own error
messages (not collected by pytest; run by hand).

    python tests/knowledge/outside/build_mail_library_strings.py MIRRORS

MIRRORS holds bare git clones named ``owner+name/repo`` (jstedfast+MailKit,
nodemailer+nodemailer, eclipse-ee4j+angus-mail, symfony+mailer, swiftmailer+swiftmailer,
wneessen+go-mail, lettre+lettre, gen-smtp+gen_smtp); each of their strings is checked
against the clone's HEAD and carries that commit. The runtimes' tables (too large a
repository to clone here: dotnet/runtime, openjdk/jdk, python/cpython, erlang/otp) are
quoted below at the commits named beside them.

Each message is put where a mail program prints it: .NET's SmtpException and
SslStream's AuthenticationException, MailKit's SslHandshakeException, Jakarta/Angus
Mail's MessagingException with JSSE's nested exception, Python's smtplib and ssl
tracebacks, nodemailer's error object, Symfony Mailer's and SwiftMailer's
TransportException, go-mail's and lettre's errors, Erlang's ssl and gen_smtp_client
return values. Each record names the repository, path, key and commit of its message.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_library_strings import (  # noqa: E402  (a sibling script, not a package)
    Group,
    Record,
    git_show,
    head,
    write_signals,
)

OUT_RECORDS = HERE / "mail_library_strings.jsonl"
HOST = "smtp.example.org"

# Quoted sources: repository -> (path, commit).
DOTNET_MAIL = (
    "dotnet/runtime",
    "src/libraries/System.Net.Mail/src/Resources/Strings.resx",
    "003e43b4e551874822af3c8f28188e0139a798f4",
)
DOTNET_SECURITY = (
    "dotnet/runtime",
    "src/libraries/System.Net.Security/src/Resources/Strings.resx",
    "015510cac22b172696e9c2ac95ffcf18078e1617",
)
JDK_HOSTNAME = (
    "openjdk/jdk",
    "src/java.base/share/classes/sun/security/util/HostnameChecker.java",
    "046262a0f5d0457cb68d5a9968603b1547923e29",
)
JDK_SSL = (
    "openjdk/jdk",
    "src/java.base/share/classes/sun/security/ssl/SSLSocketInputRecord.java",
    "a0f806f5010414fc3c106766e1d8e3655a2cdb64",
)
CPY_SMTPLIB = (
    "python/cpython",
    "Lib/smtplib.py",
    "37bfecd2bc71961cbb30b28af3982159ca04601c",
)
CPY_SSL = (
    "python/cpython",
    "Modules/_ssl.c",
    "9c25486093a28c345896dcd13a84d8cd5f535763",
)
OTP_ALERT = (
    "erlang/otp",
    "lib/ssl/src/ssl_alert.erl",
    "54e20b0df9e643f48bcc4bcb8d58bdc97335b42b",
)


# --- frames ---------------------------------------------------------------------------


def dotnet_smtp(outer: str, inner: str = "") -> str:
    text = f"System.Net.Mail.SmtpException: {outer}"
    if inner:
        text += f" ---> {inner}"
    return (
        text
        + "\n   at System.Net.Mail.SmtpConnection.GetConnection(String host, Int32 port)\n"
        "   at System.Net.Mail.SmtpClient.Send(MailMessage message)\n"
        "   at Reports.Mailer.SendDaily() in C:\\src\\Reports\\Mailer.cs:line 57"
    )


def dotnet_ssl(message: str) -> str:
    return dotnet_smtp(
        "Failure sending mail.",
        f"System.Security.Authentication.AuthenticationException: {message}\n   at System.Net.Security.SslStream.ForceAuthenticationAsync[TIOAdapter](Boolean receiveFirst, Byte[] buffer, CancellationToken cancellationToken)",
    )


def mailkit(message: str) -> str:
    return (
        f"MailKit.Security.SslHandshakeException: {message}\n"
        "   at MailKit.Net.Smtp.SmtpClient.ConnectAsync(String host, Int32 port, SecureSocketOptions options, Boolean doAsync, CancellationToken cancellationToken)\n"
        "   at Notify.EmailSender.SendAsync(MimeMessage message) in /src/Notify/EmailSender.cs:line 41"
    )


def mailkit_plain(exception: str, message: str) -> str:
    return (
        f"{exception}: {message}\n"
        "   at MailKit.Net.Smtp.SmtpClient.ConnectAsync(String host, Int32 port, SecureSocketOptions options, Boolean doAsync, CancellationToken cancellationToken)\n"
        "   at Notify.EmailSender.SendAsync(MimeMessage message) in /src/Notify/EmailSender.cs:line 41"
    )


def jakarta(message: str, nested: str = "") -> str:
    text = f"jakarta.mail.MessagingException: {message}"
    if nested:
        text += f";\n  nested exception is:\n\t{nested}"
    return (
        text
        + "\n\tat org.eclipse.angus.mail.smtp.SMTPTransport.protocolConnect(SMTPTransport.java:767)\n"
        "\tat jakarta.mail.Service.connect(Service.java:345)\n"
        "\tat jakarta.mail.Transport.send(Transport.java:102)"
    )


def jsse(nested: str) -> str:
    return jakarta("Could not convert socket to TLS", nested)


PY_SEND = (
    "Traceback (most recent call last):\n"
    '  File "/app/notify.py", line 27, in send\n'
    "    server.{call}\n"
    '  File "/usr/lib/python3.12/smtplib.py", line {line}, in {func}\n'
)


def python(call: str, func: str, line: int, error: str) -> str:
    return PY_SEND.format(call=call, func=func, line=line) + error


def node(message: str, code: str, command: str, extra: str = "") -> str:
    return (
        f"Error: {message}\n"
        "    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:809:19)\n"
        "    at SMTPConnection._actionMAIL (/app/node_modules/nodemailer/lib/smtp-connection/index.js:1601:34) {\n"
        f"  code: '{code}',{extra}\n"
        f"  command: '{command}'\n"
        "}"
    )


def symfony(message: str) -> str:
    return (
        f"Symfony\\Component\\Mailer\\Exception\\TransportException: {message} in /var/www/vendor/symfony/mailer/Transport/Smtp/SmtpTransport.php:333\n"
        "Stack trace:\n#0 /var/www/vendor/symfony/mailer/Transport/Smtp/EsmtpTransport.php(111): Symfony\\Component\\Mailer\\Transport\\Smtp\\SmtpTransport->executeCommand()"
    )


def swift(message: str) -> str:
    return (
        f"PHP Fatal error:  Uncaught Swift_TransportException: {message} in /var/www/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/AbstractSmtpTransport.php:459\n"
        "Stack trace:\n#0 /var/www/vendor/swiftmailer/swiftmailer/lib/classes/Swift/Transport/AbstractSmtpTransport.php(341): Swift_Transport_AbstractSmtpTransport->assertResponseCode()"
    )


def gomail(message: str) -> str:
    return f"2024/05/02 09:14:07 failed to deliver mail: {message}\nexit status 1"


def lettre(message: str) -> str:
    return f"Error: could not send email: {message}\n\nCaused by:\n    {message.split(': ', 1)[-1]}"


def erlang(term: str) -> str:
    return f"** exception error: no match of right hand side value {term}\n     in function  mailer:send/2 (src/mailer.erl, line 38)"


def otp_alert(
    alert: str, description: str, state: str = "certify", extra: str = ""
) -> str:
    return erlang(
        f'{{error,{{tls_alert,{{{alert},"TLS client: In state {state} at ssl_handshake.erl:2138 generated CLIENT ALERT: Fatal - {description}{extra}\\n"}}}}}}'
    )


# --- the messages ---------------------------------------------------------------------

# (label, frame, key, text). Keys name the resource or the source line's own words.
QUOTED: list[tuple[tuple[str, str, str], str, str, str, str]] = [
    # .NET System.Net.Security (SslStream) and System.Net.Mail (SmtpClient)
    (
        DOTNET_SECURITY,
        "tls-cert-hostname",
        ".NET SmtpClient",
        "net_ssl_io_cert_validation (RemoteCertificateNameMismatch)",
        dotnet_ssl(
            "The remote certificate is invalid according to the validation procedure: RemoteCertificateNameMismatch"
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-cert-untrusted",
        ".NET SmtpClient",
        "net_ssl_io_cert_validation (RemoteCertificateChainErrors)",
        dotnet_ssl(
            "The remote certificate is invalid according to the validation procedure: RemoteCertificateChainErrors"
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-cert-untrusted",
        ".NET SmtpClient",
        "net_ssl_io_cert_custom_validation",
        dotnet_ssl(
            "The remote certificate was rejected by RemoteCertificateValidationCallback."
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-handshake-failed",
        ".NET SmtpClient",
        "net_auth_eof",
        dotnet_ssl(
            "Authentication failed because the remote party has closed the transport stream."
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-handshake-failed",
        ".NET SmtpClient",
        "net_auth_tls_alert (HandshakeFailure)",
        dotnet_ssl(
            "Authentication failed because the remote party sent a TLS alert: 'HandshakeFailure'."
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-handshake-failed",
        ".NET SmtpClient",
        "net_auth_tls_alert (ProtocolVersion)",
        dotnet_ssl(
            "Authentication failed because the remote party sent a TLS alert: 'ProtocolVersion'."
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-port-mismatch",
        "MailKit",
        "net_ssl_io_frame",
        mailkit_plain(
            "System.Security.Authentication.AuthenticationException",
            "The handshake failed due to an unexpected packet format.",
        ),
    ),
    (
        DOTNET_SECURITY,
        "tls-handshake-failed",
        ".NET SmtpClient",
        "net_ssl_handshake_failed_error",
        dotnet_ssl(
            "Authentication failed, see inner exception.\n ---> Interop+OpenSsl+SslException: SSL Handshake failed with OpenSSL error - SSL_ERROR_SSL."
        ),
    ),
    (
        DOTNET_MAIL,
        "starttls-unavailable",
        ".NET SmtpClient",
        "MailServerDoesNotSupportStartTls",
        dotnet_smtp("Server does not support secure connections."),
    ),
    (
        DOTNET_MAIL,
        "connection-timeout",
        ".NET SmtpClient",
        "net_timeout",
        dotnet_smtp("The operation has timed out."),
    ),
    (
        DOTNET_MAIL,
        "dns-failure",
        ".NET SmtpClient",
        "MailHostNotFound",
        dotnet_smtp("The SMTP host was not found."),
    ),
    (
        DOTNET_MAIL,
        "message-too-large",
        ".NET SmtpClient",
        "SmtpExceededStorageAllocation + MailServerResponse",
        dotnet_smtp(
            "Exceeded storage allocation. The server response was: 5.3.4 Message size exceeds fixed maximum message size"
        ),
    ),
    (
        DOTNET_MAIL,
        "recipient-unknown",
        ".NET SmtpClient",
        "SmtpMailboxUnavailable + MailServerResponse",
        dotnet_smtp(
            "Mailbox unavailable. The server response was: 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
        ),
    ),
    (
        DOTNET_MAIL,
        "starttls-required",
        ".NET SmtpClient",
        "SmtpMustIssueStartTlsFirst + MailServerResponse",
        dotnet_smtp(
            "The SMTP server requires a secure connection or the client was not authenticated. The server response was: 5.7.0 Must issue a STARTTLS command first"
        ),
    ),
    (
        DOTNET_MAIL,
        "auth-required",
        ".NET SmtpClient",
        "SmtpMustIssueStartTlsFirst + MailServerResponse (5.7.57)",
        dotnet_smtp(
            "The SMTP server requires a secure connection or the client was not authenticated. The server response was: 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM [AM6PR04CA0021.eurprd04.prod.outlook.com]"
        ),
    ),
    # OpenJDK JSSE, as Jakarta/Angus Mail nests it
    (
        JDK_HOSTNAME,
        "tls-cert-hostname",
        "jakarta mail",
        "HostnameChecker: No subject alternative DNS name matching",
        jsse(
            f"javax.net.ssl.SSLHandshakeException: No subject alternative DNS name matching {HOST} found."
        ),
    ),
    (
        JDK_HOSTNAME,
        "tls-cert-hostname",
        "jakarta mail",
        "HostnameChecker: No subject alternative names matching IP address",
        jsse(
            "javax.net.ssl.SSLHandshakeException: No subject alternative names matching IP address 203.0.113.7 found"
        ),
    ),
    (
        JDK_HOSTNAME,
        "tls-cert-hostname",
        "jakarta mail",
        "HostnameChecker: No name matching",
        jsse(
            f"javax.net.ssl.SSLHandshakeException: java.security.cert.CertificateException: No name matching {HOST} found"
        ),
    ),
    (
        JDK_HOSTNAME,
        "tls-cert-hostname",
        "jakarta mail",
        "HostnameChecker: No subject alternative names present",
        jsse(
            "javax.net.ssl.SSLHandshakeException: No subject alternative names present"
        ),
    ),
    (
        JDK_SSL,
        "tls-port-mismatch",
        "jakarta mail",
        "SSLSocketInputRecord: Unsupported or unrecognized SSL message",
        jakarta(
            f"Could not connect to SMTP host: {HOST}, port: 587",
            "javax.net.ssl.SSLException: Unsupported or unrecognized SSL message",
        ),
    ),
    (
        JDK_SSL,
        "tls-handshake-failed",
        "jakarta mail",
        "SSLSocketImpl: Remote host terminated the handshake",
        jsse(
            "javax.net.ssl.SSLHandshakeException: Remote host terminated the handshake"
        ),
    ),
    (
        JDK_SSL,
        "tls-handshake-failed",
        "jakarta mail",
        "Alert: Received fatal alert: handshake_failure",
        jsse(
            "javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure"
        ),
    ),
    (
        JDK_SSL,
        "tls-handshake-failed",
        "jakarta mail",
        "Alert: Received fatal alert: protocol_version",
        jsse(
            "javax.net.ssl.SSLHandshakeException: Received fatal alert: protocol_version"
        ),
    ),
    (
        JDK_SSL,
        "tls-handshake-failed",
        "jakarta mail",
        "HandshakeContext: No appropriate protocol",
        jsse(
            "javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites are inappropriate)"
        ),
    ),
    (
        JDK_SSL,
        "tls-handshake-failed",
        "jakarta mail",
        "ServerHello: not accepted by client preferences",
        jsse(
            "javax.net.ssl.SSLHandshakeException: The server selected protocol version TLS10 is not accepted by client preferences [TLS13, TLS12]"
        ),
    ),
    (
        JDK_SSL,
        "tls-cert-untrusted",
        "jakarta mail",
        "PKIXValidator: PKIX path building failed",
        jsse(
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"
        ),
    ),
    (
        JDK_SSL,
        "tls-cert-expired",
        "jakarta mail",
        "PKIXValidator: PKIX path validation failed (validity check failed)",
        jsse(
            "javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed"
        ),
    ),
    # CPython smtplib and _ssl.c
    (
        CPY_SMTPLIB,
        "starttls-unavailable",
        "python smtplib",
        "SMTPNotSupportedError: STARTTLS extension not supported by server.",
        python(
            "starttls()",
            "starttls",
            769,
            "smtplib.SMTPNotSupportedError: STARTTLS extension not supported by server.",
        ),
    ),
    (
        CPY_SMTPLIB,
        "auth-failed",
        "python smtplib",
        "SMTPAuthenticationError",
        python(
            "login(user, password)",
            "login",
            750,
            "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted. For more information, go to\\n5.7.8  https://support.google.com/mail/?p=BadCredentials')",
        ),
    ),
    (
        CPY_SMTPLIB,
        "recipient-unknown",
        "python smtplib",
        "SMTPRecipientsRefused",
        python(
            "sendmail(sender, rcpts, msg)",
            "sendmail",
            901,
            "smtplib.SMTPRecipientsRefused: {'bob@example.com': (550, b'5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient table')}",
        ),
    ),
    (
        CPY_SMTPLIB,
        "message-too-large",
        "python smtplib",
        "SMTPSenderRefused",
        python(
            "sendmail(sender, rcpts, msg)",
            "sendmail",
            887,
            "smtplib.SMTPSenderRefused: (552, b'5.3.4 Message size exceeds fixed limit', 'me@example.org')",
        ),
    ),
    (
        CPY_SSL,
        "tls-cert-hostname",
        "python smtplib",
        "_ssl.c: Hostname mismatch, certificate is not valid for",
        python(
            "starttls(context=ctx)",
            "starttls",
            779,
            f"ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for '{HOST}'. (_ssl.c:1006)",
        ),
    ),
    (
        CPY_SSL,
        "tls-cert-hostname",
        "python smtplib",
        "_ssl.c: IP address mismatch, certificate is not valid for",
        python(
            "starttls(context=ctx)",
            "starttls",
            779,
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid for '203.0.113.7'. (_ssl.c:1006)",
        ),
    ),
    # Erlang/OTP ssl alerts (ssl_alert.erl description strings)
    (
        OTP_ALERT,
        "tls-cert-untrusted",
        "erlang ssl",
        "unknown_ca: Unknown CA",
        otp_alert("unknown_ca", "Unknown CA"),
    ),
    (
        OTP_ALERT,
        "tls-cert-expired",
        "erlang ssl",
        "certificate_expired: Certificate Expired",
        otp_alert("certificate_expired", "Certificate Expired"),
    ),
    (
        OTP_ALERT,
        "tls-handshake-failed",
        "erlang ssl",
        "handshake_failure: Handshake Failure",
        otp_alert("handshake_failure", "Handshake Failure", "hello"),
    ),
    (
        OTP_ALERT,
        "tls-handshake-failed",
        "erlang ssl",
        "protocol_version: Protocol Version",
        otp_alert("protocol_version", "Protocol Version", "hello"),
    ),
    (
        OTP_ALERT,
        "tls-cert-hostname",
        "erlang ssl",
        "handshake_failure: Handshake Failure + {bad_cert,hostname_check_failed}",
        otp_alert(
            "handshake_failure",
            "Handshake Failure",
            extra="\\n {bad_cert,hostname_check_failed}",
        ),
    ),
]

# (mirror, path, label, frame, key = the source's own words, text).
MIRRORED: list[tuple[str, str, str, str, str, str]] = [
    (
        "jstedfast+MailKit",
        "MailKit/Security/SslHandshakeException.cs",
        "tls-port-mismatch",
        "MailKit",
        "is typically reserved for plain-text connections",
        mailkit(
            f'An error occurred while attempting to establish an SSL or TLS connection.\n\nWhen connecting to an SMTP service, port 587 is typically reserved for plain-text connections. If\nyou intended to connect to SMTP on the SSL port, try connecting to port 465 instead. Otherwise,\nif you intended to use STARTTLS, make sure to use the following code:\n\nclient.Connect ("{HOST}", 587, SecureSocketOptions.StartTls);'
        ),
    ),
    (
        "jstedfast+MailKit",
        "MailKit/Security/SslHandshakeException.cs",
        "tls-cert-hostname",
        "MailKit",
        "did not match the name given in the server's SSL certificate",
        mailkit(
            f"An error occurred while attempting to establish an SSL or TLS connection.\n\nThe host name ({HOST}) did not match the name given in the server's SSL certificate (mail.example.net)."
        ),
    ),
    (
        "jstedfast+MailKit",
        "MailKit/Security/SslHandshakeException.cs",
        "tls-cert-hostname",
        "MailKit",
        "did not match any of the names given in the server's SSL certificate",
        mailkit(
            f"An error occurred while attempting to establish an SSL or TLS connection.\n\nThe host name ({HOST}) did not match any of the names given in the server's SSL certificate:\n  \u2022 mail.example.net\n  \u2022 www.example.net"
        ),
    ),
    (
        "jstedfast+MailKit",
        "MailKit/Security/SslHandshakeException.cs",
        "tls-cert-expired",
        "MailKit",
        "could not be validated for the following reasons (certificate has expired)",
        mailkit(
            "An error occurred while attempting to establish an SSL or TLS connection.\n\nThe server's SSL certificate could not be validated for the following reasons:\n\u2022 The server certificate has the following errors:\n  \u2022 certificate has expired"
        ),
    ),
    (
        "jstedfast+MailKit",
        "MailKit/Security/SslHandshakeException.cs",
        "tls-cert-untrusted",
        "MailKit",
        "could not be validated for the following reasons (unable to get local issuer certificate)",
        mailkit(
            "An error occurred while attempting to establish an SSL or TLS connection.\n\nThe server's SSL certificate could not be validated for the following reasons:\n\u2022 The server certificate has the following errors:\n  \u2022 unable to get local issuer certificate"
        ),
    ),
    (
        "jstedfast+MailKit",
        "MailKit/Net/Smtp/SmtpClient.cs",
        "starttls-unavailable",
        "MailKit",
        "The SMTP server does not support the STARTTLS extension.",
        mailkit_plain(
            "System.NotSupportedException",
            "The SMTP server does not support the STARTTLS extension.",
        ),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "connection-timeout",
        "nodemailer",
        "Connection timeout",
        node("Connection timeout", "ETIMEDOUT", "CONN"),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "tls-port-mismatch",
        "nodemailer",
        "Greeting never received",
        node("Greeting never received", "ETIMEDOUT", "CONN"),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "auth-failed",
        "nodemailer",
        "Invalid login",
        node(
            "Invalid login: 535 Authentication failed",
            "EAUTH",
            "AUTH PLAIN",
            "\n  response: '535 Authentication failed',\n  responseCode: 535,",
        ),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "recipient-unknown",
        "nodemailer",
        "Can't send mail - all recipients were rejected",
        node(
            "Can't send mail - all recipients were rejected: 550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
            "EENVELOPE",
            "RCPT TO",
        ),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "message-too-large",
        "nodemailer",
        "Message failed",
        node(
            "Message failed: 552 5.3.4 Message size exceeds fixed maximum message size",
            "EMESSAGE",
            "DATA",
            "\n  response: '552 5.3.4 Message size exceeds fixed maximum message size',\n  responseCode: 552,",
        ),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "starttls-unavailable",
        "nodemailer",
        "EHLO failed but HELO does not support required STARTTLS",
        node(
            "EHLO failed but HELO does not support required STARTTLS. response=250 mail.example.org",
            "ECONNECTION",
            "HELO",
        ),
    ),
    (
        "nodemailer+nodemailer",
        "lib/smtp-connection/index.js",
        "sender-not-permitted",
        "nodemailer",
        "Mail command failed",
        node(
            "Mail command failed: 553 5.7.1 <ceo@example.com>: Sender address rejected: not owned by user me@example.org",
            "EENVELOPE",
            "MAIL FROM",
        ),
    ),
    (
        "eclipse-ee4j+angus-mail",
        "providers/smtp/src/main/java/org/eclipse/angus/mail/smtp/SMTPTransport.java",
        "starttls-unavailable",
        "jakarta mail",
        "STARTTLS is required but host does not support STARTTLS",
        jakarta("STARTTLS is required but host does not support STARTTLS"),
    ),
    (
        "eclipse-ee4j+angus-mail",
        "core/src/main/java/org/eclipse/angus/mail/util/MailConnectException.java",
        "connection-refused",
        "jakarta mail",
        "Couldn't connect to host, port: (Connection refused)",
        jakarta(
            f"Couldn't connect to host, port: {HOST}, 587; timeout -1",
            "java.net.ConnectException: Connection refused",
        ).replace(
            "jakarta.mail.MessagingException",
            "org.eclipse.angus.mail.util.MailConnectException",
        ),
    ),
    (
        "eclipse-ee4j+angus-mail",
        "core/src/main/java/org/eclipse/angus/mail/util/MailConnectException.java",
        "connection-timeout",
        "jakarta mail",
        "Couldn't connect to host, port: (Connect timed out)",
        jakarta(
            f"Couldn't connect to host, port: {HOST}, 25; timeout 10000",
            "java.net.SocketTimeoutException: Connect timed out",
        ).replace(
            "jakarta.mail.MessagingException",
            "org.eclipse.angus.mail.util.MailConnectException",
        ),
    ),
    (
        "eclipse-ee4j+angus-mail",
        "providers/smtp/src/main/java/org/eclipse/angus/mail/smtp/SMTPTransport.java",
        "dns-failure",
        "jakarta mail",
        "Unknown SMTP host",
        jakarta(f"Unknown SMTP host: {HOST}", f"java.net.UnknownHostException: {HOST}"),
    ),
    (
        "symfony+mailer",
        "Transport/Smtp/Stream/SocketStream.php",
        "tls-cert-untrusted",
        "symfony mailer",
        "Unable to connect with STARTTLS: ",
        symfony(
            "Unable to connect with STARTTLS: stream_socket_enable_crypto(): SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A000086:SSL routines::certificate verify failed"
        ),
    ),
    (
        "symfony+mailer",
        "Transport/Smtp/Stream/AbstractStream.php",
        "connection-timeout",
        "symfony mailer",
        'Connection to "%s" timed out.',
        symfony(f'Connection to "{HOST}:587" timed out.'),
    ),
    (
        "symfony+mailer",
        "Transport/Smtp/Stream/SocketStream.php",
        "connection-refused",
        "symfony mailer",
        "Connection could not be established with host",
        symfony(
            f'Connection could not be established with host "{HOST}:587": stream_socket_client(): Unable to connect to {HOST}:587 (Connection refused)'
        ),
    ),
    (
        "symfony+mailer",
        "Transport/Smtp/EsmtpTransport.php",
        "auth-failed",
        "symfony mailer",
        "Failed to authenticate on SMTP server with username",
        symfony(
            'Failed to authenticate on SMTP server with username "me@example.org" using the following authenticators: "LOGIN", "PLAIN". Authenticator "LOGIN" returned "Expected response code "235" but got code "535", with message "535 5.7.8 Error: authentication failed: authentication failure".". Authenticator "PLAIN" returned "Expected response code "235" but got code "535", with message "535 5.7.8 Error: authentication failed: authentication failure".".'
        ),
    ),
    (
        "symfony+mailer",
        "Transport/Smtp/SmtpTransport.php",
        "relay-denied",
        "symfony mailer",
        'Expected response code "%s" but got ',
        symfony(
            'Expected response code "250/251/252" but got code "554", with message "554 5.7.1 <bob@example.com>: Relay access denied".'
        ),
    ),
    (
        "swiftmailer+swiftmailer",
        "lib/classes/Swift/Transport/StreamBuffer.php",
        "connection-timeout",
        "swiftmailer",
        "Connection could not be established with host",
        swift(
            f"Connection could not be established with host {HOST} :stream_socket_client(): unable to connect to tcp://{HOST}:25 (Connection timed out)"
        ),
    ),
    (
        "swiftmailer+swiftmailer",
        "lib/classes/Swift/Transport/EsmtpTransport.php",
        "tls-handshake-failed",
        "swiftmailer",
        "Unable to connect with TLS encryption",
        swift("Unable to connect with TLS encryption"),
    ),
    (
        "swiftmailer+swiftmailer",
        "lib/classes/Swift/Transport/AbstractSmtpTransport.php",
        "auth-failed",
        "swiftmailer",
        "Expected response code ",
        swift(
            'Expected response code 235 but got code "535", with message "535-5.7.8 Username and Password not accepted. Learn more at\r\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials"'
        ),
    ),
    (
        "wneessen+go-mail",
        "client.go",
        "starttls-unavailable",
        "go-mail",
        "but target host does not support STARTTLS",
        gomail(
            'STARTTLS mode set to: "TLSMandatory", but target host does not support STARTTLS'
        ),
    ),
    (
        "wneessen+go-mail",
        "client.go",
        "connection-refused",
        "go-mail",
        "dial failed: ",
        gomail("dial failed: dial tcp 203.0.113.7:587: connect: connection refused"),
    ),
    (
        "wneessen+go-mail",
        "client.go",
        "auth-failed",
        "go-mail",
        "SMTP AUTH failed: ",
        gomail("SMTP AUTH failed: 535 5.7.8 Username and Password not accepted."),
    ),
    (
        "lettre+lettre",
        "src/transport/smtp/error.rs",
        "auth-failed",
        "lettre",
        "permanent error (",
        lettre("permanent error (535): 5.7.8 Username and Password not accepted."),
    ),
    (
        "lettre+lettre",
        "src/transport/smtp/error.rs",
        "recipient-unknown",
        "lettre",
        "permanent error (",
        lettre(
            "permanent error (550): 5.1.1 The email account that you tried to reach does not exist."
        ),
    ),
    (
        "lettre+lettre",
        "src/transport/smtp/error.rs",
        "connection-refused",
        "lettre",
        "network error",
        lettre("network error: Connection refused (os error 111)"),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "connection-refused",
        "gen_smtp",
        "network_failure (econnrefused)",
        erlang(
            f'{{error,retries_exceeded,{{network_failure,"{HOST}",{{error,econnrefused}}}}}}'
        ),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "connection-timeout",
        "gen_smtp",
        "network_failure (timeout)",
        erlang(
            f'{{error,retries_exceeded,{{network_failure,"{HOST}",{{error,timeout}}}}}}'
        ),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "dns-failure",
        "gen_smtp",
        "network_failure (nxdomain)",
        erlang(
            f'{{error,retries_exceeded,{{network_failure,"{HOST}",{{error,nxdomain}}}}}}'
        ),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "auth-failed",
        "gen_smtp",
        "permanent_failure, auth_failed",
        erlang(f'{{error,no_more_hosts,{{permanent_failure,"{HOST}",auth_failed}}}}'),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "tls-handshake-failed",
        "gen_smtp",
        "temporary_failure, tls_failed",
        erlang(f'{{error,retries_exceeded,{{temporary_failure,"{HOST}",tls_failed}}}}'),
    ),
    (
        "gen-smtp+gen_smtp",
        "src/gen_smtp_client.erl",
        "recipient-unknown",
        "gen_smtp",
        "permanent_failure (reply)",
        erlang(
            f'{{error,no_more_hosts,{{permanent_failure,"{HOST}",<<"550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table\\r\\n">>}}}}'
        ),
    ),
]


# --- signals for what the knowledge base did not recognise ----------------------------


OUT_SIGNALS = HERE.parents[2] / "knowledge" / "signals" / "mail-libraries.yaml"
OUT_SIGNALS_NETWORK = OUT_SIGNALS.with_name("mail-libraries-network.yaml")
HEADER = """\
# Mail libraries' and runtimes' own error messages that the other tables did not hold:
# .NET's SslStream and SmtpClient resources, SwiftMailer's, Symfony Mailer's and
# gen_smtp's words for a failed TLS upgrade, Erlang ssl's reason beside its alert.
# tests/knowledge/outside/mail_library_strings.jsonl holds them as mail programs print
# them, each naming its repository, path, key and commit
# (tests/knowledge/test_mail_library_strings.py).
# Whether a paste is about mail at all is decided elsewhere (knowledge/context.py).
# Built by tests/knowledge/outside/build_mail_library_strings.py.
# weight: 30 decisive, 20 strong, 12 medium, 6 weak.
kind: signals
family: {family}
groups:
"""


def src(quoted: tuple[str, str, str], key: str) -> str:
    repo, path, commit = quoted
    return f"{repo} {path} (commit {commit[:12]}) {key}"


def tls_groups(mirrors: Path) -> list[Group]:
    def at(mirror: str, path: str, what: str) -> str:
        return f"{mirror.replace('+', '/')} {path} (commit {head(mirrors / mirror / 'repo')[:12]}) {what}"

    return [
        (
            ".NET SslStream on Linux and macOS: OpenSSL's handshake failed (the reason follows in\n"
            "the inner exception, or not at all)",
            "tls-handshake-failed",
            30,
            src(DOTNET_SECURITY, "net_ssl_handshake_failed_error"),
            ["SSL Handshake failed with OpenSSL error"],
        ),
        (
            ".NET SslStream: the application's validation callback refused the server's certificate\n"
            "(MailKit's ServerCertificateValidationCallback, SmtpClient's ServicePointManager one)",
            "tls-cert-untrusted",
            20,
            src(DOTNET_SECURITY, "net_ssl_io_cert_custom_validation"),
            [
                "The remote certificate was rejected by RemoteCertificateValidationCallback",
                "The remote certificate was rejected by the provided RemoteCertificateValidationCallback",
            ],
        ),
        (
            "Erlang ssl: the certificate error beside a 'Handshake Failure' alert ({bad_cert,hostname_check_failed})",
            "tls-cert-hostname",
            30,
            src(
                OTP_ALERT,
                "handshake_failure alert with {bad_cert,hostname_check_failed}",
            ),
            ["hostname_check_failed"],
        ),
        (
            "The server agreed to STARTTLS and the upgrade failed: SwiftMailer's and Symfony Mailer's\n"
            "words, gen_smtp_client's tls_failed. Strong, not decisive: PHP prints OpenSSL's own\n"
            "reason (certificate verify failed) beside them, and that reason decides.",
            "tls-handshake-failed",
            20,
            "; ".join(
                [
                    at(
                        "swiftmailer+swiftmailer",
                        "lib/classes/Swift/Transport/EsmtpTransport.php",
                        "'Unable to connect with TLS encryption'",
                    ),
                    at(
                        "symfony+mailer",
                        "Transport/Smtp/EsmtpTransport.php",
                        "'Unable to connect with STARTTLS.'",
                    ),
                    at(
                        "gen-smtp+gen_smtp",
                        "src/gen_smtp_client.erl",
                        "{temporary_failure, tls_failed}",
                    ),
                ]
            ),
            [
                "Unable to connect with TLS encryption",
                "Unable to connect with STARTTLS",
                "tls_failed",
            ],
        ),
    ]


def network_groups(mirrors: Path) -> list[Group]:
    return [
        (
            ".NET SmtpClient: the mail server's name does not resolve",
            "dns-failure",
            30,
            src(DOTNET_MAIL, "MailHostNotFound"),
            ["The SMTP host was not found"],
        ),
        (
            "gen_smtp_client: {network_failure, Host, {error, timeout}}",
            "connection-timeout",
            20,
            f"gen-smtp/gen_smtp src/gen_smtp_client.erl (commit {head(mirrors / 'gen-smtp+gen_smtp' / 'repo')[:12]}) network_failure",
            ["{error,timeout}"],
        ),
    ]


def main(mirrors: Path) -> None:
    records: list[Record] = []
    for (repo, path, commit), label, frame, key, text in QUOTED:
        records.append(Record(text, label, "en", f"{repo}@{path}", key, commit, frame))
    for mirror, path, label, frame, key, text in MIRRORED:
        clone = mirrors / mirror / "repo"
        # A literal split over lines ("..." +\n "...") is read joined.
        source = re.sub(r"[\"']\s*[+.]\s*[\"']", "", git_show(clone, path))
        words = key.split(" (")[0].replace("%s", "").split(", ")[0].strip()
        assert source and words.split('"')[0] in source, (mirror, path, key)
        records.append(
            Record(
                text,
                label,
                "en",
                f"{mirror.replace('+', '/')}@{path}",
                key,
                head(clone),
                frame,
            )
        )
    with OUT_RECORDS.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.row(), ensure_ascii=False) + "\n")
    write_signals(OUT_SIGNALS, HEADER.format(family="tls"), tls_groups(mirrors))
    write_signals(
        OUT_SIGNALS_NETWORK, HEADER.format(family="network"), network_groups(mirrors)
    )
    print(len(records), "records")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
