"""
Messages, edits, uploads and mentions: answered in their thread, or given a short
how-to when someone addresses the bot with nothing to answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.engine import Engine, Incoming, Turn
from bot.errors import NotDoneError, StateUnavailableError
from bot.slack import blocks
from bot.slack import files as uploads
from bot.slack.handlers.calls import WebCalls
from bot.slack.handlers.handoff import Handoff
from bot.slack.lifecycle import TokenGuard
from bot.slack.messages import (
    MENTION,
    incoming_message,
    is_direct,
    readable_text,
    written,
)
from bot.slack.workspaces import Workspaces

log = logging.getLogger(__name__)

# A how-to is posted once per message however many events name it (message and
# app_mention, replicas); the claim outlives Slack's retries.
HOWTO_CLAIM_SECONDS: Final = 3600
# A mention of the bot asking for a person ("@smtpbot human please", "humans?").
_HUMAN_WORD: Final = re.compile(r"\bhumans?\b", re.IGNORECASE)
# What a person who addresses the bot with nothing to answer is told.
HOW_TO: Final = (
    "Hi! I help when email won't send. Paste the exact error message (or upload the "
    "log as a text snippet) and I'll explain it and how to fix it, right in the "
    "thread. Admins can check a mail server with `/smtpcheck host[:port]`. To reach a "
    "person, press *Talk to a human* under my answer, or mention me with the word "
    '"human".'
)
# What an upload the bot cannot read gets, when nothing else in the message could be
# answered.
UNREADABLE: Final = (
    "I can only read text, so I can't look inside that file. Paste the error message "
    "itself, or upload the log as a text snippet or a .txt file."
)
# Answers to one message are looked for among this many thread replies after it.
THREAD_LOOKUP_LIMIT: Final = 200


class Answers:
    """
    Turns a message event into an engine turn and the turn into a threaded reply.
    """

    def __init__(
        self,
        engine: Engine,
        call: WebCalls,
        handoff: Handoff,
        *,
        guard: TokenGuard,
        workspaces: Workspaces,
    ) -> None:
        self.engine = engine
        self._call = call
        self.handoff = handoff
        self.guard = guard
        self.workspaces = workspaces

    async def _answered(
        self, client: AsyncWebClient, incoming: Incoming, *, strict: bool
    ) -> bool:
        """
        True when the thread already holds the bot's answer to this message.
        """
        found = await self._call(
            client,
            "conversations.replies",
            strict=strict,
            channel=incoming.key.channel_id,
            ts=incoming.key.thread_ts,
            oldest=incoming.ts,
            inclusive=True,
            include_all_metadata=True,
            limit=THREAD_LOOKUP_LIMIT,
        )
        messages = (found or {}).get("messages") or []
        return any(blocks.answers(m, incoming.ts) for m in messages)

    async def _answer(
        self, client: AsyncWebClient, incoming: Incoming, turn: Turn, *, strict: bool
    ) -> None:
        """
        Post a turn's reply in its thread, unless a redelivery finds it posted.
        """
        reply = turn.reply
        if reply is None:
            return
        if turn.look_first and await self._answered(client, incoming, strict=strict):
            log.info("reply_found_in_thread key=%s ts=%s", incoming.key, incoming.ts)
            return
        await self._call(
            client,
            "chat.postMessage",
            strict=strict,
            channel=incoming.key.channel_id,
            thread_ts=incoming.key.thread_ts,
            text=blocks.reply_text(reply),
            blocks=blocks.reply_payload(reply, thread_ts=incoming.key.thread_ts),
            metadata=blocks.reply_metadata(incoming.ts),
            unfurl_links=False,
            unfurl_media=False,
        )

    async def message(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        bot_user_id: str | None,
        *,
        mention: bool = False,
    ) -> None:
        """
        A message, an edit, an upload or a mention: answer it in its thread. A queued
        one whose work fails raises NotDoneError (its worker tries again).
        """
        try:
            await self._message(body, client, bot_user_id, mention=mention)
        except StateUnavailableError as exc:
            # Only a queued message gets here (see Engine): its worker tries again.
            raise NotDoneError(f"state unavailable: {exc}") from exc

    async def _message(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        bot_user_id: str | None,
        *,
        mention: bool,
    ) -> None:
        incoming = incoming_message(body, bot_user_id=bot_user_id, mention=mention)
        event = body.get("event") or {}
        message = written(event)
        if incoming is None or message is None:
            return
        text = readable_text(message)
        named = bool(bot_user_id) and f"<@{bot_user_id}" in text
        direct = is_direct(event)
        if not (mention or named or direct):
            workspace = await self.workspaces.get(incoming.key.team_id)
            if not workspace.answers_in(incoming.key.channel_id):
                return
        strict = incoming.token is not None
        if (named or direct) and _HUMAN_WORD.search(text):
            # Both the message and the app_mention event get here; asking is once.
            await self.handoff.ask_human(
                incoming.key,
                incoming.user_id,
                client,
                reason="mention",
                text=text,
                strict=strict,
            )
            return
        unreadable = False
        found = uploads.attached(message)
        if found:
            content, unreadable = await uploads.read_uploads(
                found,
                client,
                call=self._call,
                guard=self.guard,
                api_url=self.engine.settings.slack_api_url,
            )
            if content:
                incoming = replace(
                    incoming, text="\n".join(t for t in (incoming.text, content) if t)
                )
        turn = await self.engine.handle_turn(incoming)
        if turn.wants_human:
            await self.handoff.ask_human(
                incoming.key,
                incoming.user_id,
                client,
                reason=turn.reason,
                strict=strict,
            )
        await self._answer(client, incoming, turn, strict=strict)
        await self.engine.record(incoming.key, turn, strict=strict)
        if turn.reply is not None:
            return
        if turn.wants_human or turn.duplicate or turn.quiet or incoming.edit:
            return
        bare = not MENTION.sub("", text).strip()
        top_level = incoming.key.thread_ts == incoming.ts
        if unreadable and bare and not incoming.text:
            note = UNREADABLE
        elif mention or named or (direct and top_level):
            note = HOW_TO
        else:
            return
        if await self.engine.claim_once(
            f"howto:{incoming.key.channel_id}:{incoming.ts}", ttl=HOWTO_CLAIM_SECONDS
        ):
            await self._call(
                client,
                "chat.postMessage",
                channel=incoming.key.channel_id,
                thread_ts=incoming.key.thread_ts,
                text=note,
                unfurl_links=False,
                unfurl_media=False,
            )
