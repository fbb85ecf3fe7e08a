# ruff: noqa: E501 (catalogue texts and sources are kept whole on their lines)
"""
Rebuild ``library_strings.jsonl`` and ``knowledge/signals/clients-l10n.yaml`` from the
message catalogues of mail software (not collected by pytest; run by hand).

    python tests/knowledge/outside/build_library_strings.py MIRRORS

MIRRORS holds bare git clones named ``owner+name/repo`` (e.g. ``thunderbird+thunderbird-l10n/
repo``); every string is read at the clone's HEAD, and each record names the repository,
commit, file and key it comes from. The records fill the strings' placeholders with
plausible values (a host name, a server's reply) the way the program prints them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT_RECORDS = HERE / "library_strings.jsonl"
OUT_SIGNALS = ROOT / "knowledge" / "signals" / "clients-l10n.yaml"

HOSTS = ["smtp.gmail.com", "mail.example.org", "smtp.office365.com", "smtp.example.net"]


def git_show(mirror: Path, path: str) -> str:
    """The file at HEAD of a bare clone, or "" when it is not there."""
    run = subprocess.run(
        ["git", "-C", str(mirror), "show", f"HEAD:{path}"],
        capture_output=True,
        check=False,
    )
    return run.stdout.decode("utf-8", "replace") if run.returncode == 0 else ""


def git_ls(mirror: Path, path: str) -> list[str]:
    run = subprocess.run(
        ["git", "-C", str(mirror), "ls-tree", "--name-only", "HEAD", path + "/"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.rsplit("/", 1)[-1] for line in run.stdout.splitlines()]


def head(mirror: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


# --- catalogue readers --------------------------------------------------------------


def read_properties(text: str) -> dict[str, str]:
    """key = value lines of a Mozilla .properties file (UTF-8, no continuation lines)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = re.sub(
            r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value.strip()
        )
        out[key.strip()] = value
    return out


def read_po(text: str) -> dict[str, str]:
    """msgid -> msgstr of a gettext catalogue; fuzzy and untranslated entries left out."""
    out: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text):
        if "#, fuzzy" in block or "\nmsgid_plural" in block:
            continue
        parts: dict[str, list[str]] = defaultdict(list)
        field = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r'^(msgctxt|msgid|msgstr)\s+"(.*)"\s*$', line)
            if m:
                field = m.group(1)
                parts[field].append(m.group(2))
            elif line.startswith('"') and field:
                parts[field].append(line.strip()[1:-1])
        msgid, msgstr = "".join(parts["msgid"]), "".join(parts["msgstr"])
        if msgid and msgstr:
            out[_unescape_c(msgid)] = _unescape_c(msgstr)
    return out


def _unescape_c(s: str) -> str:
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t")


def read_roundcube(text: str) -> dict[str, str]:
    """$messages['key'] = '...'; of a Roundcube localisation file."""
    out: dict[str, str] = {}
    for m in re.finditer(
        r"\$messages\['(\w+)'\]\s*=\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\s*;",
        text,
    ):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        out[m.group(1)] = value.replace("\\'", "'").replace('\\"', '"')
    return out


# --- what is collected ------------------------------------------------------------------


@dataclass
class Record:
    """One string as a program prints it; ``frame`` names the mail program around it."""

    text: str
    label: str
    lang: str
    source: str
    key: str
    commit: str
    frame: str = ""

    def row(self) -> dict[str, str]:
        row = {
            "text": self.text,
            "label": self.label,
            "lang": self.lang,
            "source": self.source,
            "key": self.key,
            "commit": self.commit,
        }
        if self.frame:
            row["frame"] = self.frame
        return row


