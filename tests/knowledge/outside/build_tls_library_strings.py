# ruff: noqa: E501 (library texts and sources are kept whole on their lines)
"""
Rebuild ``tls_library_strings.jsonl`` from TLS libraries' and mail libraries' own error
strings (not collected by pytest; run by hand).

    python tests/knowledge/outside/build_tls_library_strings.py MIRRORS [LOCALEDIR]

MIRRORS holds bare git clones named ``owner+name/repo`` (google+boringssl, gnutls+gnutls,
nss-dev+nss, rustls+rustls, thunderbird+thunderbird-l10n, jstedfast+MailKit); every
string is read at the clone's HEAD. OpenSSL's own tables (too large a repository to
clone here) are quoted below from ``openssl/openssl`` at the commits named beside them.
LOCALEDIR (default /usr/share/locale) holds GnuTLS's compiled catalogues
(``*/LC_MESSAGES/gnutls30.mo``, Debian's libgnutls30), whose msgids are the English
strings of gnutls lib/errors.c and lib/cert-cred.c.

Each string is put where mail software prints it: in the traceback of Python's smtplib,
Ruby's Net::SMTP, nodemailer's error object, PHPMailer's debug output, curl's smtp://
transfer, msmtp, mutt, Exim or Postfix logs, ``openssl s_client -starttls smtp``,
``gnutls-cli --starttls-proto=smtp``, lettre, Thunderbird's dialog. The bare string alone
is often printed by other software too (an HTTPS client); the frame is what makes it
mail. Each record names the repository, path, key and commit of its string.
"""

from __future__ import annotations

import gettext
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_library_strings import (  # noqa: E402  (a sibling script, not a package)
    _EDGE,
    Group,
    Record,
    git_ls,
    git_show,
    head,
    unique_fragments,
    write_signals,
)

OUT_RECORDS = HERE / "tls_library_strings.jsonl"

HOST = "smtp.example.org"


# --- how mail software prints a library's sentence ----------------------------------

PY_STARTTLS = (
    "Traceback (most recent call last):\n"
    '  File "/app/send_report.py", line 41, in send\n'
    "    server.starttls(context=context)\n"
    '  File "/usr/lib/python3.12/smtplib.py", line 779, in starttls\n'
    "    self.sock = context.wrap_socket(self.sock,\n"
    '  File "/usr/lib/python3.12/ssl.py", line 1104, in _create\n'
    "    self.do_handshake()\n"
)
PY_SSL = (
    "Traceback (most recent call last):\n"
    '  File "/app/notify.py", line 18, in <module>\n'
    '    with smtplib.SMTP_SSL("smtp.example.org", 465, context=ctx) as s:\n'
    '  File "/usr/lib/python3.11/smtplib.py", line 1050, in __init__\n'
    "    super().__init__(host, port, local_hostname, timeout,\n"
    '  File "/usr/lib/python3.11/smtplib.py", line 1057, in _get_socket\n'
    "    new_socket = self.context.wrap_socket(new_socket,\n"
)


def py_verify(reason: str, n: int) -> str:
    frame = PY_STARTTLS if n % 2 else PY_SSL
    return (
        frame
        + f"ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {reason} (_ssl.c:1006)"
    )


def py_ssl(name: str, text: str, n: int) -> str:
    frame = PY_STARTTLS if n % 2 else PY_SSL
    return frame + f"ssl.SSLError: [SSL: {name}] {text} (_ssl.c:1006)"


def ruby(detail: str) -> str:
    return (
        f"OpenSSL::SSL::SSLError: SSL_connect returned=1 errno=0 peeraddr=203.0.113.7:587 state=error: {detail}\n"
        "\t/usr/local/lib/ruby/3.2.0/net/protocol.rb:46:in `connect_nonblock'\n"
        "\t/usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:673:in `tlsconnect'\n"
        "\t/usr/local/bundle/gems/net-smtp-0.4.0/lib/net/smtp.rb:652:in `do_start'"
    )


def node(message: str) -> str:
    return (
        f"Error: {message}\n"
        "    at TLSSocket.onConnectSecure (node:_tls_wrap:1679:34)\n"
        "    at TLSSocket.emit (node:events:519:28)\n"
        "    at TLSSocket._finishInit (node:_tls_wrap:1078:8) {\n"
        "  code: 'ESOCKET',\n"
        "  command: 'CONN'\n"
        "}"
    )


def curl(code: int, message: str) -> str:
    return (
        f"$ curl -v --ssl-reqd --url 'smtp://{HOST}:587' --mail-from me@example.org --mail-rcpt you@example.com -T mail.txt\n"
        f"curl: ({code}) {message}"
    )


def s_client(n: int, reason: str) -> str:
    return (
        f"$ openssl s_client -connect {HOST}:587 -starttls smtp\n"
        "CONNECTED(00000003)\n"
        f"depth=0 CN = {HOST}\n"
        f"verify error:num={n}:{reason}\n"
        "verify return:1"
    )


