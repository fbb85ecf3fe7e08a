"""
The test world of the domain check: DNS records of test domains (some in "signed"
zones, whose answers carry the AD bit), STARTTLS MX servers on port 25 and HTTPS
policy hosts on port 443, each on its own loopback address, with trustme certificates.

``build_world`` writes certificates and a JSON spec into a directory;
``tests.mxcheck.lab`` serves it inside a network namespace. TLSA data is computed
here with ``cryptography``, independently of the product's own DER reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.probe.servers import make_cert

# Zones whose answers the lab's DNS server marks as DNSSEC-validated (AD).
SIGNED_ZONES = ("dane.test",)
# Policy bodies (RFC 8461 §3.2), some with CRLF line ends as the RFC allows.
ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: *.mail.test\r\nmax_age: 604800\r\n"
TESTING = "version: STSv1\nmode: testing\nmx: *.mail.test\nmax_age: 86400\n"
NONE_MODE = "version: STSv1\nmode: none\nmax_age: 86400\n"
PLAIN_ONLY = "version: STSv1\nmode: enforce\nmx: plain.mail.test\nmax_age: 86400\n"
BAD_SYNTAX = "version: STSv1\nmode: enforced\nmx: mx1.mail.test\nmax_age: 86400\n"
POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass
class Route:
    """
    What an HTTPS server answers for a path.
    """

    status: int = 200
    reason: str = "OK"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    stall: bool = False
    # Send ``body`` and ``headers`` exactly as given (no Content-Length, no chunking).
    raw: bool = False
    # Hang up after this many bytes of the status line and headers.
    cut_head: int | None = None


@dataclass
class Server:
    """
    One lab server: SMTP (port 25) or HTTPS (port 443) on its own loopback address.
    """

    name: str
    kind: str
    address: str
    cert: str | None = None
    key: str | None = None
    routes: dict[str, Route] = field(default_factory=dict)


@dataclass
class World:
    """
    Everything the lab serves, and what tests need to know about it.
    """

    root: Path
    cafile: str
    records: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)

    def add(self, name: str, rdtype: str, *values: str) -> None:
        """
        Add records to the zone.
        """
        self.records.setdefault(name.lower(), {}).setdefault(rdtype, []).extend(values)

    def serve(self, server: Server) -> Server:
        """
        Add a server.
        """
        self.servers.append(server)
        return server

    def spec_path(self) -> Path:
        """
        Write the lab's JSON spec and return its path.
        """
        path = self.root / "world.json"
        spec = {
            "signed": list(SIGNED_ZONES),
            "records": self.records,
            "servers": [asdict(s) for s in self.servers],
        }
        path.write_text(json.dumps(spec, indent=1))
        return path


def _pem(root: Path, name: str, cert: bytes, key: bytes) -> tuple[str, str]:
    """
    Write a PEM chain and key; return their paths.
    """
    chain, key_path = root / f"{name}.crt", root / f"{name}.key"
    chain.write_bytes(cert)
    key_path.write_bytes(key)
    return str(chain), str(key_path)


def _leaf(root: Path, name: str, leaf: trustme.LeafCert) -> tuple[str, str]:
    """
    Write a trustme leaf (with its intermediates) and key.
    """
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    return _pem(root, name, chain, leaf.private_key_pem.bytes())


def spki_sha256(pem: bytes) -> str:
    """
    SHA-256 of a certificate's SubjectPublicKeyInfo (TLSA selector 1, type 1), hex.
    """
    cert = x509.load_pem_x509_certificate(pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def cert_digest(pem: bytes, algorithm: str) -> str:
    """
    A digest of a whole DER certificate (TLSA selector 0), hex.
    """
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.new(algorithm, der).hexdigest()


def txt(*strings: str) -> str:
    """
    TXT rdata text: each string quoted.
    """
    return " ".join('"' + s.replace('"', '\\"') + '"' for s in strings)


def build_world(root: Path) -> World:
    """
    Build the test world under ``root``.
    """
    public = trustme.CA()  # the CA senders trust (given as --cafile)
    private = trustme.CA()  # a CA nobody trusts, anchoring DANE-TA chains
    private_inter = private.create_child_ca()
    cafile = root / "public-ca.pem"
    public.cert_pem.write_to_path(str(cafile))
    world = World(root, str(cafile))

    def smtp(
        name: str, address: str, host: str, *, cert: tuple[str, str] | None
    ) -> None:
        world.serve(
            Server(
                name,
                "smtp",
                address,
                cert[0] if cert else None,
                cert[1] if cert else None,
            )
        )
        world.add(host, "A", address)

    # MX hosts of a provider zone (unsigned), certificates from the trusted CA.
    smtp(
        "mx1",
        "127.0.1.1",
        "mx1.mail.test",
        cert=_leaf(root, "mx1", public.issue_cert("mx1.mail.test")),
    )
    smtp(
        "mx2",
        "127.0.1.2",
        "mx2.mail.test",
        cert=_leaf(root, "mx2", public.issue_cert("mx2.mail.test")),
    )
    smtp(
        "wrongname",
        "127.0.1.3",
        "bad.mail.test",
        cert=_leaf(root, "wrongname", public.issue_cert("other.mail.test")),
    )
    smtp("plain", "127.0.1.4", "plain.mail.test", cert=None)
    smtp(
        "deep",
        "127.0.1.5",
        "a.deep.mail.test",
        cert=_leaf(root, "deep", public.issue_cert("a.deep.mail.test")),
    )
    # DANE: a self-signed certificate (DANE-EE), one from an untrusted private CA via an
    # intermediate the server sends (DANE-TA), and one of those for another name.
    now = dt.datetime.now(dt.UTC)
    ee_pem, ee_key = make_cert(
        issuer=None,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=90),
        names=("mx-ee.dane.test",),
    )
    smtp(
        "dane-ee",
        "127.0.1.6",
        "mx-ee.dane.test",
        cert=_pem(root, "dane-ee", ee_pem, ee_key),
    )
    world.add("mx-ee-bad.dane.test", "A", "127.0.1.6")
    world.add("mx-ee-cert.dane.test", "A", "127.0.1.6")
    world.add("mx-ee.unsigned.test", "A", "127.0.1.6")
    smtp(
        "dane-ta",
        "127.0.1.7",
        "mx-ta.dane.test",
        cert=_leaf(root, "dane-ta", private_inter.issue_cert("mx-ta.dane.test")),
    )
    world.add("mx-tabad.dane.test", "A", "127.0.1.7")
    smtp(
        "dane-ta-name",
        "127.0.1.8",
        "mx-taname.dane.test",
        cert=_leaf(root, "dane-ta-name", private_inter.issue_cert("other.dane.test")),
    )
    world.add("plain.dane.test", "A", "127.0.1.4")
    smtp(
        "implicit",
        "127.0.1.9",
        "nomx.test",
        cert=_leaf(root, "implicit", public.issue_cert("nomx.test")),
    )
    smtp(
        "private-mx",
        "127.0.3.2",
        "mx.private-net.test",
        cert=_leaf(root, "private-mx", public.issue_cert("mx.private-net.test")),
    )

    def https(
        name: str,
        address: str,
        host: str,
        routes: dict[str, Route],
        *,
        cert_name: str | None = None,
    ) -> None:
        leaf = public.issue_cert(cert_name or host)
        chain, key = _leaf(root, name, leaf)
        world.serve(Server(name, "https", address, chain, key, routes))
        world.add(host, "A", address)

    def policy(body: str, media: str = "text/plain") -> dict[str, Route]:
        return {POLICY_PATH: Route(body=body, headers={"Content-Type": media})}

    def sts(domain: str, record: str = "v=STSv1; id=20240501") -> None:
        world.add(f"_mta-sts.{domain}", "TXT", txt(record))

    # enforce.test: two covered MX, enforce, TLS-RPT split over two TXT strings.
    world.add("enforce.test", "MX", "10 mx1.mail.test.", "20 mx2.mail.test.")
    sts("enforce.test")
    world.add("_mta-sts.enforce.test", "TXT", txt("google-site-verification=abc"))
    https("sts-enforce", "127.0.2.1", "mta-sts.enforce.test", policy(ENFORCE))
    world.add(
        "_smtp._tls.enforce.test",
        "TXT",
        txt(
            "v=TLSRPTv1; rua=mailto:tlsrpt@enforce.test,",
            "https://reports.enforce.test/tlsrpt",
        ),
    )
    # testing.test / badcert.test: an MX whose certificate names another host.
    world.add("testing.test", "MX", "10 bad.mail.test.")
    sts("testing.test", "v=STSv1; id=1")
    https("sts-testing", "127.0.2.2", "mta-sts.testing.test", policy(TESTING))
    world.add("badcert.test", "MX", "10 bad.mail.test.")
    sts("badcert.test")
    https("sts-badcert", "127.0.2.10", "mta-sts.badcert.test", policy(ENFORCE))
    # uncovered.test: a.deep.mail.test has two labels where *.mail.test covers one.
    world.add("uncovered.test", "MX", "10 mx1.mail.test.", "20 a.deep.mail.test.")
    sts("uncovered.test")
    https("sts-uncovered", "127.0.2.11", "mta-sts.uncovered.test", policy(ENFORCE))
    # nostarttls.test: the only MX offers no STARTTLS, under enforce.
    world.add("nostarttls.test", "MX", "10 plain.mail.test.")
    sts("nostarttls.test")
    https("sts-nostarttls", "127.0.2.12", "mta-sts.nostarttls.test", policy(PLAIN_ONLY))
    # modenone.test: a policy in mode none.
    world.add("modenone.test", "MX", "10 mx1.mail.test.")
    sts("modenone.test")
    https("sts-modenone", "127.0.2.13", "mta-sts.modenone.test", policy(NONE_MODE))
    # Records whose policy cannot be used.
    for domain in ("nohttps", "wrongcert", "notfound", "badsyntax", "redirect", "html"):
        world.add(f"{domain}.test", "MX", "10 mx1.mail.test.")
        sts(f"{domain}.test")
    world.add("mta-sts.nohttps.test", "A", "127.0.2.99")  # nothing listens there
    https(
        "sts-wrongcert",
        "127.0.2.3",
        "mta-sts.wrongcert.test",
        policy(ENFORCE),
        cert_name="mta-sts.other.test",
    )
    https("sts-notfound", "127.0.2.4", "mta-sts.notfound.test", {})
    https("sts-badsyntax", "127.0.2.5", "mta-sts.badsyntax.test", policy(BAD_SYNTAX))
    https(
        "sts-redirect",
        "127.0.2.6",
        "mta-sts.redirect.test",
        {
            POLICY_PATH: Route(
                301,
                "Moved Permanently",
                headers={"Location": "https://mta-sts.enforce.test" + POLICY_PATH},
            )
        },
    )
    https(
        "sts-html",
        "127.0.2.8",
        "mta-sts.html.test",
        policy(ENFORCE, "text/html; charset=utf-8"),
    )
    # Policies served chunked (fine), too large, or never.
    for domain in ("chunked", "huge", "stall"):
        world.add(f"{domain}.test", "MX", "10 mx1.mail.test.")
        sts(f"{domain}.test")
    https(
        "sts-chunked",
        "127.0.2.15",
        "mta-sts.chunked.test",
        {
            POLICY_PATH: Route(
                body=ENFORCE, headers={"Content-Type": "text/plain"}, chunked=True
            )
        },
    )
    padding = "".join(f"x-pad{i}: {'a' * 60}\n" for i in range(1100))
    https("sts-huge", "127.0.2.16", "mta-sts.huge.test", policy(ENFORCE + padding))
    https(
        "sts-stall",
        "127.0.2.17",
        "mta-sts.stall.test",
        {POLICY_PATH: Route(stall=True)},
    )
    # Policy hosts whose answers are broken in ways a careless parser trips over: a
    # Content-Length that is a digit to Unicode but not to HTTP (RFC 9110 §8.6:
    # 1*DIGIT, ASCII only), and a negative chunk size (RFC 9112 §7.1: 1*HEXDIG).
    for domain in ("badlength", "badchunk"):
        world.add(f"{domain}.test", "MX", "10 mx1.mail.test.")
        sts(f"{domain}.test")
    https(
        "sts-badlength",
        "127.0.2.18",
        "mta-sts.badlength.test",
        {
            POLICY_PATH: Route(
                body=ENFORCE,
                headers={"Content-Type": "text/plain", "Content-Length": "\u00b2"},
                raw=True,
            )
        },
    )
    https(
        "sts-badchunk",
        "127.0.2.19",
        "mta-sts.badchunk.test",
        {
            POLICY_PATH: Route(
                body="-1\r\nversion: STSv1\r\n0\r\n\r\n",
                headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
                raw=True,
            )
        },
    )
    # An MX that does not answer at all, next to a good one.
    world.add("deadmx.test", "MX", "10 mx1.mail.test.", "20 dead.mail.test.")
    world.add("dead.mail.test", "A", "127.0.1.99")
    # DNS failures: a TLSA lookup under signed MX records, and the MX lookup itself.
    world.add("tlsafail.dane.test", "MX", "10 mx-servfail.dane.test.")
    world.add("mx-servfail.dane.test", "A", "127.0.1.6")
    world.add("_25._tcp.mx-servfail.dane.test", "SERVFAIL")
    world.add("bogus.dane.test", "SERVFAIL")
    # Records senders must not act on: the policy host is there but must stay untouched.
    world.add("badtxt.test", "MX", "10 mx1.mail.test.")
    sts("badtxt.test", "v=STSv1; id=2024-05-01")
    https("sts-badtxt", "127.0.2.7", "mta-sts.badtxt.test", policy(ENFORCE))
    world.add("twotxt.test", "MX", "10 mx1.mail.test.")
    sts("twotxt.test", "v=STSv1; id=1")
    sts("twotxt.test", "v=STSv1; id=2")
    https("sts-twotxt", "127.0.2.14", "mta-sts.twotxt.test", policy(ENFORCE))
    world.add("nosts.test", "MX", "10 mx1.mail.test.")
    https("sts-nosts", "127.0.2.9", "mta-sts.nosts.test", policy(ENFORCE))
    # TLS-RPT records that are wrong.
    world.add("rptbad.test", "MX", "10 mx1.mail.test.")
    world.add(
        "_smtp._tls.rptbad.test",
        "TXT",
        txt("v=TLSRPTv1; rua=ftp://reports.rptbad.test/x"),
    )
    world.add("rptipv6.test", "MX", "10 mx1.mail.test.")
    world.add(
        "_smtp._tls.rptipv6.test",
        "TXT",
        txt("v=TLSRPTv1; rua=mailto:tls@rptipv6.test,https://[2001:db8::1/tlsrpt"),
    )
    world.add("rptnorua.test", "MX", "10 mx1.mail.test.")
    world.add(
        "_smtp._tls.rptnorua.test", "TXT", txt("v=TLSRPTv1; ruf=mailto:x@rptnorua.test")
    )
    # DANE, with the recipient domains and MX hosts in the signed zone dane.test.
    ee_spki = spki_sha256(ee_pem)
    ta_pem = private_inter.cert_pem.bytes()
    for domain, mx in (
        ("ee-ok", "mx-ee"),
        ("ee-bad", "mx-ee-bad"),
        ("ee-cert", "mx-ee-cert"),
        ("ta-ok", "mx-ta"),
        ("ta-name", "mx-taname"),
        ("ta-bad", "mx-tabad"),
        ("nostarttls", "plain"),
    ):
        world.add(f"{domain}.dane.test", "MX", f"10 {mx}.dane.test.")
    world.add("_25._tcp.mx-ee.dane.test", "TLSA", f"3 1 1 {ee_spki}")
    world.add("_25._tcp.mx-ee-bad.dane.test", "TLSA", f"3 1 1 {'00' * 32}")
    world.add(
        "_25._tcp.mx-ee-cert.dane.test",
        "TLSA",
        f"3 1 1 {'11' * 32}",
        f"3 0 2 {cert_digest(ee_pem, 'sha512')}",
    )
    world.add(
        "_25._tcp.mx-ta.dane.test", "TLSA", f"2 0 1 {cert_digest(ta_pem, 'sha256')}"
    )
    world.add("_25._tcp.mx-taname.dane.test", "TLSA", f"2 1 1 {spki_sha256(ta_pem)}")
    world.add(
        "_25._tcp.mx-tabad.dane.test",
        "TLSA",
        f"2 0 1 {cert_digest(public.cert_pem.bytes(), 'sha256')}",
    )
    world.add("_25._tcp.plain.dane.test", "TLSA", f"3 1 1 {ee_spki}")
    # The same records where DNSSEC does not vouch for them.
    world.add("unsigned.test", "MX", "10 mx-ee.unsigned.test.")
    world.add("_25._tcp.mx-ee.unsigned.test", "TLSA", f"3 1 1 {'00' * 32}")
    world.add("mixed.dane.test", "MX", "10 mx-ee.unsigned.test.")
    # Unsigned domains hosted on signed MX hosts with TLSA records.
    world.add("hosted.test", "MX", "10 mx-ee.dane.test.")
    world.add("hosted-bad.test", "MX", "10 mx-ee-bad.dane.test.")
    # A TXT record that looks like MTA-STS but is another version: senders discard it
    # (RFC 8461 §3.1), so its policy host must stay untouched.
    world.add("stsv10.test", "MX", "10 mx1.mail.test.")
    sts("stsv10.test", "v=STSv10; id=1")
    https("sts-stsv10", "127.0.2.20", "mta-sts.stsv10.test", policy(ENFORCE))
    # Servers that misbehave in ways nothing anticipates: a policy host that hangs up
    # inside its header lines, DNS answers cut off inside their records, TLSA records
    # whose data does not parse (two bytes) or holds nothing to match (three).
    world.add("midheaders.test", "MX", "10 mx1.mail.test.")
    sts("midheaders.test")
    https(
        "sts-midheaders",
        "127.0.2.21",
        "mta-sts.midheaders.test",
        {
            POLICY_PATH: Route(
                headers={"Content-Type": "text/plain", "Content-Length": "90"},
                cut_head=31,
            )
        },
    )
    world.add("dnsbroken.test", "MX", "10 mx1.mail.test.")
    world.add("_mta-sts.dnsbroken.test", "TXT", txt("v=STSv1; id=1"))
    world.add("_mta-sts.dnsbroken.test", "MALFORMED")
    world.add("_smtp._tls.dnsbroken.test", "MALFORMED")
    world.add("mxmalformed.test", "MX", "10 mx1.mail.test.")
    world.add("mxmalformed.test", "MALFORMED")
    for domain, mx, data in (
        ("tlsagarbage", "mx-garbage", "\\# 0301"),
        ("tlsaempty", "mx-empty", "\\# 030101"),
        ("tlsacut", "mx-cut", None),
    ):
        world.add(f"{domain}.dane.test", "MX", f"10 {mx}.dane.test.")
        world.add(f"{mx}.dane.test", "A", "127.0.1.6")
        if data is None:
            world.add(f"_25._tcp.{mx}.dane.test", "TLSA", f"3 1 1 {ee_spki}")
            world.add(f"_25._tcp.{mx}.dane.test", "MALFORMED")
        else:
            world.add(f"_25._tcp.{mx}.dane.test", "TLSA", data)
    # DANE through CNAMEs (RFC 7672 §2.2.2): TLSA records at the expanded name, at the
    # alias when the expanded name has none, and none at all when the chain leaves
    # the signed zone (the address records are then not validated).
    world.add("ee-cname.dane.test", "MX", "10 alias-ee.dane.test.")
    world.add("alias-ee.dane.test", "CNAME", "mx-ee.dane.test.")
    world.add("_25._tcp.alias-ee.dane.test", "TLSA", f"3 1 1 {'22' * 32}")
    world.add("ee-fallback.dane.test", "MX", "10 alias-fb.dane.test.")
    world.add("alias-fb.dane.test", "CNAME", "mx-ee-plain.dane.test.")
    world.add("mx-ee-plain.dane.test", "A", "127.0.1.6")
    world.add("_25._tcp.alias-fb.dane.test", "TLSA", f"3 1 1 {ee_spki}")
    world.add("ta-cname.dane.test", "MX", "10 alias-ta.dane.test.")
    world.add("alias-ta.dane.test", "CNAME", "mx-ta.dane.test.")
    world.add("insecure-cname.dane.test", "MX", "10 alias-ins.dane.test.")
    world.add("alias-ins.dane.test", "CNAME", "mx-ee.unsigned.test.")
    world.add("_25._tcp.alias-ins.dane.test", "TLSA", f"3 1 1 {'00' * 32}")
    # A null MX next to an ordinary one (RFC 7505 §3: MUST NOT).
    world.add("nullmixed.test", "MX", "0 .", "10 mx1.mail.test.")
    # No MX, null MX; NXDOMAIN is every name not listed.
    world.add("nomx.test", "TXT", txt("v=spf1 -all"))
    world.add("nullmx.test", "MX", "0 .")
    # Targets outside the address range a run allows.
    world.add("private.test", "MX", "10 mx1.mail.test.")
    sts("private.test")
    https("sts-private", "127.0.3.1", "mta-sts.private.test", policy(ENFORCE))
    world.add("mxprivate.test", "MX", "10 mx.private-net.test.")
    return world


def load_spec(path: Path) -> dict[str, Any]:
    """
    Read a spec written by ``World.spec_path``.
    """
    data: dict[str, Any] = json.loads(path.read_text())
    return data