# Thunderbird composeMsgs.properties: key -> (category, signal weight or 0, filling).
# A weight of 0: the string wraps the server's reply, which decides (no signal).
THUNDERBIRD = {
    "startTlsFailed": ("starttls-unavailable", 30, None),
    "smtpSendFailedUnknownServer": ("dns-failure", 30, None),
    "smtpSendRequestRefused": ("connection-refused", 30, None),
    "smtpSendTimeout": ("connection-timeout", 30, None),
    "smtpAuthFailure": ("auth-failed", 20, None),
    "smtpHintAuthEncryptToPlainNoSsl": ("auth-failed", 20, None),
    "smtpHintAuthEncryptToPlainSsl": ("auth-failed", 20, None),
    "smtpPermSizeExceeded2": (
        "message-too-large",
        30,
        "552 5.3.4 Message size exceeds fixed maximum message size",
    ),
    "smtpTooManyRecipients": (
        "rate-limited",
        20,
        "452 4.5.3 Too many recipients",
    ),
    "errorSendingRcptCommand": (
        "recipient-unknown",
        0,
        "550 5.1.1 <jan.novak@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    ),
    "errorSendingFromCommand": (
        "sender-not-permitted",
        0,
        "553 5.7.1 <info@other-company.com>: Sender address rejected: not owned by user me@example.org",
    ),
    "smtpSendNotAllowed": (
        "relay-denied",
        0,
        "554 5.7.1 <client@partner.example>: Relay access denied",
    ),
    "errorSendingDataCommand": (
        "sender-blocklisted",
        0,
        "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org",
    ),
    "smtpServerError": (
        "rate-limited",
        0,
        "421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp",
    ),
}
THUNDERBIRD_SKIP = {"en-CA", "en-GB", "ja-JP-mac"}
_TB_PLACEHOLDER = re.compile(r"%(?:\d+\$)?(?:\.\d+)?[SsdX]")


def thunderbird(mirror: Path) -> tuple[list[Record], dict[str, list[str]]]:
    commit = head(mirror)
    records: list[Record] = []
    signals: dict[str, list[str]] = defaultdict(list)
    for n, locale in enumerate(sorted(git_ls(mirror, "."))):
        if locale.startswith(".") or locale in THUNDERBIRD_SKIP:
            continue
        path = f"{locale}/mail/chrome/messenger/messengercompose/composeMsgs.properties"
        props = read_properties(git_show(mirror, path))
        if not props:
            continue
        failed = props.get("sendFailed", "")
        for i, (key, (category, weight, reply)) in enumerate(THUNDERBIRD.items()):
            value = props.get(key)
            if not value or (
                reply and not weight and not _TB_PLACEHOLDER.search(value)
            ):
                continue
            host = HOSTS[(n + i) % len(HOSTS)]
            text = _fill(value, [reply or host, "jan.novak@example.org"], host)
            if failed and (n + i) % 2:
                text = failed + "\n" + text
            records.append(
                Record(
                    text,
                    category,
                    locale,
                    f"thunderbird/thunderbird-l10n@{path}",
                    key,
                    commit,
                )
            )
            if weight:
                others = [
                    v for k, v in props.items() if k != key and not _same_kind(k, key)
                ]
                group = "smtpHintAuthEncryptToPlain" if _same_kind(key, key) else key
                for fragment in unique_fragments(value, others, _TB_PLACEHOLDER):
                    signals[group].append(fragment)
    return records, signals


def _fill(value: str, values: list[str], host: str) -> str:
    """%S / %1$S in order from ``values`` (then the host), %X an error number."""
    fills = iter(values)
    return _TB_PLACEHOLDER.sub(
        lambda m: (
            next(fills, host) if m.group(0).lower().endswith("s") else "0x80004005"
        ),
        value,
    ).replace("\\n", "\n")


def _same_kind(a: str, b: str) -> bool:
    """The two auth hints say the same thing."""
    return a.startswith("smtpHintAuthEncryptToPlain") and b.startswith(
        "smtpHintAuthEncryptToPlain"
    )


# Scripts written without spaces between words (CJK, Thai, Lao, Khmer, Myanmar).
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]"
)
_EDGE = " \t\n.,:;!?'\"«»„“”‘’「」『』()（）。，：；！？-–—…|\\"