def php(packed: str, text: str) -> str:
    return (
        '2024-05-02 09:14:07 SMTP INBOUND: "220 2.0.0 Ready to start TLS"\n'
        "2024-05-02 09:14:07 SERVER -> CLIENT: 220 2.0.0 Ready to start TLS\n"
        "Connection failed. Error #2: stream_socket_enable_crypto(): SSL operation failed with code 1. "
        f"OpenSSL Error messages:\nerror:{packed}:SSL routines::{text} "
        "[/var/www/html/vendor/phpmailer/phpmailer/src/SMTP.php line 474]\n"
        "SMTP Error: Could not connect to SMTP host."
    )


def postfix_smtpd(code: int, text: str) -> str:
    return (
        f"May  2 09:14:07 mail postfix/smtpd[21873]: SSL_accept error from unknown[198.51.100.23]: -1\n"
        f"May  2 09:14:07 mail postfix/smtpd[21873]: warning: TLS library problem: error:0A{code:06X}:SSL routines::{text}:../ssl/record/rec_layer_s3.c:1605:SSL alert number {code - 1000}:"
    )


# --- OpenSSL ----------------------------------------------------------------------------

OPENSSL_X509_COMMIT = "0223dfcf1e4d4d6f0a9a671ce570c6a1c057fe93"
OPENSSL_ERR_COMMIT = "008c92e11b68d688951dd122e4030d1d398a8b2f"

# X509_V_ERR_* -> (category, verify code, OpenSSL 3 text of crypto/x509/x509_txt.c at
# OPENSSL_X509_COMMIT). The 1.1 wording (also BoringSSL's and LibreSSL's) is read from
# BoringSSL's crypto/x509/x509_txt.cc.
X509 = {
    "UNABLE_TO_GET_ISSUER_CERT": (
        "tls-cert-untrusted",
        2,
        "unable to get issuer certificate",
    ),
    "CERT_NOT_YET_VALID": (
        "tls-cert-expired",
        9,
        "certificate is not yet valid or the system clock is incorrect",
    ),
    "CERT_HAS_EXPIRED": ("tls-cert-expired", 10, "certificate has expired"),
    "DEPTH_ZERO_SELF_SIGNED_CERT": (
        "tls-cert-untrusted",
        18,
        "self-signed certificate",
    ),
    "SELF_SIGNED_CERT_IN_CHAIN": (
        "tls-cert-untrusted",
        19,
        "self-signed certificate in certificate chain",
    ),
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY": (
        "tls-cert-untrusted",
        20,
        "unable to get local issuer certificate",
    ),
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE": (
        "tls-cert-untrusted",
        21,
        "unable to verify the first certificate",
    ),
    "INVALID_CA": ("tls-cert-untrusted", 24, "invalid CA certificate"),
    "CERT_UNTRUSTED": ("tls-cert-untrusted", 27, "certificate not trusted"),
    "CERT_REJECTED": ("tls-cert-untrusted", 28, "certificate rejected"),
    "HOSTNAME_MISMATCH": ("tls-cert-hostname", 62, "hostname mismatch"),
    "IP_ADDRESS_MISMATCH": ("tls-cert-hostname", 64, "IP address mismatch"),
    "EE_KEY_TOO_SMALL": ("tls-handshake-failed", 66, "EE certificate key too weak"),
    "CA_KEY_TOO_SMALL": ("tls-handshake-failed", 67, "CA certificate key too weak"),
    "CA_MD_TOO_WEAK": (
        "tls-handshake-failed",
        68,
        "CA signature digest algorithm too weak",
    ),
}

