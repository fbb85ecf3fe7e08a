"""
Structure first: the recogniser reads what a paste is made of (codes, errno names, TLS
reasons, localised OS messages, the protocol step, the transcript), and the matcher
answers from it when no entry is confident.

Texts are what the named software prints (library sources, RFCs, vendor documentation,
Windows and glibc message catalogues), not what the knowledge base's entries say.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Decision, Matcher
from knowledge.model import KnowledgeBase
from knowledge.normalize import find_evidence, select_lines
from knowledge.structure import (
    _DOTNET_WRAPPER,
    Recogniser,
    _without_dotnet_wrapper,
)
from tests.knowledge.conftest import KnowledgeTree, dump_yaml, line_of

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    return Matcher(KB)


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    """The recogniser over the shipped signal and code tables."""
    return Recogniser(KB)


def best(recogniser: Recogniser, text: str, *, mail: bool = True) -> str | None:
    """The structure's best category for ``text``."""
    found = recogniser.recognise(text, find_evidence(text), mail=mail).best
    return found[0] if found else None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # POSIX/Linux errno as Python, Node, Go and Rust print them
        (
            "ConnectionRefusedError: [Errno 111] Connection refused",
            "connection-refused",
        ),
        ("Error: connect ECONNREFUSED 10.0.0.5:587", "connection-refused"),
        ("dial tcp 203.0.113.9:25: connect: no route to host", "connection-timeout"),
        ("TimeoutError: [Errno 110] Connection timed out", "connection-timeout"),
        ("Error: connect ETIMEDOUT 203.0.113.9:465", "connection-timeout"),
        ("dial tcp 203.0.113.9:587: i/o timeout", "connection-timeout"),
        ("Net::OpenTimeout: execution expired", "connection-timeout"),
        ("socket.gaierror: [Errno -2] Name or service not known", "dns-failure"),
        ("Error: getaddrinfo EAI_AGAIN smtp.example.com", "dns-failure"),
        # WinSock 10061 / 10060 / 11001 as localised Windows prints them
        (
            "Es konnte keine Verbindung hergestellt werden, da der Zielcomputer die "
            "Verbindung verweigerte",
            "connection-refused",
        ),
        ("由于目标计算机积极拒绝，无法连接。", "connection-refused"),
        (
            "対象のコンピューターによって拒否されたため、接続できませんでした。",
            "connection-refused",
        ),
        (
            "Попытка установить соединение была "
            "безуспешной, т.к. от другого компьютера "
            "за требуемое время не получен нужный отклик",
            "connection-timeout",
        ),
        ("Taki host nie jest znany", "dns-failure"),
        ("Este host não é conhecido", "dns-failure"),
        # TLS libraries other than OpenSSL
        ("x509: certificate signed by unknown authority", "tls-cert-untrusted"),
        (
            "Error: Connection(Custom { kind: InvalidData, error: "
            "InvalidCertificate(UnknownIssuer) })",
            "tls-cert-untrusted",
        ),
        (
            '{tls_alert,{unknown_ca,"TLS client: In state certify received SERVER '
            'ALERT: Fatal - Unknown CA"}}',
            "tls-cert-untrusted",
        ),
        (
            "sun.security.validator.ValidatorException: PKIX path building failed",
            "tls-cert-untrusted",
        ),
        (
            "The remote certificate was rejected by the provided "
            "RemoteCertificateValidationCallback. RemoteCertificateNameMismatch",
            "tls-cert-hostname",
        ),
        (
            "x509: certificate is valid for mail.example.net, not smtp.example.com",
            "tls-cert-hostname",
        ),
        (
            "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match",
            "tls-cert-hostname",
        ),
        ("x509: certificate has expired or is not yet valid", "tls-cert-expired"),
        (
            "received corrupt message of type InvalidContentType",
            "tls-port-mismatch",
        ),
        ("tls: first record does not look like a TLS handshake", "tls-port-mismatch"),
        (
            "javax.net.ssl.SSLException: Unrecognized SSL "
            "message, plaintext connection?",
            "tls-port-mismatch",
        ),
        (
            "The client and server cannot communicate, because they do not possess a "
            "common algorithm",
            "tls-handshake-failed",
        ),
        ("Received fatal alert: protocol_version", "tls-handshake-failed"),
        # servers, clients and providers
        (
            "smtplib.SMTPNotSupportedError: STARTTLS extension not supported by server",
            "starttls-unavailable",
        ),
        ("550 5.7.1 <x@example.org>: Relay access denied", "relay-denied"),
        ("554 DT:SPM 163 mx14,QCCowABnbUVo", "sender-blocklisted"),
        (
            "421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred",
            "rate-limited",
        ),
    ],
)
def test_recogniser_names_the_category(
    recogniser: Recogniser, text: str, category: str
) -> None:
    """Library, OS and server spellings of one failure point to its category."""
    assert best(recogniser, text) == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("552 5.2.2 Quota exceeded (mailbox for user is full)", "mailbox-full"),
        ("552 5.3.4 Message size exceeds fixed limit", "message-too-large"),
        (
            "550 5.1.90 Your message can't be sent because "
            "you've reached your daily limit",
            "rate-limited",
        ),
        (
            "550 5.7.606 Access denied, banned sending IP [203.0.113.9]",
            "sender-blocklisted",
        ),
        (
            "451 4.7.650 The mail server has been temporarily rate limited",
            "rate-limited",
        ),
        (
            "550-5.7.28 mail sent from your IP address has been blocked",
            "sender-blocklisted",
        ),
        ("421-4.7.28 unusual rate of unsolicited mail", "rate-limited"),
        ("534-5.7.9 Application-specific password required", "auth-policy-blocked"),
        ("554 5.7.9 Message not accepted for policy reasons", "sender-blocklisted"),
    ],
)
def test_codes_choose_among_their_categories(
    recogniser: Recogniser, text: str, category: str
) -> None:
    """Reply and enhanced codes (IANA and vendor ranges) narrow the category."""
    assert best(recogniser, text) == category


