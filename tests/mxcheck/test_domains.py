"""
``smtpbot check DOMAIN --mx --json`` against the lab world (tests/mxcheck/world.py):
real DNS (some zones "signed"), real STARTTLS MX servers and HTTPS policy hosts, in a
network namespace whose /etc/resolv.conf names the lab's DNS server.

Each test checks the facts of the report, the exit code, and what the lab's servers
saw: nothing is fetched or probed that senders (or the probe policy) would not touch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.mxcheck.conftest import Lab

POLICY = "/.well-known/mta-sts.txt"


def probe(report: dict[str, Any], host: str) -> dict[str, Any]:
    """
    The per-MX probe object of ``host``.
    """
    (mx,) = [m for m in report["mx"] if m["host"] == host]
    data: dict[str, Any] = mx["probe"]
    return data


def tlsa(report: dict[str, Any], host: str) -> dict[str, Any]:
    """
    The DANE facts of one MX host.
    """
    (entry,) = [t for t in report["dane"]["tlsa"] if t["host"] == host]
    return entry


def joined(reasons: list[str]) -> str:
    """
    Reasons as one string, for substring checks.
    """
    return " | ".join(reasons)


def test_enforce_policy_met_by_every_mx(lab: Lab) -> None:
    """An enforce policy covering both valid MX hosts passes; TLS-RPT lists both rua."""
    run = lab.mx("enforce.test")
    assert run.code == 0, run.stderr
    report = run.json
    assert report["domain"] == "enforce.test"
    assert report["verdict"] == "ok"
    assert [(m["preference"], m["host"], m["implicit"]) for m in report["mx"]] == [
        (10, "mx1.mail.test", False),
        (20, "mx2.mail.test", False),
    ]
    assert probe(report, "mx1.mail.test")["target"]["port"] == 25
    assert probe(report, "mx1.mail.test")["verdict"] == "ok"
    sts = report["mta_sts"]
    assert sts["result"] == "pass"
    assert sts["mode"] == "enforce"
    assert sts["policy_id"] == "20240501"
    assert sts["policy_url"] == "https://mta-sts.enforce.test/.well-known/mta-sts.txt"
    assert sts["mx_patterns"] == ["*.mail.test"]
    assert sts["max_age"] == 604800
    assert sts["reasons"] == []
    assert sts["hosts"] == [
        {"host": "mx1.mail.test", "pattern": "*.mail.test", "valid": True},
        {"host": "mx2.mail.test", "pattern": "*.mail.test", "valid": True},
    ]
    assert report["dane"]["result"] == "none"
    assert report["dane"]["dnssec"] is False
    rpt = report["tls_rpt"]
    assert rpt["result"] == "pass"
    # Two TXT strings make one record (RFC 8460 §3 via RFC 7208 §3.3 joining).
    assert rpt["rua"] == [
        "mailto:tlsrpt@enforce.test",
        "https://reports.enforce.test/tlsrpt",
    ]
    assert "mailto:tlsrpt@enforce.test" in joined(rpt["reasons"])
    assert run.connections == {"mx1": 1, "mx2": 1, "sts-enforce": 1}
    assert run.requests == {"sts-enforce": [f"mta-sts.enforce.test {POLICY}"]}


def test_testing_mode_problem_only_warns(lab: Lab) -> None:
    """Under mode testing an MX with a certificate for another name is a warning."""
    run = lab.mx("testing.test")
    assert run.code == 0, run.stderr
    report = run.json
    assert report["verdict"] == "warn"
    assert probe(report, "bad.mail.test")["verdict"] == "fail"
    assert probe(report, "bad.mail.test")["category"] == "tls-cert-hostname"
    sts = report["mta_sts"]
    assert (sts["result"], sts["mode"], sts["policy_id"]) == ("warn", "testing", "1")
    assert sts["hosts"] == [
        {"host": "bad.mail.test", "pattern": "*.mail.test", "valid": False}
    ]
    assert "bad.mail.test" in joined(sts["reasons"])
    assert "other.mail.test" in joined(sts["reasons"])
    assert "deliver anyway" in joined(report["reasons"])
    assert sts["kb_entry"] == "mta-sts-mx-fails-policy"


def test_enforce_with_wrong_certificate_fails(lab: Lab) -> None:
    """Under enforce, an MX certificate for another name fails the domain (exit 1)."""
    run = lab.mx("badcert.test")
    assert run.code == 1
    report = run.json
    assert report["verdict"] == "fail"
    assert report["mta_sts"]["result"] == "fail"
    assert "will not deliver" in joined(report["mta_sts"]["reasons"])
    assert "MTA-STS enforce" in joined(report["reasons"])


def test_uncovered_mx_fails_under_enforce(lab: Lab) -> None:
    """A wildcard covers one label only: a.deep.mail.test is outside *.mail.test."""
    run = lab.mx("uncovered.test")
    assert run.code == 1
    report = run.json
    assert report["verdict"] == "fail"
    assert [m["probe"]["verdict"] for m in report["mx"]] == ["ok", "ok"]
    sts = report["mta_sts"]
    assert sts["result"] == "fail"
    assert sts["hosts"] == [
        {"host": "mx1.mail.test", "pattern": "*.mail.test", "valid": True},
        {"host": "a.deep.mail.test", "pattern": None, "valid": True},
    ]
    (reason,) = sts["reasons"]
    assert "a.deep.mail.test is not covered" in reason and "*.mail.test" in reason


def test_enforce_mx_without_starttls_fails(lab: Lab) -> None:
    """An MX without STARTTLS fails an enforce policy that lists it."""
    run = lab.mx("nostarttls.test")
    assert run.code == 1
    report = run.json
    assert probe(report, "plain.mail.test")["category"] == "starttls-unavailable"
    assert report["mta_sts"]["result"] == "fail"
    assert report["mta_sts"]["hosts"][0]["valid"] is False
    assert "STARTTLS" in joined(report["mta_sts"]["reasons"])


def test_mode_none_policy_is_none(lab: Lab) -> None:
    """A policy in mode none is read but not applied."""
    run = lab.mx("modenone.test")
    assert run.code == 0
    sts = run.json["mta_sts"]
    assert (sts["result"], sts["mode"], sts["max_age"]) == ("none", "none", 86400)
    assert "mode none" in joined(sts["reasons"])
    assert run.json["verdict"] == "ok"


@pytest.mark.parametrize(
    ("domain", "server", "requested", "words"),
    [
        ("nohttps.test", None, False, ["mta-sts.nohttps.test", "Connection refused"]),
        (
            "wrongcert.test",
            "sts-wrongcert",
            False,
            ["certificate of mta-sts.wrongcert.test", "not valid"],
        ),
        ("notfound.test", "sts-notfound", True, ["404", "only 200"]),
        ("badsyntax.test", "sts-badsyntax", True, ["line 2", "'enforced'"]),
        (
            "redirect.test",
            "sts-redirect",
            True,
            ["301", "https://mta-sts.enforce.test/.well-known/mta-sts.txt", "redirect"],
        ),
    ],
)
def test_unusable_policy_fails(
    lab: Lab, domain: str, server: str | None, requested: bool, words: list[str]
) -> None:
    """A TXT record whose policy cannot be used fails, naming the URL and the cause."""
    run = lab.mx(domain)
    assert run.code == 1, run.stderr
    report = run.json
    assert report["verdict"] == "fail"
    sts = report["mta_sts"]
    assert sts["result"] == "fail"
    assert sts["policy_id"] == "20240501"
    assert sts["policy_url"] == f"https://mta-sts.{domain}{POLICY}"
    assert sts["mode"] is None and sts["mx_patterns"] == []
    (reason,) = sts["reasons"]
    assert f"_mta-sts.{domain}" in reason
    for word in words:
        assert word in reason
    assert sts["kb_entry"] == "mta-sts-policy-unusable"
    assert sts["advice"]
    if server is not None:
        assert run.connections[server] == 1
        expected = [f"mta-sts.{domain} {POLICY}"] if requested else []
        assert run.requests.get(server, []) == expected
    # The MX itself is fine: the failure is the policy's alone.
    assert probe(report, "mx1.mail.test")["verdict"] == "ok"
    # A redirect is never followed.
    assert "sts-enforce" not in run.connections


def test_policy_served_as_html_warns(lab: Lab) -> None:
    """A policy served as text/html is a warning: careful senders ignore it."""
    run = lab.mx("html.test")
    assert run.code == 0
    sts = run.json["mta_sts"]
    assert (sts["result"], sts["mode"]) == ("warn", "enforce")
    assert "text/html" in joined(sts["reasons"])
    assert run.json["verdict"] == "warn"


@pytest.mark.parametrize(
    ("domain", "server", "words"),
    [
        ("badtxt.test", "sts-badtxt", ["id '2024-05-01'", "letters and digits"]),
        ("twotxt.test", "sts-twotxt", ["2 MTA-STS TXT records", "exactly one"]),
    ],
)
def test_unusable_record_fails_without_fetching(
    lab: Lab, domain: str, server: str, words: list[str]
) -> None:
    """A broken _mta-sts record fails, and senders (and we) never fetch its policy."""
    run = lab.mx(domain)
    assert run.code == 1
    sts = run.json["mta_sts"]
    assert sts["result"] == "fail"
    assert sts["policy_url"] is None
    for word in words:
        assert word in joined(sts["reasons"])
    assert server not in run.connections
    assert f"mta-sts.{domain}. A" not in run.questions


def test_no_record_is_none_and_nothing_fetched(lab: Lab) -> None:
    """Without an _mta-sts record the (running) policy host is never contacted."""
    run = lab.mx("nosts.test")
    assert run.code == 0
    report = run.json
    assert report["verdict"] == "ok"
    assert report["mta_sts"]["result"] == "none"
    assert report["mta_sts"]["policy_url"] is None
    assert "no MTA-STS record" in joined(report["mta_sts"]["reasons"])
    assert "sts-nosts" not in run.connections
    assert "mta-sts.nosts.test. A" not in run.questions
    rpt = report["tls_rpt"]
    assert (rpt["result"], rpt["record"], rpt["rua"]) == ("none", None, [])
    assert "v=TLSRPTv1" in " ".join(rpt["advice"])
    assert rpt["kb_entry"] == "tls-rpt-record-missing-or-malformed"


def test_dane_ee_match_passes_without_pkix(lab: Lab) -> None:
    """A self-signed MX matching its 3 1 1 record passes DANE; the domain only warns."""
    run = lab.mx("ee-ok.dane.test")
    assert run.code == 0
    report = run.json
    assert report["verdict"] == "warn"
    assert probe(report, "mx-ee.dane.test")["category"] == "tls-cert-untrusted"
    dane = report["dane"]
    assert (dane["result"], dane["dnssec"]) == ("pass", True)
    host = tlsa(report, "mx-ee.dane.test")
    assert host["name"] == "_25._tcp.mx-ee.dane.test"
    assert (host["result"], host["dnssec"], host["in_effect"]) == ("pass", True, True)
    assert host["matched"] is not None and host["matched"].startswith("3 1 1 ")
    assert "DANE senders authenticate it" in joined(report["reasons"])


def test_dane_ee_mismatch_fails(lab: Lab) -> None:
    """A 3 1 1 record for another key in a signed zone fails: DANE senders defer."""
    run = lab.mx("ee-bad.dane.test")
    assert run.code == 1
    report = run.json
    dane = report["dane"]
    assert dane["result"] == "fail"
    host = tlsa(report, "mx-ee-bad.dane.test")
    assert (host["result"], host["in_effect"], host["matched"]) == ("fail", True, None)
    assert "DANE senders will defer mail" in joined(dane["reasons"])
    assert dane["kb_entry"] == "dane-tlsa-mismatch"
    assert report["verdict"] == "fail"


def test_dane_ee_full_certificate_digest_matches(lab: Lab) -> None:
    """One matching record (3 0 2, SHA-512 of the certificate) is enough."""
    run = lab.mx("ee-cert.dane.test")
    assert run.code == 0
    host = tlsa(run.json, "mx-ee-cert.dane.test")
    assert host["result"] == "pass"
    assert host["matched"].startswith("3 0 2 ")
    assert len(host["records"]) == 2


def test_dane_ta_anchor_in_chain_passes(lab: Lab) -> None:
    """A 2 0 1 record for the intermediate the MX sends passes, with no public CA."""
    run = lab.mx("ta-ok.dane.test")
    assert run.code == 0
    report = run.json
    assert probe(report, "mx-ta.dane.test")["certificate"]["trusted"] is False
    host = tlsa(report, "mx-ta.dane.test")
    assert host["result"] == "pass"
    assert host["matched"].startswith("2 0 1 ")
    assert report["verdict"] == "warn"


def test_dane_ta_needs_the_mx_name(lab: Lab) -> None:
    """DANE-TA checks the name: an anchored certificate for another host fails."""
    run = lab.mx("ta-name.dane.test")
    assert run.code == 1
    host = tlsa(run.json, "mx-taname.dane.test")
    assert host["result"] == "fail"
    assert "not valid for mx-taname.dane.test" in joined(host["reasons"])
    assert "other.dane.test" in joined(host["reasons"])


def test_dane_ta_anchor_not_in_chain_fails(lab: Lab) -> None:
    """A 2 0 1 record for a CA the MX does not send matches nothing."""
    run = lab.mx("ta-bad.dane.test")
    assert run.code == 1
    assert tlsa(run.json, "mx-tabad.dane.test")["result"] == "fail"
    assert run.json["dane"]["result"] == "fail"


def test_dane_without_starttls_fails(lab: Lab) -> None:
    """With TLSA records in effect, an MX without STARTTLS makes DANE senders defer."""
    run = lab.mx("nostarttls.dane.test")
    assert run.code == 1
    dane = run.json["dane"]
    assert dane["result"] == "fail"
    assert "STARTTLS" in joined(dane["reasons"])
    assert "defer" in joined(dane["reasons"])


def test_tlsa_in_unsigned_zone_is_ignored(lab: Lab) -> None:
    """TLSA records without DNSSEC are none, with a note; the bad cert only warns."""
    run = lab.mx("unsigned.test")
    assert run.code == 0
    report = run.json
    dane = report["dane"]
    assert (dane["result"], dane["dnssec"]) == ("none", False)
    host = tlsa(report, "mx-ee.unsigned.test")
    assert (host["result"], host["in_effect"], host["dnssec"]) == ("none", False, False)
    assert host["records"]
    assert "no AD bit" in joined(dane["reasons"])
    assert report["verdict"] == "warn"


def test_tlsa_answer_without_ad_is_ignored(lab: Lab) -> None:
    """Signed MX records but a TLSA answer without AD: DANE is not in effect."""
    run = lab.mx("mixed.dane.test")
    assert run.code == 0
    report = run.json
    assert report["dane"]["dnssec"] is True
    host = tlsa(report, "mx-ee.unsigned.test")
    assert (host["result"], host["in_effect"], host["dnssec"]) == ("none", False, False)
    assert "no AD bit" in joined(host["reasons"])


@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("rptbad.test", ["ftp://reports.rptbad.test/x", "mailto: or https:"]),
        ("rptnorua.test", ["no rua= field"]),
    ],
)
def test_malformed_tls_rpt_warns(lab: Lab, domain: str, words: list[str]) -> None:
    """A malformed TLS-RPT record is a warning naming the part; it never fails."""
    run = lab.mx(domain)
    assert run.code == 0
    report = run.json
    assert report["verdict"] == "warn"
    rpt = report["tls_rpt"]
    assert rpt["result"] == "warn"
    assert rpt["record"].startswith("v=TLSRPTv1")
    for word in words:
        assert word in joined(rpt["reasons"])


def test_domain_without_mx_is_its_own_mx(lab: Lab) -> None:
    """No MX records: the domain itself is probed on port 25 as the implicit MX."""
    run = lab.mx("nomx.test")
    assert run.code == 0, run.stderr
    report = run.json
    (mx,) = report["mx"]
    assert (mx["preference"], mx["host"], mx["implicit"]) == (0, "nomx.test", True)
    assert mx["probe"]["target"] == {
        "host": "nomx.test",
        "port": 25,
        "address": "127.0.1.9",
        "servername": "nomx.test",
    }
    assert mx["probe"]["verdict"] == "ok"
    assert run.connections == {"implicit": 1}


@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("nullmx.test", "null MX (RFC 7505)"),
        ("nxdomain.test", "does not exist in DNS"),
    ],
)
def test_null_mx_and_missing_domain_exit_2(lab: Lab, domain: str, words: str) -> None:
    """A null MX or a domain not in DNS: exit 2 with the reason, nothing contacted."""
    run = lab.mx(domain)
    assert run.code == 2
    assert words in run.stderr
    report = json.loads(run.stdout)
    assert (report["domain"], report["verdict"], report["reason"]) == (
        domain,
        None,
        "input",
    )
    assert words in report["error"]
    assert run.connections == {}


@pytest.mark.parametrize(
    ("domain", "refused"),
    [
        ("private.test", "mta-sts.private.test"),
        ("mxprivate.test", "mx.private-net.test"),
    ],
)
def test_refused_target_stops_before_any_packet(
    lab: Lab, domain: str, refused: str
) -> None:
    """An MX or policy host outside PROBE_ALLOW_CIDRS: exit 2 before any connection."""
    env = {"PROBE_ALLOW_CIDRS": "127.0.1.0/24,127.0.2.0/24"}
    run = lab.mx(domain, env=env)
    assert run.code == 2
    assert f"refused to contact {refused}" in run.stderr
    assert "127.0.3." in run.stderr
    assert run.connections == {}


def test_allow_private_lifts_the_address_policy(lab: Lab) -> None:
    """--allow-private lets the operator reach the policy host the CIDRs leave out."""
    env = {"PROBE_ALLOW_CIDRS": "127.0.1.0/24"}
    run = lab.mx("private.test", "--allow-private", env=env)
    assert run.code == 0
    assert run.json["mta_sts"]["result"] == "pass"
    assert run.connections == {"mx1": 1, "sts-private": 1}


def test_trust_comes_from_ssl_cert_file(lab: Lab) -> None:
    """Without --cafile, SSL_CERT_FILE is the trust store for MX and policy hosts."""
    run = lab.check(
        "enforce.test",
        "--mx",
        "--json",
        env={"SSL_CERT_FILE": lab.world.cafile},
        subprocess=True,
    )
    assert run.code == 0, run.stderr
    assert run.json["verdict"] == "ok"
    assert run.json["mta_sts"]["result"] == "pass"


def test_untrusted_policy_host_without_the_ca(lab: Lab) -> None:
    """Without the test CA the policy host's certificate is not trusted: exit 1."""
    run = lab.check("enforce.test", "--mx", "--json", subprocess=True)
    assert run.code == 1
    reason = joined(run.json["mta_sts"]["reasons"])
    assert "certificate of mta-sts.enforce.test is not valid" in reason


