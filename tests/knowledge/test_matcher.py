"""
The matcher over a small knowledge base of its own (six entries in six categories):
exact and paraphrased errors are found, codes count, non-mail text is left alone, and
the answer is deterministic and shaped as DESIGN.md says.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from knowledge.categories import CATEGORIES
from knowledge.matcher import Decision, Diagnosis, Matcher
from knowledge.normalize import MAX_TEXT
from tests.knowledge.conftest import SAMPLE_ENTRIES, KnowledgeTree

SIGNATURES = [
    pytest.param(
        entry["id"], entry["category"], signature, id=f"{entry['id']}-{number}"
    )
    for entry in SAMPLE_ENTRIES
    for number, signature in enumerate(entry["signatures"])
]


def top_ids(diagnosis: Diagnosis) -> list[str]:
    """The chosen entry (if any) followed by the alternatives' ids."""
    chosen = [diagnosis.entry.id] if diagnosis.entry else []
    return chosen + [c.entry.id for c in diagnosis.alternatives]


@pytest.mark.parametrize(("entry_id", "category", "signature"), SIGNATURES)
def test_exact_signature_is_confident(
    sample_matcher: Matcher, entry_id: str, category: str, signature: str
) -> None:
    """Every signature of the sample entries gives its own entry, confidently."""
    diagnosis = sample_matcher.diagnose(signature)
    assert diagnosis.decision is Decision.CONFIDENT
    assert diagnosis.entry is not None and diagnosis.entry.id == entry_id
    assert diagnosis.category == category
    assert diagnosis.score >= 70


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        (
            "smtp said: 530 5.7.0 must isue a STARTLS comand frist",
            "starttls-530-must-issue",
        ),
        (
            "the server says I must issue a starttls command first when I send",
            "starttls-530-must-issue",
        ),
        (
            "Username and password were not accepted by the server (535)",
            "gmail-535-bad-credentials",
        ),
        (
            "Error: Invalid login: 535-5.7.8 Username and Password not accepted. "
            "Learn more at\n"
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "
            "a1b2c3d4e5f6g7.12 - gsmtp",
            "gmail-535-bad-credentials",
        ),
        (
            "Jun  3 10:11:12 mx postfix/smtpd[991]: NOQUEUE: reject: RCPT from "
            "unknown[198.51.100.7]: 554 5.7.1 <bob@other.example>: Relay access denied",
            "postfix-relay-access-denied",
        ),
        (
            "Outlook: Your server does not support the connection encrytion type you "
            "have specified. Try changing the encryption method. (0x800CCC1A)",
            "outlook-0x800ccc1a-encryption-type",
        ),
        (
            "Error: connect ECONNREFUSED 127.0.0.1:587\n"
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
            "nodemailer-econnrefused",
        ),
    ],
)
def test_paraphrase_typo_and_real_paste_still_found(
    sample_matcher: Matcher, text: str, entry_id: str
) -> None:
    """Typos, paraphrases and pastes with volatile parts still find the entry."""
    diagnosis = sample_matcher.diagnose(text)
    assert diagnosis.decision is Decision.CONFIDENT
    assert diagnosis.entry is not None and diagnosis.entry.id == entry_id


def top_candidates(diagnosis: Diagnosis) -> dict[str, float]:
    """Entry id -> score for the chosen entry and every alternative."""
    chosen = [(diagnosis.entry.id, diagnosis.score)] if diagnosis.entry else []
    return dict(chosen + [(c.entry.id, c.score) for c in diagnosis.alternatives])


def test_codes_move_the_score(sample_matcher: Matcher) -> None:
    """An agreeing enhanced code raises the score; a contradicting one lowers it."""
    wording = "user name and password were not accepted by server"
    entry_id = "gmail-535-bad-credentials"
    plain = top_candidates(sample_matcher.diagnose(f"SMTP: {wording}"))[entry_id]
    agreeing = top_candidates(sample_matcher.diagnose(f"SMTP: 5.7.8 {wording}"))[
        entry_id
    ]
    conflicting = top_candidates(sample_matcher.diagnose(f"SMTP: 5.1.1 {wording}"))
    assert conflicting.get(entry_id, 0.0) < plain < agreeing


def test_hex_code_alone_finds_the_entry_listing_it(sample_matcher: Matcher) -> None:
    """An Outlook hex code an entry lists is strong evidence for that entry."""
    diagnosis = sample_matcher.diagnose(
        "Sending reported error (0x800CCC1A): the server responded with an error"
    )
    assert "outlook-0x800ccc1a-encryption-type" in top_ids(diagnosis)


@pytest.mark.parametrize(
    "text",
    [
        "anyone up for lunch? the build is green again",
        "Thanks everyone, the release went out fine and the dashboards look good.",
        "meeting moved to room 421 at 3pm",
        "",
        "   \n\t  ",
    ],
)
def test_ordinary_chat_is_none(sample_matcher: Matcher, text: str) -> None:
    """Ordinary chat gives no diagnosis."""
    diagnosis = sample_matcher.diagnose(text)
    assert diagnosis.decision is Decision.NONE
    assert diagnosis.category == "none"
    assert diagnosis.entry is None


