"""
Reading what people send from Slack's message payloads: the conversation it belongs to,
who wrote it, and the text a person would read in it. Pure; no I/O.

A message's readable text is its ``text`` plus what Slack shows with it: attachments
(forwarded and shared messages, integrations' rich messages; not link previews) and
rich-text blocks whose words are not already in ``text``. Edits (``message_changed``)
are read from the edited message, and only when what a person reads changed (a link
unfurl or a new thread reply changes nothing readable). Conversations are keyed by the
workspace (or, for an org-wide install, the enterprise) the app is installed in, so one
thread in a Slack Connect channel is one conversation whichever organisation writes in
it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from bot.conversation.turns import Incoming
from bot.state import ThreadKey

# Subtypes that are still a person writing; every other subtype is ignored: deletions,
# joins, bot messages (api.slack.com/events/message#subtypes). Edits are read from the
# edited message (``message_changed``).
ANSWERED_SUBTYPES: Final = frozenset({None, "file_share", "thread_broadcast"})
EDITED: Final = "message_changed"
# Readable text beyond this is cut: a Slack message holds at most 40,000 characters and
# its attachments a few thousand more; only uploaded files are longer.
READABLE_LIMIT: Final = 100_000
MENTION: Final = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
# Attachment fields that carry words, in the order Slack shows them.
_ATTACHMENT_TEXT: Final = ("pretext", "title", "text", "footer")
_SPACE: Final = re.compile(r"\s+")
# Where a queued payload carries its delivery: ``entry`` (the stream entry id, set by
# the worker) and ``retry`` (Slack's X-Slack-Retry-Num, set by the front).
DELIVERY: Final = "_delivery"


def team_of(body: Mapping[str, Any]) -> str:
    """
    The workspace id a payload names (events, actions, commands).
    """
    team = body.get("team_id") or body.get("team")
    if not team and isinstance(body.get("user"), Mapping):
        team = body["user"].get("team_id")
    if isinstance(team, Mapping):
        team = team.get("id")
    return str(team or "T0")


def workspace_of(body: Mapping[str, Any]) -> str:
    """
    The installation a payload reached: its enterprise for an org-wide install, else its
    workspace. In a Slack Connect channel the partner's events carry the partner's
    ``team_id``; ``authorizations`` names the installation that received them.
    """
    auths = body.get("authorizations")
    if isinstance(auths, Sequence) and auths and isinstance(auths[0], Mapping):
        auth = auths[0]
        if auth.get("is_enterprise_install") and auth.get("enterprise_id"):
            return str(auth["enterprise_id"])
        if auth.get("team_id"):
            return str(auth["team_id"])
    enterprise = body.get("enterprise")
    if isinstance(enterprise, Mapping):
        enterprise = enterprise.get("id")
    enterprise = enterprise or body.get("enterprise_id")
    if body.get("is_enterprise_install") in (True, "true") and enterprise:
        return str(enterprise)
    view = body.get("view")
    if isinstance(view, Mapping) and view.get("app_installed_team_id"):
        return str(view["app_installed_team_id"])
    return team_of(body)


def _rich_text(element: Any) -> Iterator[str]:
    """
    The words of a rich-text element tree, in reading order.
    """
    if not isinstance(element, Mapping):
        return
    kind = element.get("type")
    if kind == "text" and isinstance(element.get("text"), str):
        yield element["text"]
    elif kind == "link":
        yield str(element.get("text") or element.get("url") or "")
    elif kind == "emoji" and element.get("name"):
        yield f":{element['name']}:"
    elif kind == "user" and element.get("user_id"):
        yield f"<@{element['user_id']}>"
    elif kind == "channel" and element.get("channel_id"):
        yield f"<#{element['channel_id']}>"
    children = element.get("elements")
    if isinstance(children, Sequence) and not isinstance(children, str):
        parts = [p for child in children for p in _rich_text(child)]
        if parts:
            # Sections, quotes, code blocks and list items are lines of their own.
            separator = "\n" if kind in {"rich_text", "rich_text_list"} else ""
            yield separator.join(parts)


def blocks_text(blocks: Any) -> str:
    """
    The text of a message's rich-text blocks (other block types carry no user words).
    """
    if not isinstance(blocks, Sequence) or isinstance(blocks, str):
        return ""
    return "\n".join(
        "\n".join(_rich_text(b))
        for b in blocks
        if isinstance(b, Mapping) and b.get("type") == "rich_text"
    ).strip()


def _attachment_text(attachment: Mapping[str, Any]) -> str:
    """
    What an attachment shows: its words, its fields, and a shared message's blocks.
    A link preview (an unfurl of a web page or an app's unfurl) is not the writer's
    and reads as nothing.
    """
    shared = attachment.get("is_share") or attachment.get("is_msg_unfurl")
    if not shared and (attachment.get("from_url") or attachment.get("is_app_unfurl")):
        return ""
    parts = [
        str(attachment[k])
        for k in _ATTACHMENT_TEXT
        if isinstance(attachment.get(k), str)
    ]
    fields = attachment.get("fields")
    if isinstance(fields, Sequence) and not isinstance(fields, str):
        for field in fields:
            if isinstance(field, Mapping):
                parts += [
                    str(field[k])
                    for k in ("title", "value")
                    if isinstance(field.get(k), str)
                ]
    blocks = attachment.get("message_blocks")
    if isinstance(blocks, Sequence) and not isinstance(blocks, str):
        for item in blocks:
            message = item.get("message") if isinstance(item, Mapping) else None
            if isinstance(message, Mapping):
                parts.append(blocks_text(message.get("blocks")))
    if not any(p.strip() for p in parts) and isinstance(
        attachment.get("fallback"), str
    ):
        parts.append(attachment["fallback"])
    return "\n".join(p for p in parts if p.strip())


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def readable_text(message: Mapping[str, Any]) -> str:
    """
    Everything a person reads in a message: its text, its attachments, and rich text
    that the text does not already hold.
    """
    text = message.get("text")
    parts = [text] if isinstance(text, str) and text.strip() else []
    rich = blocks_text(message.get("blocks"))
    if rich and _flat(rich) not in _flat("\n".join(parts)):
        parts.append(rich)
    attachments = message.get("attachments")
    if isinstance(attachments, Sequence) and not isinstance(attachments, str):
        for attachment in attachments:
            if isinstance(attachment, Mapping):
                shown = _attachment_text(attachment)
                if shown and _flat(shown) not in _flat("\n".join(parts)):
                    parts.append(shown)
    return "\n".join(parts)[:READABLE_LIMIT]


def is_direct(event: Mapping[str, Any]) -> bool:
    """
    True for a direct message with the bot (answered whatever SUPPORT_CHANNELS says).
    """
    channel = event.get("channel")
    return event.get("channel_type") == "im" or (
        isinstance(channel, str) and channel.startswith("D")
    )


def written(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """
    The message a person wrote in a ``message`` event: the event itself, or for an edit
    the edited message when what it reads changed; None for anything else.
    """
    if event.get("subtype") != EDITED:
        return event if event.get("subtype") in ANSWERED_SUBTYPES else None
    message, before = event.get("message"), event.get("previous_message")
    if not isinstance(message, Mapping):
        return None
    if message.get("subtype") not in ANSWERED_SUBTYPES:
        return None
    previous = readable_text(before) if isinstance(before, Mapping) else ""
    if _flat(readable_text(message)) == _flat(previous):
        return None  # an unfurl, a reply count, a reaction: nothing new to read
    return message


def incoming_message(
    body: Mapping[str, Any], *, bot_user_id: str | None, mention: bool
) -> Incoming | None:
    """
    The message to answer in an event payload, or None when the bot must ignore it
    (bots, itself, deletions, unchanged edits, malformed events).
    """
    event = body.get("event") or {}
    message = written(event)
    if message is None:
        return None
    user, ts = message.get("user"), message.get("ts")
    before = event.get("previous_message")
    if ts is None and isinstance(before, Mapping):
        ts = before.get("ts")  # some edits name the message only in previous_message
    channel = event.get("channel")
    if (
        message.get("bot_id")
        or message.get("bot_profile")
        or event.get("bot_id")
        or not isinstance(user, str)
        or user == bot_user_id
        or not isinstance(channel, str)
        or not isinstance(ts, str)
        or not isinstance(message.get("text", ""), str)
    ):
        return None
    text = readable_text(message)
    if mention:
        text = MENTION.sub("", text).strip()
    parent = message.get("thread_ts")
    thread_ts = parent if isinstance(parent, str) else ts
    edit = message is not event
    if edit:
        # Each distinct edit of a message is answered at most once.
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        names: tuple[str, ...] = (f"edit:{channel}:{ts}:{digest}",)
    else:
        names = (f"msg:{channel}:{ts}",)
    if isinstance(body.get("event_id"), str):
        names += (f"event:{body['event_id']}",)
    delivery = body.get(DELIVERY)
    entry = delivery.get("entry") if isinstance(delivery, Mapping) else None
    retry = delivery.get("retry") if isinstance(delivery, Mapping) else None
    return Incoming(
        ThreadKey(workspace_of(body), channel, thread_ts),
        user,
        text,
        ts,
        names,
        edit=edit,
        token=entry if isinstance(entry, str) else None,
        retried=bool(retry),
    )


def queued(body: Mapping[str, Any]) -> bool:
    """
    True when a payload came through the intake queue (its worker retries it).
    """
    delivery = body.get(DELIVERY)
    return isinstance(delivery, Mapping) and isinstance(delivery.get("entry"), str)
