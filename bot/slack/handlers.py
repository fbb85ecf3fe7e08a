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
from typing import Any, Final, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.checks import parse_target
from bot.conversation.engine import Engine, Incoming, Turn
from bot.errors import InputError, NotDoneError, StateUnavailableError
from bot.escalation.model import Asked
from bot.slack import blocks
from bot.slack.smtpcheck import USAGE as USAGE
from bot.slack.smtpcheck import Respond as Respond
from bot.slack.smtpcheck import probe_in_thread, run_smtpcheck, smtpcheck_refusal
from bot.state import Conversation, ThreadKey

log = logging.getLogger(__name__)

# A click on "Run STARTTLS check" within this many seconds of the same one is a double
# click.
DOUBLE_CLICK_SECONDS: Final = 30
# Subtypes that are still a person writing in the channel; every other subtype is
# ignored: edits, deletions, joins, bot messages
# (api.slack.com/events/message#subtypes).
ANSWERED_SUBTYPES: Final = frozenset({None, "file_share", "thread_broadcast"})
_MENTION: Final = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
# A mention of the bot asking for a person ("@smtpbot human please", "humans?").
_HUMAN_WORD: Final = re.compile(r"\bhumans?\b", re.IGNORECASE)
# What the thread is told when the bot itself decides to hand over.
_AUTO_NOTICE: Final = {
    "feedback": "That's twice my answer didn't help, so I've asked a human.",
    "unmatched": "I don't recognise this one, so I've asked a human.",
}

# Where a queued payload carries its delivery: ``entry`` (the stream entry id, set by
# the worker) and ``retry`` (Slack's X-Slack-Retry-Num, set by the front).
DELIVERY: Final = "_delivery"
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


def team_of(body: Mapping[str, Any]) -> str:
    """
    The workspace id of any payload (events, actions, commands).
    """
    team = (
        body.get("team_id") or body.get("team") or body.get("user", {}).get("team_id")
    )
    if isinstance(team, Mapping):
        team = team.get("id")
    return str(team or "T0")


def incoming_message(
    body: Mapping[str, Any], *, bot_user_id: str | None, mention: bool
) -> Incoming | None:
    """
    The message to answer in an event payload, or None when the bot must ignore it.
    """
    event = body.get("event") or {}
    user, text, channel, ts = (event.get(k) for k in ("user", "text", "channel", "ts"))
    if (
        event.get("subtype") not in ANSWERED_SUBTYPES
        or event.get("bot_id")
        or event.get("bot_profile")
        or not isinstance(user, str)
        or user == bot_user_id
        or not isinstance(text, str)
        or not isinstance(channel, str)
        or not isinstance(ts, str)
    ):
        return None
    if mention:
        text = _MENTION.sub("", text).strip()
    parent = event.get("thread_ts")
    thread_ts = parent if isinstance(parent, str) else ts
    dedupe = (f"msg:{channel}:{ts}",) + (
        (f"event:{body['event_id']}",) if isinstance(body.get("event_id"), str) else ()
    )
    delivery = body.get(DELIVERY)
    entry = delivery.get("entry") if isinstance(delivery, Mapping) else None
    retry = delivery.get("retry") if isinstance(delivery, Mapping) else None
    return Incoming(
        ThreadKey(team_of(body), channel, thread_ts),
        user,
        text,
        ts,
        dedupe,
        token=entry if isinstance(entry, str) else None,
        retried=bool(retry),
    )


def queued(body: Mapping[str, Any]) -> bool:
    """
    True when a payload came through the intake queue (its worker retries it).
    """
    delivery = body.get(DELIVERY)
    return isinstance(delivery, Mapping) and isinstance(delivery.get("entry"), str)


class SlackHandlers:
    """
    The work behind each listener, with the engine and the Web client.
    """

    def __init__(self, engine: Engine, *, escalate: HandOff | None = None) -> None:
        self.engine = engine
        self.escalate = escalate

    async def _call(
        self,
        client: AsyncWebClient,
        method: str,
        *,
        strict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """
        One Web API call; failures are counted and logged, and give None. With
        ``strict`` a failure that may pass raises NotDoneError instead.
        """
        try:
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
        A message or mention: answer it in its thread.
        """
        incoming = incoming_message(body, bot_user_id=bot_user_id, mention=mention)
        text = str((body.get("event") or {}).get("text") or "")
        if incoming is None or not (
            mention
            or f"<@{bot_user_id}" in text
            or self.engine.settings.answers_in(incoming.key.channel_id)
        ):
            return
        strict = incoming.token is not None
        try:
            if bot_user_id and f"<@{bot_user_id}" in text and _HUMAN_WORD.search(text):
                # Both the message and the app_mention event get here; asking is
                # once.
                await self.ask_human(
                    incoming.key,
                    incoming.user_id,
                    client,
                    reason="mention",
                    text=text,
                    strict=strict,
                )
                return
            turn = await self.engine.handle_turn(incoming)
            if turn.wants_human:
                await self.ask_human(
                    incoming.key,
                    incoming.user_id,
                    client,
                    reason="unmatched",
                    strict=strict,
                )
            await self._answer(client, incoming, turn, strict=strict)
            await self.engine.record(incoming.key, turn, strict=strict)
        except StateUnavailableError as exc:
            # Only a queued message gets here (see Engine): its worker tries again.
            raise NotDoneError(f"state unavailable: {exc}") from exc

    @staticmethod
    def _action(
        body: Mapping[str, Any],
    ) -> tuple[ThreadKey, str, dict[str, str]] | None:
        """
        Thread, user and button value of a block action (None when malformed).
        """
        actions = body.get("actions") or [{}]
        value = blocks.decode_value(actions[0].get("value"))
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}
        ).get("channel_id")
        user = (body.get("user") or {}).get("id")
        if not (channel and user and value.get("t")):
            return None
        return ThreadKey(team_of(body), str(channel), value["t"]), str(user), value

    async def probe(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        "Run STARTTLS check": post progress, update it per phase, then the report.
        """
        action = self._action(body)
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
        self, body: Mapping[str, Any], client: AsyncWebClient, *, helpful: bool
    ) -> None:
        """
        "Did this help?": record it and thank the user privately.
        """
        action = self._action(body)
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
        self, body: Mapping[str, Any], client: AsyncWebClient, ack: Respond
    ) -> None:
        """
        "Talk to a human": record it before acking (a crash before the record leaves
        the click unacknowledged, and Slack shows the user it failed), then tell the
        thread and post the card.
        """
        action = self._action(body)
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
            or not settings.answers_in(channel)
        ):
            return
        key = ThreadKey(team_of(body), channel, ts)
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
        await self._tell(
            client, key, user, f"{notice} {request.message}", private=False
        )

    async def choose(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        An alternative picked from "is it one of these?": post its full answer.
        """
        action = self._action(body)
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

    def smtpcheck_refusal(self, command: Mapping[str, Any]) -> str | None:
        """
        Why this user may not run /smtpcheck, or None when allowed.
        """
        return smtpcheck_refusal(self.engine.settings.admin_users, command)

    async def smtpcheck(
        self, command: Mapping[str, Any], ack: Respond, respond: Respond
    ) -> None:
        """
        /smtpcheck: refuse, explain usage, or ack with "checking…" and report later.
        """
        await run_smtpcheck(self.engine, command, ack, respond)