@pytest.mark.parametrize(
    "text",
    [
        "I paid 535 dollars for the new office chairs",
        "we shipped version 5.1.1 of the app today",
    ],
)
def test_code_like_numbers_in_chat_are_none(sample_matcher: Matcher, text: str) -> None:
    """A code-like number in chat without any mail context is not a diagnosis."""
    diagnosis = sample_matcher.diagnose(text)
    assert diagnosis.category == "none"
    assert diagnosis.decision is Decision.NONE


PYTHON_KEYERROR = """Traceback (most recent call last):
  File "/srv/app/handlers.py", line 42, in handle
    user = payload["user_id"]
           ~~~~~~~^^^^^^^^^^^
KeyError: 'user_id'"""

POSTGRES_REFUSED = (
    'psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: '
    "Connection refused\n"
    "\tIs the server running on that host and accepting TCP/IP connections?"
)

PSYCOPG_REFUSED = (
    "psycopg2.OperationalError: could not connect to server: Connection refused\n"
    '\tIs the server running on host "localhost" (127.0.0.1) and accepting\n'
    "\tTCP/IP connections on port 5432?"
)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PYTHON_KEYERROR, id="python-keyerror"),
        pytest.param(POSTGRES_REFUSED, id="psql-refused"),
        pytest.param(PSYCOPG_REFUSED, id="psycopg-refused"),
    ],
)
def test_non_mail_errors_are_none(sample_matcher: Matcher, text: str) -> None:
    """Other software's errors (a KeyError, PostgreSQL refusing) give no diagnosis."""
    diagnosis = sample_matcher.diagnose(text)
    assert diagnosis.category == "none"
    assert diagnosis.entry is None
    assert diagnosis.decision is Decision.NONE


def test_same_text_gives_identical_json(sample_matcher: Matcher) -> None:
    """Diagnosing the same text twice gives byte-identical JSON."""
    text = (
        "Error: Invalid login: 535-5.7.8 Username and Password not accepted "
        "smtp.gmail.com:465"
    )
    first = json.dumps(sample_matcher.diagnose(text).to_json(), sort_keys=True)
    second = json.dumps(sample_matcher.diagnose(text).to_json(), sort_keys=True)
    assert first == second


def test_two_matchers_over_same_files_agree(sample_tree: KnowledgeTree) -> None:
    """A matcher rebuilt from the same files answers exactly the same."""
    texts = [
        "554 5.7.1 Relay access denied",
        "connection refused and the encryption type is not supported",
        "hello there",
    ]
    one = Matcher(sample_tree.load())
    two = Matcher(sample_tree.load())
    assert [one.diagnose(t).to_json() for t in texts] == [
        two.diagnose(t).to_json() for t in texts
    ]


def test_text_over_limit_is_input_error(sample_matcher: Matcher) -> None:
    """A text longer than 1,000,000 characters raises InputError naming the limit."""
    with pytest.raises(InputError, match="1,000,000"):
        sample_matcher.diagnose("x" * (MAX_TEXT + 1))