def test_vendor_ranges_and_class_rows_are_looked_up(kb: KnowledgeBase) -> None:
    """Microsoft's X.7.606-649 range and a "
    "class-specific 4.7.500-699 row explain codes."""
    banned = kb.enhanced("5.7.610")
    assert banned is not None and banned.category == "sender-blocklisted"
    busy = kb.enhanced("4.7.550")
    assert busy is not None and busy.category == "rate-limited"
    # The class-4 row does not apply to class 5: an unknown detail reads as its
    # subject's "other or undefined" row (RFC 3463 §2).
    other = kb.enhanced("5.7.550")
    assert other is not None and other.code == "X.7.0"
    assert kb.enhanced("5.1.1") is not None


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge base."""
    return KB


def test_dns_call_wins_over_its_errno(recogniser: Recogniser) -> None:
    """ "queryA ETIMEOUT host" is a DNS lookup that timed out, not a TCP timeout."""
    assert best(recogniser, "Error: queryA ETIMEOUT smtp.example.com") == "dns-failure"
    assert (
        best(
            recogniser,
            "dial tcp: lookup smtp.x on 127.0.0.11:53: read: connection refused",
        )
        == "dns-failure"
    )


def test_loopback_connect_failure_is_refused(recogniser: Recogniser) -> None:
    """A failed connection to localhost means nothing listens there."""
    text = (
        "MailConnectException: Couldn't connect to host, "
        "port: localhost, 25; timeout -1"
    )
    assert best(recogniser, text) == "connection-refused"


def test_mojibake_is_decoded(recogniser: Recogniser) -> None:
    """GBK shown as Latin-1 or as byte escapes is read as the Chinese it was."""
    latin1 = "535 Error: " + "请使用授权码登录".encode("gb18030").decode("latin-1")
    escaped = "535 Error: " + "".join(
        f"\\x{b:02x}" for b in "请使用授权码登录".encode("gb18030")
    )
    assert best(recogniser, latin1) == "auth-policy-blocked"
    assert best(recogniser, escaped) == "auth-policy-blocked"


def test_ehlo_without_starttls_then_error_is_unavailable(
    recogniser: Recogniser,
) -> None:
    """A transcript whose EHLO reply lacks STARTTLS, then a TLS error: not offered."""
    text = (
        "S: 220 mail.example.com ESMTP\nC: EHLO client\nS: 250-mail.example.com\n"
        "S: 250-PIPELINING\nS: 250-SIZE 10240000\nS: 250 AUTH PLAIN LOGIN\n"
        "Error: client requires TLS but the connection is not secure"
    )
    structure = recogniser.recognise(text, find_evidence(text), mail=True)
    assert structure.transcript == "starttls-unavailable"
    assert structure.best is not None and structure.best[0] == "starttls-unavailable"


def test_starttls_answered_with_an_error_is_unavailable(recogniser: Recogniser) -> None:
    """The client's STARTTLS answered with 502/454 in a transcript: not available."""
    text = (
        "<= EHLO client\n=> 250 AUTH PLAIN\n<= STARTTLS\n=> 502 Command not implemented"
    )
    assert best(recogniser, text) == "starttls-unavailable"


