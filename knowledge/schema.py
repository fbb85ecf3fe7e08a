"""
Pydantic schema of knowledge-base files: entries and the code tables.

Pure: no file reading here (see ``knowledge.loader``). Validated models convert to the
run-time records of ``knowledge.model``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from knowledge.categories import CATEGORIES
from knowledge.model import CodeInfo, Entry, Signal, Source

_ENHANCED = r"^[245]\.\d{1,3}\.\d{1,3}$"
_HEX = r"^0x[0-9A-F]{8}$"
_SLUG = r"^[a-z0-9][a-z0-9-]{2,80}$"

NonEmpty = Annotated[str, Field(min_length=1)]
# Shorter texts match too much to be reliable evidence of one problem.
Signature = Annotated[str, Field(min_length=8)]


class _Strict(BaseModel):
    """Base: unknown keys are errors, so a typo in a file is reported, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SourceSchema(_Strict):
    """
    Where a piece of advice comes from.

    That is a guidance file in ``knowledge/guidance`` or a URL.
    """

    title: NonEmpty
    url: str | None = None
    file: str | None = None
    section: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> SourceSchema:
        if not (self.url or self.file):
            raise ValueError("a source needs a url or a file")
        if self.file and not re.fullmatch(r"guidance/[\w.-]+", self.file):
            raise ValueError(
                "file must be a path under guidance/, e.g. guidance/notes.txt"
            )
        return self


class EntrySchema(_Strict):
    """One problem variant: how it looks, what it means and how to fix it."""

    id: Annotated[str, Field(pattern=_SLUG)]
    title: NonEmpty
    category: str
    signatures: Annotated[list[Signature], Field(min_length=1)]
    reply_codes: list[Annotated[int, Field(ge=200, le=599)]] = []
    enhanced_codes: list[Annotated[str, Field(pattern=_ENHANCED)]] = []
    hex_codes: list[Annotated[str, Field(pattern=_HEX)]] = []
    exceptions: list[NonEmpty] = []
    patterns: list[NonEmpty] = []
    applies_to: list[NonEmpty] = []
    cause: NonEmpty
    fix: Annotated[list[NonEmpty], Field(min_length=1)]
    probe_helps: bool = False
    # The category's answer for any client: given when the paste does not show which
    # runtime printed it, instead of an entry written for another one.
    generic: bool = False
    sources: Annotated[list[SourceSchema], Field(min_length=1)]

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of TAXONOMY.md")
        return value

    def to_entry(self) -> Entry:
        """The run-time record for this validated entry."""
        return Entry(
            id=self.id,
            title=self.title,
            category=self.category,
            signatures=tuple(self.signatures),
            cause=self.cause,
            fix=tuple(self.fix),
            sources=tuple(Source(**s.model_dump()) for s in self.sources),
            reply_codes=tuple(self.reply_codes),
            enhanced_codes=tuple(self.enhanced_codes),
            hex_codes=tuple(self.hex_codes),
            exceptions=tuple(self.exceptions),
            patterns=tuple(self.patterns),
            applies_to=tuple(self.applies_to),
            probe_helps=self.probe_helps,
            generic=self.generic,
        )

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regex: {exc}"
                ) from exc
        return value

    @field_validator("signatures")
    @classmethod
    def _signatures_meaningful(cls, value: list[str]) -> list[str]:
        if len({s.casefold() for s in value}) != len(value):
            raise ValueError("duplicate signature")
        return value


class CodeInfoSchema(_Strict):
    """
    One row of a code table.

    The code is an SMTP reply code, an enhanced status code or a hex code.
    """

    code: str
    title: NonEmpty
    meaning: NonEmpty
    category: str | None = None
    categories: list[str] = []
    source: NonEmpty

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}")
        return value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {category!r}")
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice")
        return value


def to_code_info(info: CodeInfoSchema) -> CodeInfo:
    """The run-time record for a validated code-table row."""
    data = info.model_dump()
    categories = tuple(data.pop("categories"))
    if data["category"] and data["category"] not in categories:
        categories = (data["category"], *categories)
    return CodeInfo(**data, categories=categories)


class CodeTableSchema(_Strict):
    """A whole code table file."""

    kind: Literal["reply", "enhanced", "hex"]
    codes: list[CodeInfoSchema]

    @model_validator(mode="after")
    def _codes_well_formed(self) -> CodeTableSchema:
        pattern = {
            "reply": r"^[2-5]\d\d$",
            # A vendor range is written X.7.606-649.
            "enhanced": r"^[245X]\.\d{1,3}\.\d{1,3}(?:-\d{1,3})?$",
            "hex": _HEX,
        }[self.kind]
        seen: set[str] = set()
        for info in self.codes:
            if not re.fullmatch(pattern, info.code):
                raise ValueError(f"code {info.code!r} is not a {self.kind} code")
            if info.code in seen:
                raise ValueError(f"code {info.code!r} listed twice")
            seen.add(info.code)
        return self


class SignalGroupSchema(_Strict):
    """Texts that point to one category with one weight, and where that is written."""

    category: str
    weight: Annotated[int, Field(ge=1, le=40)]
    sources: Annotated[list[NonEmpty], Field(min_length=1)]
    texts: Annotated[list[Annotated[str, Field(min_length=2)]], Field(min_length=1)]

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of TAXONOMY.md")
        return value


class SignalTableSchema(_Strict):
    """A whole signal table file (``knowledge/signals/*.yaml``)."""

    kind: Literal["signals"]
    family: Annotated[str, Field(pattern=_SLUG)]
    groups: Annotated[list[SignalGroupSchema], Field(min_length=1)]

    @model_validator(mode="after")
    def _no_duplicates(self) -> SignalTableSchema:
        seen: dict[str, str] = {}
        for group in self.groups:
            for text in group.texts:
                key = " ".join(text.casefold().split())
                if key in seen:
                    raise ValueError(
                        f"text {text!r} listed twice ({seen[key]}, {group.category})"
                    )
                seen[key] = group.category
        return self

    def to_signals(self) -> tuple[Signal, ...]:
        """The run-time records of this table."""
        return tuple(
            Signal(text, group.category, float(group.weight), self.family)
            for group in self.groups
            for text in group.texts
        )