# SSL_R_* -> (category, OpenSSL 3 text of crypto/err/openssl.txt at OPENSSL_ERR_COMMIT,
# older wording where 1.1.x printed another). Reason code in hex for the packed code.
SSL_R = {
    "WRONG_VERSION_NUMBER": ("tls-port-mismatch", 0x10B, "wrong version number", None),
    "PACKET_LENGTH_TOO_LONG": (
        "tls-port-mismatch",
        0xC6,
        "packet length too long",
        None,
    ),
    "UNKNOWN_PROTOCOL": ("tls-port-mismatch", 0xFC, "unknown protocol", None),
    "CERTIFICATE_VERIFY_FAILED": (
        "tls-cert-untrusted",
        0x86,
        "certificate verify failed",
        None,
    ),
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "tls-handshake-failed",
        0x410,
        "ssl/tls alert handshake failure",
        "sslv3 alert handshake failure",
    ),
    "TLSV1_ALERT_PROTOCOL_VERSION": (
        "tls-handshake-failed",
        0x42E,
        "tlsv1 alert protocol version",
        None,
    ),
    "TLSV1_ALERT_INSUFFICIENT_SECURITY": (
        "tls-handshake-failed",
        0x42F,
        "tlsv1 alert insufficient security",
        None,
    ),
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK": (
        "tls-handshake-failed",
        0x43E,
        "tlsv1 alert inappropriate fallback",
        None,
    ),
    "UNSUPPORTED_PROTOCOL": (
        "tls-handshake-failed",
        0x102,
        "unsupported protocol",
        None,
    ),
    "NO_PROTOCOLS_AVAILABLE": (
        "tls-handshake-failed",
        0xBF,
        "no protocols available",
        None,
    ),
    "VERSION_TOO_LOW": ("tls-handshake-failed", 0x18C, "version too low", None),
    "DH_KEY_TOO_SMALL": ("tls-handshake-failed", 0x18A, "dh key too small", None),
    "EE_KEY_TOO_SMALL": ("tls-handshake-failed", 0x18F, "ee key too small", None),
    "CA_MD_TOO_WEAK": ("tls-handshake-failed", 0x18E, "ca md too weak", None),
    "CA_KEY_TOO_SMALL": ("tls-handshake-failed", 0x18D, "ca key too small", None),
    "NO_SHARED_CIPHER": ("tls-handshake-failed", 0xC1, "no shared cipher", None),
    "NO_CIPHERS_AVAILABLE": (
        "tls-handshake-failed",
        0xB5,
        "no ciphers available",
        None,
    ),
    "NO_SHARED_GROUPS": ("tls-handshake-failed", 0x19A, "no shared groups", None),
    "NO_SUITABLE_SIGNATURE_ALGORITHM": (
        "tls-handshake-failed",
        0x76,
        "no suitable signature algorithm",
        None,
    ),
    "LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED": (
        "tls-handshake-failed",
        0x14D,
        "legacy sigalg disallowed or unsupported",
        None,
    ),
    "UNSAFE_LEGACY_RENEGOTIATION_DISABLED": (
        "tls-handshake-failed",
        0x152,
        "unsafe legacy renegotiation disabled",
        None,
    ),
    "WRONG_SIGNATURE_TYPE": (
        "tls-handshake-failed",
        0x172,
        "wrong signature type",
        None,
    ),
    "UNEXPECTED_EOF_WHILE_READING": (
        "tls-handshake-failed",
        0x126,
        "unexpected eof while reading",
        None,
    ),
    "TLSV1_UNRECOGNIZED_NAME": (
        "tls-handshake-failed",
        0x458,
        "tlsv1 unrecognized name",
        None,
    ),
}

# Alerts a Postfix/Exim server logs from its clients: the client's word on the server's
# own certificate.
SSL_R_SERVER_SIDE = {
    "TLSV1_ALERT_UNKNOWN_CA": (
        "tls-cert-untrusted",
        1048,
        "tlsv1 alert unknown ca",
        None,
    ),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": (
        "tls-cert-expired",
        1045,
        "ssl/tls alert certificate expired",
        "sslv3 alert certificate expired",
    ),
}


def boringssl_x509(mirror: Path) -> dict[str, str]:
    text = git_show(mirror, "crypto/x509/x509_txt.cc")
    return dict(re.findall(r'case X509_V_ERR_(\w+):\s*return "([^"]+)";', text))


def openssl(boring: Path) -> list[Record]:
    records: list[Record] = []
    legacy = boringssl_x509(boring)
    bcommit = head(boring)
    for n, (name, (category, code, text)) in enumerate(X509.items()):
        src = "openssl/openssl@crypto/x509/x509_txt.c"
        key = f"X509_V_ERR_{name}"
        texts = [(text, src, OPENSSL_X509_COMMIT, "openssl3")]
        old = legacy.get(name)
        if old and old != text:
            texts.append(
                (old, "google/boringssl@crypto/x509/x509_txt.cc", bcommit, "openssl1.1")
            )
        for i, (t, s, c, tag) in enumerate(texts):
            frames = [
                ("python smtplib", py_verify(t, n + i)),
                ("ruby net-smtp", ruby(f"certificate verify failed ({t})")),
                ("nodemailer", node(t)),
                (
                    "curl smtp",
                    curl(
                        60,
                        f"SSL certificate problem: {t}\nMore details here: https://curl.se/docs/sslcerts.html",
                    ),
                ),
                ("openssl s_client -starttls smtp", s_client(code, t)),
            ]
            for frame, body in frames:
                records.append(
                    Record(body, category, "en", s, f"{key} ({tag})", c, frame)
                )
    for n, (name, (category, code, text, old)) in enumerate(SSL_R.items()):
        key = f"SSL_R_{name}"
        for t in [text] + ([old] if old else []):
            packed = f"0A{code:06X}"
            frames = [
                ("python smtplib", py_ssl(name, t, n)),
                ("ruby net-smtp", ruby(t)),
                ("phpmailer", php(packed, t)),
            ]
            for frame, body in frames:
                records.append(
                    Record(
                        body,
                        category,
                        "en",
                        "openssl/openssl@crypto/err/openssl.txt",
                        key,
                        OPENSSL_ERR_COMMIT,
                        frame,
                    )
                )
    for name, (category, code, text, old) in SSL_R_SERVER_SIDE.items():
        for t in [text] + ([old] if old else []):
            records.append(
                Record(
                    postfix_smtpd(code, t),
                    category,
                    "en",
                    "openssl/openssl@crypto/err/openssl.txt",
                    f"SSL_R_{name}",
                    OPENSSL_ERR_COMMIT,
                    "postfix smtpd",
                )
            )
    return records