def unique_fragments(
    value: str, others: list[str], placeholder: re.Pattern[str]
) -> list[str]:
    """
    The pieces of ``value`` between its placeholders (and line breaks) that no other
    string of the same catalogue contains: what only this message prints.
    """
    pieces = re.split(
        r"\\n|\n|[\u200e\u200f\u202a-\u202e]", placeholder.sub("\x00", value)
    )
    segments = [s for p in pieces for s in p.split("\x00")]
    out: list[str] = []
    for segment in segments:
        candidates = [segment.strip(_EDGE)]
        if len(candidates[0]) > 110:
            # A long segment: its sentences, each on its own.
            candidates = [
                s.strip(_EDGE)
                for s in re.split(r"(?<=[.!?。！？])\s*", segment)
                if s.strip(_EDGE)
            ]
        for frag in candidates:
            if not _long_enough(frag):
                continue
            folded = " ".join(frag.casefold().split())
            if any(folded in " ".join(o.casefold().split()) for o in others):
                continue
            out.append(frag)
    # The longest such piece: the one that says most of what only this message says.
    return sorted(out, key=len, reverse=True)[:1]


def _long_enough(frag: str) -> bool:
    if _UNSPACED.search(frag):
        return len(frag) >= 6
    return len(frag) >= 14 and len(frag.split()) >= 3


# --- Roundcube ----------------------------------------------------------------------

ROUNDCUBE = {
    # key: (category, filling of $code / $msg)
    "smtpautherror": ("auth-failed", {"code": "535"}),
    "smtpsizeerror": ("message-too-large", {"limit": "25 MB"}),
    "smtpconnerror": ("connection-timeout", {"code": "-1"}),
    "smtpfromerror": (
        "sender-not-permitted",
        {
            "code": "553",
            "from": "info@other-company.com",
            "msg": "5.7.1 <info@other-company.com>: Sender address rejected: not owned by user me@example.org",
        },
    ),
    "smtptoerror": (
        "relay-denied",
        {
            "code": "554",
            "to": "client@partner.example",
            "msg": "5.7.1 <client@partner.example>: Relay access denied",
        },
    ),
}


def roundcube(mirror: Path) -> tuple[list[Record], dict[str, list[str]]]:
    commit = head(mirror)
    records: list[Record] = []
    signatures: dict[str, list[str]] = defaultdict(list)
    for locale in sorted(git_ls(mirror, "program/localization")):
        path = f"program/localization/{locale}/messages.inc"
        if locale.startswith("en_") and locale != "en_US":
            continue
        messages = read_roundcube(git_show(mirror, path))
        for key, (category, fill) in ROUNDCUBE.items():
            value = messages.get(key)
            if not value or any(
                f"${name}" not in value for name in fill if name == "msg"
            ):
                # A translation that leaves out the server's reply cannot say which.
                continue
            if re.search(r"\w\$", value):
                continue  # placeholders written backwards ("code$"): never filled in
            text = re.sub(
                r"\$(\w+)", lambda m, f=fill: f.get(m.group(1), m.group(0)), value
            )
            if re.search(r"\$\w", text):
                continue  # a placeholder the program does not fill ("$size")
            if locale != "en_US":
                records.append(
                    Record(
                        text,
                        category,
                        locale,
                        f"roundcube/roundcubemail@{path}",
                        key,
                        commit,
                    )
                )
            if key in {"smtpautherror", "smtpsizeerror", "smtpconnerror"}:
                # The piece beside the placeholder ($code, $limit), without the
                # "SMTP Error" every message of the catalogue starts with.
                frags = [
                    re.split(r"[:：]", f, maxsplit=1)[-1].strip(_EDGE)
                    for f in re.split(r"\$\w+", value)
                ]
                frags = [f for f in frags if _long_enough_short(f) and "SMTP" not in f]
                if frags:
                    signatures[key].append(max(frags, key=len))
    return records, signatures


# --- Evolution (camel SMTP provider) with glib-networking's TLS errors, msmtp ---------

