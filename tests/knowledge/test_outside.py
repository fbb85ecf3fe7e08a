"""
Outside-style texts: errors as the named software prints them (its source, its
documentation, its message catalogue), kept apart from the labelled corpora. They are
the kinds a new paste brings, not pastes the knowledge base was tuned on.

``outside/not-mail.txt``: HTTPS clients, registries, database drivers, caches, queues,
browsers and other protocols; their TLS, connection, size and rate errors are no mail
problem. ``outside/mail.tsv``: mail errors (label TAB text), some of them close to the
former in wording, that must keep their category.

``outside/not-mail-threads.tsv`` and ``outside/mail-threads.tsv``: the same two kinds as
people pasted them in public issue threads (source TAB [label TAB] text), from
repositories no labelled corpus uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KNOWLEDGE_ROOT
from knowledge.loader import collect_knowledge
from knowledge.matcher import Matcher

KB, ERRORS = collect_knowledge(KNOWLEDGE_ROOT)
HERE = Path(__file__).parent / "outside"


def _texts(name: str) -> list[str]:
    """The non-comment lines of ``outside/<name>``, "\\n" read as a line break."""
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [
        line.replace("\\n", "\n").replace("\\t", "\t")
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


NOT_MAIL = _texts("not-mail.txt")
MAIL = [tuple(line.split("\t", 1)) for line in _texts("mail.tsv")]
THREADS_NOT_MAIL = [
    tuple(line.split("\t", 1)) for line in _texts("not-mail-threads.tsv")
]
THREADS_MAIL = [tuple(line.split("\t", 2)) for line in _texts("mail-threads.tsv")]
# Pasted threads' texts with nothing of their own program in them: the same words come
# from mail software too (Ruby's Net::SMTP prints the same "SSL_connect returned=1 ...
# certificate verify failed" as Net::HTTP, nodemailer the same "getaddrinfo ENOTFOUND",
# Go's net/smtp the same bare "x509: certificate has expired", Android mail apps the
# same "Trust anchor for certification path not found"). They are answered as mail;
# the floor below counts them.
INDISTINGUISHABLE: frozenset[str] = frozenset(
    {
        "ostafen/xdcc-cli#4",
        "eclipse-paho/paho.mqtt.c#757",
        "defunkt/gist#114",
        "defunkt/gist#102",
        "ruby/openssl#99",
        "nomad-cli/cupertino#18",
        "appoxy/mini_fb#22",
        "salesforce-marketingcloud/FuelSDK-Ruby#12",
        "sagmor/sii_chile#10",
        "eclipse-openj9/openj9#22909",
        "sqlectron/sqlectron#563",
        "mongodb-js/mongodb-core#19",
        "redis/redis-rb#940",
        "request/request#699",
        "request/request-promise-native#56",
        "contextio/ContextIO-node#7",
        "request/request#1141",
        "npm/newww#962",
        "n1nj4sec/pupy#769",
        "monal-im/Monal#532",
        "lysine-dev/retrofit#2601",
        "AppLozic/Applozic-Android-SDK#289",
    }
)
# Share of the pasted non-mail threads answered none (the listed ones included).
THREADS_NONE_FLOOR = 0.88


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    """The matcher over the shipped knowledge base."""
    assert not ERRORS
    # What the recogniser (and the not-mail check) make of these texts; the learned
    # reranker's effect on them is measured in test_rerank.py.
    return Matcher(KB, rerank=False)


@pytest.mark.parametrize("text", NOT_MAIL)
def test_other_software_is_not_mail(shipped: Matcher, text: str) -> None:
    """The text names another protocol, port or program: none."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == "none", (diagnosis.category, diagnosis.signals)


@pytest.mark.parametrize(("label", "text"), MAIL)
def test_mail_errors_keep_their_category(
    shipped: Matcher, label: str, text: str
) -> None:
    """A mail error worded like one of the above is still answered."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == label, (diagnosis.category, diagnosis.signals)


@pytest.mark.parametrize(
    ("source", "text"),
    [pair for pair in THREADS_NOT_MAIL if pair[0] not in INDISTINGUISHABLE],
    ids=[source for source, _ in THREADS_NOT_MAIL if source not in INDISTINGUISHABLE],
)
def test_pasted_other_software_is_not_mail(
    shipped: Matcher, source: str, text: str
) -> None:
    """A thread's paste of another program's error that names the program: none."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == "none", (source, diagnosis.category, diagnosis.signals)


def test_pasted_other_software_floor(shipped: Matcher) -> None:
    """All pasted non-mail threads, the indistinguishable ones too: mostly none."""
    sources = {source for source, _ in THREADS_NOT_MAIL}
    assert len(THREADS_NOT_MAIL) == len(sources) >= 190
    assert sources >= INDISTINGUISHABLE
    answered = [
        source
        for source, text in THREADS_NOT_MAIL
        if shipped.diagnose(text).category != "none"
    ]
    assert 1 - len(answered) / len(THREADS_NOT_MAIL) >= THREADS_NONE_FLOOR, answered


@pytest.mark.parametrize(
    ("source", "label", "text"),
    THREADS_MAIL,
    ids=[source for source, _, _ in THREADS_MAIL],
)
def test_pasted_mail_keeps_its_category(
    shipped: Matcher, source: str, label: str, text: str
) -> None:
    """A thread's bare mail error keeps its category beside the other-software words."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category == label, (source, diagnosis.category, diagnosis.signals)


@pytest.mark.parametrize(
    "text",
    [
        "Error: connect EMFILE 142.250.1.108:587 - Local (undefined:undefined)\n"
        "    at internalConnect (node:net:1041:16) code: 'ESOCKET', command: 'CONN'",
        "Error: getaddrinfo EMFILE smtp.gmail.com\n  errno: -24, code: 'EDNS', "
        "syscall: 'getaddrinfo', hostname: 'smtp.gmail.com', command: 'CONN'",
        "smtplib: OSError: [Errno 24] Too many open files",
        "postfix/smtpd[1234]: fatal: accept connection: Too many open files",
        "[Errno 105] No buffer space available while sending email via smtplib",
        "System.Net.Sockets.SocketException (10055): An operation on a socket could "
        "not be performed because the system lacked sufficient buffer space or "
        "because a queue was full. (error 10055) sending mail",
    ],
)
def test_local_resource_errors_are_no_refusal_timeout_or_limit(
    shipped: Matcher, text: str
) -> None:
    """EMFILE, ENFILE, ENOBUFS: this machine ran out, no server refused or limited."""
    diagnosis = shipped.diagnose(text)
    assert diagnosis.category not in {
        "connection-refused",
        "connection-timeout",
        "dns-failure",
        "rate-limited",
    }, (diagnosis.category, diagnosis.signals)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("error:0A000086:", "tls-cert-untrusted"),
        ("error:14090086:", "tls-cert-untrusted"),
        ("error:1408F10B:", "tls-port-mismatch"),
        ("error:0A00010B:", "tls-port-mismatch"),
        ("error:14094410:", "tls-handshake-failed"),
        ("error:0A000102:", "tls-handshake-failed"),
    ],
)
def test_openssl_packed_codes_name_their_reason(
    shipped: Matcher, code: str, category: str
) -> None:
    """OpenSSL's packed error code alone (reason in its low bits) points the way."""
    from knowledge.normalize import find_evidence
    from knowledge.structure import Recogniser

    text = f"SMTP TLS failed: {code}SSL routines::"
    structure = Recogniser(shipped.kb).recognise(text, find_evidence(text), mail=True)
    assert structure.best is not None
    assert structure.best[0] == category, structure.votes