# --- GnuTLS -------------------------------------------------------------------------------

# gnutls_strerror (lib/errors.c): msgid -> category
GNUTLS_ERRORS = {
    "An unexpected TLS packet was received.": "tls-port-mismatch",
    "Error decoding the received TLS packet.": "tls-port-mismatch",
    "Could not negotiate a supported cipher suite.": "tls-handshake-failed",
    "A TLS fatal alert has been received.": "tls-handshake-failed",
    "No supported cipher suites have been found.": "tls-handshake-failed",
    "The Diffie-Hellman prime sent by the server is not acceptable (not long enough).": "tls-handshake-failed",
    "One of the involved algorithms has insufficient security level.": "tls-handshake-failed",
    "No common key share with peer.": "tls-handshake-failed",
    "A connection with inappropriate fallback was attempted.": "tls-handshake-failed",
    "The signature algorithm is not supported.": "tls-handshake-failed",
    "Error in the certificate verification.": "tls-cert-untrusted",
    "The session or certificate has expired.": "tls-cert-expired",
    "The certificate is not yet activated.": "tls-cert-expired",
    "Error in the time fields of certificate.": "tls-cert-expired",
}
# gnutls_certificate_verification_status_print (lib/cert-cred.c): printed after
# "The certificate is NOT trusted. "
GNUTLS_STATUS_NOT_TRUSTED = "The certificate is NOT trusted. "
GNUTLS_STATUS = {
    "The certificate issuer is unknown. ": "tls-cert-untrusted",
    "The certificate issuer is not a CA. ": "tls-cert-untrusted",
    "The certificate chain uses expired certificate. ": "tls-cert-expired",
    "The certificate chain uses not yet valid certificate. ": "tls-cert-expired",
    "The name in the certificate does not match the expected. ": "tls-cert-hostname",
}


def gnutls_frames(text: str, n: int) -> list[tuple[str, str]]:
    return (
        [
            (
                "msmtp",
                f"msmtp: TLS handshake failed: {text}\nmsmtp: could not send mail (account default from /home/jan/.msmtprc)",
            ),
            (
                "mutt",
                f"Connecting to {HOST}:587...\ngnutls_handshake: {text}\nCould not send the message.",
            ),
            (
                "exim",
                f"2024-05-02 09:14:07 1rZq3x-0004Ab-2c {HOST} [203.0.113.7] TLS error on connection (gnutls_handshake): {text}",
            ),
            ("curl-gnutls smtp", curl(35, f"gnutls_handshake() failed: {text}")),
        ][n % 4 : n % 4 + 2]
        if n % 4 < 3
        else [
            ("curl-gnutls smtp", curl(35, f"gnutls_handshake() failed: {text}")),
            (
                "msmtp",
                f"msmtp: TLS handshake failed: {text}\nmsmtp: could not send mail (account default from /home/jan/.msmtprc)",
            ),
        ]
    )


def gnutls_status_frame(status: str) -> str:
    return (
        f"$ gnutls-cli --starttls-proto=smtp --port 587 {HOST}\n"
        f"Processed 140 CA certificate(s).\nResolving '{HOST}:587'...\nConnecting to '203.0.113.7:587'...\n"
        f"- Status: {status}\n"
        "*** PKI verification of server certificate failed...\n"
        "*** Fatal error: Error in the certificate verification.\n"
    )


def gnutls(mirror: Path, localedir: Path) -> list[Record]:
    commit = head(mirror)
    errors_c = git_show(mirror, "lib/errors.c")
    cert_c = git_show(mirror, "lib/cert-cred.c")
    flat = re.sub(r'"\s*\n\s*"', "", errors_c)
    for msgid in GNUTLS_ERRORS:
        assert msgid in flat, msgid
    for msgid in [GNUTLS_STATUS_NOT_TRUSTED, *GNUTLS_STATUS]:
        assert msgid in re.sub(r'"\s*\n\s*"', "", cert_c), msgid
    catalogues: list[tuple[str, dict[str, str], str]] = [("en", {}, "")]
    for mo in sorted(localedir.glob("*/LC_MESSAGES/gnutls30.mo")):
        lang = mo.parts[-3]
        with mo.open("rb") as f:
            cat = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        catalogues.append(
            (lang, {k: v for k, v in cat.items() if isinstance(k, str)}, str(mo))
        )
    records: list[Record] = []
    for lang, cat, mo in catalogues:
        src_suffix = f" + debian:libgnutls30{mo}" if mo else ""
        for n, (msgid, category) in enumerate(GNUTLS_ERRORS.items()):
            text = cat.get(msgid, msgid if lang == "en" else "")
            if not text:
                continue
            for frame, body in gnutls_frames(text, n):
                records.append(
                    Record(
                        body,
                        category,
                        lang,
                        f"gnutls/gnutls@lib/errors.c{src_suffix}",
                        msgid,
                        commit,
                        frame,
                    )
                )
        not_trusted = cat.get(
            GNUTLS_STATUS_NOT_TRUSTED, GNUTLS_STATUS_NOT_TRUSTED if lang == "en" else ""
        )
        for msgid, category in GNUTLS_STATUS.items():
            text = cat.get(msgid, msgid if lang == "en" else "")
            if not text or not not_trusted:
                continue
            records.append(
                Record(
                    gnutls_status_frame(not_trusted + text),
                    category,
                    lang,
                    f"gnutls/gnutls@lib/cert-cred.c{src_suffix}",
                    msgid.strip(),
                    commit,
                    "gnutls-cli --starttls-proto=smtp",
                )
            )
    return records