EDS_SECURE = "Failed to connect to SMTP server %s in secure mode: %s"
EDS_SECURE_PREFIX = "Failed to connect to SMTP server %s in secure mode: "
# msgid -> (category, weight, what fills its %s: a GnuTLS message with no lean of its own)
GLIB_TLS = {
    "Unacceptable TLS certificate": ("tls-cert-untrusted", 30, None),
    "Unacceptable TLS certificate authority": ("tls-cert-untrusted", 30, None),
    "Peer failed to perform TLS handshake: %s": (
        "tls-handshake-failed",
        20,
        "Error in the pull function.",
    ),
    "Peer sent fatal TLS alert: %s": ("tls-handshake-failed", 20, "Handshake failed"),
}
MSMTP = {
    "the server does not support TLS via the STARTTLS command": (
        "starttls-unavailable",
        30,
        None,
    ),
    "authentication failed (method %s)": ("auth-failed", 20, "PLAIN"),
    "TLS handshake failed: %s": (
        "tls-handshake-failed",
        20,
        "Error in the pull function.",
    ),
}
_C_PLACEHOLDER = re.compile(r"%(?:\d+\$)?[sd]")


def _po_lang(name: str) -> str:
    return name[:-3]


def gnome(
    eds: Path, glib_net: Path
) -> tuple[list[Record], dict[str, list[str]], dict[str, list[str]]]:
    """Evolution's SMTP messages, alone and around glib-networking's TLS errors."""
    eds_commit = head(eds)
    records: list[Record] = []
    smtp_signals: dict[str, list[str]] = defaultdict(list)
    tls_signals: dict[str, list[str]] = defaultdict(list)
    for n, name in enumerate(sorted(git_ls(eds, "po"))):
        if not name.endswith(".po"):
            continue
        lang = _po_lang(name)
        eds_po = read_po(git_show(eds, f"po/{name}"))
        gn_po = read_po(git_show(glib_net, f"po/{name}"))
        host = HOSTS[n % len(HOSTS)]
        notls = eds_po.get("STARTTLS not supported")
        secure = eds_po.get(EDS_SECURE)
        if notls and notls != "STARTTLS not supported" and _long_enough_short(notls):
            smtp_signals["STARTTLS not supported"].append(notls.strip(_EDGE))
        if notls and secure and secure.count("%s") == 2:
            records.append(
                Record(
                    secure.replace("%s", host, 1).replace("%s", notls, 1),
                    "starttls-unavailable",
                    lang,
                    f"GNOME/evolution-data-server@po/{name}",
                    f"{EDS_SECURE} + STARTTLS not supported",
                    eds_commit,
                )
            )
        prefix = eds_po.get(EDS_SECURE_PREFIX)
        for msgid, (category, _, fill) in GLIB_TLS.items():
            if n == 0:  # glib-networking's own (English) wording
                tls_signals[msgid].append(_C_PLACEHOLDER.split(msgid)[0].strip(_EDGE))
            value = gn_po.get(msgid)
            if not value:
                continue
            for frag in _C_PLACEHOLDER.split(value):
                frag = frag.strip(_EDGE)
                if frag and _long_enough_short(frag):
                    tls_signals[msgid].append(frag)
            if (
                prefix
                and prefix.count("%s") == 1
                and value.count("%s") == (1 if fill else 0)
            ):
                text = prefix.replace("%s", host) + (
                    value.replace("%s", fill) if fill else value
                )
                records.append(
                    Record(
                        text,
                        category,
                        lang,
                        f"GNOME/evolution-data-server@po/{name} + GNOME/glib-networking@po/{name}",
                        f"{EDS_SECURE_PREFIX} + {msgid}",
                        eds_commit,
                    )
                )
    return records, smtp_signals, tls_signals


def msmtp(mirror: Path) -> tuple[list[Record], dict[str, list[str]]]:
    commit = head(mirror)
    records: list[Record] = []
    signals: dict[str, list[str]] = defaultdict(list)
    for name in sorted(git_ls(mirror, "po")):
        if not name.endswith(".po"):
            continue
        po = read_po(git_show(mirror, f"po/{name}"))
        for msgid, (category, _, fill) in MSMTP.items():
            value = po.get(msgid)
            if not value or value.count("%s") != msgid.count("%s"):
                continue
            frags = [f.strip(_EDGE) for f in _C_PLACEHOLDER.split(value)]
            frags = [f for f in frags if _long_enough_short(f)]
            if frags:
                signals[msgid].append(max(frags, key=len))
            text = "msmtp: " + (value.replace("%s", fill) if fill else value)
            records.append(
                Record(
                    text,
                    category,
                    _po_lang(name),
                    f"marlam/msmtp@po/{name}",
                    msgid,
                    commit,
                )
            )
    return records, signals