def test_human_report_says_the_same_in_plain_words(lab: Lab) -> None:
    """The text report gives the verdict, each result, the reasons and advice."""
    run = lab.check("badcert.test", "--mx", "--cafile", lab.world.cafile)
    assert run.code == 1
    text = run.stdout
    assert "badcert.test: FAIL" in text
    assert "MTA-STS: FAIL (mode enforce, id 20240501, mx *.mail.test," in text
    assert "bad.mail.test: its certificate has no subjectAltName" in text
    assert "knowledge base:" in text and "[mta-sts-mx-fails-policy]" in text
    assert "DANE: NONE" in text
    assert "TLS-RPT: NONE" in text
    assert "[tls-rpt-record-missing-or-malformed]" in text


def test_chunked_policy_is_read(lab: Lab) -> None:
    """A policy sent with chunked transfer encoding is read like any other."""
    run = lab.mx("chunked.test")
    assert run.code == 0, run.stderr
    sts = run.json["mta_sts"]
    assert (sts["result"], sts["mode"], sts["mx_patterns"]) == (
        "pass",
        "enforce",
        ["*.mail.test"],
    )


def test_policy_over_64_kib_fails(lab: Lab) -> None:
    """A policy larger than senders read (64 KiB) cannot be used."""
    run = lab.mx("huge.test")
    assert run.code == 1
    assert "larger than 64 KiB" in joined(run.json["mta_sts"]["reasons"])