# --- NSS ------------------------------------------------------------------------------------

NSS = {
    "SEC_ERROR_UNKNOWN_ISSUER": "tls-cert-untrusted",
    "SEC_ERROR_UNTRUSTED_ISSUER": "tls-cert-untrusted",
    "SEC_ERROR_UNTRUSTED_CERT": "tls-cert-untrusted",
    "SEC_ERROR_CA_CERT_INVALID": "tls-cert-untrusted",
    "SEC_ERROR_EXPIRED_CERTIFICATE": "tls-cert-expired",
    "SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE": "tls-cert-expired",
    "SSL_ERROR_BAD_CERT_DOMAIN": "tls-cert-hostname",
    "SSL_ERROR_NO_CYPHER_OVERLAP": "tls-handshake-failed",
    "SSL_ERROR_UNSUPPORTED_VERSION": "tls-handshake-failed",
    "SSL_ERROR_HANDSHAKE_FAILURE_ALERT": "tls-handshake-failed",
    "SSL_ERROR_PROTOCOL_VERSION_ALERT": "tls-handshake-failed",
    "SSL_ERROR_WEAK_SERVER_EPHEMERAL_DH_KEY": "tls-handshake-failed",
    "SSL_ERROR_RX_RECORD_TOO_LONG": "tls-port-mismatch",
}


def nss(mirror: Path) -> list[Record]:
    commit = head(mirror)
    records: list[Record] = []
    for path in ["lib/ssl/SSLerrs.h", "lib/util/SECerrs.h"]:
        text = git_show(mirror, path)
        for name, body in re.findall(
            r"ER3\((\w+),[^\n]*\n((?:\s*\"[^\"]*\"\s*\n?)+)\)", text
        ):
            if name not in NSS:
                continue
            message = "".join(re.findall(r'"([^"]*)"', body))
            frames = [
                ("curl-nss smtp", curl(60 if name.startswith("SEC_") else 35, message)),
                (
                    "s-nail",
                    f"s-nail: Error in certificate: {message}\ns-nail: SSL/TLS handshake failed: {message}\n/home/jan/dead.letter 12/345\n. . . message not sent.",
                ),
                (
                    "thunderbird",
                    f"An error occurred during a connection to {HOST}:465. {message}\n\nError code: {name}",
                ),
            ]
            for frame, body_text in frames:
                records.append(
                    Record(
                        body_text,
                        NSS[name],
                        "en",
                        f"nss-dev/nss@{path}",
                        name,
                        commit,
                        frame,
                    )
                )
    return records


# --- Thunderbird's certificate dialog (certError.ftl) in every locale -------------------

TB_CERT = {
    "cert-error-domain-mismatch": "tls-cert-hostname",
    "cert-error-expired": "tls-cert-expired",
    "cert-error-not-yet-valid": "tls-cert-expired",
    "cert-error-untrusted-default": "tls-cert-untrusted",
    "cert-error-inline-domain-mismatch": "tls-cert-hostname",
    "cert-error-inline-expired": "tls-cert-expired",
    "cert-error-inline-untrusted-default": "tls-cert-untrusted",
}


def read_ftl(text: str) -> dict[str, str]:
    """id = value (or its .title attribute) of a Fluent file, one line each."""
    out: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        m = re.match(r"^([a-z][\w-]*)\s*=\s*(.*)$", line)
        if m:
            current = m.group(1)
            if m.group(2).strip():
                out[current] = m.group(2).strip()
            continue
        m = re.match(r"^\s+\.title\s*=\s*(.*)$", line)
        if m and current and current not in out:
            out[current] = m.group(1).strip()
    return out


def thunderbird_cert(mirror: Path) -> list[Record]:
    commit = head(mirror)
    records: list[Record] = []
    for locale in sorted(git_ls(mirror, ".")):
        if locale.startswith(".") or locale in {"en-CA", "ja-JP-mac"}:
            continue
        path = f"{locale}/mail/messenger/certError.ftl"
        ftl = read_ftl(git_show(mirror, path))
        for key, category in TB_CERT.items():
            value = ftl.get(key)
            if not value:
                continue
            text = re.sub(r"\{\s*\$hostname\s*\}", f"{HOST}:465", value)
            text = re.sub(r"\{\s*\$not-after\s*\}", "12/03/2024, 23:59:59", text)
            text = re.sub(r"\{\s*\$not-before\s*\}", "01/09/2026, 00:00:00", text)
            if "{" in text:
                continue
            records.append(
                Record(
                    text,
                    category,
                    locale,
                    f"thunderbird/thunderbird-l10n@{path}",
                    key,
                    commit,
                    "thunderbird",
                )
            )
    return records


