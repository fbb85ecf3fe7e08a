"""
The Bolt app factory shared by the tests, HTTP mode and Socket Mode.

Listeners stay thin: ack (Bolt acks events itself), then one call into
``SlackHandlers``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import aiohttp
from prometheus_client import Counter
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.conversation.checks import Prober
from bot.conversation.engine import Engine
from bot.errors import NotDoneError
from bot.escalation.model import Status
from bot.logs import REQUEST_ID, request_id_of
from bot.metrics import Metrics
from bot.redact.payload import redact_payload
from bot.slack import blocks, settings_view
from bot.slack.escalation import cards
from bot.slack.escalation.desk import Desk
from bot.slack.handlers import HandOff, SlackHandlers
from bot.slack.lifecycle import Lifecycle, TokenGuard
from bot.slack.messages import workspace_of
from bot.slack.oauth.gate import (
    NOT_INSTALLED,
    Remembered,
    installed,
    needs_installation,
    not_installed,
)
from bot.slack.oauth.revocation import Revocations
from bot.slack.workspaces import Workspaces
from bot.state import StateStore
from knowledge.matcher import Matcher

log = logging.getLogger(__name__)

# Seconds a Web API call may take; Slack answers in well under a second.
WEB_TIMEOUT = 10
# What a slash command gets once the bot token is revoked.
REVOKED = (
    "smtpbot has been disconnected from this workspace (its access was revoked). "
    "Ask a workspace admin to reinstall it."
)
# Retries per failure kind; the rate-limit handler honours Retry-After.
WEB_RETRIES = 2
# Context key of a request whose payload the HTTP front has redacted already.
REDACTED_MARK = "smtpbot_redacted"


class _Counting:
    """
    Mixin for slack_sdk retry handlers: count each retry before waiting for it.
    """

    reason: ClassVar[str] = "other"
    counter: Counter | None = None

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        if self.counter is not None:
            self.counter.labels(self.reason).inc()
        await super().prepare_for_next_attempt_async(**kwargs)  # type: ignore[misc]


class _RateLimited(_Counting, AsyncRateLimitErrorRetryHandler):
    reason = "rate_limited"


class _ServerError(_Counting, AsyncServerErrorRetryHandler):
    reason = "server_error"


class _ConnectionError(_Counting, AsyncConnectionErrorRetryHandler):
    reason = "connection_error"


def make_web_client(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    metrics: Metrics | None = None,
) -> AsyncWebClient:
    """
    The Web API client: SLACK_API_URL, the bot token, and slack_sdk's retry handlers
    (rate limits with Retry-After, server errors, connection errors), retries counted.
    """
    base_url = settings.slack_api_url.rstrip("/") + "/"
    handlers: list[_Counting] = [
        _RateLimited(max_retry_count=WEB_RETRIES),
        _ServerError(max_retry_count=WEB_RETRIES),
        _ConnectionError(max_retry_count=WEB_RETRIES),
    ]
    for handler in handlers:
        handler.counter = metrics.slack_retries if metrics is not None else None
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=base_url,
        session=session,
        timeout=WEB_TIMEOUT,
        retry_handlers=handlers,  # type: ignore[arg-type]
    )


def installation(context: Any, body: dict[str, Any]) -> str:
    """
    The workspace (or, for an org-wide install, the enterprise) the app is installed in
    for this request: in a Slack Connect channel the payload may name the clicker's
    organisation instead.
    """
    result = context.authorize_result
    if result is not None:
        if context.is_enterprise_install and result.enterprise_id:
            return str(result.enterprise_id)
        if result.team_id:
            return str(result.team_id)
    return workspace_of(body)


def _kind(body: dict[str, Any]) -> str:
    """
    A short label for a payload, for the events counter.
    """
    if "command" in body:
        return "command"
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict):
        return f"event:{event.get('type', '?')}"
    return str(body.get("type", "unknown"))


def ack_unhandled(body: dict[str, Any], metrics: Metrics) -> BoltResponse:
    """
    The answer to a signed request no listener takes (an event the app is subscribed
    to but ignores, a button, shortcut, modal or options request of someone else's
    making): an empty 200, counted by kind and logged without its text. Bolt's own
    answer, 404, makes Slack retry, and events that keep failing get the app's event
    subscription disabled.
    """
    kind = _kind(body)
    metrics.unhandled.labels(kind).inc()
    log.debug("unhandled_request kind=%s", kind)
    return BoltResponse(status=200, body="")


def build_app(
    settings: Settings,
    *,
    matcher: Matcher,
    store: StateStore,
    prober: Prober,
    client: AsyncWebClient | None = None,
    metrics: Metrics | None = None,
    escalate: HandOff | None = None,
    desk: Desk | None = None,
    verified_upstream: bool = False,
    lifecycle: Lifecycle | None = None,
    authorize: AsyncAuthorize | None = None,
    workspaces: Workspaces | None = None,
    revocations: Revocations | None = None,
) -> AsyncApp:
    """
    The smtpbot Bolt app: support-channel answers, buttons, /smtpcheck, and with a
    ``desk`` the escalation cards, reminders' buttons and the App Home tab.

    ``verified_upstream`` builds the workers' app: its input comes from the intake
    stream, verified by the HTTP front when it arrived (possibly minutes ago), and
    dispatch returns once the listeners are done (the entry is acknowledged then).

    ``lifecycle`` handles revoked tokens, uninstalls and rate limiting (by default in
    this process only, deleting nothing).

    ``authorize`` serves many workspaces: each request gets the bot token of the
    installation it came from (``bot.slack.oauth``); without it the app uses
    SLACK_BOT_TOKEN. ``workspaces`` gives each workspace's settings (by default the
    environment's, or the desk's); ``revocations`` removes installed workspaces'
    tokens from the installation store when Slack revokes them or the app is
    uninstalled (``lifecycle`` then deletes their data).
    """
    metrics = metrics or Metrics()
    lifecycle = lifecycle or Lifecycle(TokenGuard(metrics=metrics), metrics=metrics)
    guard = lifecycle.guard
    engine = Engine(
        settings=settings,
        matcher=matcher,
        store=store,
        prober=prober,
        metrics=metrics,
        learning=desk.learning if desk is not None else None,
    )
    if desk is not None and escalate is None:
        escalate = desk
    if workspaces is None:
        workspaces = desk.workspaces if desk is not None else Workspaces(settings)
    work = SlackHandlers(engine, escalate=escalate, guard=guard, workspaces=workspaces)
    if authorize is not None:
        authorize = Remembered(authorize)

    async def gate(
        body: dict[str, Any], context: Any, next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        # Before authorization, so neither needs a Web API call: Slack's notice that
        # it is dropping events is acked and counted, and nothing is done with a
        # revoked token (the request is still acked).
        if body.get("type") == "app_rate_limited":
            metrics.events.labels("app_rate_limited").inc()
            lifecycle.rate_limited(body)
            return BoltResponse(status=200, body="")
        if body.get("type") != "url_verification" and not await guard.allows(
            context.client.token
        ):
            metrics.events.labels("revoked").inc()
            # A slash command's response is shown to its user (no Web API call).
            return BoltResponse(status=200, body=REVOKED if "command" in body else "")
        if (
            authorize is not None
            and needs_installation(body)
            and not await installed(authorize, context)
        ):
            # Before Bolt's authorization, which logs an ERROR for each one.
            return not_installed(body, context, _kind(body), metrics)
        await next_()
        return None

    app = AsyncApp(
        client=client or make_web_client(settings, metrics=metrics),
        name="smtpbot",
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not verified_upstream,
        process_before_response=verified_upstream,
        before_authorize=gate,
        # Bolt accepts an AsyncAuthorize instance here; its annotation names only
        # plain functions.
        authorize=authorize,  # type: ignore[arg-type]
        user_facing_authorize_error_message=NOT_INSTALLED,
        # Requests no listener takes go to on_error, which acks them.
        raise_error_for_unhandled_request=True,
    )

    @app.middleware
    async def scrub(
        req: AsyncBoltRequest, next_: Callable[[], Awaitable[None]]
    ) -> None:
        # Socket Mode payloads come straight from Slack: redact them here, as the
        # HTTP front does before it hands a request on (and marks it so).
        if req.mode == "socket_mode" and not req.context.get(REDACTED_MARK):
            req.body = redact_payload(req.body)
        await next_()

    @app.middleware
    async def count(
        body: dict[str, Any], context: Any, next_: Callable[[], Awaitable[None]]
    ) -> None:
        # Log lines of this request (and the listener tasks it starts) carry its id.
        REQUEST_ID.set(request_id_of(body))
        if context.bot_user_id:
            lifecycle.bot_users.add(context.bot_user_id)
        metrics.events.labels(_kind(body)).inc()
        await next_()

    @app.event("tokens_revoked")
    async def on_tokens_revoked(body: dict[str, Any], context: Any) -> None:
        if revocations is not None:
            # Serving many workspaces: the installed token leaves the store.
            await revocations.tokens_revoked(body, context)
            return
        await lifecycle.tokens_revoked(body, context.client.token, context.bot_user_id)

    @app.event("app_uninstalled")
    async def on_uninstalled(body: dict[str, Any], context: Any) -> None:
        if revocations is not None:
            await revocations.app_uninstalled(body, context)
        await lifecycle.app_uninstalled(body, context.client.token)

    @app.event("message")
    async def on_message(
        body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await work.message(body, client, context.bot_user_id)

    @app.event("app_mention")
    async def on_mention(
        body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await work.message(body, client, context.bot_user_id, mention=True)

    @app.action(blocks.PROBE)
    async def on_probe(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        await work.probe(body, client, installation(context, body))

    @app.action(blocks.FEEDBACK_YES)
    async def on_yes(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        await work.feedback(body, client, installation(context, body), helpful=True)

    @app.action(blocks.FEEDBACK_NO)
    async def on_no(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        await work.feedback(body, client, installation(context, body), helpful=False)

    @app.action(blocks.HUMAN)
    async def on_human(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await work.human(body, client, ack, installation(context, body))

    @app.action({"action_id": blocks.CHOICE_PATTERN})
    async def on_choose(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        await work.choose(body, client, installation(context, body))

    @app.event("reaction_added")
    async def on_reaction(body: dict[str, Any], client: AsyncWebClient) -> None:
        await work.reaction(body, client)

    if desk is not None:
        register_desk(app, desk)

    @app.command("/smtpcheck")
    async def on_smtpcheck(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await work.smtpcheck(command, ack, respond)

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], respond: Any
    ) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            return ack_unhandled(body, metrics)
        if isinstance(error, NotDoneError):
            # A queued message the worker keeps and tries again; not a bug.
            log.warning("queued_work_not_done kind=%s error=%s", _kind(body), error)
            return None
        log.error(
            "listener_failed kind=%s error=%r", _kind(body), error, exc_info=error
        )
        if respond is not None and body.get("response_url"):
            await respond(
                text="Sorry, something went wrong on my side. Please try again, or "
                "ask in a support channel.",
                response_type="ephemeral",
                replace_original=False,
            )
        return None

    return app


def register_desk(app: AsyncApp, desk: Desk) -> None:
    """
    The escalation card's buttons and the App Home tab.
    """

    @app.action(cards.CLAIM)
    async def on_claim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await desk.claim(body, client)

    @app.action(cards.RESOLVE)
    async def on_resolve(
        ack: Any, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await desk.close(body, client, status=Status.RESOLVED)

    @app.action(cards.HANDBACK)
    async def on_handback(
        ack: Any, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await desk.close(body, client, status=Status.HANDED_BACK)

    @app.event("app_home_opened")
    async def on_home(body: dict[str, Any], client: AsyncWebClient) -> None:
        await desk.home(body, client)

    @app.action(settings_view.EDIT)
    async def on_edit_settings(
        ack: Any, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await desk.edit_settings(body, client)

    @app.view(settings_view.MODAL)
    async def on_save_settings(
        ack: Any, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await desk.save_settings(body, ack, client)
