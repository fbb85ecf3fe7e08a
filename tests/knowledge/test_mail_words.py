"""Words that say a paste is about mail, as people write them in their own language."""

from __future__ import annotations

import pytest

from knowledge.context import mail_context

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
