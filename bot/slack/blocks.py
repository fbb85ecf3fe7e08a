"""
Block Kit for replies and probe reports, built with ``slack_sdk.models.blocks``.

Slack rejects a message that breaks its limits
(api.slack.com/reference/block-kit/blocks):
section text <= 3000 characters, header <= 150, button text <= 75, button value <= 2000,
at most 50 blocks. Long knowledge-base text is cut at a word boundary with an ellipsis
and
extra fix steps are summarised, so every reply is accepted.
"""

from __future__ import annotations

import functools
import json
import re
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

from bot.conversation.replies import (
    ProbeOutcome,
    Reply,
    ReplyKind,
    domain_head,
    policy_lines,
    probe_lines,
)

SECTION_LIMIT: Final = 3000
HEADER_LIMIT: Final = 150
BUTTON_LIMIT: Final = 75
VALUE_LIMIT: Final = 2000
MAX_BLOCKS: Final = 50
# A single fix step longer than this is cut: steps are meant to be one action each.
STEP_LIMIT: Final = 1200
# Blocks kept for the header, cause, codes, source and buttons around the steps.
RESERVED_BLOCKS: Final = 10
# Plain-text fallback shown in notifications; Slack truncates long ones anyway.
FALLBACK_LIMIT: Final = 3000

PROBE: Final = "smtpbot_probe"
FEEDBACK_YES: Final = "smtpbot_feedback_yes"
FEEDBACK_NO: Final = "smtpbot_feedback_no"
HUMAN: Final = "smtpbot_human"
CHOOSE_PREFIX: Final = "smtpbot_choose_"
# Bolt matches the numbered choice buttons with one listener.
CHOICE_PATTERN: Final = re.compile(r"^smtpbot_choose_\d+$")

_ICONS: Final = {
    "ok": ":white_check_mark:",
    "pass": ":white_check_mark:",
    "warn": ":warning:",
    "fail": ":x:",
    "none": ":white_circle:",
}


