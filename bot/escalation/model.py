"""
An escalation: one thread handed to people, its summary and its life cycle.

Stored as a flat Redis hash (strings only), so ``to_fields`` / ``from_fields`` are the
whole storage format. Pure; no I/O.

    open ──Claim──▶ claimed ──Resolve──▶ resolved      (thread stays quiet)
      │                │
      └──Resolve / Hand back──▶ handed_back            (thread back to the bot)
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Final

from bot.redact import redact
from bot.state import Conversation, ThreadKey

# The pasted error shown on the card is cut here: the card must stay readable and
# Slack's section limit is 3000 characters.
ERROR_LIMIT: Final = 1500
# Probe and feedback lines kept in the summary (the newest).
SUMMARY_LINES: Final = 5
# Hash fields marking a life-cycle message to the thread as posted (its ts) and as
# begun: ``told:claimed``, ``tried:handed_back``.
TOLD: Final = "told:"
TRIED: Final = "tried:"


class Status(enum.StrEnum):
    """
    Where an escalation is in its life cycle.
    """

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    HANDED_BACK = "handed_back"

    @property
    def active(self) -> bool:
        """
        True while a person is expected to act (open or claimed).
        """
        return self in {Status.OPEN, Status.CLAIMED}


class Asked(enum.Enum):
    """
    What became of a request for a human.
    """

    # Recorded: a card and a thread notice will follow, whatever crashes meanwhile.
    ACCEPTED = "accepted"
    # The thread is with a human already (or was resolved).
    ALREADY = "already"
    # Nothing could be recorded (Redis unreachable): the asker must try again.
    UNAVAILABLE = "unavailable"


class Reason(enum.StrEnum):
    """
    What asked for the human.
    """

    BUTTON = "button"
    FEEDBACK = "feedback"
    UNMATCHED = "unmatched"
    REACTION = "reaction"
    MENTION = "mention"
    REPEATED = "repeated"


REASON_TEXT: Final = {
    Reason.BUTTON: "pressed *Talk to a human*",
    Reason.FEEDBACK: "said twice that the answer did not help",
    Reason.UNMATCHED: "followed up with an error the bot does not know",
    Reason.REACTION: "reacted to the original message",
    Reason.MENTION: "asked the bot for a human",
    Reason.REPEATED: "still got the same error after the bot's answer",
}


@dataclass(frozen=True, slots=True)
class Summary:
    """
    What a person needs to pick the thread up: the error, the bot's answer, and more.
    """

    error: str = ""
    category: str | None = None
    entry_id: str | None = None
    probes: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Escalation:
    """
    One escalated thread (its id is the thread key: one escalation per thread).
    """

    key: ThreadKey
    asker: str
    requested_by: str
    reason: Reason
    created_at: float
    summary: Summary = field(default_factory=Summary)
    status: Status = Status.OPEN
    permalink: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    # The notice posted in the thread (the asker has been told), once it is out.
    notice_ts: str | None = None
    claimed_by: str | None = None
    claimed_at: float | None = None
    closed_by: str | None = None
    closed_at: float | None = None
    # The status the card was last drawn with (a Claim or close still to show on it
    # when it differs from ``status``).
    card_shows: str | None = None
    # The thread messages about its life cycle that are out ("claimed",
    # "handed_back"), and those whose post was begun (looked for before posting again).
    told: frozenset[str] = frozenset()
    tried: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        """
        The escalation's id: ``team:channel:thread_ts``.
        """
        return str(self.key)

    def age(self, now: float) -> float:
        """
        Seconds since it was escalated.
        """
        return max(0.0, now - self.created_at)

    def to_fields(self) -> dict[str, str]:
        """
        The Redis hash fields (unset values are left out).
        """
        values: dict[str, str | float | None] = {
            "key": self.id,
            "asker": self.asker,
            "requested_by": self.requested_by,
            "reason": str(self.reason),
            "created_at": repr(self.created_at),
            "status": str(self.status),
            "summary": json.dumps(
                {
                    "error": self.summary.error,
                    "category": self.summary.category,
                    "entry_id": self.summary.entry_id,
                    "probes": list(self.summary.probes),
                    "feedback": list(self.summary.feedback),
                },
                ensure_ascii=False,
            ),
            "permalink": self.permalink,
            "card_channel": self.card_channel,
            "card_ts": self.card_ts,
            "notice_ts": self.notice_ts,
            "claimed_by": self.claimed_by,
            "claimed_at": self.claimed_at,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at,
            "card_shows": self.card_shows,
            **{f"{TOLD}{step}": "" for step in self.told},
            **{f"{TRIED}{step}": "1" for step in self.tried},
        }
        return {
            k: repr(v) if isinstance(v, float) else v
            for k, v in values.items()
            if v is not None
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Escalation | None:
        """
        Parse a stored hash; damaged or partial records give None.
        """
        try:
            team, channel, thread_ts = fields["key"].split(":", 2)
            raw = json.loads(fields.get("summary") or "{}")
            summary = Summary(
                error=str(raw.get("error") or ""),
                category=raw.get("category"),
                entry_id=raw.get("entry_id"),
                probes=tuple(str(p) for p in raw.get("probes") or ()),
                feedback=tuple(str(f) for f in raw.get("feedback") or ()),
            )
            return cls(
                key=ThreadKey(team, channel, thread_ts),
                asker=fields["asker"],
                requested_by=fields.get("requested_by") or fields["asker"],
                reason=Reason(fields.get("reason") or Reason.BUTTON),
                created_at=float(fields["created_at"]),
                summary=summary,
                status=Status(fields.get("status") or Status.OPEN),
                permalink=fields.get("permalink"),
                card_channel=fields.get("card_channel"),
                card_ts=fields.get("card_ts"),
                notice_ts=fields.get("notice_ts"),
                claimed_by=fields.get("claimed_by"),
                claimed_at=_float(fields.get("claimed_at")),
                closed_by=fields.get("closed_by"),
                closed_at=_float(fields.get("closed_at")),
                card_shows=fields.get("card_shows"),
                told=_steps(fields, TOLD),
                tried=_steps(fields, TRIED),
            )
        except (KeyError, ValueError, TypeError, AttributeError):
            return None


def _float(raw: str | None) -> float | None:
    return float(raw) if raw else None


def _steps(fields: dict[str, str], prefix: str) -> frozenset[str]:
    return frozenset(k[len(prefix) :] for k in fields if k.startswith(prefix))


def summarise(conversation: Conversation, *, fallback_text: str = "") -> Summary:
    """
    The card's summary of a thread: its first message, the bot's last answer, probes
    and feedback (all redacted again: the card is reposted text).
    """
    first = conversation.messages[0].text if conversation.messages else fallback_text
    last = conversation.offers[-1] if conversation.offers else None
    probes = tuple(
        redact(f"{p.target}: {p.verdict} ({p.summary})")
        for p in conversation.probes[-SUMMARY_LINES:]
    )
    feedback = tuple(
        f"<@{f.user_id}> {'helpful' if f.helpful else 'not helpful'}"
        + (f" ({f.entry_id})" if f.entry_id else "")
        for f in conversation.feedback[-SUMMARY_LINES:]
    )
    return Summary(
        error=redact(first)[:ERROR_LIMIT],
        category=last.category if last is not None else None,
        entry_id=conversation.last_entry_id,
        probes=probes,
        feedback=feedback,
    )


def new_escalation(
    conversation: Conversation,
    *,
    requested_by: str,
    reason: Reason,
    now: float,
    text: str = "",
) -> Escalation:
    """
    A fresh open escalation of a thread; the asker is whoever started the thread.
    """
    asker = conversation.messages[0].user_id if conversation.messages else requested_by
    return Escalation(
        key=conversation.key,
        asker=asker,
        requested_by=requested_by,
        reason=reason,
        created_at=now,
        summary=summarise(conversation, fallback_text=text),
    )


def parse_key(raw: str) -> ThreadKey | None:
    """
    A thread key from its string form, or None.
    """
    parts = raw.split(":", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return ThreadKey(*parts)
