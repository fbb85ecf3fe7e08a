"""
MTA-STS records, policies and mx patterns (RFC 8461 §3.1, §3.2, §4.1), from the RFC's
own examples and the ways real policies go wrong.
"""

from __future__ import annotations

import pytest

from bot.mxcheck.mtasts import (
    PolicyError,
    lookalikes,
    parse_policy,
    parse_record,
    pattern_for,
    select_record,
)

URL = "https://mta-sts.example.com/.well-known/mta-sts.txt"
# RFC 8461 §3.2's example policy.
RFC_POLICY = (
    b"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
    b"mx: backupmx.example.com\nmax_age: 604800\n"
)


def test_rfc_record_example() -> None:
    """The RFC 8461 §3.1 example record parses, trailing semicolon and all."""
    record = parse_record("v=STSv1; id=20160831085700Z;", "_mta-sts.example.com")
    assert record.id == "20160831085700Z"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("v=STSv1;", "no id= field"),
        ("v=STSv1; id=" + "a" * 33, "1 to 32 letters"),
        ("v=STSv1; id=2024-05-01", "'2024-05-01'"),
        ("v=STSv1 id=1", "must start with"),
        ("v=STSv1; id=1;; x=y", "is not a name=value field"),
        ("v=STSv1; id=1; x=a b", "bad value"),
    ],
)
def test_bad_records_name_the_part(text: str, part: str) -> None:
    """A record that breaks the §3.1 grammar is an error naming the part."""
    with pytest.raises(PolicyError, match=part):
        parse_record(text, "_mta-sts.example.com")


def test_record_extensions_and_first_id() -> None:
    """Extension fields are allowed; of two ids the first counts."""
    record = parse_record("v=STSv1;id=a1;ext_1=v;id=b2", "_mta-sts.example.com")
    assert record.id == "a1"


def test_select_record_discards_other_txt() -> None:
    """TXT records not starting with v=STSv1 are ignored; none left means no policy."""
    assert select_record(["v=spf1 -all", "hello"], "example.com") is None
    chosen = select_record(["v=spf1 -all", "v=STSv1; id=1"], "example.com")
    assert chosen is not None and chosen.id == "1"


@pytest.mark.parametrize(
    "text",
    [
        "v=STSv10; id=1",
        "v=STSv2; id=1",
        "v=STSv1 ; id=1",
        "v=STSv1",
        "V=STSv1; id=1",
        " v=STSv1; id=1",
        "v=stsv1; id=1",
    ],
)
def test_records_not_beginning_with_the_exact_version_are_discarded(
    text: str,
) -> None:
    """
    RFC 8461 §3.1: records that do not begin with "v=STSv1;" are discarded, so the
    domain has no MTA-STS (not a broken one), and the look-alike is named.
    """
    assert select_record([text], "example.com") is None
    assert lookalikes(["v=spf1 -all", text]) == [text]
    chosen = select_record([text, "v=STSv1; id=7"], "example.com")
    assert chosen is not None and chosen.id == "7"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("v=STSv1; id=1 ", "ends with white space"),
        ("v=STSv1; id=1\t", "ends with white space"),
        ("v=STSv1; id=1; x=caf\u00e9", "not US-ASCII"),
        ("v=STSv1; ID=1", "no id= field"),
        ("v=STSv1; id=1; =x", "is not a name=value field"),
        ("v=STSv1; id=1; _x=y", "is not a name=value field"),
        ("v=STSv1; id=1; x=", "bad value"),
        ("v=STSv1; id=1; x=a=b", "bad value"),
    ],
)
def test_record_grammar_is_the_abnf(text: str, part: str) -> None:
    """
    The §3.1 ABNF, strictly: the trailing delimiter must hold a ';', ids are
    case-sensitive ("ID=" is an extension, leaving no id), extension names start
    with a letter or digit, values are 1 or more printable characters but '=' and ';'.
    """
    with pytest.raises(PolicyError, match=part):
        parse_record(text, "_mta-sts.example.com")


def test_record_delimiters_may_carry_white_space() -> None:
    """sts-field-delim is *WSP ";" *WSP, also at the end."""
    record = parse_record("v=STSv1 ;\tid=A1b2 ; ext.x-1=v ;  ", "_mta-sts.example.com")
    assert record.id == "A1b2"