def cut(text: str, limit: int) -> str:
    """
    Shorten ``text`` to at most ``limit`` characters at a word boundary, with an
    ellipsis.
    """
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def escape(text: str) -> str:
    """
    Escape the three characters Slack's mrkdwn reserves.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def encode_value(**fields: str | None) -> str:
    """
    A compact JSON button value (within Slack's 2000 characters).
    """
    value = json.dumps(
        {k: v for k, v in fields.items() if v is not None}, separators=(",", ":")
    )
    return value if len(value) <= VALUE_LIMIT else "{}"


def decode_value(value: str | None) -> dict[str, str]:
    """
    Parse a button value made by ``encode_value``; anything else gives {}.
    """
    try:
        data = json.loads(value or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def _button(
    text: str, action_id: str, value: str, *, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=cut(text, BUTTON_LIMIT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
    )


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut(text, SECTION_LIMIT)))


def _step_sections(steps: tuple[str, ...], budget: int) -> list[Block]:
    """
    Numbered steps packed into sections of at most 3000 characters, within ``budget``.
    """
    lines = [
        f"{n}. {escape(cut(step, STEP_LIMIT))}" for n, step in enumerate(steps, start=1)
    ]
    packed: list[tuple[str, int]] = []
    current, count = "*How to fix it*", 0
    for line in lines:
        if len(current) + 1 + len(line) > SECTION_LIMIT:
            packed.append((current, count))
            current, count = line, 1
        else:
            current, count = f"{current}\n{line}", count + 1
    packed.append((current, count))
    if len(packed) > budget:
        packed = packed[: budget - 1]
        shown = sum(n for _, n in packed)
        packed.append(
            (f"…and {len(steps) - shown} more steps: see the source below.", 0)
        )
    sections = [text for text, _ in packed]
    return [_section(text) for text in sections]


def reply_blocks(reply: Reply, *, thread_ts: str) -> list[Block]:
    """
    Blocks for an answer, a "which one?" question, a codes explanation, a probe offer
    or a pointer back to an earlier answer.
    """
    if reply.kind == ReplyKind.REPEAT:
        return [
            _section(f"*{escape(reply.title)}* {reply.cause}"),
            ActionsBlock(
                block_id="smtpbot_actions",
                elements=[_button("Talk to a human", HUMAN, encode_value(t=thread_ts))],
            ),
        ]
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=cut(reply.title or "Answer", HEADER_LIMIT))
        )
    ]
    if reply.cause:
        blocks.append(_section(f"*Why this happens*\n{escape(reply.cause)}"))
    if reply.steps:
        blocks.extend(_step_sections(reply.steps, MAX_BLOCKS - RESERVED_BLOCKS))
    if reply.codes:
        blocks.append(
            _section(
                "\n".join(
                    f"*{escape(c.code)}* {escape(c.title)}: {escape(c.meaning)}"
                    for c in reply.codes
                )
            )
        )
    if reply.sources:
        links = "; ".join(
            f"<{s.url}|{escape(s.title)}>" if s.url else escape(s.title)
            for s in reply.sources
        )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=cut(f"Source: {links}", SECTION_LIMIT))
                ]
            )
        )
    if reply.kind == ReplyKind.CHOICES or (
        reply.choices and reply.kind == ReplyKind.CODES
    ):
        label = (
            "Is it one of these?"
            if reply.kind == ReplyKind.CHOICES
            else "Or one of these?"
        )
        blocks.append(_section(f"*{label}*"))
        blocks.append(
            ActionsBlock(
                block_id="smtpbot_choices",
                elements=[
                    _button(
                        c.title,
                        f"{CHOOSE_PREFIX}{n}",
                        encode_value(t=thread_ts, e=c.entry_id),
                    )
                    for n, c in enumerate(reply.choices[:5])
                ],
            )
        )
    actions: list[ButtonElement] = []
    if reply.server:
        actions.append(
            _button(
                f"Run STARTTLS check on {reply.server}",
                PROBE,
                encode_value(t=thread_ts, s=reply.server),
                style="primary",
            )
        )
    if reply.kind == ReplyKind.ANSWER:
        blocks.append(_section("*Did this help?*"))
        value = encode_value(t=thread_ts, e=reply.entry_id)
        actions += [
            _button("Yes, it helped", FEEDBACK_YES, value),
            _button("No", FEEDBACK_NO, value),
        ]
    actions.append(_button("Talk to a human", HUMAN, encode_value(t=thread_ts)))
    blocks.append(ActionsBlock(block_id="smtpbot_actions", elements=actions))
    return blocks[:MAX_BLOCKS]


def reply_text(reply: Reply) -> str:
    """
    The notification fallback for a reply.
    """
    return cut(
        reply.title + (f": {reply.cause}" if reply.cause else ""), FALLBACK_LIMIT
    )


def progress_blocks(target: str, phases: list[str]) -> list[Block]:
    """
    The "checking <host>…" message, with the phases done so far.
    """
    done = "".join(f"\n:heavy_check_mark: {escape(p)}" for p in phases[-20:])
    return [_section(f":hourglass_flowing_sand: Checking `{escape(target)}`…{done}")]


def probe_blocks(outcome: ProbeOutcome, *, thread_ts: str | None) -> list[Block]:
    """
    The probe report: verdict per port, findings, and advice for failures.
    """
    title = "Mail domain check" if outcome.domain is not None else "STARTTLS check"
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=cut(f"{title}: {outcome.target}", HEADER_LIMIT))
        )
    ]
    if outcome.refused:
        blocks.append(_section(f":no_entry: Not checked: {escape(outcome.refused)}"))
        return blocks
    domain = outcome.domain
    if domain is not None:
        icon = _ICONS.get(domain.verdict, ":grey_question:")
        why = "\n".join(f"• {escape(r)}" for r in domain.reasons)
        blocks.append(
            _section(
                f"{icon} *{escape(domain_head(domain))}*" + (f"\n{why}" if why else "")
            )
        )
        for policy, lines in zip(domain.policies, policy_lines(domain), strict=True):
            head, *rest = lines
            body = "\n".join(escape(line.strip()) for line in rest)
            mark = _ICONS.get(policy.result, ":grey_question:")
            blocks.append(
                _section(f"{mark} *{escape(head)}*" + (f"\n{body}" if body else ""))
            )
    for summary in outcome.summaries[:10]:
        head, *details = probe_lines(summary)
        icon = _ICONS.get(summary.verdict, ":grey_question:")
        body = "\n".join(escape(line.strip()) for line in details)
        blocks.append(
            _section(f"{icon} *{escape(head)}*" + (f"\n{body}" if body else ""))
        )
    for advice in outcome.advice[:3]:
        steps = "\n".join(
            f"{n}. {escape(cut(s, 600))}" for n, s in enumerate(advice.steps, start=1)
        )
        blocks.append(_section(f"*What to do: {escape(advice.title)}*\n{steps}"))
    if thread_ts is not None:
        blocks.append(
            ActionsBlock(
                block_id="smtpbot_actions",
                elements=[_button("Talk to a human", HUMAN, encode_value(t=thread_ts))],
            )
        )
    return blocks[:MAX_BLOCKS]


def probe_text(outcome: ProbeOutcome) -> str:
    """
    The notification fallback for a probe report.
    """
    if outcome.refused:
        return cut(f"Not checked {outcome.target}: {outcome.refused}", FALLBACK_LIMIT)
    if outcome.domain is not None:
        results = ", ".join(f"{p.name} {p.result}" for p in outcome.domain.policies)
        return cut(
            f"Mail domain check: {outcome.domain.domain} {outcome.domain.verdict} "
            f"({results})",
            FALLBACK_LIMIT,
        )
    verdicts = ", ".join(f"{s.target} {s.verdict}" for s in outcome.summaries)
    return cut(f"STARTTLS check: {verdicts or outcome.target}", FALLBACK_LIMIT)


def to_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """
    Blocks as the JSON Slack's Web API takes.
    """
    return [block.to_dict() for block in blocks]


# Stand-in for the thread ts in cached renderings; Slack ts values are digits and a dot.
_THREAD_MARK: Final = "0000000000.thread"


@functools.lru_cache(maxsize=512)
def _reply_json(reply: Reply) -> str:
    """
    A reply's blocks as JSON with a stand-in thread ts (slack_sdk's models are slow to
    build and validate, and the same knowledge-base answer is given again and again).
    """
    return json.dumps(to_dicts(reply_blocks(reply, thread_ts=_THREAD_MARK)))


def reply_payload(reply: Reply, *, thread_ts: str) -> list[dict[str, Any]]:
    """
    ``to_dicts(reply_blocks(reply, thread_ts=...))``, served from a cache.
    """
    rendered: list[dict[str, Any]] = json.loads(
        _reply_json(reply).replace(_THREAD_MARK, thread_ts)
    )
    return rendered


# The metadata event type of the bot's answers: it names the message answered, so a
# redelivered message can be found answered in its thread (conversations.replies with
# include_all_metadata) instead of being answered twice.
REPLY_EVENT: Final = "smtpbot_reply"


def reply_metadata(message_ts: str) -> dict[str, Any]:
    """
    Slack message metadata for an answer to the message ``message_ts``.
    """
    return {"event_type": REPLY_EVENT, "event_payload": {"message_ts": message_ts}}


def answers(message: dict[str, Any], message_ts: str) -> bool:
    """
    True when a posted message is the bot's answer to the message ``message_ts``.
    """
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != REPLY_EVENT:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("message_ts") == message_ts
