"""
The probe against a real Postfix: a throwaway instance with its own config, queue and
data directories, on free 127.0.0.1 ports: STARTTLS (may), TLS required (encrypt, AUTH
only after TLS), plaintext AUTH allowed, and implicit TLS (wrappermode).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from bot.probe import Mode, ProbeResult, TlsContexts, assess, build_contexts, probe
from tests.probe.conftest import LOCAL
from tests.probe.servers import free_ports

pytestmark = pytest.mark.postfix

# The services of the throwaway instance: name -> master.cf options after "smtpd".
SERVICES = {
    "may": "",
    "encrypt": "-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_tls_auth_only=yes",
    "plain-auth": "-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no",
    "wrapper": "-o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes",
    # Hostile, the ways real servers are: a client certificate required (TLS 1.3 and,
    # with 1.3 off, TLS 1.2), only asked for, a 1024-bit DH group, TLS 1.0 only.
    "ccert": "-o smtpd_tls_security_level=encrypt -o smtpd_tls_req_ccert=yes",
    "ccert12": "-o smtpd_tls_security_level=encrypt -o smtpd_tls_req_ccert=yes "
    "-o smtpd_tls_mandatory_protocols=!SSLv2,!SSLv3,!TLSv1.3",
    "ask": "-o smtpd_tls_ask_ccert=yes",
    "dh1024": "-o smtpd_tls_dh1024_param_file={conf}/dh1024.pem "
    "-o smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1.3 "
    "-o smtpd_tls_chain_files={conf}/rsa.pem "
    "-o tls_medium_cipherlist=DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0",
    "tls10": "-o smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1.1,!TLSv1.2,!TLSv1.3 "
    "-o tls_medium_cipherlist=DEFAULT:@SECLEVEL=0",
}
# Internal services smtpd talks to; chroot off (5th column "n") so no jail is needed.
INTERNAL = """\
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
proxymap  unix  -       -       n       -       -       proxymap
rewrite   unix  -       -       n       -       -       trivial-rewrite
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_binary() -> str | None:
    """The postfix command, if installed."""
    found = shutil.which("postfix")
    if found is None and os.access("/usr/sbin/postfix", os.X_OK):
        found = "/usr/sbin/postfix"
    return found


@dataclass(frozen=True)
class Postfix:
    """A running throwaway Postfix."""

    binary: str
    config: Path
    log: Path
    ports: dict[str, int]
    cafile: str


