"""
Asking for a human from Slack: any trigger records the request once and has the
escalation desk tell the thread and post the card; the escalation reaction is one such
trigger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.engine import Engine
from bot.errors import NotDoneError, StateUnavailableError
from bot.escalation.model import Asked
from bot.slack.handlers.calls import WebCalls
from bot.slack.messages import queued, workspace_of
from bot.slack.smtpcheck import Respond
from bot.slack.workspaces import Workspaces
from bot.state import Conversation, ThreadKey

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
# What a direct message's thread is told when it is handed to a person.
DIRECT_HANDOFF: Final = (
    "I've let the support team know; someone will contact you directly. I'll stay "
    "quiet here from now on."
)
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


class Handoff:
    """
    Hands threads to people: records the request, then has the desk deliver it.
    """

    def __init__(
        self,
        engine: Engine,
        call: WebCalls,
        *,
        workspaces: Workspaces,
        escalate: HandOff | None = None,
    ) -> None:
        self.engine = engine
        self._call = call
        self.workspaces = workspaces
        self.escalate = escalate

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