def test_select_record_refuses_two() -> None:
    """Two STSv1 records leave senders with no policy (RFC 8461 §3.1)."""
    with pytest.raises(PolicyError, match="2 MTA-STS TXT records"):
        select_record(["v=STSv1; id=1", "v=STSv1; id=2"], "example.com")


def test_rfc_policy_example() -> None:
    """The RFC 8461 §3.2 example policy parses, with CRLF line ends too."""
    for body in (RFC_POLICY, RFC_POLICY.replace(b"\n", b"\r\n")):
        policy = parse_policy(body, URL)
        assert policy.mode == "enforce"
        assert policy.max_age == 604800
        assert policy.mx == (
            "mail.example.com",
            "*.example.net",
            "backupmx.example.com",
        )
        assert policy.warnings == ()


def test_policy_without_final_newline_and_with_extension() -> None:
    """The last line break is optional; unknown fields are ignored."""
    body = (
        b"version: STSv1\nmode: testing\nfoo_bar: any thing\nmx: mx.example.com\n"
        b"max_age: 86400"
    )
    policy = parse_policy(body, URL)
    assert (policy.mode, policy.mx, policy.max_age) == (
        "testing",
        ("mx.example.com",),
        86400,
    )


def test_repeated_fields_first_counts_except_mx() -> None:
    """For a repeated field the first value counts; mx lines accumulate."""
    body = (
        b"version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\n"
        b"mx: b.example\nmax_age: 1\n"
    )
    policy = parse_policy(body, URL)
    assert policy.mode == "testing"
    assert policy.mx == ("a.example", "b.example")


def test_mode_none_needs_no_mx() -> None:
    """A policy in mode none may list no mx."""
    policy = parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\n", URL)
    assert (policy.mode, policy.mx) == ("none", ())


@pytest.mark.parametrize(
    ("body", "part"),
    [
        (b"version: STSv1\nmode: enforce\nmax_age: 86400\n", "no 'mx' line"),
        (b"version: STSv1\nmode: enforce\nmx: a.example\n", "no 'max_age' field"),
        (b"mode: enforce\nmx: a.example\nmax_age: 1\n", "no 'version' field"),
        (b"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "'STSv1'"),
        (b"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "'Enforce'"),
        (
            b"version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1\n",
            "case-sensitive",
        ),
        (b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1w\n", "'1w'"),
        (
            b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
            "10 digits",
        ),
        (
            b"version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n",
            "line 2 is empty",
        ),
        (b"version: STSv1\nmode = enforce\nmx: a.example\nmax_age: 1\n", "line 2"),
        (
            b"version: STSv1\nmode: enforce\nmx: mail.example.com.\nmax_age: 1\n",
            "mx 'mail",
        ),
        (
            "version: STSv1\nmode: enforce\nmx: bücher.example\nmax_age: 1\n".encode(),
            "bücher",
        ),
        (b"version : STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", "line 1"),
        (b"\xff\xfe", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_bad_policies_name_the_line_or_field(body: bytes, part: str) -> None:
    """A policy that breaks the §3.2 grammar is an error naming what is wrong."""
    with pytest.raises(PolicyError, match=part):
        parse_policy(body, URL)


def test_max_age_above_limit_is_a_warning() -> None:
    """max_age above 31557600 is read, with a warning (RFC 8461 §3.2)."""
    body = b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n"
    policy = parse_policy(body, URL)
    assert policy.max_age == 31557601
    assert "31557600" in policy.warnings[0]


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("mail.example.com", ("mail.example.com",), "mail.example.com"),
        ("MAIL.Example.COM.", ("mail.example.com",), "mail.example.com"),
        ("mx1.example.net", ("*.example.net",), "*.example.net"),
        ("example.net", ("*.example.net",), None),
        ("a.b.example.net", ("*.example.net",), None),
        ("mx1.example.org", ("*.example.net", "mail.example.com"), None),
        ("xexample.net", ("*.example.net",), None),
    ],
)
def test_mx_patterns_cover_one_label(
    host: str, patterns: tuple[str, ...], expected: str | None
) -> None:
    """A pattern matches exactly, or "*." stands for one leftmost label (§4.1)."""
    assert pattern_for(host, patterns) == expected
