"""
The pure verdict: each observed problem maps to one finding, verdict and taxonomy
category.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.probe.advice import ADVICE
from bot.probe.frozen import replace
from bot.probe.model import (
    CertCheck,
    CertInfo,
    Failure,
    Mode,
    Phase,
    ProbeResult,
    Problem,
    TlsInfo,
)
from bot.probe.verdict import Severity, assess
from knowledge.categories import CATEGORIES

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def result(**changes: object) -> ProbeResult:
    """A healthy STARTTLS result, changed as the test needs."""
    base = ProbeResult(
        host="mail.test",
        port=587,
        address="192.0.2.1",
        servername="mail.test",
        requested_mode=Mode.AUTO,
        mode=Mode.STARTTLS,
        phases=(Phase("connect", True, 0.3),),
        failure=None,
        checked_at=NOW,
        total_ms=5.0,
        banner="220 mail.test ESMTP",
        extensions_before_tls=("STARTTLS",),
        extensions_after_tls=("AUTH PLAIN",),
        auth_after_tls=("PLAIN",),
        tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
        cert=check(),
    )
    return replace(base, **changes)


def info(**changes: object) -> CertInfo:
    """A valid certificate for mail.test, changed as the test needs."""
    base = CertInfo(
        subject="CN=mail.test",
        issuer="CN=Test CA",
        sans=("mail.test",),
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW + dt.timedelta(days=60),
        self_signed=False,
        key_type="EC secp256r1",
        key_size=256,
        serial="1",
        sha256="00",
        common_name="mail.test",
    )
    return replace(base, **changes)


def check(**changes: object) -> CertCheck:
    """A trusted, matching certificate check, changed as the test needs."""
    base = CertCheck(info=info(), trusted=True, name="mail.test", hostname_match=True)
    return replace(base, **changes)


def failed(
    problem: Problem, detail: str = "detail", code: int | None = None
) -> ProbeResult:
    """A result stopped by ``problem``."""
    return result(
        failure=Failure("banner", problem, detail, code=code), tls=None, cert=None
    )


def test_healthy_result_is_ok() -> None:
    """TLS up, certificate trusted and matching, nothing else: ok, no category."""
    verdict = assess(result())
    assert (verdict.verdict, verdict.category, verdict.findings) == ("ok", None, ())


@pytest.mark.parametrize(
    ("problem", "code", "category"),
    [
        (Problem.DNS_FAILURE, None, "dns-failure"),
        (Problem.CONNECT_REFUSED, None, "connection-refused"),
        (Problem.CONNECT_TIMEOUT, None, "connection-timeout"),
        (Problem.NO_GREETING, None, "connection-timeout"),
        (Problem.CLOSED_BEFORE_GREETING, None, "connection-refused"),
        (Problem.NOT_SMTP, None, "tls-port-mismatch"),
        (Problem.GREETING_REJECTED, 421, "rate-limited"),
        (Problem.GREETING_REJECTED, 554, "sender-blocklisted"),
        (Problem.GREETING_REJECTED, 550, "sender-blocklisted"),
        (Problem.EHLO_FAILED, 421, "rate-limited"),
        (Problem.EHLO_FAILED, 554, "sender-blocklisted"),
        (Problem.EHLO_FAILED, 502, "starttls-unavailable"),
        (Problem.STARTTLS_NOT_OFFERED, None, "starttls-unavailable"),
        (Problem.STARTTLS_REJECTED, 454, "starttls-unavailable"),
        (Problem.STARTTLS_NO_ANSWER, None, "starttls-unavailable"),
        (Problem.HANDSHAKE_FAILED, None, "tls-handshake-failed"),
        (Problem.HANDSHAKE_TIMEOUT, None, "tls-handshake-failed"),
        (Problem.STALLED, None, "connection-timeout"),
        (Problem.CLOSED, None, "connection-refused"),
    ],
)
def test_problem_categories(problem: Problem, code: int | None, category: str) -> None:
    """Each problem is a fail with the taxonomy category DESIGN.md names."""
    verdict = assess(failed(problem, code=code))
    assert verdict.verdict == "fail"
    assert verdict.category == category
    assert verdict.findings[0].severity is Severity.FAIL


def test_every_problem_has_a_category_in_the_taxonomy() -> None:
    """No problem falls through: all map to one of TAXONOMY.md's ids, with advice."""
    for problem in Problem:
        verdict = assess(failed(problem, code=500))
        assert verdict.category in CATEGORIES, problem
        assert all(f.advice for f in verdict.findings)


def test_advice_keys_are_used_finding_ids() -> None:
    """Every advice text is non-empty and short enough for a Slack message."""
    assert all(0 < len(text) < 300 for text in ADVICE.values())


def test_no_greeting_message_says_what_happened() -> None:
    """A silent server is 'connected, but no greeting within N s'."""
    detail = "connected, but no greeting within 10 s (nor a TLS handshake)"
    verdict = assess(failed(Problem.NO_GREETING, detail))
    assert verdict.findings[0].message.startswith(
        "connected, but no greeting within 10 s"
    )


