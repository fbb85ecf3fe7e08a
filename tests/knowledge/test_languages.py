# ruff: noqa: E501  (product messages are kept whole, as the software prints them)
"""
Client, provider and operating-system messages in other languages are recognised as
their English forms are: Windows and glibc network errors, .NET's SmtpClient and
SslStream messages, Thunderbird's and PHPMailer's localised errors, Exchange's localised
NDR text, and Chinese, Russian and Polish providers' replies (from the products'
localisation files and the providers' help pages; see knowledge/signals/).
"""

from __future__ import annotations

import pytest

from knowledge.matcher import Matcher


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "System.Net.Mail.SmtpException: Der SMTP-Server erfordert eine sichere Verbindung, oder der Client war nicht authentifiziert. Die Serverantwort war: 5.7.57 Client not authenticated to send mail.",
            "auth-required",
        ),
        (
            "Ошибка отправления почты: Не удалось установить защищённое соединение с сервером исходящей почты (SMTP) smtp.yandex.ru с использованием STARTTLS, так как он не заявил о поддержке этой возможности.",
            "starttls-unavailable",
        ),
        (
            "Wysyłanie wiadomości się nie powiodło, ponieważ upłynął limit czasu połączenia z serwerem smtp.wp.pl poczty wychodzącej (SMTP). Należy spróbować ponownie lub skontaktować się z administratorem sieci.",
            "connection-timeout",
        ),
        (
            "发送邮件时出错：发件服务器（SMTP） smtp.163.com 未知。服务器可能配置错误，请确认您的发件服务器（SMTP）配置正确并稍后重试。",
            "dns-failure",
        ),
        (
            "メールの送信中にエラーが発生しました: 送信 (SMTP) サーバー smtp.example.jp が見つかりません。 サーバーの設定に誤りがある可能性があります。 送信 (SMTP) サーバーの設定が正しいか確認し、再度試してください。",
            "dns-failure",
        ),
        (
            "Échec de l’envoi : impossible de se connecter au serveur smtp.orange.fr. Une tentative de connexion a échoué car le parti connecté n’a pas répondu convenablement au-delà d’une certaine durée",
            "connection-timeout",
        ),
        (
            "Erro SMTP: Falha na autenticação. 535 5.7.8 Error: authentication failed",
            "auth-failed",
        ),
        (
            "Error: No se puede establecer una conexión ya que el equipo de destino denegó expresamente dicha conexión 127.0.0.1:25",
            "connection-refused",
        ),
        (
            "System.Security.Authentication.AuthenticationException: Das Remotezertifikat ist laut Validierungsverfahren ungültig.",
            "tls-cert-untrusted",
        ),
        ("SmtpException: 服务器不支持安全连接。", "starttls-unavailable"),
        (
            "Le serveur ne prend pas en charge les connexions sécurisées.",
            "starttls-unavailable",
        ),
        ("550 5.2.2 Skrzynka odbiorcy jest pełna", "mailbox-full"),
        ("552 邮件大小超过限制 exceeded mailsize limit", "message-too-large"),
        ("554 5.7.1 Сообщение отклонено как спам", "sender-blocklisted"),
        ("Mensagem não enviada: 550 5.1.1 usuário desconhecido", "recipient-unknown"),
        (
            "Ihr Postausgangsserver (SMTP) meldet: 550 5.7.1 Relaying verweigert",
            "relay-denied",
        ),
        (
            "Der Client und der Server können nicht kommunizieren, da sie keinen gemeinsamen Algorithmus besitzen.",
            "tls-handshake-failed",
        ),
        (
            "Sie können keine Nachricht im Auftrag dieses Benutzers senden, wenn Sie nicht über die entsprechende Berechtigung verfügen.",
            "sender-not-permitted",
        ),
        ("El certificado ha caducado o todavía no es válido.", "tls-cert-expired"),
        ("Zielprinzipalname ist falsch.", "tls-cert-hostname"),
        (
            "535 Error: 请使用授权码登录。详情请看: http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256",
            "auth-policy-blocked",
        ),
        (
            "421 HL:ICC 该IP同时并发连接数过大，超过了网易的限制，被临时禁止连接。",
            "rate-limited",
        ),
        ("Quota d'envoi de mails dépassé", "rate-limited"),
        (
            "535 5.7.8 Error: authentication failed: This user does not have access rights to this service",
            "auth-policy-blocked",
        ),
        (
            "550 Message was not accepted -- invalid mailbox. Local mailbox user@mail.ru is unavailable: user not found",
            "recipient-unknown",
        ),
        (
            "Nie można nawiązać połączenia, ponieważ komputer docelowy aktywnie go odmawia. 127.0.0.1:587",
            "connection-refused",
        ),
    ],
)
def test_localised_message_is_recognised(
    shipped: Matcher, text: str, category: str
) -> None:
    """A message in zh, ja, ru, pl, de, fr, es or pt gets its category."""
    assert shipped.diagnose(text).category == category
