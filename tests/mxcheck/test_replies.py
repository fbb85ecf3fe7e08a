"""
A domain check in the conversation's plain text and in Slack blocks: verdict, reasons,
each mechanism with its facts, and the MX probes.
"""

from __future__ import annotations

import json

from bot.conversation.checks import DomainSummary, PolicySummary, ProbeSummary
from bot.conversation.replies import ProbeOutcome, render_probe_text
from bot.slack.blocks import MAX_BLOCKS, probe_blocks, probe_text, to_dicts

DOMAIN = DomainSummary(
    domain="example.com",
    verdict="fail",
    reasons=("mx2.example.com: connection refused; senders cannot hand mail to it",),
    mx=(
        ProbeSummary("mx1.example.com", 25, "ok"),
        ProbeSummary("mx2.example.com", 25, "fail", "connection-refused"),
    ),
    policies=(
        PolicySummary(
            "MTA-STS",
            "fail",
            "mode enforce, id 1",
            ("mx3.example.com is not covered by the policy's mx patterns",),
            ("List every MX host in the policy's mx: lines.",),
            "mta-sts-mx-fails-policy",
        ),
        PolicySummary("DANE", "none", "MX records not signed", ("no TLSA records",)),
        PolicySummary("TLS-RPT", "pass", "mailto:tls@example.com", ()),
    ),
)
OUTCOME = ProbeOutcome("example.com", DOMAIN.mx, domain=DOMAIN)


def test_text_gives_verdict_reasons_and_each_mechanism() -> None:
    """The terminal text starts with the verdict, then each mechanism, then each MX."""
    text = render_probe_text(OUTCOME)
    lines = text.splitlines()
    assert lines[0].startswith("example.com: FAIL: some or all senders")
    assert "  mx2.example.com: connection refused" in lines[1]
    assert "MTA-STS: FAIL (mode enforce, id 1)" in text
    assert "  -> List every MX host" in text
    assert "DANE: NONE (MX records not signed)" in text
    assert "TLS-RPT: PASS (mailto:tls@example.com)" in text
    assert text.index("TLS-RPT") < text.index("mx1.example.com:25: OK")


def test_blocks_show_the_same_facts() -> None:
    """Slack blocks carry the same facts under a mail-domain header, within limits."""
    blocks = to_dicts(probe_blocks(OUTCOME, thread_ts=None))
    assert blocks[0]["text"]["text"] == "Mail domain check: example.com"
    dumped = json.dumps(blocks)
    for fact in (
        "example.com: FAIL",
        "MTA-STS: FAIL (mode enforce, id 1)",
        "mx3.example.com is not covered",
        "DANE: NONE",
        "TLS-RPT: PASS",
        "mx2.example.com:25: FAIL (connection-refused)",
    ):
        assert fact in dumped
    assert len(blocks) <= MAX_BLOCKS
    assert probe_text(OUTCOME) == (
        "Mail domain check: example.com fail (MTA-STS fail, DANE none, TLS-RPT pass)"
    )
