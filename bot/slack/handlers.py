"""
What each Slack listener does after it has acked: turn the payload into an engine call
and
the engine's answer into Web API calls.

Every Web API failure is logged and counted here, never raised into Bolt: a reply that
cannot be posted must not take the listener down with a stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.checks import parse_target
from bot.conversation.engine import Engine, HumanRequest, Incoming
from bot.errors import InputError
from bot.slack import blocks
from bot.slack.smtpcheck import USAGE as USAGE
from bot.slack.smtpcheck import Respond as Respond
from bot.slack.smtpcheck import probe_in_thread, run_smtpcheck, smtpcheck_refusal
from bot.state import ThreadKey

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

EscalationHook = Callable[[HumanRequest, AsyncWebClient], Awaitable[None]]


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
    return Incoming(
        ThreadKey(team_of(body), channel, thread_ts), user, text, ts, dedupe
    )


class SlackHandlers:
    """
    The work behind each listener, with the engine and the Web client.
    """

    def __init__(
        self, engine: Engine, *, escalate: EscalationHook | None = None
    ) -> None:
        self.engine = engine
        self.escalate = escalate

    async def _call(self, client: AsyncWebClient, method: str, **kwargs: Any) -> Any:
        """
        One Web API call; failures are counted and logged, and give None.
        """
        try:
            return await client.api_call(method, json=kwargs)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.engine.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            return None

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
        if bot_user_id and f"<@{bot_user_id}" in text and _HUMAN_WORD.search(text):
            # Both the message and the app_mention event get here; asking is once.
            await self.ask_human(
                incoming.key, incoming.user_id, client, reason="mention", text=text
            )
            return
        turn = await self.engine.handle_turn(incoming)
        reply = turn.reply
        if turn.wants_human:
            await self.ask_human(
                incoming.key, incoming.user_id, client, reason="unmatched"
            )
        if reply is not None:
            await self._call(
                client,
                "chat.postMessage",
                channel=incoming.key.channel_id,
                thread_ts=incoming.key.thread_ts,
                text=blocks.reply_text(reply),
                blocks=blocks.reply_payload(reply, thread_ts=incoming.key.thread_ts),
                unfurl_links=False,
                unfurl_media=False,
            )

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
        if (await self.engine.load(key)).escalated or not await self.engine.claim_once(
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

    async def human(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        "Talk to a human": record it once, tell the thread, hand over to escalation.
        """
        action = self._action(body)
        if action is not None:
            await self.ask_human(action[0], action[1], client, reason="button")

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
        conversation = await self.engine.load(key)
        if conversation.messages and conversation.messages[0].ts == ts:
            await self.ask_human(key, user, client, reason="reaction")

    async def ask_human(
        self,
        key: ThreadKey,
        user: str,
        client: AsyncWebClient,
        *,
        reason: str,
        text: str = "",
    ) -> None:
        """
        Any trigger: record the request once, tell the thread, call the escalation hook.
        Repeats are told ephemerally after a button press and ignored otherwise.
        """
        request = await self.engine.ask_human(key, user, reason=reason, text=text)
        if not request.first:
            if reason != "button":
                return
            await self._call(
                client,
                "chat.postEphemeral",
                channel=key.channel_id,
                user=user,
                thread_ts=key.thread_ts,
                text=request.message,
            )
            return
        notice = _AUTO_NOTICE.get(reason, f"<@{user}> asked for a human.")
        await self._call(
            client,
            "chat.postMessage",
            channel=key.channel_id,
            thread_ts=key.thread_ts,
            text=f"{notice} {request.message}",
        )
        if self.escalate is not None:
            await self.escalate(request, client)

    async def choose(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """
        An alternative picked from "is it one of these?": post its full answer.
        """
        action = self._action(body)
        if action is None or "e" not in action[2]:
            return
        key, user, value = action
        if (await self.engine.load(key)).escalated:
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
