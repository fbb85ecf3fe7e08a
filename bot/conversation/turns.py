"""
What the conversation engine trades in, and its pure decisions.

The records: a message to answer (``Incoming``), the engine's answer (``Turn``) and a
request for a human (``HumanRequest``). The decisions: which diagnosis a message gets
given the thread so far, what to say (never the same answer twice), and the words of a
feedback acknowledgement or a human request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from bot.conversation.replies import (
    Reply,
    ReplyKind,
    diagnosis_reply,
    probe_offer_reply,
)
from bot.state.model import Command, Conversation, OfferRecord, Record, ThreadKey
from knowledge.matcher import Decision, Diagnosis, Matcher

# Earlier messages of the same user that give a follow-up its context.
CONTEXT_MESSAGES: Final = 3
# Words and codes that make a message look like a mail error rather than chatter:
# SMTP reply codes (RFC 5321 §4.2), enhanced status codes (RFC 3463), and the usual
# words of client error dialogs.
_ERROR_LIKE: Final = re.compile(
    r"\b[45]\d\d[ -]|\b[245]\.\d{1,3}\.\d{1,3}\b|0x[0-9a-f]{8}\b|"
    r"\b(error|fail(ed|ure)?|refused|rejected|denied|timed? ?out|unable|cannot|"
    r"can't|smtp|tls|ssl|certificate|authenticat\w*|relay)\b",
    re.IGNORECASE,
)


def looks_like_error(text: str) -> bool:
    """
    True when a message reads like a mail error (worth counting as a gap).
    """
    return _ERROR_LIKE.search(text) is not None


@dataclass(frozen=True, slots=True)
class Incoming:
    """
    A message to answer: where, who, what, and the names that identify it for dedupe.
    """

    key: ThreadKey
    user_id: str
    text: str
    ts: str
    dedupe: tuple[str, ...] = ()
    # An edit of an earlier message: answered only when it says something new.
    edit: bool = False
    # One delivery of the message (a queued entry's id): it is retried until done,
    # so state must be read (never guessed) and a redelivery looks before posting.
    token: str | None = None
    # Slack sent it again (it saw no ack in time): an answer may be out already.
    retried: bool = False


@dataclass(frozen=True, slots=True)
class HumanRequest:
    """
    The result of "Talk to a human": the thread state for the escalation (issue 5).
    """

    first: bool
    conversation: Conversation
    message: str
    user_id: str = ""
    reason: str = "button"
    text: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    """
    The engine's answer to a message, whether the thread now needs a human, and what
    to record once the answer is out (``Engine.record``).
    """

    reply: Reply | None
    wants_human: bool = False
    # Why the thread needs a human: "unmatched" (nothing more to offer) or "repeated"
    # (the same error again after the bot pointed back to its answer).
    reason: str = "unmatched"
    # Already handled (a retry, the mention twin of a message, another replica).
    duplicate: bool = False
    # The thread is with a human: the bot says nothing there, how-tos included.
    quiet: bool = False
    records: tuple[Record, ...] = ()
    also: tuple[Command, ...] = ()
    # An error that matched nothing, for the learning loop's gaps.
    gap: str | None = None
    # The answer may have reached the thread already (a redelivery or a Slack retry):
    # look there before posting it.
    look_first: bool = False


class Learning(Protocol):
    """
    Where the engine reports how answers fare (the escalation learning loop supplies
    one); the engine works without it.
    """

    def suggested_commands(
        self, category: str | None, entry_id: str | None
    ) -> Sequence[Command]:
        """
        The store commands that count an answer, to ride in the thread's pipeline.
        """

    async def suggested(self, category: str | None, entry_id: str | None) -> None:
        """
        The bot answered with an entry (or offered a category's alternatives).
        """

    async def count(self, counter: str, entry_id: str | None) -> None:
        """
        One more ``helpful``, ``rejected`` or ``escalated`` for an entry.
        """

    async def unmatched(self, text: str, *, workspace: str) -> None:
        """
        Remember an error that matched nothing, and the workspace it came from.
        """


def diagnose_in_thread(
    matcher: Matcher,
    text: str,
    conversation: Conversation,
    user_id: str,
    *,
    alone: Diagnosis | None = None,
) -> Diagnosis:
    """
    Match the message alone (``alone``, when already done), then with the user's
    earlier messages as context.
    """
    diagnosis = alone if alone is not None else matcher.diagnose(text)
    if diagnosis.decision == Decision.CONFIDENT or not conversation.messages:
        return diagnosis
    earlier = [m.text for m in conversation.messages if m.user_id == user_id]
    if not earlier:
        return diagnosis
    combined = matcher.diagnose("\n".join([*earlier[-CONTEXT_MESSAGES:], text]))
    if combined.decision == Decision.NONE:
        return diagnosis
    # Keep the server named in this message; context supplies the error.
    return Diagnosis(
        combined.decision,
        combined.category,
        combined.entry,
        combined.score,
        combined.alternatives,
        combined.evidence,
        combined.explanations,
        diagnosis.server or combined.server,
    )


def decide_reply(
    diagnosis: Diagnosis,
    conversation: Conversation,
    server: str | None,
    *,
    new_server: str | None,
) -> Reply | None:
    """
    Decide what to say; never repeat an answer already given in the thread.
    """
    reply = diagnosis_reply(diagnosis, server=server)
    repeated = reply is not None and any(
        o.entry_id == reply.entry_id
        and o.category == reply.category
        and o.alternatives == tuple(c.entry_id for c in reply.choices)
        for o in conversation.offers
    )
    if reply is not None and not repeated:
        return reply
    if (
        new_server
        and conversation.offers
        and not conversation.has_probe_offer(new_server)
    ):
        return probe_offer_reply(new_server)
    return None


def _same_offer(offer: OfferRecord, reply: Reply) -> bool:
    return (
        offer.entry_id == reply.entry_id
        and offer.category == reply.category
        and offer.alternatives == tuple(c.entry_id for c in reply.choices)
    )


def repeated_answer(alone: Diagnosis, conversation: Conversation) -> Reply | None:
    """
    The answer already given in the thread that this message's own error gets again
    (the same error pasted twice), or None.
    """
    reply = diagnosis_reply(alone, server=None)
    if reply is None or not any(_same_offer(o, reply) for o in conversation.offers):
        return None
    return reply


def pointed_back(earlier: Reply, conversation: Conversation) -> bool:
    """
    True when the thread was already pointed back to this answer once.
    """
    return any(
        o.decision == ReplyKind.REPEAT and _same_offer(o, earlier)
        for o in conversation.offers
    )


def repeat_reply(earlier: Reply) -> Reply:
    """
    A short pointer back to the answer already given for the same error.
    """
    if earlier.kind == ReplyKind.ANSWER:
        what = f"my answer above, *{earlier.title}*"
    elif earlier.kind == ReplyKind.CHOICES:
        what = "the possible causes I listed above"
    else:
        what = "what I explained above"
    return Reply(
        kind=ReplyKind.REPEAT,
        category=earlier.category,
        entry_id=earlier.entry_id,
        title="That's the same error as before.",
        cause=(
            f"See {what}. If you've followed those steps and still get this "
            "error, press *Talk to a human* and someone from the support team "
            "will take it from here."
        ),
        choices=earlier.choices,
    )


def feedback_ack(*, helpful: bool) -> str:
    """
    The acknowledgement shown for an answer to "Did this help?".
    """
    if helpful:
        return "Thanks for letting me know. Glad it helped!"
    return (
        "Sorry that didn't help. Press *Talk to a human* and someone from the "
        "support team will take a look."
    )


def human_claim(key: ThreadKey) -> str:
    """
    The once-per-escalation claim on asking for a human in a thread (released when a
    human hands the thread back).
    """
    return f"human:{key}"


def human_request(
    conversation: Conversation,
    *,
    first: bool,
    user_id: str,
    reason: str,
    text: str,
) -> HumanRequest:
    """
    The result of a request for a human, with what the thread is told.
    """
    if not first:
        return HumanRequest(
            False,
            conversation,
            "A human has already been asked to look at this thread.",
            user_id,
            reason,
            text,
        )
    return HumanRequest(
        True,
        conversation,
        "I've let the support team know; someone will "
        "reply in this thread. I'll stay quiet here from now on.",
        user_id,
        reason,
        text,
    )