def test_wrong_version_after_ready_is_a_handshake_failure(
    recogniser: Recogniser,
) -> None:
    """After "220 Ready to start TLS" the port was right: the handshake failed."""
    text = (
        "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\n"
        "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"
    )
    assert best(recogniser, text) == "tls-handshake-failed"


def test_protocol_step_is_read(recogniser: Recogniser) -> None:
    """Postfix's "(in reply to RCPT TO command)" names the step that failed."""
    text = (
        "host mx.example.org[192.0.2.1] said: 550 5.7.1 <a@example.org>: "
        "Recipient address rejected: Access denied (in reply to RCPT TO command)"
    )
    structure = recogniser.recognise(text, find_evidence(text), mail=True)
    assert structure.step == "rcpt"


def test_coded_paste_is_never_none(shipped: Matcher) -> None:
    """A mail reply no entry covers is answered from the code, flagged uncertain."""
    diagnosis = shipped.diagnose(
        "SMTP error from remote mail server: 452 4.2.2 Postfach voll, bitte später"
    )
    assert diagnosis.category == "mailbox-full"
    document = diagnosis.to_json()
    assert document["basis"] in {"entry", "codes", "structure"}
    assert "code:4.2.2" in document["signals"]


def test_structural_answer_offers_alternatives_and_flags_uncertainty(
    shipped: Matcher,
) -> None:
    """An answer from the structure alone says so in the JSON contract."""
    diagnosis = shipped.diagnose("由于目标计算机积极拒绝，无法连接。 smtp.qq.com:465")
    assert diagnosis.decision is Decision.CONFIDENT
    assert diagnosis.category == "connection-refused"
    document = diagnosis.to_json()
    assert document["uncertain"] is True and document["basis"] == "structure"
    for key in ("category", "entry", "score", "alternatives", "decision", "codes"):
        assert key in document


@pytest.mark.parametrize(
    "text",
    [
        "we shipped version 5.1.1 of the app today",
        "What should our SPF record look like if we send from two providers?",
        "the build has 550 tests and 421 of them pass",
    ],
)
def test_chat_with_code_like_numbers_or_words_stays_none(
    shipped: Matcher, text: str
) -> None:
    """Version numbers, counts and mail words without an error are not answered."""
    assert shipped.diagnose(text).category == "none"


@pytest.mark.parametrize(
    "text",
    [
        "requests.exceptions.SSLError: HTTPSConnectionPool(host='api.example.com', "
        "port=443): Max retries exceeded with url: /v3/mail/send (Caused by "
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: unable to get local issuer certificate')))",
        "ERROR 2026 (HY000): SSL connection error: error:0A000086:SSL routines::"
        "certificate verify failed",
        "[Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL "
        "routines::certificate verify failed:unable to get local issuer certificate]",
        "org.apache.kafka.common.errors.RecordTooLargeException: The message is "
        "1548576 bytes when serialized which is larger than 1048576",
        "MongoServerSelectionError: connect ECONNREFUSED 127.0.0.1:27017",
        "System.Net.Http.HttpRequestException: The SSL connection could not be "
        "established, see inner exception. ---> AuthenticationException: The remote "
        "certificate is invalid because of errors in the "
        "certificate chain: UntrustedRoot",
    ],
)
def test_other_protocols_are_not_mail(shipped: Matcher, text: str) -> None:
    """HTTPS clients, database drivers and queues name themselves: none."""
    assert shipped.diagnose(text).category == "none"