def test_policy_host_that_never_answers_is_bounded(lab: Lab) -> None:
    """A policy host that accepts but never answers fails within --timeout."""
    run = lab.mx("stall.test", "--timeout", "2")
    assert run.code == 1
    assert "no answer within 2 s" in joined(run.json["mta_sts"]["reasons"])
    assert run.json["total_ms"] < 10_000
    assert run.requests == {"sts-stall": [f"mta-sts.stall.test {POLICY}"]}


def test_unreachable_mx_fails_the_domain(lab: Lab) -> None:
    """An MX that refuses connections fails the domain whatever the policies say."""
    run = lab.mx("deadmx.test", "--timeout", "3")
    assert run.code == 1
    report = run.json
    assert probe(report, "mx1.mail.test")["verdict"] == "ok"
    assert probe(report, "dead.mail.test")["category"] == "connection-refused"
    assert "dead.mail.test" in joined(report["reasons"])
    assert "cannot hand mail to it" in joined(report["reasons"])


def test_failed_tlsa_lookup_under_signed_mx_fails(lab: Lab) -> None:
    """SERVFAIL for the TLSA records of a signed domain's MX: DANE senders defer."""
    run = lab.mx("tlsafail.dane.test")
    assert run.code == 1
    host = tlsa(run.json, "mx-servfail.dane.test")
    assert (host["result"], host["in_effect"]) == ("fail", True)
    assert "SERVFAIL" in joined(host["reasons"])


