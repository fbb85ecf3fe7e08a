"""
Block Kit stays within Slack's limits whatever the knowledge base holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation.checks import Finding, ProbeSummary, ProbeTarget, parse_target
from bot.conversation.replies import (
    Choice,
    CodeLine,
    ProbeOutcome,
    Reply,
    ReplyKind,
    SourceLink,
    render_probe_text,
    render_text,
)
from bot.errors import InputError
from bot.slack import blocks


def check_limits(found: list[dict[str, Any]]) -> None:
    """
    Assert Slack's documented limits on a message's blocks.
    """
    assert len(found) <= blocks.MAX_BLOCKS
    for block in found:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= blocks.SECTION_LIMIT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= blocks.HEADER_LIMIT
        if block["type"] == "context":
            assert all(
                len(e["text"]) <= blocks.SECTION_LIMIT for e in block["elements"]
            )
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= blocks.BUTTON_LIMIT
                assert len(button["value"]) <= blocks.VALUE_LIMIT
                assert len(button["action_id"]) <= 255


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.text(min_size=1, max_size=4000), min_size=1, max_size=120),
    title=st.text(min_size=1, max_size=400),
    cause=st.text(max_size=6000),
    server=st.none() | st.text(min_size=1, max_size=300),
)
def test_any_answer_fits_slacks_limits(
    steps: list[str], title: str, cause: str, server: str | None
) -> None:
    """
    Long titles, causes, steps and server names are cut, never rejected.
    """
    reply = Reply(
        ReplyKind.ANSWER,
        "c",
        "e",
        title,
        cause,
        tuple(steps),
        (SourceLink("s" * 5000, "https://example.org"),),
        tuple(CodeLine("530", "t" * 500, "m" * 2000) for _ in range(3)),
        server=server,
    )
    check_limits(blocks.to_dicts(blocks.reply_blocks(reply, thread_ts="1.2")))


def test_long_fix_is_cut_sensibly() -> None:
    """
    Steps beyond the block budget are summarised and the buttons are still there.
    """
    reply = Reply(
        ReplyKind.ANSWER,
        "c",
        "e",
        "Title",
        "Cause",
        tuple(f"Step {n} " + "word " * 700 for n in range(200)),
        server="smtp.a.com",
    )
    found = blocks.to_dicts(blocks.reply_blocks(reply, thread_ts="1.2"))
    check_limits(found)
    text = " ".join(b["text"]["text"] for b in found if b["type"] == "section")
    assert "more steps: see the source below." in text
    assert "1. Step 0 word" in text and "…" in text
    assert found[-1]["type"] == "actions"
    assert {e["action_id"] for e in found[-1]["elements"]} == {
        blocks.PROBE,
        blocks.FEEDBACK_YES,
        blocks.FEEDBACK_NO,
        blocks.HUMAN,
    }


def test_cut_stops_at_a_word_boundary() -> None:
    """
    cut() keeps whole words and marks the cut.
    """
    assert blocks.cut("short", 10) == "short"
    assert blocks.cut("alpha beta gamma delta", 19) == "alpha beta gamma…"
    assert len(blocks.cut("x" * 50, 10)) == 10


def test_button_values_round_trip_and_junk_decodes_empty() -> None:
    """
    encode_value and decode_value agree; anything else is {}.
    """
    value = blocks.encode_value(t="1.2", s="smtp.a.com:587", e=None)
    assert blocks.decode_value(value) == {"t": "1.2", "s": "smtp.a.com:587"}
    assert blocks.decode_value("not json") == {} and blocks.decode_value("[1]") == {}
    assert blocks.encode_value(t="x" * 3000) == "{}"


def test_choices_and_probe_report_render() -> None:
    """
    Choices become buttons; a probe report lists findings and advice within limits.
    """
    reply = Reply(
        ReplyKind.CHOICES,
        title="Is it?",
        choices=tuple(Choice(f"e{n}", "T" * 200, "c") for n in range(9)),
    )
    found = blocks.to_dicts(blocks.reply_blocks(reply, thread_ts="1.2"))
    check_limits(found)
    choose = [
        e
        for b in found
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(blocks.CHOOSE_PREFIX)
    ]
    assert len(choose) == 5
    summary = ProbeSummary(
        "smtp.a.com",
        587,
        "fail",
        "tls-cert-expired",
        (Finding("cert-expired", "fail", "expired", "renew <it>"),),
        tls="TLSv1.3 X",
        certificate="CN=a, NOT trusted",
    )
    advice = Reply(ReplyKind.ANSWER, title="Renew", steps=("Renew the cert.",))
    outcome = ProbeOutcome("smtp.a.com:587", (summary,), (advice,))
    report = blocks.to_dicts(blocks.probe_blocks(outcome, thread_ts="1.2"))
    check_limits(report)
    assert "renew &lt;it&gt;" in str(report)
    assert "FAIL (tls-cert-expired)" in render_probe_text(outcome)
    assert "What to do: Renew" in render_probe_text(outcome)
    assert blocks.probe_text(outcome) == "STARTTLS check: smtp.a.com:587 fail"
    refused = ProbeOutcome("x:1", refused="not allowed")
    assert render_probe_text(refused) == "Not checked: not allowed"
    assert "Is it one of these?" in render_text(reply)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("smtp.example.com", ProbeTarget("smtp.example.com")),
        ("SMTP.Example.com.:587", ProbeTarget("smtp.example.com", 587)),
        ("[2001:db8::1]:25", ProbeTarget("2001:db8::1", 25)),
        ("192.0.2.1:465", ProbeTarget("192.0.2.1", 465)),
        ("<http://smtp.example.com|smtp.example.com>", ProbeTarget("smtp.example.com")),
    ],
)
def test_targets_parse(text: str, expected: ProbeTarget) -> None:
    """
    Host, host:port, bracketed IPv6 and Slack auto-links are understood.
    """
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text", ["bad host", "smtp.example.com:0", "a..b", "-x.com", ""]
)
def test_bad_targets_are_input_errors(text: str) -> None:
    """
    Anything else is an InputError with a message for the user.
    """
    with pytest.raises(InputError):
        parse_target(text)


def test_probe_summary_reads_the_check_json_contract() -> None:
    """
    ProbeSummary.from_json reads DESIGN.md's `smtpbot check --json` object.
    """
    summary = ProbeSummary.from_json(
        {
            "target": {"host": "127.0.0.1", "port": 2525},
            "verdict": "fail",
            "category": "tls-cert-untrusted",
            "findings": [
                {
                    "id": "cert-untrusted",
                    "severity": "fail",
                    "message": "certificate is self-signed",
                    "advice": "...",
                }
            ],
            "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"},
            "certificate": {
                "subject": "CN=mail.test",
                "trusted": False,
                "not_after": "2027-01-01T00:00:00Z",
                "days_left": 33,
            },
            "timings_ms": {"total": 5.2},
        }
    )
    assert summary.target == "127.0.0.1:2525"
    assert summary.findings[0].message == "certificate is self-signed"
    assert summary.tls == "TLSv1.3 TLS_AES_256_GCM_SHA384"
    assert summary.certificate is not None and "NOT trusted" in summary.certificate
    assert summary.total_ms == 5.2


def test_answer_read_from_structure_says_most_likely() -> None:
    """An uncertain answer (no entry matched closely) is worded as most likely."""
    from bot.conversation.replies import diagnosis_reply
    from knowledge.loader import load_knowledge
    from knowledge.matcher import Matcher

    diagnosis = Matcher(load_knowledge()).diagnose(
        "由于目标计算机积极拒绝，无法连接。 smtp.qq.com:465"
    )
    assert diagnosis.uncertain
    reply = diagnosis_reply(diagnosis, server="smtp.qq.com:465")
    assert reply is not None and reply.category == "connection-refused"
    assert reply.title.startswith("Most likely")
    rendered = blocks.reply_blocks(reply, thread_ts="1.1")
    check_limits([b.to_dict() for b in rendered])
    assert "Most likely" in blocks.reply_text(reply)
