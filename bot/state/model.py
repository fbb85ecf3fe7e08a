"""
The per-thread conversation: what was said, offered, probed and felt about it.

A conversation is stored as an append-only list of small records (JSON objects with a
kind
``k``) and rebuilt here by folding them. Appending is one Redis command and never loses
a
concurrent update (two replicas, a button click during a message), which a
read-modify-write
of one blob would. Pure; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

# A raw Redis command another part (the learning counters) rides along with a write.
Command: TypeAlias = tuple[str | int | float, ...]

# Stored pastes are cut here: the error lines sit near the top and the thread context
# needs no more; a full 40,000-character Slack message per turn would bloat Redis.
STORED_TEXT_LIMIT: Final = 8_000


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """
    One Slack thread (or console session): ``team:channel:thread_ts``.
    """

    team_id: str
    channel_id: str
    thread_ts: str

    def __str__(self) -> str:
        return f"{self.team_id}:{self.channel_id}:{self.thread_ts}"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """
    A message seen in the thread, already redacted, with the server it names.
    """

    user_id: str
    ts: str
    text: str
    server: str | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """
    What the bot answered: the entry or alternatives shown, and the probe offered.
    """

    decision: str
    category: str
    entry_id: str | None
    alternatives: tuple[str, ...] = ()
    server: str | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """
    A probe run from the thread and its outcome.
    """

    target: str
    user_id: str
    verdict: str
    category: str | None
    summary: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """
    A "Did this help?" answer.
    """

    user_id: str
    helpful: bool
    entry_id: str | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class HumanRecord:
    """
    Someone asked for a human; from then on the bot stays quiet in the thread.
    """

    user_id: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class HandbackRecord:
    """
    A person handed the thread back to the bot: it answers there again.
    """

    user_id: str
    at: float = 0.0


Record = (
    MessageRecord
    | OfferRecord
    | ProbeRecord
    | FeedbackRecord
    | HumanRecord
    | HandbackRecord
)

_KINDS: Final[dict[str, type[Record]]] = {
    "msg": MessageRecord,
    "offer": OfferRecord,
    "probe": ProbeRecord,
    "feedback": FeedbackRecord,
    "human": HumanRecord,
    "handback": HandbackRecord,
}
_NAMES: Final = {cls: name for name, cls in _KINDS.items()}


def dump_record(record: Record) -> str:
    """
    One record as compact JSON (the stored form).
    """
    data: dict[str, Any] = {"k": _NAMES[type(record)]}
    for name in record.__slots__:
        value = getattr(record, name)
        data[name] = list(value) if isinstance(value, tuple) else value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def load_record(raw: str | bytes) -> Record | None:
    """
    Parse a stored record; unknown kinds or damaged data give None (skipped, not fatal).
    """
    try:
        data = json.loads(raw)
        cls = _KINDS[data.pop("k")]
        fields = {name: data[name] for name in cls.__slots__ if name in data}
        if "alternatives" in fields:
            fields["alternatives"] = tuple(fields["alternatives"])
        record: Record = cls(**fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return record


@dataclass(frozen=True, slots=True)
class Conversation:
    """
    The state of one thread, folded from its records.
    """

    key: ThreadKey
    messages: tuple[MessageRecord, ...] = ()
    offers: tuple[OfferRecord, ...] = ()
    probes: tuple[ProbeRecord, ...] = ()
    feedback: tuple[FeedbackRecord, ...] = ()
    escalated: bool = False
    escalated_by: str | None = None

    @classmethod
    def fold(cls, key: ThreadKey, records: Iterable[Record]) -> Conversation:
        """
        Rebuild the conversation from its records, oldest first.
        """
        messages: list[MessageRecord] = []
        offers: list[OfferRecord] = []
        probes: list[ProbeRecord] = []
        feedback: list[FeedbackRecord] = []
        escalated_by: str | None = None
        for record in records:
            if isinstance(record, MessageRecord):
                messages.append(record)
            elif isinstance(record, OfferRecord):
                offers.append(record)
            elif isinstance(record, ProbeRecord):
                probes.append(record)
            elif isinstance(record, FeedbackRecord):
                feedback.append(record)
            elif isinstance(record, HandbackRecord):
                escalated_by = None
            elif escalated_by is None:
                escalated_by = record.user_id
        return cls(
            key,
            tuple(messages),
            tuple(offers),
            tuple(probes),
            tuple(feedback),
            escalated=escalated_by is not None,
            escalated_by=escalated_by,
        )

    def latest_server(self, *, user_id: str | None = None) -> str | None:
        """
        The server most recently named in the thread, preferring ``user_id``'s messages.
        """
        for wanted in (user_id, None):
            for message in reversed(self.messages):
                if message.server and (wanted is None or message.user_id == wanted):
                    return message.server
        return None

    def offered(self, entry_id: str) -> bool:
        """
        True when this entry was already shown in the thread.
        """
        return any(o.entry_id == entry_id for o in self.offers)

    def has_probe_offer(self, server: str) -> bool:
        """
        True when a probe of this server was already offered in the thread.
        """
        return any(o.server == server for o in self.offers)

    @property
    def last_entry_id(self) -> str | None:
        """
        The entry of the most recent confident answer, if any.
        """
        return next((o.entry_id for o in reversed(self.offers) if o.entry_id), None)