@pytest.mark.parametrize(
    ("requested", "seen", "verdict", "category"),
    [
        (Mode.STARTTLS, Mode.TLS, "fail", "tls-port-mismatch"),
        (Mode.TLS, Mode.STARTTLS, "fail", "tls-port-mismatch"),
        (Mode.AUTO, Mode.TLS, "ok", None),
        (Mode.AUTO, Mode.STARTTLS, "ok", None),
        (Mode.TLS, Mode.TLS, "ok", None),
    ],
)
def test_mode_mismatch(
    requested: Mode, seen: Mode, verdict: str, category: str | None
) -> None:
    """STARTTLS asked of an implicit-TLS port (or the reverse) is a port mismatch."""
    outcome = assess(result(requested_mode=requested, mode=seen))
    assert (outcome.verdict, outcome.category) == (verdict, category)


def test_auto_detected_implicit_tls_is_noted() -> None:
    """Auto mode says when a port speaks implicit TLS."""
    findings = assess(result(mode=Mode.TLS)).findings
    assert [(f.id, f.severity) for f in findings] == [("implicit-tls", Severity.INFO)]


@pytest.mark.parametrize(
    ("cert", "category", "message"),
    [
        (
            check(
                trusted=False, verify_code=18, verify_message="self-signed certificate"
            ),
            "tls-cert-untrusted",
            "certificate is self-signed",
        ),
        (
            check(
                trusted=False,
                verify_code=20,
                verify_message="unable to get local issuer",
            ),
            "tls-cert-untrusted",
            "certificate chain is not trusted: unable to get local issuer",
        ),
        (
            check(
                info=info(not_after=NOW - dt.timedelta(days=3)),
                trusted=False,
                verify_code=10,
            ),
            "tls-cert-expired",
            "certificate expired on 2026-05-29 (3 days ago)",
        ),
        (
            check(
                info=info(not_before=NOW + dt.timedelta(days=2)),
                trusted=False,
                verify_code=9,
            ),
            "tls-cert-expired",
            "certificate is not valid before 2026-06-03 (not yet valid: its start "
            "date is in the future, or a clock is wrong)",
        ),
        (
            check(
                info=None, trusted=False, verify_code=10, verify_message="has expired"
            ),
            "tls-cert-expired",
            "certificate has expired",
        ),
        (
            check(name="smtp.example.com", hostname_match=False),
            "tls-cert-hostname",
            "certificate is for mail.test, not smtp.example.com",
        ),
    ],
)
def test_certificate_failures(cert: CertCheck, category: str, message: str) -> None:
    """Untrusted, expired, future and wrong-name certificates each fail by category."""
    verdict = assess(result(cert=cert))
    assert (verdict.verdict, verdict.category) == ("fail", category)
    assert verdict.findings[0].message == message


def test_untrusted_and_wrong_name_lists_both() -> None:
    """Several certificate problems are all reported; the chain comes first."""
    cert = check(trusted=False, verify_code=18, name="x.test", hostname_match=False)
    verdict = assess(result(cert=cert))
    assert [f.id for f in verdict.findings] == ["cert-untrusted", "cert-hostname"]
    assert verdict.category == "tls-cert-untrusted"


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        (
            {"cert": check(info=info(not_after=NOW + dt.timedelta(days=5)))},
            "cert-expiring",
        ),
        (
            {"cert": check(info=info(not_after=NOW + dt.timedelta(days=14)))},
            "cert-expiring",
        ),
        ({"auth_before_tls": ("PLAIN", "LOGIN")}, "auth-before-tls"),
    ],
)
def test_warnings(changes: dict[str, object], finding: str) -> None:
    """Expiring soon and plaintext AUTH warn but do not fail."""
    verdict = assess(result(**changes))
    assert (verdict.verdict, verdict.category) == ("warn", None)
    assert [f.id for f in verdict.findings] == [finding]


def test_fifteen_days_left_is_fine() -> None:
    """A certificate with more than 14 days left is no warning."""
    verdict = assess(
        result(cert=check(info=info(not_after=NOW + dt.timedelta(days=15))))
    )
    assert verdict.verdict == "ok"


def test_failure_outranks_warnings() -> None:
    """With a failure and a warning, the verdict is fail and the failure comes first."""
    changed = failed(Problem.STARTTLS_NOT_OFFERED)
    verdict = assess(replace(changed, auth_before_tls=("LOGIN",)))
    assert verdict.verdict == "fail"
    assert [f.severity for f in verdict.findings] == [Severity.FAIL, Severity.WARN]


@pytest.mark.parametrize(
    ("changes", "finding", "entry", "words"),
    [
        (
            {"tls": TlsInfo("TLSv1", "ECDHE-RSA-AES128-SHA")},
            "tls-legacy",
            "openssl-protocol-version-unsupported",
            "TLS 1.0",
        ),
        (
            {"tls": TlsInfo("TLSv1.1", "ECDHE-RSA-AES128-SHA")},
            "tls-legacy",
            "openssl-protocol-version-unsupported",
            "TLS 1.1",
        ),
        (
            {"cert": check(info=info(key_type="RSA", key_size=1024))},
            "weak-key",
            "server-certificate-key-too-small",
            "RSA 1024 bits",
        ),
        (
            {"tls": TlsInfo("TLSv1.2", "DHE-RSA-AES256-GCM-SHA384", dh_bits=1024)},
            "weak-dh",
            "dh-key-too-small",
            "1024-bit DH group",
        ),
    ],
)
def test_what_default_clients_refuse_fails(
    changes: dict[str, object], finding: str, entry: str, words: str
) -> None:
    """TLS below 1.2, RSA keys and DH groups under 2048 bits fail the handshake."""
    verdict = assess(result(**changes))
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    first = verdict.findings[0]
    assert (first.id, first.entry) == (finding, entry)
    assert words in first.message


