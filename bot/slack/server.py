"""
The HTTP transport: one aiohttp application serving Slack's requests and the probes.

POST /slack/events   events (JSON), slash commands (form), interactivity (payload=)
GET  /healthz        the process is up
GET  /readyz         Redis answers as a master and queued work gets done; 503 otherwise
GET  /metrics        Prometheus text
GET  /slack/install, /slack/oauth_redirect   "Add to Slack" (serving many workspaces)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.errors import StateUnavailableError
from bot.metrics import CONTENT_TYPE, Metrics
from bot.redact.payload import redact_payload
from bot.slack.app import REDACTED_MARK
from bot.slack.inbound import Inbound, Refusal, read_request
from bot.slack.intake import Intake
from bot.slack.oauth.flow import oauth_routes
from bot.slack.readiness import NotReadyError
from bot.slack.replay import ReplayGuard
from bot.slack.shapes import shape_problem
from bot.state import StateStore

log = logging.getLogger(__name__)

# aiohttp's own cap on bodies it reads for us (the events handler streams and bounds
# its body itself, see bot.slack.inbound.MAX_BODY).
MAX_BODY: Final = 1024 * 1024
# Refusals are logged at most once per reason in this many seconds, with a count:
# a flood of unsigned requests must not flood the log.
REFUSAL_LOG_SECONDS: Final = 10.0
# Requests that change nothing, whose replay is harmless (and Slack's handshakes
# must always be answered).
_HANDSHAKES: Final = frozenset({"url_verification", "ssl_check"})


class RefusalLog:
    """
    One short line per refusal reason per interval: status, reason, how many.
    """

    def __init__(self, interval: float = REFUSAL_LOG_SECONDS) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def note(self, status: int, reason: str) -> None:
        """
        Count a refusal; log it unless this reason was logged within the interval.
        """
        now = time.monotonic()
        self._count[reason] = self._count.get(reason, 0) + 1
        if now - self._last.get(reason, -self._interval) >= self._interval:
            log.info(
                "request_refused status=%d reason=%r count=%d",
                status,
                reason,
                self._count.pop(reason),
            )
            self._last[reason] = now


def _label(status: int) -> str:
    return {401: "unsigned", 408: "slow", 413: "too_large", 415: "charset"}.get(
        status, "malformed"
    )


def retry_number(headers: Mapping[str, str]) -> int:
    """
    Slack's X-Slack-Retry-Num (api.slack.com/apis/events-api#retries): 0 for a first
    delivery.
    """
    raw = headers.get("X-Slack-Retry-Num", "")
    return int(raw) if raw.isdigit() else (1 if raw else 0)


def build_web_app(
    bolt: AsyncApp,
    *,
    store: StateStore,
    metrics: Metrics,
    signing_secret: str,
    intake: Intake | None = None,
    replay: ReplayGuard | None = None,
    oauth: AsyncOAuthFlow | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """
    The aiohttp application for HTTP mode (also serves the health endpoints). With an
    ``intake``, Events API messages are queued for workers instead of handled here;
    with ``oauth``, the "Add to Slack" pages are served too.
    Without a signing secret (Socket Mode with ``--port``) only the health endpoints
    are served: requests that cannot be verified are never taken.

    Every request to /slack/events is verified before its body is parsed
    (``bot.slack.inbound``), redacted before Bolt sees it, and acted on once
    (``replay``; without one, replays are remembered in this process only).
    ``ready`` is the readiness check (raises StateUnavailableError); by default the
    store's PING.
    """
    check = ready or store.ping
    replay = replay or ReplayGuard(None, "", metrics=metrics)
    refusals = RefusalLog()

    def refuse(refusal: Refusal) -> web.Response:
        metrics.requests_refused.labels(_label(refusal.status)).inc()
        refusals.note(refusal.status, refusal.reason)
        response = refusal.response()
        if refusal.status in {401, 408, 413}:
            # The body may be unread: close rather than drain it.
            response.force_close()
        return response

    async def events(request: web.Request) -> web.StreamResponse:
        try:
            inbound = await read_request(request, signing_secret)
            problem = shape_problem(inbound.body)
            if problem is not None:
                raise Refusal(400, f"malformed payload: {problem}")
        except Refusal as refusal:
            return refuse(refusal)
        if intake is not None:
            taken = await intake.offer(inbound, retry=retry_number(request.headers))
            if taken is not None:
                return taken
        return await dispatch(request, inbound)

    async def dispatch(request: web.Request, inbound: Inbound) -> web.StreamResponse:
        body = inbound.body
        headers: dict[str, str | Sequence[str]] = {
            k: v
            for k, v in request.headers.items()
            if k.lower().startswith("x-slack-retry")
        }
        # Verified here already: Bolt gets the parsed, redacted body (its "socket
        # mode" requests take a parsed body and skip a second verification).
        cleaned: dict[str, Any] = redact_payload(body)
        try:
            bolt_request = AsyncBoltRequest(
                body=cleaned,
                query=request.query_string,
                headers=headers,
                context={REDACTED_MARK: True},
                mode="socket_mode",
            )
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            # Bolt reads ids from many places in a payload (user, channel, team of
            # an event of any type); one of the wrong type is malformed, not a bug.
            return refuse(Refusal(400, f"malformed payload: {type(exc).__name__}"))
        handshake = body.get("type") in _HANDSHAKES or "ssl_check" in body
        if not handshake and not await replay.first(inbound.signature):
            metrics.requests_refused.labels("replay").inc()
            refusals.note(200, "replay")
            return web.Response(status=200)
        response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        try:
            await check()
        except StateUnavailableError as exc:
            if not isinstance(exc, NotReadyError):
                metrics.redis_errors.inc()
            return web.json_response(
                {"status": "unavailable", "error": str(exc)}, status=503
            )
        return web.json_response({"status": "ready"})

    async def metrics_page(request: web.Request) -> web.Response:
        if intake is not None:
            try:
                await intake.backlog()
            except StateUnavailableError:
                metrics.redis_errors.inc()
        return web.Response(
            body=metrics.render(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"error": "not found"}, status=404)

    app = web.Application(client_max_size=MAX_BODY)
    if signing_secret:
        app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    if oauth is not None:
        app.router.add_routes(oauth_routes(oauth))
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
