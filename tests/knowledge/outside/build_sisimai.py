# ruff: noqa: E501 (server texts and sources are kept whole on their lines)
"""
Rebuild ``sisimai_phrases.jsonl`` and ``sisimai_bounces.jsonl`` from a bare clone of
Sisimai, the bounce-mail analyser (not collected by pytest; run by hand).

    python tests/knowledge/outside/build_sisimai.py MIRROR

MIRROR is a bare clone of github.com/sisimai/go-sisimai (BSD 2-Clause); everything is
read at its HEAD and each record names the path and commit it comes from.

- Phrases: the server reply wordings each reason module recognises
  (``reason/why-*.go``: the ``index`` lists, lower-cased fragments meant for substring
  matching). Only reasons whose meaning is one of our categories are taken, and for the
  reasons that mix several meanings only the phrases hand-picked below. Each fragment
  is framed as Postfix reports a server's reply: the reply code its reason implies,
  the command it answers (or the refused greeting).
- Bounces: the real (anonymised) bounce messages of set-of-emails/maildir/bsd that
  Sisimai's own tests (``fact/*_test.go``) label with a reason, for the samples whose
  recipients' reasons all map to one category. From each, what a person would paste:
  the human-readable part of the bounce (up to the copy of the original message) and
  the delivery-status block of each recipient (RFC 3464 fields, Diagnostic-Code
  unfolded), whichever the message has.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT_PHRASES = HERE / "sisimai_phrases.jsonl"
OUT_BOUNCES = HERE / "sisimai_bounces.jsonl"
REPO = "sisimai/go-sisimai"

# Sisimai reason -> category, where every phrase of the reason means that category.
REASONS = {
    "userunknown": "recipient-unknown",
    "mailboxfull": "mailbox-full",
    "mesgtoobig": "message-too-large",
    "exceedlimit": "message-too-large",
    "norelaying": "relay-denied",
    "blocked": "sender-blocklisted",
    "badreputation": "sender-blocklisted",
    "spamdetected": "sender-blocklisted",
    "authfailure": "sender-authentication",
    "requireptr": "sender-authentication",
    "toomanyconn": "rate-limited",
    "speeding": "rate-limited",
    "ratelimited": "rate-limited",
}

# Phrases of mapped reasons that do not say their reason's category (a connection
# drop, a relay refusal filed under "blocked", a server's full disk under
# "mailboxfull", a content filter without the word spam): left out.
SKIP = {
    "userunknown": {
        "does not exist.",
        "invalid address",
        "destination server rejected recipients",
        "not email addresses",
        "not a local address",
        "recipient is not local",
        "recipient is not accepted",
        "recipient not ok",
        "recipient refuses to accept your mail",
        "recipient address rejected: access denied",
        "sorry, your envelope recipient has been denied",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the following recipients was undeliverable",
        "this address no longer accepts mail",
        "user missing home directory",
        "no thank you rejected: account unavailable",
        "mailbox is unavailable",
        "mailbox unavaiable",
        "mailbox is inactive",
        "user not active",
    },
    "mailboxfull": {
        "452 insufficient disk space",
        "account disabled temporarly for exceeding receiving limits",
        "no space left on device",
        "not enough disk space",
        "not sufficient disk space",
        "too much mail data",
        "does not have enough space",
        "mail file size exceeds the maximum size allowed for mail delivery",
    },
    "mesgtoobig": {"line limit exceeded"},
    "norelaying": {
        "mail server requires authentication when attempting to send to a non-local e-mail address",
        "email address is not verified.",
        "specified domain is not allowed",
        "not local host",
        "as a relay",
        "relaying mail to ",
    },
    "blocked": {
        " said: 550 blocked",
        "client host rejected: may not be mail exchanger",
        "client host rejected: was not authenticated",
        "confirm this mail server",
        "connection dropped",
        "connection refused by",
        "connection reset by peer",
        "connection was dropped by remote host",
        "domain does not exist:",
        "error: no valid recipients from ",
        "esmtp not accepting connections",
        "go away",
        "helo command rejected:",
        "invalid ip for sending mail of domain",
        "is not allowed to send mail from",
        "no matches to nameserver query",
        "please use the smtp server of your isp",
        "rejected because the sending mta or the sender has not passed validation",
        "service not available, closing transmission channel",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts",
        "to submit messages to this e-mail system has been rejected",
        "your server requires confirmation",
        "host network not allowed",
        "no access from mail server",
        "you are not allowed to connect",
        "server access forbidden by your ip ",
        "was blocked by ",
        "client host rejected: abus detecte gu_eib_02",
        "temporarily deferred due to unexpected volume or user complaints",
        "client host rejected: abus detecte gu_eib_04",
    },
    "badreputation": {
        "temporarily deferred due to unexpected volume or user complaints"
    },
    "spamdetected": {
        " - spam",
        "554 5.7.0 reject, id=",
        "content filter rejection",
        "mail content denied",
        "message content rejected",
        "message filtered",
        "message rejected because of unacceptable content",
        "message rejected for policy reasons",
        "our system has detected that this message is ",
        "rejecting banned content",
        "rejecting mail content",
        "spam check",
        "spam score ",
        "your email had spam-like ",
        "your message has been temporarily blocked by our filter",
        "//www.spamhaus.org/help/help_spam_16.htm",
        "//dsbl.org/help/help_spam_16.htm",
        "//mail.163.com/help/help_spam_16.htm",
    },
    "authfailure": {"//spf.pobox.com"},
    "requireptr": {
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
        "cannot resolve your address.",
        "unresolvable relay host name",
    },
    "toomanyconn": {
        "we have already made numerous attempts to deliver this message",
        "too many errors from your ip",
    },
}

# Phrases of the other reasons (and of failedstarttls) that plainly say one category.
PICKED = {
    "failedstarttls": {
        "starttls is required to send mail": "starttls-required",
        "tls required but not supported": "starttls-unavailable",
    },
    "securityerror": {
        "authentication credentials invalid": "auth-failed",
        "authentication failure": "auth-failed",
        "authentication required": "auth-required",
        "authentication turned on in your email client": "auth-required",
        "unauthenticated senders not allowed": "auth-required",
        "you are not authorized to send mail, authentication is required": "auth-required",
        "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts": "relay-denied",
    },
    "rejected": {
        "mail from not owned by user": "sender-not-permitted",
        "access denied (sender blacklisted)": "sender-blocklisted",
        "sender address has been blacklisted": "sender-blocklisted",
        "sender is in my black list": "sender-blocklisted",
        "sender is spammer": "sender-blocklisted",
        "your email address has been blacklisted": "sender-blocklisted",
        "you are sending to/from an address that has been blacklisted": "sender-blocklisted",
    },
    "systemfull": {},
}

# The reply code a reason's refusal carries (the basic code only: the words decide
# between the categories a code is seen with).
CODES = {
    "userunknown": "550",
    "mailboxfull": "552",
    "mesgtoobig": "552",
    "exceedlimit": "552",
    "norelaying": "550",
    "blocked": "554",
    "badreputation": "550",
    "spamdetected": "550",
    "authfailure": "550",
    "requireptr": "550",
    "toomanyconn": "421",
    "speeding": "421",
}
CODE_BY_CATEGORY = {
    "starttls-required": "530",
    "starttls-unavailable": "554",
    "auth-failed": "535",
    "auth-required": "530",
    "relay-denied": "550",
    "sender-not-permitted": "553",
    "sender-blocklisted": "550",
}
RCPT = "<kijitora@example.org>"


def git(mirror: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), *args], capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")


def git_bytes(mirror: Path, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(mirror), "show", f"HEAD:{path}"],
        capture_output=True,
        check=True,
    ).stdout


def reason_phrases(src: str) -> list[str]:
    """The ``index := []string{...}`` list of a reason module (its substrings)."""
    m = re.search(r"\bindex\s*:=\s*\[\]string\{(.*?)\}\s*\n", src, re.S)
    return re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)) if m else []


# The protocol step at which a reason's refusal is usually given; "greeting" is a
# refusal of the connection itself, which Postfix reports as "refused to talk to me".
STEPS = {
    "userunknown": "RCPT TO",
    "mailboxfull": "RCPT TO",
    "norelaying": "RCPT TO",
    "mesgtoobig": "end of DATA",
    "exceedlimit": "end of DATA",
    "spamdetected": "end of DATA",
    "authfailure": "MAIL FROM",
    "securityerror": "MAIL FROM",
    "rejected": "MAIL FROM",
    "failedstarttls": "MAIL FROM",
    "blocked": "greeting",
    "badreputation": "greeting",
    "requireptr": "greeting",
    "toomanyconn": "greeting",
    "speeding": "greeting",
}
MX = "mx.example.org[192.0.2.25]"


def framed(phrase: str, code: str, reason: str) -> str:
    """The fragment as Postfix reports a server's reply (its bounce's error line)."""
    reply = f"{code} {phrase.strip()}"
    if STEPS[reason] == "greeting":
        return f"{RCPT}: host {MX} refused to talk to me: {reply}"
    return f"{RCPT}: host {MX} said: {reply} (in reply to {STEPS[reason]} command)"


def build_phrases(mirror: Path, commit: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    names = git(mirror, "ls-tree", "--name-only", "HEAD", "reason/").split()
    for path in sorted(n for n in names if "/why-" in n):
        reason = path.split("why-")[1].removesuffix(".go")
        phrases = reason_phrases(git(mirror, "show", f"HEAD:{path}"))
        for phrase in phrases:
            if reason in REASONS and phrase not in SKIP.get(reason, set()):
                label, code = REASONS[reason], CODES[reason]
            elif phrase in PICKED.get(reason, {}):
                label = PICKED[reason][phrase]
                code = CODE_BY_CATEGORY[label]
            else:
                continue
            rows.append(
                {
                    "text": framed(phrase, code, reason),
                    "label": label,
                    "lang": "en",
                    "reason": reason,
                    "source": f"{REPO}@{path}",
                    "key": phrase,
                    "commit": commit,
                    "frame": f"postfix {STEPS[reason]}",
                }
            )
    return rows


# --- bounces --------------------------------------------------------------------------

ROW = re.compile(r'\{"(\d+)",\s*(\d+),\s*"([^"]*)",\s*"([^"]*)",\s*"(\w+)"')
# Where the copy of the original message starts in a bounce's text.
CUT = re.compile(
    r"^(?:-+ ?(?:This is a copy of|Below this line|Original message|Returned mail|The original message|Undelivered message|Message header follows|Original Message Follows|Unsent Message below)"
    r"|-*\s*(?:Original message headers|Received:|Return-Path:|Return-path:|Content-Type: message/)"
    r"|.*(?:the original message|original message headers).*:?\s*$)",
    re.I | re.M,
)


def expected(mirror: Path) -> dict[str, list[tuple[int, str]]]:
    """sample path -> [(recipient index, Sisimai's reason)] from its fact tests (public lists)."""
    out: dict[str, list[tuple[int, str]]] = {}
    names = git(mirror, "ls-tree", "--name-only", "HEAD", "fact/").split()
    for path in names:
        m = re.match(
            r"fact/\d+-(lhost|rhost)-(\w+)_test\.go$|fact/\d+-(rfc3464)_test\.go$", path
        )
        if not m:
            continue
        prefix = f"{m.group(1)}-{m.group(2)}" if m.group(1) else m.group(3)
        src = git(mirror, "show", f"HEAD:{path}")
        public = src.split("secretlist")[0]
        for label, index, _status, _code, reason in ROW.findall(public):
            out.setdefault(
                f"set-of-emails/maildir/bsd/{prefix}-{label}.eml", []
            ).append((int(index), reason))
    return out


def _decode(part: email.message.Message) -> str:
    raw = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def human_part(msg: email.message.Message) -> str:
    """The bounce's first readable text, up to where the original message is copied."""
    text = ""
    if msg.is_multipart():
        for part in msg.walk():
            if part.get_content_type() == "message/rfc822":
                break
            if part.get_content_type() == "text/plain" and not part.is_multipart():
                text = _decode(part)
                break
    else:
        text = _decode(msg)
    text = text.replace("\r\n", "\n")
    m = CUT.search(text)
    if m:
        text = text[: m.start()]
    lines = [line.rstrip() for line in text.splitlines()]
    text = "\n".join(lines).strip()
    return text[:3000]


def dsn_blocks(msg: email.message.Message) -> list[str]:
    """Per-recipient fields of the message/delivery-status part, each block as a text."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, str):
            chunks = [
                email.message_from_string(c)
                for c in re.split(r"\n\s*\n", payload.strip())
            ]
        else:
            chunks = list(payload)
        blocks = []
        for chunk in chunks:
            items = [(k, " ".join(str(v).split())) for k, v in chunk.items()]
            if not any(
                k.lower() in {"final-recipient", "original-recipient"} for k, _ in items
            ):
                continue
            keep = [
                f"{k}: {v}"
                for k, v in items
                if k.lower()
                in {
                    "final-recipient",
                    "action",
                    "status",
                    "remote-mta",
                    "diagnostic-code",
                }
            ]
            if any(line.lower().startswith("diagnostic-code") for line in keep):
                blocks.append("\n".join(keep))
        return blocks
    return []


# Samples whose Sisimai reason is not the category their words say, read one by one:
# a category where the text plainly says another of ours, None where it says none
# plainly (a bare "Rejected", a refused HELO, a provider's code without words).
OVERRIDES: dict[str, tuple[str | None, str]] = {
    "lhost-exim-30": (
        None,
        "'554 5.7.1 ... Recipient address rejected: Access denied' is a policy refusal, not plainly an unknown user",
    ),
    "lhost-exim-49": (None, "a bare '550 Rejected' after EHLO"),
    "lhost-exim-56": (
        "rate-limited",
        "'You've reached your daily relay quota' (Sisimai: blocked)",
    ),
    "lhost-exim-58": (
        None,
        "'Line limit exceeded' is a line length, not the message size",
    ),
    "lhost-qmail-04": (None, "a refused HELO name ('Invalid domain name')"),
    "lhost-opensmtpd-13": (
        "rate-limited",
        "Yahoo [TSS04] deferral, read as rate-limited as in provider_replies.jsonl",
    ),
    "lhost-qmail-19": (
        "rate-limited",
        "Yahoo [TSS04] deferral, read as rate-limited as in provider_replies.jsonl",
    ),
    "lhost-postfix-77": (
        "sender-not-permitted",
        "Amazon SES 'Email address is not verified' (Sisimai: norelaying): the sender identity",
    ),
    "rhost-franceptt-10": (
        None,
        "'Service refused, please try later' (Sisimai's FrancePTT table gives code 108 no reason)",
    ),
    "rhost-franceptt-11": (
        None,
        "'Service refused, please try later' (Sisimai's FrancePTT table gives code 107 no reason)",
    ),
    "rhost-messagelabs-03": (None, "a bare '542 ... Rejected'"),
    "lhost-exim-46": (
        "sender-authentication",
        "'Missing reverse DNS' (Sisimai: blocked): a PTR refusal",
    ),
}


def _squeeze(text: str) -> str:
    return " ".join(text.lower().split())


def carries_error(body: str, blocks: list[str]) -> bool:
    """The readable part repeats a recipient's diagnostic (else it is only boilerplate)."""
    if "\ufffd" * 3 in body:
        return False
    if not blocks:
        return True
    flat = _squeeze(body)
    for block in blocks:
        for line in block.splitlines():
            if line.lower().startswith("diagnostic-code"):
                reply = _squeeze(line.split(":", 1)[1].split(";", 1)[-1])
                words = [w for w in reply.split() if not re.search(r"[@\d]", w)]
                if len(words) >= 2 and " ".join(words[:2]) in flat:
                    return True
    return False


def build_bounces(mirror: Path, commit: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for path, rcpts in sorted(expected(mirror).items()):
        reasons = {reason for _, reason in rcpts}
        labels = {REASONS.get(reason) for reason in reasons}
        if len(labels) != 1 or None in labels:
            continue
        (label,) = labels
        name = path.rsplit("/", 1)[1].removesuffix(".eml")
        if name in OVERRIDES:
            label = OVERRIDES[name][0]
            if label is None:
                continue
        try:
            raw = git_bytes(mirror, path)
        except subprocess.CalledProcessError:
            continue
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        reason = "/".join(sorted(reasons))
        blocks = dsn_blocks(msg)
        body = human_part(msg)
        texts = [("body", "bounce text", body)] if carries_error(body, blocks) else []
        texts += [(f"dsn{i + 1}", "delivery status", b) for i, b in enumerate(blocks)]
        for kind, frame, text in texts:
            if len(text) < 20 or text in seen:
                continue
            seen.add(text)
            rows.append(
                {
                    "text": text,
                    "label": label,
                    "lang": "en",
                    "reason": reason,
                    "source": f"{REPO}@{path}",
                    "key": f"{name}/{kind}",
                    "commit": commit,
                    "frame": frame,
                }
            )
    return rows


def main() -> None:
    mirror = Path(sys.argv[1])
    commit = git(mirror, "rev-parse", "HEAD").strip()
    for out, rows in (
        (OUT_PHRASES, build_phrases(mirror, commit)),
        (OUT_BOUNCES, build_bounces(mirror, commit)),
    ):
        out.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
            encoding="utf-8",
        )
        print(f"{out.name}: {len(rows)} records")


if __name__ == "__main__":
    main()
