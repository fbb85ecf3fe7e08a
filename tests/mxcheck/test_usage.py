"""
``check --mx`` usage errors: exit 2 with the reason, before any DNS query.
"""

from __future__ import annotations

import io

import pytest

from bot.probe.command import CheckRequest, run_check


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (CheckRequest("example.com:25", mx=True), "needs a mail domain"),
        (CheckRequest("192.0.2.1", mx=True), "needs a mail domain"),
        (CheckRequest("example.com", mx=True, servername="x"), "--servername"),
        (CheckRequest("example.invalid", mx=True), "special-use name"),
        (CheckRequest("example.com", mx=True, timeout=0), "--timeout"),
        (CheckRequest("example.com", mx=True, cafile="/nonexistent.pem"), "--cafile"),
    ],
)
def test_bad_mx_usage_exits_2(request_: CheckRequest, words: str) -> None:
    """A request --mx cannot serve is exit 2 with the reason on stderr, nothing out."""
    out, err = io.StringIO(), io.StringIO()
    assert run_check(request_, env={}, out=out, err=err) == 2
    assert words in err.getvalue()
    assert out.getvalue() == ""


def test_port_outside_probe_ports_is_refused() -> None:
    """Without port 25 in PROBE_PORTS the MX probes are refused before any lookup."""
    out, err = io.StringIO(), io.StringIO()
    code = run_check(
        CheckRequest("example.com", mx=True),
        env={"PROBE_PORTS": "587"},
        out=out,
        err=err,
    )
    assert code == 2
    assert "port 25" in err.getvalue()