def _long_enough_short(frag: str) -> bool:
    """Whole short messages: 12 characters and two words, or 4 of a script without spaces."""
    if _UNSPACED.search(frag):
        return len(frag) >= 4
    return len(frag) >= 12 and len(frag.split()) >= 2


SIGNAL_HEADER = """\
# Mail clients' own error messages in the languages they ship, taken from their message
# catalogues (each group names the catalogue, the key and the repository it was read
# from). Each text is the piece of one message that no other message of the same
# catalogue prints: the placeholders (the server's name, its reply) are the cuts, so a
# paste of the dialog is found whatever the server was called. English is in the entries.
# Built by tests/knowledge/outside/build_library_strings.py; the strings with their
# placeholders filled are tests/knowledge/outside/library_strings.jsonl.
# weight: 30 decisive, 20 strong, 12 medium, 6 weak.
kind: signals
family: smtp
groups:
"""

TB_GROUPS = {
    "startTlsFailed": "Unable to establish a secure link with Outgoing server (SMTP) %S using STARTTLS since it doesn't advertise that feature",
    "smtpSendFailedUnknownServer": "Outgoing server (SMTP) %S is unknown",
    "smtpSendRequestRefused": "connecting to Outgoing server (SMTP) %S failed. The server may be unavailable or is refusing SMTP connections",
    "smtpSendTimeout": "the connection to Outgoing server (SMTP) %S timed out",
    "smtpAuthFailure": "Unable to authenticate to Outgoing server (SMTP) %S",
    "smtpHintAuthEncryptToPlain": "%S does not seem to support encrypted passwords (smtpHintAuthEncryptToPlainNoSsl, smtpHintAuthEncryptToPlainSsl)",
    "smtpPermSizeExceeded2": "exceeds the global size limit of the server",
    "smtpTooManyRecipients": "exceeding the allowed number of recipients",
}


def _tb_kind(group: str) -> tuple[str, int]:
    key = group + "NoSsl" if group == "smtpHintAuthEncryptToPlain" else group
    category, weight, _ = THUNDERBIRD[key]
    return category, weight


def _yaml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


Group = tuple[str, str, int, str, list[str]]  # comment, category, weight, source, texts


def write_signals(path: Path, header: str, groups: list[Group]) -> None:
    """One signal table; a text two categories would share is left out of both."""
    seen: dict[str, str] = {}
    clash: set[str] = set()
    for _, category, _, _, texts in groups:
        for text in texts:
            key = " ".join(text.casefold().split())
            if seen.setdefault(key, category) != category:
                clash.add(key)
    lines = [header]
    written: set[str] = set()
    for comment, category, weight, source, raw in groups:
        texts = []
        for text in raw:
            key = " ".join(text.casefold().split())
            if key in clash or key in written:
                continue
            written.add(key)
            texts.append(text)
        if not texts:
            continue
        lines += [f"  # {line}\n" for line in comment.splitlines()]
        lines.append(f"  - category: {category}\n    weight: {weight}\n    sources:\n")
        lines.append(f"      - {_yaml_str(source)}\n    texts:\n")
        lines += [f"      - {_yaml_str(t)}\n" for t in texts]
    path.write_text("".join(lines), encoding="utf-8")


def thunderbird_groups(tb: dict[str, list[str]], commit: str) -> list[Group]:
    groups = []
    for group, what in TB_GROUPS.items():
        category, weight = _tb_kind(group)
        groups.append(
            (
                "Thunderbird, mail/chrome/messenger/messengercompose/composeMsgs.properties,\n"
                f"{group}: every locale of github.com/thunderbird/thunderbird-l10n",
                category,
                weight,
                f"Thunderbird composeMsgs.properties {group} ({what}) in every locale of "
                f"github.com/thunderbird/thunderbird-l10n (commit {commit[:12]})",
                tb.get(group, []),
            )
        )
    return groups


