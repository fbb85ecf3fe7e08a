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
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.errors import StateUnavailableError
from bot.metrics import CONTENT_TYPE, Metrics
from bot.slack.intake import Intake
from bot.slack.oauth.flow import oauth_routes
from bot.state import StateStore

log = logging.getLogger(__name__)

# Slack's payloads are small (a message is at most 40,000 characters); refuse huge
# bodies.
MAX_BODY: Final = 1024 * 1024


def shape_problem(body: object) -> str | None:
    """
    What makes a parsed payload unfit for Bolt (which assumes Slack's shapes), or None.
    """
    if not isinstance(body, dict):
        return "expected a JSON object"
    for key in ("event", "container", "channel", "message", "view"):
        if key in body and not isinstance(body[key], dict | str):
            return f"{key!r} must be an object"
    if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
        return "event_callback without an event object"
    if body.get("type") == "block_actions":
        actions = body.get("actions")
        if not (
            isinstance(actions, list)
            and actions
            and all(isinstance(a, dict) for a in actions)
        ):
            return "block_actions without actions"
        if not isinstance(body.get("user"), dict):
            return "block_actions without a user"
    return None


def build_web_app(
    bolt: AsyncApp,
    *,
    store: StateStore,
    metrics: Metrics,
    signing_secret: str,
    intake: Intake | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
    oauth: AsyncOAuthFlow | None = None,
) -> web.Application:
    """
    The aiohttp application for HTTP mode (also serves the health endpoints). With an
    ``intake``, Events API messages are queued for workers instead of handled here;
    with ``oauth``, the "Add to Slack" pages are served too.
    Without a signing secret (Socket Mode with ``--port``) only the health endpoints
    are served: requests that cannot be verified are never taken. ``ready`` is the
    readiness check (raises StateUnavailableError); by default the store's PING.
    """
    check = ready or store.ping
    verifier = SignatureVerifier(signing_secret or "unset")

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        headers = dict(request.headers)
        if intake is not None:
            taken = await intake.offer(body, headers)
            if taken is not None:
                return taken
        bolt_headers: dict[str, str | Sequence[str]] = {**headers}
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=bolt_headers
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Bolt parses before it verifies; answer like it would: 401 unsigned, 400
            # signed.
            if not verifier.is_valid_request(body, headers):
                return web.json_response({"error": "invalid request"}, status=401)
            log.warning("malformed_payload error=%s", type(exc).__name__)
            return web.json_response(
                {"error": f"malformed payload: {type(exc).__name__}"}, status=400
            )
        problem = shape_problem(bolt_request.body)
        if problem is not None:
            if not verifier.is_valid_request(body, headers):
                return web.json_response({"error": "invalid request"}, status=401)
            log.warning("malformed_payload problem=%s", problem)
            return web.json_response(
                {"error": f"malformed payload: {problem}"}, status=400
            )
        response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        try:
            await check()
        except StateUnavailableError as exc:
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
