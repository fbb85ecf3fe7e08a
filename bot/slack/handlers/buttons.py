"""
The buttons under an answer: the STARTTLS check, "Did this help?", "Talk to a human"
and the choices of "is it one of these?".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.checks import parse_target
from bot.conversation.engine import Engine
from bot.errors import InputError
from bot.slack import blocks
from bot.slack.handlers.calls import WebCalls
from bot.slack.handlers.handoff import Handoff
from bot.slack.messages import workspace_of
from bot.slack.smtpcheck import Respond, probe_in_thread
from bot.state import ThreadKey

# A click on "Run STARTTLS check" within this many seconds of the same one is a double
# click.
DOUBLE_CLICK_SECONDS: Final = 30


def clicked(
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


class Buttons:
    """
    What each of the answer's buttons does once acked.
    """

    def __init__(self, engine: Engine, call: WebCalls, handoff: Handoff) -> None:
        self.engine = engine
        self._call = call
        self.handoff = handoff

    async def probe(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        workspace: str | None = None,
    ) -> None:
        """
        "Run STARTTLS check": post progress, update it per phase, then the report.
        """
        action = clicked(body, workspace)
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
        action = clicked(body, workspace)
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
            await self.handoff.ask_human(key, user, client, reason="feedback")

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
        action = clicked(body, workspace)
        if action is None:
            await ack()
            return
        await self.handoff.ask_human(
            action[0], action[1], client, reason="button", ack=ack
        )

    async def choose(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        workspace: str | None = None,
    ) -> None:
        """
        An alternative picked from "is it one of these?": post its full answer.
        """
        action = clicked(body, workspace)
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