TLS_HEADER = SIGNAL_HEADER.replace("family: smtp", "family: tls")


def main(mirrors: Path) -> None:
    tb_mirror = mirrors / "thunderbird+thunderbird-l10n" / "repo"
    eds = mirrors / "GNOME+evolution-data-server" / "repo"
    glib_net = mirrors / "GNOME+glib-networking" / "repo"
    msmtp_mirror = mirrors / "marlam+msmtp" / "repo"
    records, signals = thunderbird(tb_mirror)
    rc_records, rc_signatures = roundcube(mirrors / "roundcube+roundcubemail" / "repo")
    g_records, eds_signals, gn_signals = gnome(eds, glib_net)
    m_records, m_signals = msmtp(msmtp_mirror)
    records += rc_records + g_records + m_records
    with OUT_RECORDS.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.row(), ensure_ascii=False) + "\n")
    smtp_groups = thunderbird_groups(signals, head(tb_mirror))
    smtp_groups.append(
        (
            "Evolution (evolution-data-server), src/camel/providers/smtp/camel-smtp-transport.c:\n"
            "'Failed to connect to SMTP server %s in secure mode: STARTTLS not supported', po/*.po",
            "starttls-unavailable",
            30,
            f"evolution-data-server camel-smtp-transport.c 'STARTTLS not supported' in every "
            f"po/*.po of github.com/GNOME/evolution-data-server (commit {head(eds)[:12]})",
            eds_signals["STARTTLS not supported"],
        )
    )
    for msgid, (category, weight, _) in MSMTP.items():
        smtp_groups.append(
            (
                f"msmtp src/smtp.c, src/msmtp.c, src/mtls*.c: '{msgid}', po/*.po",
                category,
                weight,
                f"msmtp '{msgid}' in every po/*.po of github.com/marlam/msmtp "
                f"(commit {head(msmtp_mirror)[:12]})",
                m_signals[msgid],
            )
        )
    tls_groups = [
        (
            f"glib-networking tls/ (GnuTLS and OpenSSL back ends): '{msgid}', po/*.po;\n"
            "Evolution, Geary and every GIO client print it after their own words",
            category,
            weight,
            f"glib-networking '{msgid}' in every po/*.po of github.com/GNOME/glib-networking "
            f"(commit {head(glib_net)[:12]})",
            gn_signals[msgid],
        )
        for msgid, (category, weight, _) in GLIB_TLS.items()
    ]
    write_signals(
        OUT_SIGNALS.with_name("clients-l10n-tls.yaml"), TLS_HEADER, tls_groups
    )
    smtp_groups += [
        (
            f"Roundcube program/localization/*/messages.inc, {key} ({english}),\n"
            "the piece beside the placeholder",
            category,
            weight,
            f"Roundcube messages.inc {key} in every language of "
            "github.com/roundcube/roundcubemail/tree/master/program/localization",
            rc_signatures[key],
        )
        for key, category, weight, english in [
            (
                "smtpautherror",
                "auth-failed",
                20,
                "'SMTP Error ($code): Authentication failed.'",
            ),
            (
                "smtpsizeerror",
                "message-too-large",
                30,
                "'SMTP Error: Message size exceeds server limit ($limit)'",
            ),
        ]
    ]
    write_signals(OUT_SIGNALS, SIGNAL_HEADER, smtp_groups)
    write_signals(
        OUT_SIGNALS.with_name("clients-l10n-wrappers.yaml"),
        SIGNAL_HEADER.replace("family: smtp", "family: wrapper").replace(
            "# weight:",
            "# Like wrappers.yaml: a connection failure that gives no reason points to a\n"
            "# blocked port only while nothing more specific in the paste says why.\n# weight:",
        ),
        [
            (
                "Roundcube program/localization/*/messages.inc, smtpconnerror\n"
                "('SMTP Error ($code): Connection to server failed.'), the piece after the code",
                "connection-timeout",
                20,
                "Roundcube messages.inc smtpconnerror in every language of "
                "github.com/roundcube/roundcubemail/tree/master/program/localization",
                rc_signatures["smtpconnerror"],
            )
        ],
    )
    print(len(records), "records")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
