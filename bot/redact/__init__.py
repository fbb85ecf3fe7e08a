"""
Remove secrets from pasted text before it is stored, logged, queued or reposted.

People paste SMTP transcripts with their credentials in them: ``AUTH PLAIN`` carries the
user name and password in base64 (RFC 4616), ``AUTH LOGIN`` sends them as base64 answers
to ``334`` challenges (draft-murchison-sasl-login), POP3 and IMAP send ``PASS`` and
``LOGIN``; configuration snippets and code carry passwords, private keys, provider API
keys and tokens. ``redact`` replaces each with ``[redacted]`` and keeps everything
else, so the error is still recognised. Pure; no I/O.

Two kinds of rules: ``patterns`` (a secret recognisable wherever it stands in a line)
and ``lines`` (a secret recognisable only as a whole line, or by the line before it).
``payload`` applies ``redact`` to every text of a Slack payload.
"""

from __future__ import annotations

from typing import Final

from bot.redact.lines import redact_lines
from bot.redact.patterns import PASSES, REDACTED

__all__ = ["REDACTED", "redact", "redact_every_pass"]

# Every pass's hint words, each looked for once per text.
_HINTS: Final = tuple(sorted({hint for step in PASSES for hint in step.hints}))


def redact(text: str) -> str:
    """
    Return ``text`` with credentials, keys and tokens replaced by ``[redacted]``;
    idempotent.
    """
    # Substitutions only ever insert "[redacted]", which holds no hint word, so the
    # hints of the original text decide every pass.
    folded = text.casefold()
    present = {hint for hint in _HINTS if hint in folded}
    if present:
        for step in PASSES:
            if not present.isdisjoint(step.hints):
                text = step.apply(text)
    return redact_lines(text)


def redact_every_pass(text: str) -> str:
    """
    ``redact`` without its hint checks (every pass over every text): the reference
    the hint checks must never change the result of.
    """
    for step in PASSES:
        text = step.apply(text)
    return redact_lines(text, gated=False)