def test_text_at_limit_is_diagnosed(sample_matcher: Matcher) -> None:
    """A text of exactly 1,000,000 characters is diagnosed, not refused."""
    line = "INFO all good here, nothing to see\n"
    text = (line * (MAX_TEXT // len(line) + 1))[:MAX_TEXT]
    assert sample_matcher.diagnose(text).category == "none"


def _long_log(error: str) -> str:
    """A 40,000+ character application log with ``error`` in the middle."""
    lines = [
        f"2024-05-01 10:{i // 60 % 60:02d}:{i % 60:02d} INFO worker-{i % 7} "
        f"processed job {i} for tenant acme in {i % 50} ms, queue size {i % 13}, "
        f"debug trace id {i * 7919}"
        for i in range(400)
    ]
    return "\n".join([*lines[:200], error, *lines[200:]])


def test_error_buried_in_long_log_is_found(sample_matcher: Matcher) -> None:
    """A 40,000-character log with the error in the middle is diagnosed as it."""
    text = _long_log(
        "2024-05-01 10:03:20 ERROR mailer: send failed: 535-5.7.8 Username and "
        "Password not accepted. Learn more at https://support.google.com/mail/?p=BadCredentials"
    )
    assert len(text) >= 40_000
    diagnosis = sample_matcher.diagnose(text)
    assert diagnosis.decision is Decision.CONFIDENT
    assert (
        diagnosis.entry is not None
        and diagnosis.entry.id == "gmail-535-bad-credentials"
    )


def test_long_log_without_error_is_none(sample_matcher: Matcher) -> None:
    """A 40,000-character log of routine lines gives no diagnosis."""
    text = _long_log("2024-05-01 10:03:20 INFO nothing happened here")
    assert sample_matcher.diagnose(text).decision is Decision.NONE


def test_enhanced_code_fallback_gives_category_without_entry(
    sample_matcher: Matcher,
) -> None:
    """Only an enhanced code with a category in the table: that category, no entry."""
    diagnosis = sample_matcher.diagnose("Delivery has failed: 550 5.1.1")
    assert diagnosis.category == "recipient-unknown"
    assert diagnosis.entry is None
    assert diagnosis.decision is Decision.CONFIDENT
    assert [info.code for info in diagnosis.explanations][0] == "X.1.1"
    assert diagnosis.to_json()["entry"] is None


def test_hex_code_fallback_gives_category_without_entry(
    sample_matcher: Matcher,
) -> None:
    """Only an Outlook hex code with a category in the hex table: that category."""
    diagnosis = sample_matcher.diagnose("Outlook says: Send/Receive error 0x8004210B")
    assert diagnosis.category == "connection-timeout"
    assert diagnosis.entry is None


def test_code_without_category_explains_but_does_not_decide(
    sample_matcher: Matcher,
) -> None:
    """A code whose table row has no category is explained but the answer stays none."""
    diagnosis = sample_matcher.diagnose("mail rejected: 5.0.0")
    assert diagnosis.category == "none"
    assert [info.code for info in diagnosis.explanations] == ["X.0.0"]


def test_server_is_extracted(sample_matcher: Matcher) -> None:
    """The mail server named in the paste is part of the diagnosis and its JSON."""
    diagnosis = sample_matcher.diagnose(
        "Could not connect to SMTP host: smtp.example.net, port: 587; "
        "530 5.7.0 Must issue a STARTTLS command first"
    )
    assert diagnosis.server is not None
    assert diagnosis.to_json()["server"] == {"host": "smtp.example.net", "port": 587}


CONTRACT_KEYS = {"category", "entry", "score", "alternatives"}


@pytest.mark.parametrize(
    "text",
    [
        "530 5.7.0 Must issue a STARTTLS command first",
        "Delivery has failed: 550 5.1.1",
        "anyone up for lunch?",
        "server says the connection encryption type is wrong and access is denied",
    ],
)
def test_to_json_has_the_design_contract(sample_matcher: Matcher, text: str) -> None:
    """to_json has category/entry/score/alternatives with DESIGN.md's types."""
    result = sample_matcher.diagnose(text).to_json()
    assert set(result) >= CONTRACT_KEYS
    assert result["category"] in {*CATEGORIES, "none"}
    assert result["entry"] is None or isinstance(result["entry"], str)
    if result["category"] == "none":
        assert result["entry"] is None
    score = result["score"]
    assert isinstance(score, int | float) and 0 <= score <= 100
    alternatives = result["alternatives"]
    assert isinstance(alternatives, list)
    for alternative in alternatives:
        assert set(alternative) == {"entry", "category", "score"}
        assert alternative["category"] in CATEGORIES
        assert 0 <= alternative["score"] <= 100
    json.dumps(result)  # serialisable as it is


def test_alternatives_exclude_the_chosen_entry(sample_matcher: Matcher) -> None:
    """The chosen entry is not repeated among the alternatives."""
    diagnosis = sample_matcher.diagnose(
        "Your server does not support the connection encryption type you have specified"
    )
    assert diagnosis.entry is not None
    assert diagnosis.entry.id not in [c.entry.id for c in diagnosis.alternatives]
    assert len(diagnosis.alternatives) <= 3


def test_confident_answer_with_entry_uses_its_category(sample_matcher: Matcher) -> None:
    """When an entry is chosen, the answer's category is that entry's category."""
    diagnosis = sample_matcher.diagnose("452 4.2.2 Mailbox full")
    assert diagnosis.entry is not None
    assert diagnosis.category == diagnosis.entry.category == "mailbox-full"


def test_matcher_over_single_entry_kb(tree: KnowledgeTree) -> None:
    """A knowledge base of one entry and no code tables still works."""
    tree.entry()
    matcher = Matcher(tree.load())
    assert (
        matcher.diagnose("535 5.7.3 Authentication unsuccessful").category
        == "auth-failed"
    )
    assert matcher.diagnose("hello").category == "none"


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "530 5.7.0",
                    "535-5.7.8",
                    "5.1.1",
                    "0x800CCC1A",
                    "0x8004210B",
                    "Relay access denied",
                    "Mailbox full",
                    "ECONNREFUSED",
                    "smtp.gmail.com:587",
                    "[2001:db8::1]:25",
                    "postgres 5432",
                    "\n",
                    " ",
                    "at x (y.js:1:2)",
                ]
            ),
            max_size=20,
        ).map(" ".join),
    )
)
def test_diagnose_any_text_is_well_formed(sample_matcher: Matcher, text: str) -> None:
    """Any text gives a well-formed, deterministic answer with a score in 0..100."""
    diagnosis = sample_matcher.diagnose(text)
    assert 0 <= diagnosis.score <= 100
    assert (diagnosis.entry is None) or diagnosis.category == diagnosis.entry.category
    if diagnosis.decision is not Decision.CONFIDENT:
        assert diagnosis.category == "none" and diagnosis.entry is None
    assert sample_matcher.diagnose(text).to_json() == diagnosis.to_json()
