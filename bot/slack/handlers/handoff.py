"""
Asking for a human from Slack: any trigger records the request once, tells the thread,
and hands it to escalation; the escalation reaction is one such trigger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.engine import Engine, HumanRequest
from bot.slack.handlers.calls import WebCalls
from bot.slack.messages import workspace_of
from bot.slack.workspaces import Workspaces
from bot.state import ThreadKey

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

EscalationHook = Callable[[HumanRequest, AsyncWebClient], Awaitable[None]]


class Handoff:
    """
    Hands threads to people: records the request, tells the thread, calls the hook.
    """

    def __init__(
        self,
        engine: Engine,
        call: WebCalls,
        *,
        workspaces: Workspaces,
        escalate: EscalationHook | None = None,
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
        told = request.message
        if key.channel_id.startswith("D"):
            # Nobody from the support team can write in a person's DM with the bot.
            told = DIRECT_HANDOFF
        text = f"{notice} {told}"
        if self.workspaces.editable:
            workspace = await self.workspaces.get(key.team_id)
            if workspace.escalation_channel is None:
                text = f"{text}\n{NO_ESCALATION_CHANNEL}"
        await self._call(
            client,
            "chat.postMessage",
            channel=key.channel_id,
            thread_ts=key.thread_ts,
            text=text,
        )
        if self.escalate is not None:
            await self.escalate(request, client)
