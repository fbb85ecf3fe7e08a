"""
MX records in preference order, the implicit MX (RFC 5321 §5.1) and the null MX
(RFC 7505).
"""

from __future__ import annotations

import pytest

from bot.errors import InputError
from bot.mxcheck.check import order_mx
from bot.mxcheck.model import Level, MxHost


def test_order_mx_sorts_and_dedupes() -> None:
    """Lower preference first, then name; duplicates and trailing dots go."""
    records = [
        (20, "b.example."),
        (10, "c.example"),
        (10, "a.example."),
        (10, "A.example"),
    ]
    assert order_mx(records, "example") == (
        [
            MxHost(10, "a.example"),
            MxHost(10, "c.example"),
            MxHost(20, "b.example"),
        ],
        (),
    )


def test_order_mx_implicit_and_null() -> None:
    """No MX: the domain itself (RFC 5321 §5.1); a null MX is an error (RFC 7505)."""
    assert order_mx([], "example.org") == (
        [MxHost(0, "example.org", implicit=True)],
        (),
    )
    with pytest.raises(InputError, match="null MX"):
        order_mx([(0, ".")], "example.org")


def test_null_mx_next_to_others_is_a_misconfiguration() -> None:
    """
    RFC 7505 §3: a domain with a null MX MUST NOT publish other MX records. Such a
    domain is not taken for null-MX: its real hosts are kept and a failing reason
    names every record.
    """
    hosts, problems = order_mx([(10, "mx1.example."), (0, ".")], "example.org")
    assert hosts == [MxHost(10, "mx1.example")]
    (problem,) = problems
    assert problem.level is Level.FAIL
    assert "0 ., 10 mx1.example" in problem.text
    assert "RFC 7505 §3" in problem.text and "MUST NOT" in problem.text
