"""
The operating system's own reason for a failed connection, in the language Windows
prints it in, read from wherever it stands in the paste.

The texts are Windows' FormatMessage wording of WinSock errors as Python's OSError and
.NET's SocketException print them on Chinese, Japanese, Korean, Italian, Turkish, Dutch
and Czech Windows, and glibc's Korean strerror (seen in public code and issue threads
that quote them).
"""

from __future__ import annotations

import pytest

from knowledge.matcher import Matcher
from knowledge.normalize import select_lines

# A Python traceback whose source line names a timeout argument: it says nothing of
# why the connection failed.
TRACE = (
    '  File "C:\\Python311\\Lib\\smtplib.py", line 312, in _get_socket\n'
    "    return socket.create_connection((host, port), timeout,\n"
    '  File "C:\\Python311\\Lib\\socket.py", line 851, in create_connection\n'
    "    raise exceptions[0]\n"
)


@pytest.mark.parametrize(
    ("sentence", "category"),
    [
        # Chinese, Japanese and Korean 10061 in a sentence of the person's own.
        (
            "发邮件一直提示【由于目标计算机积极拒绝，无法连接】怎么办",
            "connection-refused",
        ),
        (
            "メール送信で「対象のコンピューターによって拒否されたため、"
            "接続できませんでした」と出ます",
            "connection-refused",
        ),
        (
            "메일 보낼 때 '대상 컴퓨터에서 연결을 거부했으므로 연결하지 "
            "못했습니다' 라고 나옵니다",
            "connection-refused",
        ),
        # Korean 10060.
        (
            "메일 발송 시 '연결된 구성원으로부터 응답이 없어 연결하지 못했거나, "
            "호스트로부터 응답이 없어 연결이 끊어졌습니다' 오류",
            "connection-timeout",
        ),
    ],
)
def test_the_reason_in_a_sentence_above_a_traceback_is_read(
    shipped: Matcher, sentence: str, category: str
) -> None:
    """The sentence carries the reason; the traceback only a parameter's name."""
    answer = shipped.diagnose(f"{sentence}\n{TRACE}").to_json()
    assert answer["category"] == category, answer


def test_a_line_in_a_script_without_spaces_is_chosen_by_its_phrase() -> None:
    """A line is an error line by a phrase it contains, not only by its words."""
    lines = [f"로그 {n}번째 줄: 다음 작업을 처리합니다" for n in range(30)]
    lines[17] = "로그 18번째 줄: 연결된 구성원으로부터 응답이 없어 연결하지 못했습니다"
    phrase = "연결된 구성원으로부터 응답이 없어"
    picked = select_lines("\n".join(lines), limit=1, phrases=(phrase,))
    assert [picked.lines[i] for i in picked.keep] == [lines[17]]
    # Without the phrase the line has nothing over its neighbours.
    plain = select_lines("\n".join(lines), limit=1)
    assert [plain.lines[i] for i in plain.keep] == [lines[0]]
    # A generic word of failure marks a line too ("실패": failed).
    lines[23] = "로그 24번째 줄: 메일 전송 실패"
    generic = select_lines("\n".join(lines), limit=1)
    assert [generic.lines[i] for i in generic.keep] == [lines[23]]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "smtplib 메일 전송 실패: TimeoutError: [WinError 10060] 연결된 "
            "구성원으로부터 응답이 없어 연결하지 못했거나, 호스트로부터 응답이 없어 "
            "연결이 끊어졌습니다",
            "connection-timeout",
        ),
        (
            "SMTP 邮件发送失败 OSError: [WinError 10065] "
            "套接字操作尝试一个无法连接的主机。",
            "connection-timeout",
        ),
        (
            "SMTP 邮件发送失败 OSError: [WinError 10051] "
            "向一个无法连接的网络尝试了一个套接字操作。",
            "connection-timeout",
        ),
        (
            "メールサーバーに接続できません: OSError: [WinError 10065] "
            "到達できないホストに対してソケット操作を実行しようとしました。",
            "connection-timeout",
        ),
        (
            "메일 서버 연결 실패: System.Net.Sockets.SocketException: 알려진 호스트가 "
            "없습니다",
            "dns-failure",
        ),
        # glibc's Korean strerror, as curl and Java print it on Linux.
        (
            "메일 발송 오류: curl: (7) Failed to connect to smtp.example.org port 587: "
            "연결이 거부됨",
            "connection-refused",
        ),
        (
            "메일 발송 오류: Connect to smtp.example.org:25 [smtp.example.org/"
            "203.0.113.9] failed: 연결 시간 초과",
            "connection-timeout",
        ),
        (
            "메일 발송 오류: curl: (7) Failed to connect to smtp.example.org port 25: "
            "호스트로 갈 루트가 없음",
            "connection-timeout",
        ),
        (
            "메일 발송 오류: smtp.example.org: 이름 혹은 서비스를 알 수 없습니다",
            "dns-failure",
        ),
        # Italian, Turkish, Dutch and Czech Windows.
        (
            "SMTP: [WinError 10061] Impossibile stabilire la connessione. Rifiuto "
            "persistente del computer di destinazione",
            "connection-refused",
        ),
        (
            "SMTP: [WinError 10061] Hedef makine etkin olarak reddettiğinden bağlantı "
            "kurulamadı",
            "connection-refused",
        ),
        (
            "SMTP: Kan geen verbinding maken omdat de doelcomputer de verbinding "
            "actief heeft geweigerd 127.0.0.1:25",
            "connection-refused",
        ),
        (
            "SMTP: Nemohlo být vytvořeno žádné připojení, protože cílový počítač je "
            "aktivně odmítl 127.0.0.1:587",
            "connection-refused",
        ),
        (
            "SMTP: Tentativo di connessione non riuscito. Risposta non corretta della "
            "parte connessa dopo un intervallo di tempo",
            "connection-timeout",
        ),
        (
            "SMTP: smtp.example.org: Bilinen böyle bir ana bilgisayar yok",
            "dns-failure",
        ),
        # glibc's Italian and Turkish strerror (wget, curl on Linux).
        (
            "invio e-mail fallito: curl: (7) Failed to connect to smtp.example.org "
            "port 587: Connessione rifiutata",
            "connection-refused",
        ),
        (
            "invio e-mail fallito: Connessione a smtp.example.org:25... non riuscito: "
            "Connessione scaduta.",
            "connection-timeout",
        ),
        (
            "SMTP: smtp.example.org:587 adresine bağlanılamadı: Bağlantı reddedildi",
            "connection-refused",
        ),
        (
            "寄送郵件失敗：[WinError 10060] 連線嘗試失敗，因為連線對象有一段時間並未"
            "正確回應，或是連線建立失敗，因為連線的主機無法回應。",
            "connection-timeout",
        ),
    ],
)
def test_localised_winsock_reasons(shipped: Matcher, text: str, category: str) -> None:
    answer = shipped.diagnose(text).to_json()
    assert answer["category"] == category, answer
    assert answer["decision"] == "confident", answer


def test_javamail_s_starttls_failure_names_mail_by_itself(shipped: Matcher) -> None:
    """Only JavaMail says 'Could not convert socket to TLS': no other word is needed."""
    answer = shipped.diagnose(
        "Error message: Could not convert socket to TLS"
    ).to_json()
    assert (answer["category"], answer["decision"]) == (
        "tls-handshake-failed",
        "confident",
    ), answer
