"""
Target parsing and the address/port policy: what the probe may reach, refused before any
packet is sent.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import ConfigError, InputError, ProbeRefusedError
from bot.probe import ProbePolicy, Target, parse_target, probe, probe_ports
from bot.probe.policy import DEFAULT_PORTS, address_kind, special_name_addresses

STRICT = ProbePolicy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.com", Target("mail.example.com")),
        ("Mail.Example.COM.", Target("mail.example.com")),
        ("mail.example.com:587", Target("mail.example.com", 587)),
        ("192.0.2.10", Target("192.0.2.10")),
        ("192.0.2.10:25", Target("192.0.2.10", 25)),
        ("[2001:db8::1]:465", Target("2001:db8::1", 465)),
        ("[2001:DB8::1]", Target("2001:db8::1")),
        ("2001:db8::1", Target("2001:db8::1")),
        ("::1", Target("::1")),
        ("  smtp.example.org  ", Target("smtp.example.org")),
        ("bücher.example", Target("xn--bcher-kva.example")),
        ("_submission._tcp.example.com", Target("_submission._tcp.example.com")),
    ],
)
def test_parse_target_forms(text: str, expected: Target) -> None:
    """Every DESIGN.md target form parses to host and port."""
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mail example.com",
        "mail.example.com:0",
        "mail.example.com:65536",
        "mail.example.com:smtp",
        "[192.0.2.1]:25",
        "[2001:db8::1]:x",
        "[fe80::1%eth0]:25",
        "user@example.com",
        "http://mail.example.com/",
        "-bad-.example.com",
        "a" * 64 + ".example.com",
        "mail..example.com",
        "mail.example.com\r\nMAIL FROM:<x>",
    ],
)
def test_parse_target_rejects(text: str) -> None:
    """Malformed targets are input errors, never probes."""
    with pytest.raises(InputError):
        parse_target(text)


@given(st.ip_addresses(), st.integers(1, 65535))
def test_parse_target_round_trips_addresses(address: object, port: int) -> None:
    """Any IP with any port parses back to the same address and port."""
    ip = ipaddress.ip_address(str(address))
    text = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    target = parse_target(text)
    assert ipaddress.ip_address(target.host) == ip
    assert target.port == port
    assert parse_target(str(target)) == target


@given(st.text(max_size=80))
def test_parse_target_never_crashes(text: str) -> None:
    """Arbitrary text either parses or raises InputError, nothing else."""
    try:
        target = parse_target(text)
    except InputError:
        return
    assert target.host and " " not in target.host
    assert target.port is None or 0 < target.port < 65536


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fd12::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("100.64.0.1", "non-global"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_kind(address: str, kind: str | None) -> None:
    """Special-purpose addresses are named; public ones are not."""
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "::ffff:169.254.169.254"],
)
def test_ipv6_carrying_private_ipv4_is_refused(address: str) -> None:
    """IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4 they carry."""
    assert STRICT.refusal(ipaddress.ip_address(address)) is not None


def test_nat64_of_public_address_is_allowed() -> None:
    """A NAT64 address of a public IPv4 host is public."""
    assert STRICT.refusal(ipaddress.ip_address("64:ff9b::808:808")) is None


def test_from_env_defaults() -> None:
    """With nothing set, no private range is allowed and the DESIGN.md ports are."""
    policy = ProbePolicy.from_env({})
    assert policy.allow_cidrs == ()
    assert policy.ports == DEFAULT_PORTS == frozenset({25, 465, 587, 2525})


def test_from_env_parses_lists() -> None:
    """PROBE_ALLOW_CIDRS and PROBE_PORTS are comma-separated lists."""
    policy = ProbePolicy.from_env(
        {"PROBE_ALLOW_CIDRS": "127.0.0.0/8, ::1/128", "PROBE_PORTS": "25, 2525"}
    )
    assert policy.allow_cidrs == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert policy.ports == frozenset({25, 2525})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PROBE_ALLOW_CIDRS": "127.0.0.0/8,not-a-range"}, "PROBE_ALLOW_CIDRS"),
        ({"PROBE_PORTS": "25,seventy"}, "PROBE_PORTS"),
        ({"PROBE_PORTS": "0"}, "PROBE_PORTS"),
    ],
)
def test_from_env_names_the_bad_variable(env: dict[str, str], variable: str) -> None:
    """A malformed variable raises ConfigError naming it."""
    with pytest.raises(ConfigError) as info:
        ProbePolicy.from_env(env)
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_allow_cidrs_opens_loopback_only() -> None:
    """PROBE_ALLOW_CIDRS=127.0.0.0/8 allows loopback and nothing else private."""
    policy = ProbePolicy.from_env({"PROBE_ALLOW_CIDRS": "127.0.0.0/8"})
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.2")) is None
    assert policy.refusal(ipaddress.ip_address("10.0.0.1")) is not None
    assert policy.refusal(ipaddress.ip_address("::1")) is not None


def test_allow_cidrs_never_opens_metadata() -> None:
    """A range covering a cloud metadata address does not open it."""
    policy = ProbePolicy.from_env({"PROBE_ALLOW_CIDRS": "169.254.0.0/16,100.64.0.0/10"})
    assert policy.refusal(ipaddress.ip_address("169.254.1.1")) is None
    assert "metadata" in (policy.refusal(ipaddress.ip_address("169.254.169.254")) or "")
    assert "metadata" in (policy.refusal(ipaddress.ip_address("100.100.100.200")) or "")


def test_allow_private_never_opens_unspecified_or_multicast() -> None:
    """--allow-private does not make 0.0.0.0 or multicast a mail server."""
    policy = ProbePolicy(allow_private=True)
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is None
    assert policy.refusal(ipaddress.ip_address("0.0.0.0")) is not None
    assert policy.refusal(ipaddress.ip_address("ff02::1")) is not None


def test_special_names_are_answered_locally() -> None:
    """RFC 6761: .invalid never resolves and localhost is loopback, without DNS."""
    assert special_name_addresses("mail.invalid") == ()
    assert special_name_addresses("invalid") == ()
    assert special_name_addresses("abc.onion") == ()
    assert special_name_addresses("localhost") == ("127.0.0.1", "::1")
    assert special_name_addresses("mail.localhost") == ("127.0.0.1", "::1")
    assert special_name_addresses("mail.example.com") is None


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:25",
        "[::1]:25",
        "10.0.0.5:587",
        "192.168.0.1:25",
        "169.254.169.254:25",
        "[fd00:ec2::254]:25",
        "100.100.100.200:25",
        "[fe80::1]:25",
        "0.0.0.0:25",
        "224.0.0.1:25",
        "[::ffff:10.0.0.1]:25",
        "localhost:25",
        "mail.localhost:587",
    ],
)
async def test_private_targets_refused_without_a_packet(target: str) -> None:
    """Loopback, private, link-local and metadata targets are refused unconnected."""
    with pytest.raises(ProbeRefusedError, match="refused to probe"):
        await probe(target, policy=STRICT)


@pytest.mark.usefixtures("no_network")
async def test_disallowed_port_refused_without_a_packet() -> None:
    """A port outside PROBE_PORTS is refused before any lookup or connect."""
    with pytest.raises(ProbeRefusedError, match="port 8080"):
        await probe("mail.example.com:8080", policy=ProbePolicy.from_env({}))


@pytest.mark.usefixtures("no_network")
async def test_sweep_refuses_when_any_port_is_disallowed() -> None:
    """A sweep checks every port against PROBE_PORTS first."""
    policy = ProbePolicy.from_env({"PROBE_PORTS": "587"})
    with pytest.raises(ProbeRefusedError, match="port 25"):
        await probe_ports("mail.example.com", [587, 25, 465], policy=policy)


@pytest.mark.usefixtures("no_network")
async def test_metadata_refused_even_with_allow_cidrs() -> None:
    """PROBE_ALLOW_CIDRS covering 169.254/16 still refuses the metadata service."""
    policy = ProbePolicy.from_env({"PROBE_ALLOW_CIDRS": "169.254.0.0/16"})
    with pytest.raises(ProbeRefusedError, match="metadata"):
        await probe("169.254.169.254:25", policy=policy)


@pytest.mark.usefixtures("no_network")
async def test_bad_timeout_is_input_error() -> None:
    """A zero or absurd timeout is refused as bad input."""
    with pytest.raises(InputError):
        await probe("192.0.2.1:25", timeout=0)


async def test_numeric_spellings_of_loopback_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "127.1" and "2130706433" resolve (numerically) to loopback and are refused."""
    import socket

    def refuse(*args: object) -> None:
        raise AssertionError("connect attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("127.1", "2130706433", "0x7f.1"):
        try:
            target = parse_target(f"{name}:25")
        except InputError:
            continue
        with pytest.raises(ProbeRefusedError):
            await probe(target, policy=STRICT)