def test_dh_2048_and_ecdhe_are_fine() -> None:
    """A 2048-bit DH group is fine; ECDHE suites carry no DH size."""
    for tls in (
        TlsInfo("TLSv1.2", "DHE-RSA-AES256-GCM-SHA384", dh_bits=2048),
        TlsInfo("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"),
    ):
        assert assess(result(tls=tls)).verdict == "ok"


@pytest.mark.parametrize(
    ("failure", "alerts", "requested", "evidence"),
    [
        (
            Failure("ehlo_tls", Problem.CLOSED, "the server closed the connection"),
            (116,),
            True,
            "certificate_required",
        ),
        (
            Failure(
                "ehlo_tls",
                Problem.EHLO_FAILED,
                "421 4.7.1 mail.test Error: No client certificate presented",
                code=421,
            ),
            (),
            True,
            "No client certificate presented",
        ),
        (
            Failure(
                "handshake", Problem.HANDSHAKE_FAILED, "sslv3 alert handshake failure"
            ),
            (40,),
            True,
            "CertificateRequest",
        ),
    ],
)
def test_client_certificate_required(
    failure: Failure, alerts: tuple[int, ...], requested: bool, evidence: str
) -> None:
    """A required client certificate fails, naming the evidence, never rate-limited."""
    verdict = assess(
        result(failure=failure, tls_alerts=alerts, client_cert_requested=requested)
    )
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    assert [f.id for f in verdict.findings] == ["client-cert-required"]
    assert evidence in verdict.findings[0].message
    assert verdict.findings[0].entry == "client-certificate-required"


def test_client_certificate_only_asked_is_ok() -> None:
    """A server that asks for a certificate and goes on without one is ok."""
    verdict = assess(result(client_cert_requested=True))
    assert verdict.verdict == "ok"
    assert [f.id for f in verdict.findings] == ["client-cert-requested"]


def test_handshake_failure_without_request_is_not_client_cert() -> None:
    """A handshake failure without a CertificateRequest stays handshake-failed."""
    failure = Failure(
        "handshake", Problem.HANDSHAKE_FAILED, "sslv3 alert handshake failure"
    )
    verdict = assess(result(failure=failure, tls=None))
    assert [f.id for f in verdict.findings] == ["handshake-failed"]
    assert verdict.findings[0].entry == "openssl-alert-handshake-failure"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a.b.example.test", "covers exactly one label"),
        ("example.test", "does not cover the bare domain example.test"),
    ],
)
def test_wildcard_mismatch_says_why(name: str, reason: str) -> None:
    """A wildcard that does not cover the name says why (one label; not the apex)."""
    cert = check(
        info=info(sans=("*.example.test",), common_name="*.example.test"),
        name=name,
        hostname_match=False,
    )
    verdict = assess(result(cert=cert))
    assert verdict.findings[0].id == "cert-hostname"
    assert reason in verdict.findings[0].message


def test_plaintext_465_with_starttls_warns() -> None:
    """Port 465 answering in plaintext with STARTTLS warns about the port's mode."""
    verdict = assess(result(port=465))
    assert verdict.verdict == "warn"
    assert [f.id for f in verdict.findings] == ["port-465-starttls"]
    assert "implicit TLS" in verdict.findings[0].message


def test_incomplete_chain_is_named() -> None:
    """A leaf sent without its intermediate is named as an incomplete chain."""
    cert = check(
        trusted=False,
        verify_code=20,
        verify_message="unable to get local issuer certificate",
        chain_sent=1,
        missing_issuer="CN=Test Intermediate",
        issuer_url="http://ca.example.test/int.der",
    )
    verdict = assess(result(cert=cert))
    first = verdict.findings[0]
    assert (first.id, first.entry) == (
        "cert-untrusted",
        "server-missing-intermediate-chain",
    )
    assert "chain is incomplete" in first.message
    assert "CN=Test Intermediate" in first.message


@pytest.mark.parametrize(
    ("cert", "entry"),
    [
        (
            check(info=info(not_after=NOW - dt.timedelta(days=2))),
            "openssl-clients-certificate-expired",
        ),
        (
            check(info=info(not_before=NOW + dt.timedelta(days=2))),
            "certificate-not-yet-valid-clock",
        ),
    ],
)
def test_expired_and_not_yet_valid_link_their_own_entries(
    cert: CertCheck, entry: str
) -> None:
    """Expired links an expiry entry; not yet valid links the clock entry."""
    verdict = assess(result(cert=cert))
    assert verdict.findings[0].entry == entry
