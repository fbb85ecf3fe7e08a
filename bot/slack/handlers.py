"""
What each Slack listener does after it has acked: turn the payload into an engine call
and
the engine's answer into Web API calls.

Every Web API failure is logged and counted here, never raised into Bolt: a reply that
cannot be posted must not take the listener down with a stack trace. The exception is
a queued message (its payload carries the worker's delivery token): when Redis or Slack
fails before its answer is out and recorded, ``NotDoneError`` tells the worker to keep
the entry and try again, and the next attempt looks in the thread before posting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.checks import parse_target
from bot.conversation.engine import Engine, Incoming, Turn
from bot.errors import InputError, NotDoneError, StateUnavailableError
from bot.escalation.model import Asked
from bot.slack import blocks
from bot.slack import files as uploads
from bot.slack.lifecycle import TokenGuard
from bot.slack.messages import MENTION, is_direct, queued, readable_text, written
from bot.slack.messages import incoming_message as incoming_message
from bot.slack.messages import team_of as team_of
from bot.slack.messages import workspace_of as workspace_of
from bot.slack.smtpcheck import USAGE as USAGE
from bot.slack.smtpcheck import Respond as Respond
from bot.slack.smtpcheck import probe_in_thread, run_smtpcheck, smtpcheck_refusal
from bot.slack.workspaces import Workspaces
from bot.state import Conversation, ThreadKey

log = logging.getLogger(__name__)

# A click on "Run STARTTLS check" within this many seconds of the same one is a double
# click.
DOUBLE_CLICK_SECONDS: Final = 30
# A how-to is posted once per message however many events name it (message and
# app_mention, replicas); the claim outlives Slack's retries.
HOWTO_CLAIM_SECONDS: Final = 3600
# A mention of the bot asking for a person ("@smtpbot human please", "humans?").
_HUMAN_WORD: Final = re.compile(r"\bhumans?\b", re.IGNORECASE)
# What the thread is told when the bot itself decides to hand over.
_AUTO_NOTICE: Final = {
    "feedback": "That's twice my answer didn't help, so I've asked a human.",
    "unmatched": "I have nothing more to suggest for this, so I've asked a human.",
    "repeated": "The same error is still there after my answer, so that fix didn't "
    "help. I've asked a human.",
}
# Added to that notice in a workspace whose admins have not chosen where requests go.
NO_ESCALATION_CHANNEL: Final = (
    "No escalation channel is set up in this workspace yet, so nobody has been "
    "notified: an admin can choose one in my App Home (Settings)."
)
# What a person who addresses the bot with nothing to answer is told.
HOW_TO: Final = (
    "Hi! I help when email won't send. Paste the exact error message (or upload the "
    "log as a text snippet) and I'll explain it and how to fix it, right in the "
    "thread. Admins can check a mail server with `/smtpcheck host[:port]`. To reach a "
    "person, press *Talk to a human* under my answer, or mention me with the word "
    '"human".'
)
# What a direct message's thread is told when it is handed to a person.
DIRECT_HANDOFF: Final = (
    "I've let the support team know; someone will contact you directly. I'll stay "
    "quiet here from now on."
)
# What an upload the bot cannot read gets, when nothing else in the message could be
# answered.
UNREADABLE: Final = (
    "I can only read text, so I can't look inside that file. Paste the error message "
    "itself, or upload the log as a text snippet or a .txt file."
)

# Answers to one message are looked for among this many thread replies after it.
THREAD_LOOKUP_LIMIT: Final = 200
# What the asker is told when a request for a human cannot be recorded.
TRY_AGAIN: Final = (
    "Sorry, I couldn't pass this to the support team just now. Please ask again in "
    "a minute."
)


class HandOff(Protocol):
    """
    The escalation desk as the handlers see it (``bot.slack.escalation.desk.Desk``).
    """

    async def request(
        self, conversation: Conversation, user_id: str, *, reason: str, text: str
    ) -> Asked:
        """
        Record a request for a human durably (once per thread).
        """
        ...

    async def pump(self, client: AsyncWebClient) -> int:
        """
        Deliver recorded hand-offs (thread notice and card) this replica can take.
        """
        ...


def transient(exc: Exception) -> bool:
    """
    True when a failed Web API call may work if tried again later (no answer, a
    server error, a rate limit); False when Slack refused it for good.
    """
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500 or status == 429
    return True


class SlackHandlers:
    """
    The work behind each listener, with the engine and the Web client.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        escalate: HandOff | None = None,
        guard: TokenGuard | None = None,
        workspaces: Workspaces | None = None,
    ) -> None:
        self.engine = engine
        self.escalate = escalate
        self.guard = guard or TokenGuard()
        self.workspaces = workspaces or Workspaces(engine.settings)

    async def _call(
        self,
        client: AsyncWebClient,
        method: str,
        *,
        http_verb: str = "POST",
        strict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """
        One Web API call; failures are counted and logged, and give None. Nothing is
        sent with a revoked token. With ``strict`` a failure that may pass raises
        NotDoneError instead.
        """
        if self.guard.blocked(client.token):
            self.engine.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_skipped method=%s reason=token_revoked", method)
            return None
        try:
            if http_verb == "GET":
                return await client.api_call(method, http_verb="GET", params=kwargs)
            return await client.api_call(method, json=kwargs)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.engine.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            if strict and transient(exc):
                raise NotDoneError(f"{method} failed: {type(exc).__name__}") from exc
            return None

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
            await self.ask_human(
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
            await self.ask_human(
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

    @staticmethod
    def _action(
        body: Mapping[str, Any], workspace: str | None = None
    ) -> tuple[ThreadKey, str, dict[str, str]] | None:
        """
        Thread, user and button value of a block action (None when malformed); the
        thread belongs to the installation's ``workspace`` whoever clicked.
        """
        actions = body.get("actions") or [{}]
        value = blocks.decode_value(actions[0].get("value"))
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}
        ).get("channel_id")
        user = (body.get("user") or {}).get("id")
        if not (channel and user and value.get("t")):
            return None
        key = ThreadKey(workspace or workspace_of(body), str(channel), value["t"])
        return key, str(user), value

    async def probe(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        workspace: str | None = None,
    ) -> None:
        """
        "Run STARTTLS check": post progress, update it per phase, then the report.
        """
        action = self._action(body, workspace)
        if action is None or "s" not in action[2]:
            return
        key, user, value = action
        try:
            target = parse_target(value["s"])
        except InputError:
            return
        if await self.engine.quiet(key) or not await self.engine.claim_once(
            f"probe:{key}:{target}", ttl=DOUBLE_CLICK_SECONDS
        ):
            return
        await probe_in_thread(self.engine, self._call, client, key, user, target)

    async def feedback(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        workspace: str | None = None,
        *,
        helpful: bool,
    ) -> None:
        """
        "Did this help?": record it and thank the user privately.
        """
        action = self._action(body, workspace)
        if action is None:
            return
        key, user, value = action
        text = await self.engine.feedback(
            key, user, helpful=helpful, entry_id=value.get("e")
        )
        await self._call(
            client,
            "chat.postEphemeral",
            channel=key.channel_id,
            user=user,
            thread_ts=key.thread_ts,
            text=text,
        )
        if not helpful and await self.engine.rejected_twice(key):
            await self.ask_human(key, user, client, reason="feedback")

    async def human(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        ack: Respond,
        workspace: str | None = None,
    ) -> None:
        """
        "Talk to a human": record it before acking (a crash before the record leaves
        the click unacknowledged, and Slack shows the user it failed), then tell the
        thread and post the card.
        """
        action = self._action(body, workspace)
        if action is None:
            await ack()
            return
        await self.ask_human(action[0], action[1], client, reason="button", ack=ack)

    async def reaction(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        The escalation reaction on a thread's original message asks for a human.
        """
        event = body.get("event") or {}
        item = event.get("item") or {}
        user, channel, ts = event.get("user"), item.get("channel"), item.get("ts")
        settings = self.engine.settings
        if (
            event.get("reaction") != settings.escalation_reaction
            or item.get("type") != "message"
            or not (isinstance(user, str) and isinstance(channel, str))
            or not isinstance(ts, str)
        ):
            return
        key = ThreadKey(workspace_of(body), channel, ts)
        if not (await self.workspaces.get(key.team_id)).answers_in(channel):
            return
        strict = queued(body)
        try:
            conversation = await self.engine.load(key, strict=strict)
        except StateUnavailableError as exc:
            raise NotDoneError(f"state unavailable: {exc}") from exc
        if conversation.messages and conversation.messages[0].ts == ts:
            await self.ask_human(key, user, client, reason="reaction", strict=strict)

    async def ask_human(
        self,
        key: ThreadKey,
        user: str,
        client: AsyncWebClient,
        *,
        reason: str,
        text: str = "",
        strict: bool = False,
        ack: Respond | None = None,
    ) -> None:
        """
        Any trigger: record the request once (then ``ack``, if given), and have the
        desk tell the thread and post the card. Repeats are told ephemerally after a
        button press and ignored otherwise. With ``strict`` (a queued message) a
        request that cannot be recorded raises NotDoneError, to be tried again;
        otherwise the asker is told to try again.
        """
        if self.escalate is None:
            await self._ask_without_desk(key, user, client, reason=reason, text=text)
            if ack is not None:
                await ack()
            return
        conversation = await self.engine.load(key)
        asked = await self.escalate.request(
            conversation, user, reason=reason, text=text
        )
        if ack is not None:
            await ack()
        if asked is Asked.UNAVAILABLE:
            if strict:
                raise NotDoneError("escalation could not be recorded")
            await self._tell(client, key, user, TRY_AGAIN, private=reason == "button")
            return
        if asked is Asked.ALREADY and reason == "button":
            await self._tell(
                client,
                key,
                user,
                "A human has already been asked to look at this thread.",
                private=True,
            )
        # Deliver it now (or, asked again, whatever a crash left undelivered).
        await self.escalate.pump(client)

    async def _tell(
        self,
        client: AsyncWebClient,
        key: ThreadKey,
        user: str,
        text: str,
        *,
        private: bool,
    ) -> None:
        """
        Say something in the thread, or only to ``user``.
        """
        if private:
            await self._call(
                client,
                "chat.postEphemeral",
                channel=key.channel_id,
                user=user,
                thread_ts=key.thread_ts,
                text=text,
            )
        else:
            await self._call(
                client,
                "chat.postMessage",
                channel=key.channel_id,
                thread_ts=key.thread_ts,
                text=text,
            )

    async def _ask_without_desk(
        self,
        key: ThreadKey,
        user: str,
        client: AsyncWebClient,
        *,
        reason: str,
        text: str,
    ) -> None:
        """
        No escalation desk (no cards): record the request and tell the thread.
        """
        request = await self.engine.ask_human(key, user, reason=reason, text=text)
        if not request.first:
            if reason == "button":
                await self._tell(client, key, user, request.message, private=True)
            return
        notice = _AUTO_NOTICE.get(reason, f"<@{user}> asked for a human.")
        told = request.message
        if key.channel_id.startswith("D"):
            # Nobody from the support team can write in a person's DM with the bot.
            told = DIRECT_HANDOFF
        await self._tell(client, key, user, f"{notice} {told}", private=False)

    async def choose(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        workspace: str | None = None,
    ) -> None:
        """
        An alternative picked from "is it one of these?": post its full answer.
        """
        action = self._action(body, workspace)
        if action is None or "e" not in action[2]:
            return
        key, user, value = action
        if await self.engine.quiet(key):
            return
        reply = await self.engine.choose(key, user, value["e"])
        if reply is not None:
            await self._call(
                client,
                "chat.postMessage",
                channel=key.channel_id,
                thread_ts=key.thread_ts,
                text=blocks.reply_text(reply),
                blocks=blocks.reply_payload(reply, thread_ts=key.thread_ts),
            )

    async def smtpcheck_refusal(self, command: Mapping[str, Any]) -> str | None:
        """
        Why this user may not run /smtpcheck, or None when allowed.
        """
        workspace = await self.workspaces.get(workspace_of(command))
        return smtpcheck_refusal(
            workspace.admins, command, in_app_home=self.workspaces.editable
        )

    async def smtpcheck(
        self, command: Mapping[str, Any], ack: Respond, respond: Respond
    ) -> None:
        """
        /smtpcheck: refuse, explain usage, or ack with "checking…" and report later.
        """
        await run_smtpcheck(
            self.engine,
            command,
            ack,
            respond,
            refusal=await self.smtpcheck_refusal(command),
        )