# --- rustls (as lettre prints it) -------------------------------------------------------


def rustls(mirror: Path) -> list[Record]:
    commit = head(mirror)
    src = git_show(mirror, "rustls/src/error/mod.rs")
    texts = {
        "tls-cert-untrusted": "invalid peer certificate: UnknownIssuer",
        "tls-cert-hostname": f'invalid peer certificate: certificate not valid for name "{HOST}"; certificate is only valid for DnsName("*.mailhost.example.net") or DnsName("mailhost.example.net")',
        "tls-cert-expired": "invalid peer certificate: certificate expired: verification time 1714641247 (UNIX), but certificate is not valid after 1714521600 (119647 seconds ago)",
        "tls-handshake-failed": "received fatal alert: the peer failed to negotiate an acceptable set of security parameters",
        "tls-port-mismatch": "received corrupt message of type InvalidContentType",
    }
    for needle in [
        "invalid peer certificate: {err}",
        "certificate not valid for name",
        "certificate expired: verification time",
        "failed to negotiate an acceptable set of security parameters",
        "received corrupt message of type",
    ]:
        assert needle in src, needle
    records = []
    for category, text in texts.items():
        body = (
            f"Error: lettre::transport::smtp::Error {{ kind: Connection, source: Custom {{ kind: InvalidData, error: {text} }} }}\n"
            f"Could not send email: Connection error: {text}"
        )
        records.append(
            Record(
                body,
                category,
                "en",
                "rustls/rustls@rustls/src/error/mod.rs",
                text.split(":")[0],
                commit,
                "lettre",
            )
        )
    return records


# --- signals ------------------------------------------------------------------------------


OUT_SIGNALS = HERE.parents[2] / "knowledge" / "signals" / "tls-libraries.yaml"
OUT_SIGNALS_L10N = OUT_SIGNALS.with_name("tls-libraries-l10n.yaml")

HEADER = """\
# TLS libraries' own error strings that tls.yaml did not hold yet, read from their
# sources at the commits each group names: OpenSSL's verify and reason strings (3.x and
# the 1.1 wording BoringSSL and LibreSSL keep), GnuTLS's gnutls_strerror and
# verification status texts, NSS's SSL/SEC error strings, rustls's Display texts. Mail
# programs print them after their own words (smtplib, Net::SMTP, nodemailer, PHPMailer,
# curl smtp://, msmtp, mutt, Exim, Postfix, lettre, Thunderbird);
# tests/knowledge/outside/tls_library_strings.jsonl holds them so framed, each naming
# its repository, path, key and commit (tests/knowledge/test_tls_library_strings.py).
# Whether a paste is about mail at all is decided elsewhere (knowledge/context.py).
# Built by tests/knowledge/outside/build_tls_library_strings.py.
# weight: 30 decisive, 20 strong, 12 medium, 6 weak.
kind: signals
family: tls
groups:
"""

OSSL = f"openssl/openssl crypto/x509/x509_txt.c (commit {OPENSSL_X509_COMMIT[:12]}) and crypto/err/openssl.txt (commit {OPENSSL_ERR_COMMIT[:12]})"


