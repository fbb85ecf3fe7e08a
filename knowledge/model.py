"""
Run-time records of the knowledge base: plain frozen dataclasses, cheap to import and to
unpickle (validation lives in ``knowledge.schema`` and runs only when files are read).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Source:
    """
    Where a piece of advice comes from.

    That is a guidance file in ``knowledge/guidance`` or a URL.
    """

    title: str
    url: str | None = None
    file: str | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One problem variant: how it looks, what it means and how to fix it."""

    id: str
    title: str
    category: str
    signatures: tuple[str, ...]
    cause: str
    fix: tuple[str, ...]
    sources: tuple[Source, ...]
    reply_codes: tuple[int, ...] = ()
    enhanced_codes: tuple[str, ...] = ()
    hex_codes: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    applies_to: tuple[str, ...] = ()
    probe_helps: bool = False
    # The category's answer for any client (knowledge.clients).
    generic: bool = False


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """
    One row of a code table.

    The code is an SMTP reply code, an enhanced status code or a hex code.
    """

    code: str
    title: str
    meaning: str
    source: str
    category: str | None = None
    # Every category the code is seen with, most likely first (the words around the
    # code choose among them); empty when the code says nothing about the category.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Signal:
    """
    A piece of structure that points to a category: an errno name, a TLS library's
    reason string, an exception class, a server's reply text, a localised OS message.
    """

    text: str
    category: str
    weight: float
    family: str


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The validated knowledge base: entries and the three code tables."""

    entries: tuple[Entry, ...]
    paths: dict[str, str] = field(default_factory=dict)
    reply_codes: dict[str, CodeInfo] = field(default_factory=dict)
    enhanced_codes: dict[str, CodeInfo] = field(default_factory=dict)
    hex_codes: dict[str, CodeInfo] = field(default_factory=dict)
    signals: tuple[Signal, ...] = ()

    def get(self, entry_id: str) -> Entry | None:
        """Return the entry with this id, or None."""
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def enhanced(self, code: str) -> CodeInfo | None:
        """
        Explain an enhanced status code such as ``5.7.1``.

        Registry rows are ``X.7.1``.
        """
        if not code:
            return None
        # A row with the class digit (Microsoft's 4.7.500-699) applies to that class
        # only; an X row to every class.
        for key in (code, "X" + code[1:]):
            found = self.enhanced_codes.get(key)
            if found is not None:
                return found
        subject, detail = code[2:].split(".", 1) if code.count(".") == 2 else ("", "")
        if not detail.isdigit():
            return None
        for prefix in (code[0], "X"):
            for row, info in self.enhanced_codes.items():
                head = f"{prefix}.{subject}."
                if "-" in row and row.startswith(head):
                    low, high = row[len(head) :].split("-")
                    if int(low) <= int(detail) <= int(high):
                        return info
        # RFC 3463 §2: a detail the reader does not know is read as its subject's
        # "other or undefined" (X.Y.0): 5.2.5 is still about the mailbox.
        if detail != "0" and subject.isdigit():
            return self.enhanced_codes.get(f"X.{subject}.0")
        return None

    def reply(self, code: int) -> CodeInfo | None:
        """
        Explain a reply code for the category priors, unlisted codes included.

        A listed code is its own row. RFC 5321 §4.2.1 has the client act on the first
        digits of a code it does not know: an unlisted code (vendors use 436, 471, 526)
        takes the categories of the listed codes of its family (the same second digit,
        same class first: 43z, then 53z). None when no listed code shares it, and for
        numbers that are no SMTP reply.
        """
        key = str(code)
        if key in self.reply_codes:
            return self.reply_codes[key]
        tens = (code // 10) % 10
        # x0z (syntax) and x1z (information) say nothing about a cause, and 40z-42z
        # beside 421 are HTTP's client errors (403, 404, 429), which SMTP never sends.
        if not 400 <= code <= 599 or tens < 2 or code < 430:
            return None
        for klass in (code // 100, 9 - code // 100):
            family = [
                info
                for row, info in sorted(self.reply_codes.items())
                if row.startswith(f"{klass}{tens}") and info.categories
            ]
            if family:
                categories: list[str] = []
                for info in family:
                    categories.extend(c for c in info.categories if c not in categories)
                return CodeInfo(
                    key,
                    f"Unlisted reply code of the {klass}{tens}z family",
                    family[0].meaning,
                    "RFC 5321 §4.2.1",
                    None,
                    tuple(categories),
                )
        return None
