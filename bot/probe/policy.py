"""
Which targets a probe may reach: the address and port policy, and RFC 6761 names.

Pure: nothing here touches the network. The bot probes hosts that users name, so every
address is checked *after* resolution and the probe connects to exactly the address that
was checked (no second lookup, hence no DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from bot.errors import ConfigError, InputError, ProbeRefusedError
from bot.probe.frozen import Frozen
from bot.probe.target import IPAddress, parse_port

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# DESIGN.md: the ports probes may use unless PROBE_PORTS says otherwise.
DEFAULT_PORTS = frozenset({25, 465, 587, 2525})

# Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS ECS, AWS IPv6,
# Alibaba, Oracle): reaching one from the bot could leak credentials, so a
# PROBE_ALLOW_CIDRS range that happens to cover one does not open it; only the
# operator's --allow-private does.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.123",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
    )
)

# RFC 6761 §6.4: "invalid" names never resolve; RFC 7686: ".onion" must not go to DNS.
_NEVER_RESOLVE = ("invalid", "onion")
# RFC 6761 §6.3: "localhost" names are the loopback addresses, answered without DNS.
_LOOPBACK_NAMES = ("localhost",)


def special_name_addresses(host: str) -> tuple[str, ...] | None:
    """
    Answer RFC 6761 special-use names locally: () never resolves, loopback for
    localhost.

    Returns None for ordinary names, which go to the resolver.
    """
    for suffix in _NEVER_RESOLVE:
        if host == suffix or host.endswith("." + suffix):
            return ()
    for suffix in _LOOPBACK_NAMES:
        if host == suffix or host.endswith("." + suffix):
            return ("127.0.0.1", "::1")
    return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """
    The IPv4 address inside an IPv4-mapped, NAT64 (RFC 6052) or 6to4 (RFC 3056) address.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


# RFC 6052 §2.1 well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches a.b.c.d.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_kind(address: IPAddress) -> str | None:
    """
    Name what makes an address unfit for a probe ("loopback", "private", ...), or None.
    """
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-global"),
    )
    return next((kind for hit, kind in checks if hit), None)


# Never a mail server, whatever the allow-list says: a TCP connect to these means
# nothing (Linux even maps 0.0.0.0 to the local host).
_NEVER_ALLOWED = ("unspecified", "multicast")


class ProbePolicy(Frozen):
    """
    The addresses and ports a probe may reach.

    ``allow_private`` and ``any_port`` are the operator's own command-line choice
    (``--allow-private``, an explicit port); the bot's Slack side never sets them.
    """

    allow_cidrs: tuple[IPNetwork, ...] = ()
    ports: frozenset[int] = DEFAULT_PORTS
    allow_private: bool = False
    any_port: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProbePolicy:
        """
        Build the policy from ``PROBE_ALLOW_CIDRS`` and ``PROBE_PORTS``.

        Raises:
            ConfigError: a variable is malformed; the message names it.
        """
        return cls(
            allow_cidrs=_parse_cidrs(env.get("PROBE_ALLOW_CIDRS", "")),
            ports=_parse_ports(env.get("PROBE_PORTS", "")),
        )

    def refusal(self, address: IPAddress) -> str | None:
        """
        Say why ``address`` may not be probed, or None when it may.
        """
        # An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge that.
        checked = embedded_ipv4(address) or address
        kind = address_kind(checked)
        if kind is None:
            return None
        shown = (
            str(address) if checked == address else f"{address} (carrying {checked})"
        )
        if kind in _NEVER_ALLOWED:
            return f"{shown} is a {kind} address, never a mail server"
        if self.allow_private:
            return None
        if kind == "cloud metadata":
            return f"{shown} is a cloud metadata address"
        if any(checked.version == n.version and checked in n for n in self.allow_cidrs):
            return None
        return (
            f"{shown} is a {kind} address "
            "(allow it with PROBE_ALLOW_CIDRS or --allow-private)"
        )

    def check_address(self, address: IPAddress) -> None:
        """
        Refuse an address the policy does not allow.

        Raises:
            ProbeRefusedError: the address is not allowed.
        """
        reason = self.refusal(address)
        if reason is not None:
            raise ProbeRefusedError(f"refused to probe: {reason}")

    def check_port(self, port: int) -> None:
        """
        Refuse a port outside ``PROBE_PORTS`` (unless the operator chose it).

        Raises:
            ProbeRefusedError: the port is not in ``PROBE_PORTS``.
        """
        if not self.any_port and port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise ProbeRefusedError(
                f"refused to probe port {port}: "
                f"allowed ports are {allowed} (PROBE_PORTS)"
            )

    def allowed(self, addresses: Iterable[str]) -> tuple[str, ...]:
        """
        Keep the addresses that may be probed, in order.
        """
        return tuple(
            a for a in addresses if self.refusal(ipaddress.ip_address(a)) is None
        )


def _parse_cidrs(text: str) -> tuple[IPNetwork, ...]:
    """
    Parse a comma-separated CIDR list such as ``127.0.0.0/8, ::1/128``.
    """
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                "PROBE_ALLOW_CIDRS", f"{item!r} is not a CIDR range"
            ) from None
    return tuple(networks)


def _parse_ports(text: str) -> frozenset[int]:
    """
    Parse a comma-separated port list; empty means ``DEFAULT_PORTS``.
    """
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        return DEFAULT_PORTS
    try:
        return frozenset(parse_port(item) for item in items)
    except InputError as exc:
        raise ConfigError("PROBE_PORTS", str(exc)) from None