# (comment, category, weight, source, texts): English texts as the libraries print them.
def english_groups(commits: dict[str, str]) -> list[Group]:
    gnutls = (
        f"gnutls/gnutls lib/errors.c, lib/cert-cred.c (commit {commits['gnutls'][:12]})"
    )
    nss = f"nss-dev/nss lib/ssl/SSLerrs.h, lib/util/SECerrs.h (commit {commits['nss'][:12]})"
    rust = f"rustls/rustls rustls/src/error/mod.rs (commit {commits['rustls'][:12]})"
    return [
        (
            "OpenSSL X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_INVALID_CA",
            "tls-cert-untrusted",
            30,
            OSSL,
            ["certificate not trusted", "invalid CA certificate"],
        ),
        (
            "OpenSSL X509_V_ERR_CERT_REJECTED",
            "tls-cert-untrusted",
            20,
            OSSL,
            ["certificate rejected"],
        ),
        (
            "OpenSSL: the server's certificate or its chain is below the client's security level\n"
            "(X509_V_ERR_EE_KEY_TOO_SMALL, CA_KEY_TOO_SMALL, CA_MD_TOO_WEAK; SSL_R_EE_KEY_TOO_SMALL,\n"
            "CA_KEY_TOO_SMALL, CA_MD_TOO_WEAK): like 'dh key too small', a negotiation the client refuses",
            "tls-handshake-failed",
            30,
            OSSL,
            [
                "EE certificate key too weak",
                "CA certificate key too weak",
                "CA signature digest algorithm too weak",
                "ee key too small",
                "ca key too small",
                "ca md too weak",
            ],
        ),
        (
            "OpenSSL SSL_R_* reasons of a negotiation that found nothing both ends accept",
            "tls-handshake-failed",
            30,
            OSSL,
            [
                "version too low",
                "no shared groups",
                "no suitable signature algorithm",
                "legacy sigalg disallowed or unsupported",
                "alert insufficient security",
                "ssl/tls alert handshake failure",
                "no ciphers available",
            ],
        ),
        (
            "OpenSSL SSL_R_TLSV1_UNRECOGNIZED_NAME (the server has no certificate for the name asked),\n"
            "SSL_R_UNEXPECTED_EOF_WHILE_READING (the peer closed during the handshake)",
            "tls-handshake-failed",
            20,
            OSSL,
            ["tlsv1 unrecognized name", "unexpected eof while reading"],
        ),
        (
            "GnuTLS gnutls_strerror: negotiation failures",
            "tls-handshake-failed",
            30,
            gnutls,
            [
                "Could not negotiate a supported cipher suite",
                "No supported cipher suites have been found",
                "The Diffie-Hellman prime sent by the server is not acceptable",
                "One of the involved algorithms has insufficient security level",
                "No common key share with peer",
                "A connection with inappropriate fallback was attempted",
            ],
        ),
        (
            "GnuTLS gnutls_strerror: GNUTLS_E_FATAL_ALERT_RECEIVED, GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM",
            "tls-handshake-failed",
            20,
            gnutls,
            [
                "A TLS fatal alert has been received",
                "The signature algorithm is not supported",
            ],
        ),
        (
            "GnuTLS GNUTLS_E_UNEXPECTED_PACKET_LENGTH: a server's plaintext greeting read as a TLS record",
            "tls-port-mismatch",
            30,
            gnutls,
            ["Error decoding the received TLS packet"],
        ),
        (
            "GnuTLS GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR; status 'The certificate issuer is not a CA'",
            "tls-cert-untrusted",
            20,
            gnutls,
            ["Error in the certificate verification"],
        ),
        (
            "GnuTLS verification status",
            "tls-cert-untrusted",
            30,
            gnutls,
            ["The certificate issuer is not a CA"],
        ),
        (
            "GnuTLS verification status and gnutls_strerror: expired or not yet valid",
            "tls-cert-expired",
            30,
            gnutls,
            [
                "The certificate chain uses expired certificate",
                "The certificate chain uses not yet valid certificate",
                "The certificate is not yet activated",
            ],
        ),
        (
            "GnuTLS gnutls_strerror GNUTLS_E_EXPIRED, GNUTLS_E_CERTIFICATE_TIME_ERROR",
            "tls-cert-expired",
            20,
            gnutls,
            [
                "The session or certificate has expired",
                "Error in the time fields of certificate",
            ],
        ),
        (
            "NSS SEC_ERROR_UNKNOWN_ISSUER, SEC_ERROR_UNTRUSTED_ISSUER, SEC_ERROR_UNTRUSTED_CERT",
            "tls-cert-untrusted",
            30,
            nss,
            [
                "Peer's Certificate issuer is not recognized",
                "issuer has been marked as not trusted by the user",
                "certificate has been marked as not trusted by the user",
            ],
        ),
        (
            "NSS SEC_ERROR_CA_CERT_INVALID",
            "tls-cert-untrusted",
            20,
            nss,
            ["Issuer certificate is invalid"],
        ),
        (
            "NSS SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE",
            "tls-cert-expired",
            30,
            nss,
            ["The certificate issuer's certificate has expired"],
        ),
        (
            "NSS SSL_ERROR_BAD_CERT_DOMAIN",
            "tls-cert-hostname",
            30,
            nss,
            ["requested domain name does not match the server's certificate"],
        ),
        (
            "NSS SSL_ERROR_NO_CYPHER_OVERLAP, SSL_ERROR_UNSUPPORTED_VERSION, SSL_ERROR_HANDSHAKE_FAILURE_ALERT,\n"
            "SSL_ERROR_PROTOCOL_VERSION_ALERT, SSL_ERROR_WEAK_SERVER_EPHEMERAL_DH_KEY; rustls's HandshakeFailure alert",
            "tls-handshake-failed",
            30,
            nss,
            [
                "no common encryption algorithm(s)",
                "Peer using unsupported version of security protocol",
                "negotiate an acceptable set of security parameters",
                "Peer reports incompatible or unsupported protocol version",
                "weak ephemeral Diffie-Hellman key",
            ],
        ),
        (
            "NSS SSL_ERROR_RX_RECORD_TOO_LONG: a plaintext reply read as a TLS record",
            "tls-port-mismatch",
            30,
            nss,
            ["record that exceeded the maximum permissible length"],
        ),
        (
            "rustls CertificateError Display: NotValidForNameContext",
            "tls-cert-hostname",
            30,
            rust,
            ["certificate not valid for name"],
        ),
        (
            "rustls CertificateError Display: ExpiredContext, NotValidYetContext; AlertDescription CertificateExpired",
            "tls-cert-expired",
            30,
            rust,
            [
                "certificate expired: verification time",
                "certificate not valid yet: verification time",
                "found the certificate to be expired",
            ],
        ),
        (
            "rustls AlertDescription Display: UnknownCa",
            "tls-cert-untrusted",
            30,
            rust,
            ["found the certificate was not issued by a trusted CA"],
        ),
        (
            "rustls AlertDescription Display: ProtocolVersion, InsufficientSecurity",
            "tls-handshake-failed",
            30,
            rust,
            [
                "did not support a suitable TLS version",
                "required a higher security level than was offered",
            ],
        ),
    ]