def test_failed_mx_lookup_exits_2(lab: Lab) -> None:
    """SERVFAIL for the MX lookup: exit 2, naming it (DNSSEC failures look alike)."""
    run = lab.mx("bogus.dane.test")
    assert run.code == 2
    assert "MX lookup for bogus.dane.test failed" in run.stderr
    assert "DNSSEC" in run.stderr


def slack_text(report: dict[str, Any]) -> str:
    """
    Every text of a Slack report's blocks, joined.
    """
    return json.dumps(report["blocks"], ensure_ascii=False)


def test_slack_smtpcheck_mx_shows_the_same_facts(lab: Lab) -> None:
    """/smtpcheck DOMAIN --mx answers with the verdict, each mechanism and advice."""
    report = lab.slack("badcert.test --mx")
    assert "Checking badcert.test" in report["ack"]
    assert report["text"].startswith("Mail domain check: badcert.test fail")
    blocks = slack_text(report)
    assert "badcert.test: FAIL" in blocks
    assert "MTA-STS: FAIL (mode enforce, id 20240501, mx *.mail.test)" in blocks
    assert "bad.mail.test: its certificate has no subjectAltName" in blocks
    assert "DANE: NONE" in blocks
    assert "TLS-RPT: NONE" in blocks
    # The knowledge entry for the MTA-STS failure comes first in the advice.
    assert "What to do: MTA-STS: an MX host is not in the policy" in blocks
    assert blocks.index("What to do:") == blocks.index("What to do: MTA-STS")
    assert report["connections"] == {"wrongname": 1, "sts-badcert": 1}


