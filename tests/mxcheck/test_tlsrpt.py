"""
TLS-RPT records (RFC 8460 §3): pass listing rua, none with advice, warn naming the
part, never fail.
"""

from __future__ import annotations

import pytest

from bot.mxcheck.model import Result
from bot.mxcheck.tlsrpt import judge_tlsrpt


@pytest.mark.parametrize(
    ("record", "rua"),
    [
        ("v=TLSRPTv1;rua=mailto:reports@example.com", ["mailto:reports@example.com"]),
        (
            "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
            ["https://reporting.example.com/v1/tlsrpt"],
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x; ext=1;",
            ["mailto:a@example.com", "https://r.example.com/x"],
        ),
    ],
)
def test_rfc_examples_pass(record: str, rua: list[str]) -> None:
    """The RFC 8460 §3 example records pass and list their rua URIs."""
    report = judge_tlsrpt("example.com", ["v=spf1 -all", record])
    assert report.result is Result.PASS
    assert list(report.rua) == rua
    assert report.record == record


def test_absent_is_none_with_advice() -> None:
    """No record is none, with advice to publish one; it is not a failure."""
    report = judge_tlsrpt("example.com", [])
    assert report.result is Result.NONE
    (reason,) = report.reasons
    assert "_smtp._tls.example.com" in reason.text
    assert reason.advice is not None and "v=TLSRPTv1" in reason.advice


@pytest.mark.parametrize(
    ("records", "part"),
    [
        (["v=TLSRPTv1; rua=ftp://example.com/r"], "rua 'ftp://example.com/r'"),
        (["v=TLSRPTv1; rua=mailto:nobody"], "not a mailto: address"),
        (["v=TLSRPTv1; rua=https:///path"], "has no host"),
        (["v=TLSRPTv1; ruf=mailto:a@example.com"], "no rua= field"),
        (["v=TLSRPTv1 rua=mailto:a@example.com"], "must start with"),
        (
            [
                "v=TLSRPTv1; rua=mailto:a@example.com",
                "v=TLSRPTv1; rua=mailto:b@example.com",
            ],
            "2 TLS-RPT records",
        ),
        (["v=TLSRPTv1; rua=mailto:a@example.com; junk"], "'junk' is not a name=value"),
    ],
)
def test_malformed_warns_naming_the_part(records: list[str], part: str) -> None:
    """A malformed record is a warning whose reason names the part at fault."""
    report = judge_tlsrpt("example.com", records)
    assert report.result is Result.WARN
    assert any(part in r.text for r in report.reasons), report.reasons


def test_valid_rua_kept_beside_a_bad_one() -> None:
    """Usable URIs are listed even when another one is wrong."""
    report = judge_tlsrpt(
        "example.com", ["v=TLSRPTv1; rua=mailto:a@example.com,ftp://x"]
    )
    assert report.result is Result.WARN
    assert report.rua == ("mailto:a@example.com",)


def test_lookup_failure_warns() -> None:
    """A failed lookup is a warning, not a failure."""
    report = judge_tlsrpt("example.com", [], error="the resolver answered SERVFAIL")
    assert report.result is Result.WARN
    assert "SERVFAIL" in report.reasons[0].text
