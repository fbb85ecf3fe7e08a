"""
Block Kit for the hand-off card and the thread notices. Pure; no I/O.

The card is edited in place (chat.update) as its status changes, so it is always
rendered whole from the escalation record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.escalation.model import REASON_TEXT, Escalation, Reason, Status
from bot.escalation.overview import duration
from bot.slack.blocks import SECTION_LIMIT, cut, encode_value, escape, to_dicts

CLAIM: Final = "smtpbot_esc_claim"
RESOLVE: Final = "smtpbot_esc_resolve"
HANDBACK: Final = "smtpbot_esc_handback"


def slack_date(at: float, token: str = "{date_short_pretty} at {time}") -> str:
    """
    A time that each reader's Slack shows in their own time zone (with a UTC fallback).
    """
    fallback = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at)}^{token}|{fallback}>"


def where(channel_id: str) -> str:
    """
    Where the thread is: a channel, or a direct message with the bot (which the
    support team cannot open: they contact the person instead).
    """
    if channel_id.startswith("D"):
        return "a direct message with the bot (contact them directly)"
    return f"<#{channel_id}>"


def status_line(escalation: Escalation) -> str:
    """
    Where the escalation stands, with who and when.
    """
    e = escalation
    if e.status == Status.CLAIMED and e.claimed_at is not None:
        return (
            f":large_blue_circle: *Claimed* by <@{e.claimed_by}> "
            f"{slack_date(e.claimed_at)}"
        )
    if e.closed_at is not None and e.status in {Status.RESOLVED, Status.HANDED_BACK}:
        what = (
            "*Resolved*" if e.status == Status.RESOLVED else "*Handed back to the bot*"
        )
        claimed = f" (claimed by <@{e.claimed_by}>)" if e.claimed_by else ""
        return (
            f":white_check_mark: {what} by <@{e.closed_by}>{claimed} after "
            f"{duration(e.closed_at - e.created_at)}"
        )
    return ":large_yellow_circle: *Waiting* for someone to claim it"


def _buttons(escalation: Escalation) -> list[ButtonElement]:
    value = encode_value(k=escalation.id)
    buttons: list[ButtonElement] = []
    if escalation.status == Status.OPEN:
        buttons.append(
            ButtonElement(
                text=PlainTextObject(text="Claim"),
                action_id=CLAIM,
                value=value,
                style="primary",
            )
        )
    if escalation.status.active:
        buttons += [
            ButtonElement(
                text=PlainTextObject(text="Resolve"), action_id=RESOLVE, value=value
            ),
            ButtonElement(
                text=PlainTextObject(text="Hand back to bot"),
                action_id=HANDBACK,
                value=value,
            ),
        ]
    return buttons


def card_blocks(escalation: Escalation, *, mention: str | None) -> list[Block]:
    """
    The hand-off card: who, the error, what the bot tried, the link, status, buttons.
    """
    e, s = escalation, escalation.summary
    link = f"<{e.permalink}|Open the thread>" if e.permalink else "thread link missing"
    who = f"<@{e.asker}>" + (
        f" (asked by <@{e.requested_by}>)" if e.requested_by != e.asker else ""
    )
    ping = f"{mention} " if mention else ""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Someone needs a human")),
        SectionBlock(
            text=MarkdownTextObject(
                text=cut(
                    f"{ping}{who} in {where(e.key.channel_id)} "
                    f"{REASON_TEXT[e.reason]}. {link}",
                    SECTION_LIMIT,
                )
            )
        ),
    ]
    if s.error:
        error = cut(s.error, SECTION_LIMIT - 40).replace("```", "'''")
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=f"*Error*\n```{escape(error)}```")
            )
        )
    suggested = (
        f"`{escape(s.entry_id)}` (category `{escape(s.category or 'none')}`)"
        if s.entry_id
        else (
            f"alternatives in category `{escape(s.category)}`"
            if s.category and s.category != "none"
            else "nothing (no confident match)"
        )
    )
    details = [f"*Bot suggested:* {suggested}"]
    if s.probes:
        details.append("*Probes:*\n" + "\n".join(f"• {escape(p)}" for p in s.probes))
    if s.feedback:
        details.append("*Feedback:* " + "; ".join(s.feedback))
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(text=cut("\n".join(details), SECTION_LIMIT))
        )
    )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=status_line(e))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Escalated {slack_date(e.created_at, '{ago}')} · "
                    f"{slack_date(e.created_at)}"
                )
            ]
        )
    )
    buttons = _buttons(e)
    if buttons:
        blocks.append(ActionsBlock(block_id="smtpbot_escalation", elements=buttons))
    return blocks


# The metadata event type of escalation cards.
CARD_EVENT: Final = "smtpbot_escalation"


def card_payload(escalation: Escalation, *, mention: str | None) -> dict[str, Any]:
    """
    ``text`` (the notification, with the mention) and ``blocks`` for the card.
    """
    ping = f"{mention} " if mention else ""
    lines = escalation.summary.error.splitlines()
    first = lines[0] if lines else "no error text"
    text = cut(f"{ping}<@{escalation.asker}> needs a human: {first}", SECTION_LIMIT)
    return {
        "text": text,
        "blocks": to_dicts(card_blocks(escalation, mention=mention)),
        # Slack message metadata names the escalation, so a replica can find a card
        # that was posted but never recorded (it died in between) instead of posting
        # a second one.
        "metadata": {
            "event_type": CARD_EVENT,
            "event_payload": {
                "escalation": escalation.id,
                "opened": escalation.created_at,
            },
        },
    }


def is_card_of(message: dict[str, Any], escalation: Escalation) -> bool:
    """
    True when a posted message is this escalation's card, by its metadata (the
    thread's id and when it was escalated: a thread escalated again after a hand back
    has an older card for the same id).
    """
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != CARD_EVENT:
        return False
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict) or payload.get("escalation") != escalation.id:
        return False
    opened = payload.get("opened")
    # Cards posted before "opened" existed name only the thread.
    return opened is None or opened == escalation.created_at


def reminder_text(escalation: Escalation, *, mention: str | None, now: float) -> str:
    """
    The SLA reminder posted under the card (a new message, so the mention notifies).
    """
    ping = f"{mention} " if mention else ""
    link = f" <{escalation.permalink}|Open the thread>" if escalation.permalink else ""
    return (
        f"{ping}:alarm_clock: Still unclaimed after "
        f"{duration(escalation.age(now))}: <@{escalation.asker}> is waiting.{link}"
    )


# The metadata event type of the notice that tells a thread a human was asked.
NOTICE_EVENT: Final = "smtpbot_escalation_notice"
# What the thread is told when the bot itself decided to hand over.
_AUTO_NOTICE: Final = {
    Reason.FEEDBACK: "That's twice my answer didn't help, so I've asked a human.",
    Reason.UNMATCHED: "I have nothing more to suggest for this, so I've asked a human.",
    Reason.REPEATED: "The same error is still there after my answer, so that fix "
    "didn't help. I've asked a human.",
}
NOTICE_TAIL: Final = (
    "I've let the support team know; someone will reply in this thread. I'll stay "
    "quiet here from now on."
)
# A direct message's thread: nobody from the support team can write in it.
DIRECT_TAIL: Final = (
    "I've let the support team know; someone will contact you directly. I'll stay "
    "quiet here from now on."
)


def notice_payload(escalation: Escalation) -> dict[str, Any]:
    """
    The thread notice (text and metadata naming the escalation, so that a replica
    finishing a hand-off after a crash finds it instead of posting it twice).
    """
    head = _AUTO_NOTICE.get(
        escalation.reason, f"<@{escalation.requested_by}> asked for a human."
    )
    tail = DIRECT_TAIL if escalation.key.channel_id.startswith("D") else NOTICE_TAIL
    return {
        "text": f"{head} {tail}",
        "metadata": {
            "event_type": NOTICE_EVENT,
            "event_payload": {
                "escalation": escalation.id,
                "opened": escalation.created_at,
            },
        },
    }


def is_notice_of(message: dict[str, Any], escalation: Escalation) -> bool:
    """
    True when a posted message is this escalation's thread notice (by its metadata).
    """
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != NOTICE_EVENT:
        return False
    payload = metadata.get("event_payload")
    return (
        isinstance(payload, dict)
        and payload.get("escalation") == escalation.id
        and payload.get("opened") == escalation.created_at
    )


# The metadata event type of the thread messages that follow a Claim or a hand back.
UPDATE_EVENT: Final = "smtpbot_escalation_update"


def update_steps(escalation: Escalation) -> tuple[str, ...]:
    """
    The thread messages this escalation's life so far calls for, in order: who took
    it, and that it was handed back to the bot (resolving says nothing there).
    """
    steps: list[str] = []
    if escalation.claimed_by:
        steps.append(str(Status.CLAIMED))
    if escalation.status == Status.HANDED_BACK:
        steps.append(str(Status.HANDED_BACK))
    return tuple(steps)


def update_payload(escalation: Escalation, step: str) -> dict[str, Any]:
    """
    The thread message of one life-cycle step, with metadata naming the escalation
    and the step (a replica finishing it after a crash finds it instead of posting it
    twice).
    """
    if step == Status.CLAIMED:
        text = (
            f"<@{escalation.claimed_by}> from the support team has taken this and "
            "will reply here."
        )
    else:
        text = (
            f"<@{escalation.closed_by}> handed this thread back to me. Paste an error "
            "here and I'll answer again."
        )
    return {
        "text": text,
        "metadata": {
            "event_type": UPDATE_EVENT,
            "event_payload": {
                "escalation": escalation.id,
                "opened": escalation.created_at,
                "step": step,
            },
        },
    }


def is_update_of(message: dict[str, Any], escalation: Escalation, step: str) -> bool:
    """
    True when a posted message is this escalation's thread message for ``step``.
    """
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != UPDATE_EVENT:
        return False
    payload = metadata.get("event_payload")
    return (
        isinstance(payload, dict)
        and payload.get("escalation") == escalation.id
        and payload.get("opened") == escalation.created_at
        and payload.get("step") == step
    )
