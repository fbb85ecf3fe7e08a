"""
Rendering: the DESIGN.md JSON for every shape of result, the human table, and the
knowledge-base links.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from rich.console import Console

from bot.probe.kb import KbLink, kb_links
from bot.probe.model import Failure, Mode, Phase, Problem
from bot.probe.render import print_report, result_json
from bot.probe.verdict import assess
from tests.probe.test_verdict import NOW, check, info, result


def render(probe_result: object, links: dict[str, KbLink] | None = None) -> str:
    """The human report as plain text."""
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    print_report(console, probe_result, assess(probe_result), links)  # type: ignore[arg-type]
    return out.getvalue()


def test_json_of_a_healthy_result() -> None:
    """The JSON carries the DESIGN.md fields with their types."""
    data = result_json(result(), assess(result()))
    assert data["target"] == {
        "host": "mail.test",
        "port": 587,
        "address": "192.0.2.1",
        "servername": "mail.test",
    }
    assert data["mode"] == "starttls" and data["requested_mode"] == "auto"
    assert data["certificate"]["not_after"] == "2026-07-31T00:00:00Z"
    assert data["certificate"]["days_left"] == 60
    assert data["timings_ms"] == {"connect": 0.3, "total": 5.0}
    assert json.loads(json.dumps(data)) == data


def test_json_before_any_connection() -> None:
    """A DNS failure: no address, no TLS, no certificate, the requested mode."""
    failed = result(
        address=None,
        mode=None,
        phases=(Phase("resolve", False, 1.0, "no such name"),),
        failure=Failure("resolve", Problem.DNS_FAILURE, "mail.invalid never resolves"),
        banner=None,
        tls=None,
        cert=None,
        requested_mode=Mode.STARTTLS,
    )
    data = result_json(failed, assess(failed))
    assert (data["target"]["address"], data["tls"], data["certificate"]) == (
        None,
        None,
        None,
    )
    assert data["mode"] == "starttls"
    assert data["findings"][0]["category"] == "dns-failure"


def test_json_links_findings_to_the_knowledge_base() -> None:
    """A failing finding names the knowledge-base entry for its category."""
    bad = result(cert=check(trusted=False, verify_code=18))
    links = {
        "tls-cert-untrusted": KbLink("self-signed-cert", "Self-signed certificate")
    }
    data = result_json(bad, assess(bad), links)
    assert data["findings"][0]["kb_entry"] == "self-signed-cert"
    assert "kb_entry" not in result_json(bad, assess(bad))["findings"][0]


def test_json_certificate_without_details() -> None:
    """A certificate that failed to verify and could not be captured still says so."""
    bad = result(
        cert=check(info=None, trusted=False, verify_code=20, verify_message="no")
    )
    data = result_json(bad, assess(bad))
    assert data["certificate"] == {
        "trusted": False,
        "hostname_match": True,
        "name": "mail.test",
        "verify_error": "no",
    }


def test_human_report_ok() -> None:
    """A healthy probe reads as a table of ticks and an OK sentence."""
    text = render(result())
    assert "TCP connect" in text and "✓" in text and "✗" not in text
    assert "certificate" in text and "mail.test, 60 days left" in text
    assert "OK: a mail client can connect with TLS and trust the certificate" in text


def test_human_report_fail_with_advice_and_link() -> None:
    """A failure shows the crossed row, the verdict, the advice and the KB entry."""
    bad = result(cert=check(name="x.test", hostname_match=False))
    links = {
        "tls-cert-hostname": KbLink("cert-name-mismatch", "Certificate name mismatch")
    }
    text = render(bad, links)
    assert "✗" in text and "not valid for x.test" in text
    assert "FAIL: a mail client would fail here (tls-cert-hostname)" in text
    assert "→ Point the client at a name the certificate covers" in text
    assert "knowledge base: Certificate name mismatch [cert-name-mismatch]" in text


def test_human_report_does_not_interpret_server_markup() -> None:
    """Server text is shown literally, never as rich markup."""
    text = render(
        result(
            banner="220 [bold]evil[/bold] ESMTP",
            phases=(Phase("banner", True, 1.0, "220 [bold]evil[/bold] ESMTP"),),
        )
    )
    assert "[bold]evil[/bold]" in text


def test_human_report_expired_row() -> None:
    """An expired certificate is a crossed certificate row."""
    expired = result(
        cert=check(
            info=info(not_after=NOW - dt.timedelta(days=1)),
            trusted=False,
            verify_code=10,
        )
    )
    text = render(expired)
    assert "FAIL" in text and "certificate expired on" in text


def test_kb_links_nothing_to_link() -> None:
    """No failing category: no lookup and no links."""
    assert kb_links([]) == {}
    assert kb_links([None]) == {}


def test_kb_links_point_at_entries_of_that_category() -> None:
    """Each link names an entry of the knowledge base in the asked category."""
    from knowledge.loader import load_knowledge

    links = kb_links(["tls-cert-untrusted", "starttls-unavailable", "no-such-category"])
    assert "no-such-category" not in links
    if not links:
        return  # the knowledge base does not load in this checkout: links are optional
    base = load_knowledge()
    for category, link in links.items():
        entry = base.get(link.id)
        assert entry is not None and entry.category == category
        assert link.title == entry.title


def test_result_is_frozen() -> None:
    """Results are immutable records."""
    with pytest.raises(AttributeError):
        result().port = 1  # type: ignore[misc]


def test_records_compare_hash_replace_and_pickle() -> None:
    """Frozen records compare by value, hash, replace a field and survive pickling."""
    import pickle

    from bot.probe.frozen import replace

    first, second = result(), result()
    assert first == second and hash(first) == hash(second)
    changed = replace(first, port=2525)
    assert changed.port == 2525 and changed != first and first.port != 2525
    assert pickle.loads(pickle.dumps(changed)) == changed
    assert "port=2525" in repr(changed)
    with pytest.raises(TypeError):
        replace(first, no_such_field=1)


def test_entry_heads_agree_with_the_loader() -> None:
    """The quick read of entry files gives the loader's id, title, category, flag."""
    from bot.probe.kb import _scan_heads
    from knowledge.loader import load_knowledge

    loaded = {
        e.id: (e.title, e.category, bool(e.probe_helps))
        for e in load_knowledge().entries
    }
    scanned = {h.id: (h.title, h.category, h.probe_helps) for h in _scan_heads()}
    assert scanned == loaded


def test_links_name_the_finding_entry_then_the_category() -> None:
    """kb_links maps an entry id to itself and a category to a probe_helps entry."""
    from bot.probe.kb import kb_links

    links = kb_links(["client-certificate-required", "tls-cert-expired"])
    assert links["client-certificate-required"].id == "client-certificate-required"
    assert "client certificate" in links["client-certificate-required"].title
    # A category links to its entry for any client (knowledge: generic: true), which
    # sorts first among the probe_helps entries.
    assert links["tls-cert-expired"].id == "any-client-certificate-expired"