def _write_config(root: Path, ports: dict[str, int], ca: trustme.CA) -> None:
    """main.cf and master.cf for an instance that lives entirely under ``root``."""
    conf, queue, data = root / "conf", root / "queue", root / "data"
    for directory in (conf, queue, data):
        directory.mkdir()
    shutil.chown(data, user="postfix")
    chain = conf / "chain.pem"
    ca.issue_cert(
        "mail.test", "127.0.0.1"
    ).private_key_and_cert_chain_pem.write_to_path(str(chain))
    (conf / "main.cf").write_text(
        f"""\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.test
mydestination =
smtpd_banner = $myhostname ESMTP postfix-test
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
smtpd_tls_chain_files = {chain}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = no
"""
    )
    rsa = ca.issue_cert("mail.test", "127.0.0.1", key_type=trustme.KeyType.RSA)
    rsa.private_key_and_cert_chain_pem.write_to_path(str(conf / "rsa.pem"))
    subprocess.run(
        ["openssl", "dhparam", "-out", str(conf / "dh1024.pem"), "1024"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = [
        f"127.0.0.1:{ports[name]} inet n - n - - smtpd {options}".format(
            conf=conf
        ).rstrip()
        for name, options in SERVICES.items()
    ]
    (conf / "master.cf").write_text("\n".join(lines) + "\n" + INTERNAL)


def _wait_listening(ports: dict[str, int], deadline: float) -> None:
    """Wait until every port accepts connections."""
    for port in ports.values():
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    """Start a throwaway Postfix on free loopback ports; stop and delete it after."""
    binary = postfix_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("postfix is not installed, and CI must run the Postfix tests")
        pytest.skip("postfix is not installed (apt-get install postfix)")
    # Postfix daemons run as the postfix user and must reach their directories, which
    # pytest's tmp_path (root's, mode 0700) forbids: use a traversable directory
    # instead.
    root = Path(tempfile.mkdtemp(prefix="smtpbot-postfix-"))
    root.chmod(0o711)
    config, log = root / "conf", root / "maillog"
    try:
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        ca = trustme.CA()
        cafile = root / "ca.pem"
        ca.cert_pem.write_to_path(str(cafile))
        _write_config(root, ports, ca)
        started = subprocess.run(
            [binary, "-c", str(config), "start"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, (
            f"postfix start failed: {started.stderr}{_tail(log)}"
        )
        _wait_listening(ports, time.monotonic() + 20)
        yield Postfix(binary, config, log, ports, str(cafile))
    finally:
        for action in ("stop", "abort"):
            subprocess.run(
                [binary, "-c", str(config), action], capture_output=True, timeout=60
            )
        shutil.rmtree(root, ignore_errors=True)


def _tail(log: Path) -> str:
    """The end of the instance's log, for failure messages."""
    return "\n" + log.read_text()[-2000:] if log.exists() else ""


@pytest.fixture(scope="module")
def postfix_contexts(postfix: Postfix) -> TlsContexts:
    """TLS contexts trusting the instance's CA."""
    return build_contexts(cafile=postfix.cafile)


async def run(
    postfix: Postfix, service: str, contexts: TlsContexts, **options: object
) -> ProbeResult:
    """Probe one service of the instance as mail.test."""
    return await probe(
        f"127.0.0.1:{postfix.ports[service]}",
        servername="mail.test",
        policy=LOCAL,
        contexts=contexts,
        timeout=8,
        **options,  # type: ignore[arg-type]
    )


async def test_starttls_may(postfix: Postfix, postfix_contexts: TlsContexts) -> None:
    """STARTTLS offered (security level may): ok, TLS 1.3, no AUTH anywhere."""
    result = await run(postfix, "may", postfix_contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.findings) == ("ok", ())
    assert result.mode is Mode.STARTTLS
    assert result.banner == "220 mail.test ESMTP postfix-test"
    assert "STARTTLS" in result.extensions_before_tls
    assert "STARTTLS" not in result.extensions_after_tls
    assert result.tls is not None and result.tls.version == "TLSv1.3"
    assert (
        result.cert is not None and result.cert.trusted and result.cert.hostname_match
    )


async def test_tls_required_auth_only_after_tls(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """TLS required, AUTH only after TLS (smtpd_tls_auth_only): ok, AUTH after TLS."""
    result = await run(postfix, "encrypt", postfix_contexts)
    assert assess(result).verdict == "ok"
    assert result.auth_before_tls == ()
    assert {"PLAIN", "LOGIN"} <= set(result.auth_after_tls)


async def test_plaintext_auth_warns(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """AUTH offered before STARTTLS (smtpd_tls_auth_only = no): warn auth-before-tls."""
    result = await run(postfix, "plain-auth", postfix_contexts)
    verdict = assess(result)
    assert (verdict.verdict, [f.id for f in verdict.findings]) == (
        "warn",
        ["auth-before-tls"],
    )
    assert "PLAIN" in result.auth_before_tls


async def test_wrappermode_detected_as_implicit_tls(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """smtpd_tls_wrappermode: auto mode detects implicit TLS and says so."""
    result = await run(postfix, "wrapper", postfix_contexts)
    verdict = assess(result)
    assert result.mode is Mode.TLS
    assert (verdict.verdict, [f.id for f in verdict.findings]) == (
        "ok",
        ["implicit-tls"],
    )
    assert result.banner == "220 mail.test ESMTP postfix-test"
    assert {"PLAIN", "LOGIN"} <= set(result.auth_after_tls)


async def test_starttls_mode_on_wrappermode(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """--mode starttls against wrappermode is tls-port-mismatch."""
    result = await run(postfix, "wrapper", postfix_contexts, mode=Mode.STARTTLS)
    assert assess(result).category == "tls-port-mismatch"


async def test_tls_mode_on_starttls_service(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """--mode tls against a STARTTLS service is tls-port-mismatch."""
    result = await run(postfix, "may", postfix_contexts, mode=Mode.TLS)
    assert assess(result).category == "tls-port-mismatch"
    assert result.mode is Mode.STARTTLS


async def test_untrusted_without_the_ca(postfix: Postfix) -> None:
    """Without the instance's CA the chain is untrusted; the certificate still shows."""
    result = await run(postfix, "may", build_contexts())
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-cert-untrusted")
    assert result.cert is not None and result.cert.info is not None
    assert "mail.test" in result.cert.info.sans


async def test_postfix_saw_only_ehlo_starttls_quit(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """Postfix's own log shows the probe sent no MAIL, RCPT, AUTH or DATA."""
    await run(postfix, "encrypt", postfix_contexts)
    deadline = time.monotonic() + 5
    while (
        "disconnect from" not in postfix.log.read_text() and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    disconnects = [
        line
        for line in postfix.log.read_text().splitlines()
        if "disconnect from" in line
    ]
    assert disconnects
    for line in disconnects:
        assert not any(
            f" {verb}=" in line for verb in ("mail", "rcpt", "auth", "data", "bdat")
        )


def _ids(result: ProbeResult) -> list[str]:
    """The finding ids of a result, in the verdict's order."""
    return [f.id for f in assess(result).findings]


@pytest.mark.parametrize("service", ["ccert", "ccert12"])
async def test_client_certificate_required(
    postfix: Postfix, postfix_contexts: TlsContexts, service: str
) -> None:
    """smtpd_tls_req_ccert (TLS 1.3; TLS 1.2 only): client-cert-required, every run."""
    for _ in range(5):
        result = await run(postfix, service, postfix_contexts)
        verdict = assess(result)
        assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
        assert verdict.findings[0].id == "client-cert-required"
        assert result.client_cert_requested


async def test_client_certificate_asked_only(
    postfix: Postfix, postfix_contexts: TlsContexts
) -> None:
    """smtpd_tls_ask_ccert: the server asks, goes on without one: ok."""
    result = await run(postfix, "ask", postfix_contexts)
    assert assess(result).verdict == "ok"
    assert result.client_cert_requested


async def test_dh_1024(postfix: Postfix, postfix_contexts: TlsContexts) -> None:
    """A 1024-bit DH group (smtpd_tls_dh1024_param_file, DHE only): weak-dh, fail."""
    result = await run(postfix, "dh1024", postfix_contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    assert _ids(result)[0] == "weak-dh"
    assert "1024-bit DH" in verdict.findings[0].message


async def test_tls10_only(postfix: Postfix, postfix_contexts: TlsContexts) -> None:
    """smtpd_tls_protocols limited to TLSv1: tls-legacy naming TLS 1.0, fail."""
    result = await run(postfix, "tls10", postfix_contexts)
    verdict = assess(result)
    assert (verdict.verdict, verdict.category) == ("fail", "tls-handshake-failed")
    assert _ids(result)[0] == "tls-legacy"
    assert "TLS 1.0" in verdict.findings[0].message
