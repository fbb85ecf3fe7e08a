"""Words that say a paste is about mail, as people write them in their own language."""

from __future__ import annotations

import pytest

from knowledge.context import mail_context
from knowledge.matcher import Matcher

BARE = "javax.net.ssl.SSLHandshakeException: PKIX path building failed"


@pytest.mark.parametrize(
    "lead",
    [
        "메일 발송이 실패했습니다",  # Korean: sending mail failed
        "이메일을 보낼 수 없습니다",  # Korean: cannot send the e-mail
        "邮件发送失败",  # Chinese
        "メール送信エラー",  # Japanese
        "Fehler beim Senden der E-Mail",  # German
        "Ошибка отправки почты",  # Russian
        "Impossible d'envoyer le courriel",  # French
    ],
)
def test_a_mail_word_in_the_paste_s_language_makes_it_mail(lead: str) -> None:
    """The same bare TLS error reads as mail once the paste names mail."""
    assert mail_context(f"{lead}: {BARE}") == (True, False)


def test_without_a_mail_word_the_bare_error_names_nothing() -> None:
    assert mail_context(BARE) == (False, False)
    assert mail_context(f"파일 업로드가 실패했습니다: {BARE}")[0] is False


@pytest.mark.parametrize(
    "lead",
    [
        "送信サーバーに接続できません",  # Japanese: cannot reach the outgoing server
        "受信サーバーの設定を確認してください",  # Japanese: check the incoming server
        "发件服务器设置有误",  # Chinese: the outgoing server's settings are wrong
        "收件服务器无法连接",  # Chinese: the incoming server cannot be reached
    ],
)
def test_a_mail_client_s_server_names_mail(lead: str) -> None:
    assert mail_context(f"{lead}: {BARE}") == (True, False)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # The attachment is over the limit, said around the word for mail.
        ("发邮件总是失败，提示附件大于20M", "message-too-large"),
        # Authentication failed, said of the incoming server.
        ("受信サーバーの認証に失敗しました。", "auth-failed"),
        ("메일 전송 중 인증에 실패했습니다", "auth-failed"),
    ],
)
def test_a_plain_reason_beside_the_word_for_mail_is_answered(
    shipped: Matcher, text: str, category: str
) -> None:
    """A generic phrase said of mail itself counts as much as one said of SMTP."""
    answer = shipped.diagnose(text).to_json()
    assert (answer["category"], answer["decision"]) == (category, "confident"), answer


def test_the_same_phrase_said_of_something_else_is_not_answered(
    shipped: Matcher,
) -> None:
    answer = shipped.diagnose("上传文件总是失败，提示附件大于20M").to_json()
    assert answer["decision"] != "confident", answer