def test_slack_smtpcheck_mx_dane(lab: Lab) -> None:
    """In Slack too a DANE mismatch is a failure saying DANE senders will defer mail."""
    report = lab.slack("ee-bad.dane.test --mx")
    blocks = slack_text(report)
    assert "DANE: FAIL" in blocks
    assert "DANE senders will defer mail" in blocks
    assert (
        "What to do: DANE: the MX certificate matches none of its TLSA records"
        in blocks
    )


def test_slack_smtpcheck_mx_refused_by_policy(lab: Lab) -> None:
    """From Slack the probe policy applies: a policy host outside it is refused."""
    report = lab.slack("private.test --mx", PROBE_ALLOW_CIDRS="127.0.1.0/24")
    assert "refused to contact mta-sts.private.test" in report["text"]
    assert report["connections"] == {}


def test_slack_advice_follows_what_stops_mail(lab: Lab) -> None:
    """In Slack, advice follows what stops mail: none for a DANE-matched MX."""
    trusted_by_dane = slack_text(lab.slack("ta-ok.dane.test --mx"))
    assert "DANE: PASS" in trusted_by_dane
    assert "What to do:" not in trusted_by_dane
    dead = lab.slack("deadmx.test --mx", PROBE_TIMEOUT="3")
    assert "dead.mail.test:25: FAIL (connection-refused)" in slack_text(dead)
    assert "What to do:" in slack_text(dead)


