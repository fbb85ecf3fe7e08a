"""
``check DOMAIN --mx --json`` when the world misbehaves in ways no rule names: a
look-alike MTA-STS record, a policy host that hangs up inside its headers, DNS answers
cut off inside their records, TLSA records whose data does not parse, a TLS-RPT URI
that is not a URI, a null MX next to real ones, and a host starved of file
descriptors. Every run ends in one JSON object (or, for exit 2, one line on stderr)
with the documented exit code, never a traceback. Also DANE through CNAMEs
(RFC 7672 §2.2.2).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.mxcheck.conftest import Lab, Run
from tests.mxcheck.test_domains import joined, tlsa


def one_object(run: Run) -> dict[str, Any]:
    """
    The run printed exactly one JSON object and no traceback.
    """
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.stdout[:500]
    data: dict[str, Any] = json.loads(lines[0])
    return data


def test_lookalike_record_is_no_mta_sts_and_nothing_is_fetched(lab: Lab) -> None:
    """
    RFC 8461 §3.1: "v=STSv10; id=1" does not begin with "v=STSv1;", so senders
    discard it: MTA-STS is none (not a broken policy), the record is named, and the
    (running) policy host is never contacted.
    """
    run = lab.mx("stsv10.test")
    report = one_object(run)
    assert run.code == 0
    sts = report["mta_sts"]
    assert (sts["result"], sts["record"], sts["policy_url"]) == ("none", None, None)
    assert "'v=STSv10; id=1' is not an MTA-STS record" in joined(sts["reasons"])
    assert "RFC 8461 §3.1" in joined(sts["reasons"])
    assert report["verdict"] == "ok"
    assert "sts-stsv10" not in run.connections
    assert "mta-sts.stsv10.test. A" not in run.questions


@pytest.mark.parametrize(
    ("domain", "section", "result", "words", "code"),
    [
        ("midheaders.test", "mta_sts", "fail", "closed the connection", 1),
        ("dnsbroken.test", "mta_sts", "warn", "could not be parsed", 0),
        ("dnsbroken.test", "tls_rpt", "warn", "could not be parsed", 0),
        ("tlsagarbage.dane.test", "dane", "fail", "could not be parsed", 1),
        ("tlsaempty.dane.test", "dane", "fail", "could not be parsed", 1),
        ("tlsacut.dane.test", "dane", "fail", "could not be parsed", 1),
        ("rptipv6.test", "tls_rpt", "warn", "is not a valid URI", 0),
    ],
)
def test_misbehaving_servers_end_in_one_report(
    lab: Lab, domain: str, section: str, result: str, words: str, code: int
) -> None:
    """
    A policy host hanging up mid-headers, DNS answers cut off mid-record (for TXT and
    TLSA), TLSA rdata too short to parse or with no data, a rua "https://[2001:db8::1"
    with an unclosed bracket: each is a reason in its section naming the cause, and
    the rest of the report stands. A TLSA lookup that fails under signed MX records
    fails DANE (senders defer, RFC 7672 §2.2).
    """
    run = lab.mx(domain, "--timeout", "2")
    report = one_object(run)
    assert run.code == code, run.stderr
    assert report[section]["result"] == result
    assert words in joined(report[section]["reasons"])
    assert report["mx"][0]["probe"] is not None


def test_malformed_mx_answer_exits_2_with_one_line(lab: Lab) -> None:
    """An MX answer cut off inside its records: exit 2, the lookup named, one object."""
    run = lab.mx("mxmalformed.test", "--timeout", "2")
    assert run.code == 2
    report = one_object(run)
    assert (report["domain"], report["verdict"]) == ("mxmalformed.test", None)
    assert "MX lookup for mxmalformed.test failed" in report["error"]
    assert "MX lookup for mxmalformed.test failed" in run.stderr


def test_starved_host_still_ends_in_one_object(lab: Lab) -> None:
    """
    With 10 to 13 open files allowed, the check runs out of descriptors at some step
    (which one varies): each run still ends in one JSON object and exit 0 or 1; where
    the check could not finish, the object says so and names the step, exit 1.
    """
    seen: list[str] = []
    for limit in (10, 11, 12, 13, 10, 12):
        run = lab.mx("enforce.test", nofile=limit)
        report = one_object(run)
        assert report["domain"] == "enforce.test"
        if "error" in report:
            assert run.code == 1
            assert report["verdict"] == "fail"
            assert "could not finish" in report["error"]
            assert report["step"] in report["error"]
            assert report["error"] in run.stderr
            seen.append(report["step"])
        else:
            assert run.code in (0, 1)
            assert report["verdict"] in ("ok", "warn", "fail")


def test_null_mx_next_to_others_fails_naming_the_records(lab: Lab) -> None:
    """
    RFC 7505 §3: a domain with a null MX MUST NOT publish other MX records. Such a
    domain is not taken for a null-MX domain (exit 2): the real MX is probed and the
    domain fails with a reason naming both records.
    """
    run = lab.mx("nullmixed.test")
    report = one_object(run)
    assert run.code == 1
    assert report["verdict"] == "fail"
    assert [m["host"] for m in report["mx"]] == ["mx1.mail.test"]
    assert report["mx"][0]["probe"]["verdict"] == "ok"
    text = joined(report["reasons"])
    assert "null MX next to other MX records (0 ., 10 mx1.mail.test)" in text
    assert "RFC 7505 §3" in text
    assert run.connections == {"mx1": 1}


@pytest.mark.parametrize(
    ("domain", "host", "name", "matched"),
    [
        # TLSA at the expanded name wins over (bad) records at the alias.
        ("ee-cname.dane.test", "alias-ee.dane.test", "_25._tcp.mx-ee.dane.test", "3"),
        # None at the expanded name: the alias's own records are used.
        (
            "ee-fallback.dane.test",
            "alias-fb.dane.test",
            "_25._tcp.alias-fb.dane.test",
            "3",
        ),
        # DANE-TA: the certificate names the expanded host, not the alias.
        ("ta-cname.dane.test", "alias-ta.dane.test", "_25._tcp.mx-ta.dane.test", "2"),
    ],
)
def test_dane_follows_a_validated_cname(
    lab: Lab, domain: str, host: str, name: str, matched: str
) -> None:
    """
    RFC 7672 §2.2.2: an MX host that is an alias (a validated CNAME) has its TLSA
    records looked up at the expanded name first, then at its own; a DANE-TA
    certificate may carry either name (§3.2.2). Each passes, naming where the records
    were found.
    """
    run = lab.mx(domain)
    report = one_object(run)
    assert run.code == 0
    entry = tlsa(report, host)
    assert (entry["name"], entry["result"], entry["in_effect"]) == (name, "pass", True)
    assert entry["matched"].startswith(matched)
    assert "is an alias of" in joined(entry["reasons"])
    assert report["dane"]["result"] == "pass"


def test_dane_does_not_apply_when_the_address_records_are_not_validated(
    lab: Lab,
) -> None:
    """
    The MX host is a CNAME from the signed zone into an unsigned one: its address
    records carry no AD, so Postfix does not use DANE for it (RFC 7672 §2.2.2), even
    though its own name has validated TLSA records that match nothing. DANE is none
    and the untrusted certificate only warns.
    """
    run = lab.mx("insecure-cname.dane.test")
    report = one_object(run)
    assert run.code == 0
    entry = tlsa(report, "alias-ins.dane.test")
    assert (entry["result"], entry["in_effect"], entry["dnssec"]) == (
        "none",
        False,
        True,
    )
    assert entry["records"]
    assert "address records of alias-ins.dane.test are not DNSSEC-validated" in (
        joined(entry["reasons"])
    )
    assert report["dane"]["result"] == "none"
    assert report["verdict"] == "warn"