def test_error_buried_in_realistic_log_is_found(shipped: Matcher) -> None:
    """One mail error inside 40 KB of nginx/syslog/app noise is diagnosed as alone."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from longlog import bury

    errors = {
        "552 5.2.2 <bob@example.org>: Mailbox full": "mailbox-full",
        "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong "
        "version number (_ssl.c:1006)": ("tls-port-mismatch"),
        "x509: certificate has expired or is not yet valid": "tls-cert-expired",
        "Error: connect ECONNREFUSED 127.0.0.1:587": "connection-refused",
    }
    for seed, (error, category) in enumerate(errors.items()):
        log = bury(error, random.Random(seed))
        assert len(log) >= 39_000
        assert shipped.diagnose(log).category == category, error
    quiet = bury("INFO nothing to report", random.Random(99))
    assert shipped.diagnose(quiet).category == "none"


def test_http_log_lines_are_not_error_candidates() -> None:
    """nginx access/upstream lines and sshd lines are passed over in a long log."""
    noise = [
        '203.0.113.7 - - [12/Mar/2025:10:14:22 +0000] "GET '
        '/api HTTP/1.1" 502 157 "-" "curl"',
        "2025/03/12 10:14:22 [error] 12#12: *5 connect() failed (111: Connection "
        "refused) while connecting to upstream, client: 203.0.113.7, server: x, "
        'request: "GET / HTTP/1.1"',
        "Mar 12 10:14:22 web01 sshd[4242]: Invalid user admin from 203.0.113.7",
    ] * 30
    text = "\n".join(
        [
            *noise,
            "SMTP ERROR: Password command failed: 535 Incorrect authentication data",
        ]
    )
    selection = select_lines(text)
    kept = [selection.lines[i] for i in selection.keep]
    assert any("535" in line for line in kept)
    assert not any("upstream" in line or "sshd[" in line for line in kept)


def test_signal_table_errors_name_file_and_line(tree: KnowledgeTree) -> None:
    """A duplicate text or an unknown category in a signal table is reported."""
    from tests.knowledge.conftest import fill_sample

    fill_sample(tree)
    folder = tree.root / "signals"
    folder.mkdir()
    text = dump_yaml(
        {
            "kind": "signals",
            "family": "network",
            "groups": [
                {
                    "category": "connection-refused",
                    "weight": 30,
                    "sources": ["POSIX errno"],
                    "texts": ["ECONNREFUSED", "econnrefused"],
                },
            ],
        }
    )
    (folder / "network.yaml").write_text(text, encoding="utf-8")
    (folder / "bad.yaml").write_text(
        text.replace("connection-refused", "no-such-category").replace(
            "- econnrefused\n", ""
        ),
        encoding="utf-8",
    )
    _, errors = tree.collect()
    messages = sorted(str(e) for e in errors)
    assert any("bad.yaml" in m and "no-such-category" in m for m in messages)
    assert any("network.yaml" in m and "listed twice" in m for m in messages)
    assert line_of(text, "groups:") >= 1


def test_diagnose_jsonl_keeps_the_contract_and_adds_fields(shipped: Matcher) -> None:
    """The JSON object keeps every DESIGN.md field and adds basis/uncertain/signals."""
    document = shipped.diagnose(
        "535 5.7.8 Username and Password not accepted"
    ).to_json()
    assert json.loads(json.dumps(document)) == document
    assert {"category", "entry", "score", "alternatives"} <= set(document)
    assert document["basis"] == "entry" and document["uncertain"] is False


def test_dotnet_wrapper_shortcut_never_changes_the_text_read() -> None:
    """
    The .NET wrapper sentence is looked for only in texts holding its phrase: over
    every corpus text (and the wrapper in each language .NET ships) the result is the
    one the full pattern gives.
    """
    corpora = Path(__file__).resolve().parents[1] / "corpus"
    texts = [
        json.loads(line)["text"]
        for path in sorted(corpora.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    wrappers = [
        "System.Net.Mail.SmtpException: The SMTP server requires a secure connection "
        "or the client was not authenticated. The server response was: 5.7.0 "
        "Must issue a STARTTLS command first",
        "Der SMTP-Server erfordert eine sichere Verbindung, oder der Client war nicht "
        "authentifiziert. Die Serverantwort war: 5.7.57 Client not authenticated",
        "Le serveur SMTP REQUIERT UNE CONNEXION SÉCURISÉE ou le client n'était pas "
        "authentifié. La réponse du serveur était : 5.7.0",
        "El servidor SMTP requiere una conexión segura o el cliente no se autenticó. "
        "La respuesta del servidor fue: 5.7.0",
        "O servidor SMTP requer uma conexão segura ou o cliente não foi autenticado. "
        "A resposta do servidor foi: 5.7.0",
    ]
    changed = 0
    for text in texts + wrappers:
        expected = _DOTNET_WRAPPER.sub(" ", text)
        assert _without_dotnet_wrapper(text) == expected
        changed += expected != text
    assert changed >= len(wrappers)