@pytest.mark.parametrize(
    ("domain", "host", "result", "code"),
    [
        ("hosted.test", "mx-ee.dane.test", "pass", 0),
        ("hosted-bad.test", "mx-ee-bad.dane.test", "fail", 1),
    ],
)
def test_signed_mx_host_of_an_unsigned_domain(
    lab: Lab, domain: str, host: str, result: str, code: int
) -> None:
    """Validated TLSA records count under unsigned MX records, with a note."""
    run = lab.mx(domain)
    assert run.code == code
    report = run.json
    assert report["dane"]["dnssec"] is False
    entry = tlsa(report, host)
    assert (entry["result"], entry["dnssec"], entry["in_effect"]) == (
        result,
        True,
        True,
    )
    assert "RFC 7672 §2.2.1" in joined(entry["reasons"])


def test_trust_comes_from_ssl_cert_dir(lab: Lab, tmp_path: Path) -> None:
    """SSL_CERT_DIR (an OpenSSL hashed directory) is the trust store too."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is installed by .ci/run"
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", lab.world.cafile],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (tmp_path / f"{subject_hash}.0").symlink_to(lab.world.cafile)
    run = lab.check(
        "enforce.test",
        "--mx",
        "--json",
        env={"SSL_CERT_FILE": "", "SSL_CERT_DIR": str(tmp_path)},
        subprocess=True,
    )
    assert run.code == 0, run.stderr
    assert run.json["mta_sts"]["result"] == "pass"
    assert {m["probe"]["certificate"]["trusted"] for m in run.json["mx"]} == {True}


@pytest.mark.parametrize(
    ("domain", "cause"),
    [
        ("badlength.test", "Content-Length"),  # "²": a digit to Python, not to HTTP
        ("badchunk.test", "chunk size"),  # "-1"
    ],
)
def test_broken_http_from_the_policy_host_is_a_reason(
    lab: Lab, domain: str, cause: str
) -> None:
    """A policy host's malformed HTTP answer fails MTA-STS in words, no traceback."""
    run = lab.mx(domain, subprocess=True)  # a whole process, as a user runs it
    assert "Traceback" not in run.stderr
    assert run.code == 1, run.stderr
    sts = run.json["mta_sts"]
    assert sts["result"] == "fail"
    assert cause in joined(sts["reasons"])