_FTL_PLACEHOLDER = re.compile(r"\{\s*\$[\w-]+\s*\}")
TB_GROUPS = {
    "tls-cert-hostname": [
        "cert-error-domain-mismatch",
        "cert-error-inline-domain-mismatch",
    ],
    "tls-cert-expired": [
        "cert-error-expired",
        "cert-error-not-yet-valid",
        "cert-error-inline-expired",
        "cert-error-inline-not-yet-valid",
    ],
    "tls-cert-untrusted": [
        "cert-error-untrusted-default",
        "cert-error-inline-untrusted-default",
    ],
}


def l10n_groups(mirrors: Path, localedir: Path) -> list[Group]:
    tb = mirrors / "thunderbird+thunderbird-l10n" / "repo"
    frags: dict[str, list[str]] = {c: [] for c in TB_GROUPS}
    for locale in sorted(git_ls(tb, ".")):
        if locale.startswith(".") or locale in {"en-CA", "ja-JP-mac"}:
            continue
        ftl = read_ftl(git_show(tb, f"{locale}/mail/messenger/certError.ftl"))
        for category, keys in TB_GROUPS.items():
            others = [v for k, v in ftl.items() if k not in keys]
            for key in keys:
                if key in ftl:
                    frags[category] += unique_fragments(
                        ftl[key], others, _FTL_PLACEHOLDER
                    )
    groups: list[Group] = [
        (
            f"Thunderbird mail/messenger/certError.ftl {', '.join(keys)}: every locale",
            category,
            30,
            f"Thunderbird certError.ftl {', '.join(keys)} in every locale of github.com/thunderbird/thunderbird-l10n (commit {head(tb)[:12]})",
            frags[category],
        )
        for category, keys in TB_GROUPS.items()
    ]
    gn = mirrors / "gnutls+gnutls" / "repo"
    weights = {
        "A TLS fatal alert has been received.": 20,
        "Error in the certificate verification.": 20,
        "The session or certificate has expired.": 20,
        "Error in the time fields of certificate.": 20,
        "The signature algorithm is not supported.": 20,
        "An unexpected TLS packet was received.": 30,
    }
    cats = []
    for mo in sorted(localedir.glob("*/LC_MESSAGES/gnutls30.mo")):
        with mo.open("rb") as f:
            cats.append(gettext.GNUTranslations(f)._catalog)  # type: ignore[attr-defined]
    for msgid, category in {
        **GNUTLS_ERRORS,
        **{k.strip(): v for k, v in GNUTLS_STATUS.items()},
        "The certificate is NOT trusted.": "tls-cert-untrusted",
    }.items():
        texts = []
        for cat in cats:
            value = cat.get(msgid) or cat.get(msgid + " ")
            if value:
                value = value.strip(_EDGE)
                if value and value.casefold() != msgid.strip(_EDGE).casefold():
                    texts.append(value)
        groups.append(
            (
                f"GnuTLS '{msgid}' in its translations",
                category,
                weights.get(msgid, 30),
                f"gnutls/gnutls lib/errors.c, lib/cert-cred.c (commit {head(gn)[:12]}) msgid '{msgid}', "
                "translated in Debian's libgnutls30 (3.7.9) /usr/share/locale/*/LC_MESSAGES/gnutls30.mo",
                texts,
            )
        )
    return groups


def main(mirrors: Path, localedir: Path) -> None:
    records: list[Record] = []
    records += openssl(mirrors / "google+boringssl" / "repo")
    records += gnutls(mirrors / "gnutls+gnutls" / "repo", localedir)
    records += nss(mirrors / "nss-dev+nss" / "repo")
    records += thunderbird_cert(mirrors / "thunderbird+thunderbird-l10n" / "repo")
    records += rustls(mirrors / "rustls+rustls" / "repo")
    with OUT_RECORDS.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.row(), ensure_ascii=False) + "\n")
    commits = {
        "gnutls": head(mirrors / "gnutls+gnutls" / "repo"),
        "nss": head(mirrors / "nss-dev+nss" / "repo"),
        "rustls": head(mirrors / "rustls+rustls" / "repo"),
    }
    write_signals(OUT_SIGNALS, HEADER, english_groups(commits))
    write_signals(
        OUT_SIGNALS_L10N,
        HEADER.replace("that tls.yaml did not hold yet", "in the languages they ship"),
        l10n_groups(mirrors, localedir),
    )
    print(len(records), "records")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]),
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/usr/share/locale"),
    )
