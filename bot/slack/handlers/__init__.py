"""
What each Slack listener does after it has acked: turn the payload into an engine call
and the engine's answer into Web API calls. A queued message whose work fails (Redis
or Slack before its answer is out and recorded) raises ``NotDoneError``: its worker
keeps the entry and tries again, and the next attempt looks in the thread first.

    calls.py     Web API calls: revoked tokens skipped, failures counted and logged
    answers.py   messages, edits, uploads and mentions answered in their thread
    buttons.py   the answer's buttons: STARTTLS check, feedback, a human, choices
    handoff.py   asking for a human: any trigger, the reaction, what the thread is told

``SlackHandlers`` puts them together for ``bot.slack.app``; /smtpcheck's work lives in
``bot.slack.smtpcheck``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.conversation.engine import Engine
from bot.slack.handlers.answers import HOW_TO as HOW_TO
from bot.slack.handlers.answers import HOWTO_CLAIM_SECONDS as HOWTO_CLAIM_SECONDS
from bot.slack.handlers.answers import THREAD_LOOKUP_LIMIT as THREAD_LOOKUP_LIMIT
from bot.slack.handlers.answers import UNREADABLE as UNREADABLE
from bot.slack.handlers.answers import Answers
from bot.slack.handlers.buttons import DOUBLE_CLICK_SECONDS as DOUBLE_CLICK_SECONDS
from bot.slack.handlers.buttons import Buttons
from bot.slack.handlers.calls import WebCalls
from bot.slack.handlers.calls import transient as transient
from bot.slack.handlers.handoff import DIRECT_HANDOFF as DIRECT_HANDOFF
from bot.slack.handlers.handoff import NO_ESCALATION_CHANNEL as NO_ESCALATION_CHANNEL
from bot.slack.handlers.handoff import TRY_AGAIN as TRY_AGAIN
from bot.slack.handlers.handoff import HandOff as HandOff
from bot.slack.handlers.handoff import Handoff
from bot.slack.lifecycle import TokenGuard
from bot.slack.messages import incoming_message as incoming_message
from bot.slack.messages import team_of as team_of
from bot.slack.messages import workspace_of as workspace_of
from bot.slack.smtpcheck import USAGE as USAGE
from bot.slack.smtpcheck import Respond as Respond
from bot.slack.smtpcheck import run_smtpcheck, smtpcheck_refusal
from bot.slack.workspaces import Workspaces


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
        call = WebCalls(engine.metrics, self.guard)
        handoff = Handoff(engine, call, workspaces=self.workspaces, escalate=escalate)
        answers = Answers(
            engine, call, handoff, guard=self.guard, workspaces=self.workspaces
        )
        buttons = Buttons(engine, call, handoff)
        # What the listeners call.
        self.message = answers.message
        self.probe = buttons.probe
        self.feedback = buttons.feedback
        self.human = buttons.human
        self.choose = buttons.choose
        self.reaction = handoff.reaction
        self.ask_human = handoff.ask_human

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
