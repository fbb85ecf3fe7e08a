"""
"Add to Slack": Bolt's OAuth flow on the bot's own web server, with installations and
states in Redis.

GET /slack/install          an "Add to Slack" page with a fresh state (also set as a
                            cookie for the browser that began the flow)
GET /slack/oauth_redirect   Slack sends the installer back here with ``code`` and
                            ``state``; a state this deployment issued (on any replica),
                            unused and unexpired, from the same browser, is exchanged
                            through ``oauth.v2.access`` and the installation stored.
                            Anything else gets a 4xx page: no Web API call, nothing
                            stored.

Pages never carry a token or the client secret, are never cached, and send no Referer
(the redirect URL carries the one-time code). Nor does the log, at any level: Bolt's
flow logs each callback's query string (the code and the state) and a failed
exchange's code, so it logs through ``FlowLog``, which keeps what happened and drops
the rest; the exchange itself goes through a client whose request and response lines
(slack_sdk's DEBUG output) are not written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping, Sequence
from typing import Any, Final

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import OAUTH_REDIRECT_PATH, Settings
from bot.errors import StateUnavailableError
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.records import workspace_key
from bot.slack.oauth.states import RedisOAuthStateStore

log = logging.getLogger(__name__)

INSTALL_PATH: Final = "/slack/install"
# Sent with every page of the flow: never cached or framed, no Referer.
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
}
# A failure reason fit for the log: Bolt's own, or Slack's ``error`` parameter as the
# installer's browser brought it back (anything else is not logged as given).
_REASON: Final = re.compile(r"[a-z][a-z0-9_]{0,40}")
# Slack's error code in the text of a failed Web API call.
_SLACK_ERROR: Final = re.compile(r"'error': '([a-z0-9_]{1,60})'")
UNAVAILABLE_PAGE: Final = (
    "<html><body><h2>Installation is unavailable right now</h2>"
    "<p>Please try again in a minute from <a href='/slack/install'>here</a>.</p>"
    "</body></html>"
)


class FlowLog(logging.LoggerAdapter[logging.Logger]):
    """
    The log of Bolt's OAuth flow, without the requests' codes and states: a failed
    exchange becomes ``oauth_exchange_failed error=<Slack's error>``; any other line
    keeps its words up to the first parenthesis or colon (Bolt puts the request after
    them).
    """

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        """
        The message with nothing of the request in it.
        """
        text = str(msg)
        if text.startswith("Failed to fetch oauth.v2.access"):
            error = _SLACK_ERROR.search(text)
            return (
                f"oauth_exchange_failed error={error.group(1) if error else 'unknown'}",
                kwargs,
            )
        return re.split(r"[(:]", text, maxsplit=1)[0].strip(), kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        """
        Log the scrubbed message (Bolt formats its messages itself; its arguments and
        exception details are dropped with the rest).
        """
        if self.isEnabledFor(level):
            text, _ = self.process(msg, {})
            self.logger.log(level, text)


def quiet_client(client: AsyncWebClient) -> AsyncWebClient:
    """
    ``client`` for OAuth exchanges and refreshes: its logger is never at DEBUG, so
    slack_sdk does not write the request (the code, the refresh token) or the answer
    (the tokens).
    """
    quiet = logging.getLogger(f"{__name__}.exchange")
    # slack_sdk tests this logger's own level, not the effective one.
    quiet.setLevel(max(logging.INFO, log.getEffectiveLevel()))
    return AsyncWebClient(
        base_url=client.base_url,
        timeout=client.timeout,
        session=client.session,
        logger=quiet,
        retry_handlers=list(client.retry_handlers),
    )


async def _succeeded(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    log.info(
        "app_installed workspace=%s enterprise=%s team=%s org_wide=%s installer=%s",
        workspace_key(
            installation.enterprise_id,
            installation.team_id,
            installation.is_enterprise_install,
        ),
        installation.enterprise_id or "-",
        installation.team_id or "-",
        installation.is_enterprise_install,
        installation.user_id,
    )
    return await args.default.success(args)


async def _failed(args: AsyncFailureArgs) -> BoltResponse:
    # A cancelled consent (error=access_denied) is still a request the bot refuses.
    if args.suggested_status_code < 400:
        args.suggested_status_code = 400
    reason = args.reason if _REASON.fullmatch(args.reason or "") else "other"
    log.warning("oauth_refused reason=%s status=%s", reason, args.suggested_status_code)
    return await args.default.failure(args)


def make_oauth_flow(
    settings: Settings,
    *,
    client: AsyncWebClient,
    installations: RedisInstallationStore,
    states: RedisOAuthStateStore,
) -> AsyncOAuthFlow:
    """
    Bolt's OAuth flow for SLACK_CLIENT_ID / SLACK_CLIENT_SECRET, asking for
    SLACK_SCOPES (bot scopes only), on the given Web API client and Redis stores.
    """
    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(settings.slack_scopes),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=OAUTH_REDIRECT_PATH,
        callback_options=AsyncCallbackOptions(success=_succeeded, failure=_failed),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        state_expiration_seconds=settings.slack_state_expiration_seconds,
        # Bolt types these as Logger; an adapter logs the same way.
        logger=FlowLog(log),  # type: ignore[arg-type]
    )
    return AsyncOAuthFlow(
        client=quiet_client(client),
        settings=oauth_settings,
        logger=FlowLog(log),  # type: ignore[arg-type]
    )


def _bolt_request(request: web.Request) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(request.headers)
    return AsyncBoltRequest(body="", query=request.query_string, headers=headers)


async def _page(response: BoltResponse) -> web.Response:
    page = await to_aiohttp_response(response)
    page.headers.update(PAGE_HEADERS)
    return page


def oauth_routes(flow: AsyncOAuthFlow) -> list[web.RouteDef]:
    """
    The two routes of the flow, for the bot's aiohttp application.
    """

    async def install(request: web.Request) -> web.Response:
        try:
            response = await flow.handle_installation(_bolt_request(request))
        except StateUnavailableError as exc:
            log.warning("oauth_unavailable step=install error=%s", exc)
            return web.Response(
                status=503,
                text=UNAVAILABLE_PAGE,
                content_type="text/html",
                headers=PAGE_HEADERS,
            )
        return await _page(response)

    async def redirect(request: web.Request) -> web.Response:
        try:
            response = await flow.handle_callback(_bolt_request(request))
        except StateUnavailableError as exc:
            log.warning("oauth_unavailable step=callback error=%s", exc)
            return web.Response(
                status=503,
                text=UNAVAILABLE_PAGE,
                content_type="text/html",
                headers=PAGE_HEADERS,
            )
        return await _page(response)

    return [web.get(INSTALL_PATH, install), web.get(OAUTH_REDIRECT_PATH, redirect)]
