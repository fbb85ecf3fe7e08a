"""
Requests from a workspace with no installation (never installed, uninstalled, its
token revoked): acked, counted and logged in one short DEBUG line, with no Web API
call and nothing of the payload in the log.

Left to Bolt, such a request reaches its authorization middleware, which logs an
ERROR for each one ("Although the app should be installed into this workspace ...")
and answers events with a text body. So the app's gate, which runs before that
middleware, looks the installation up first (``Remembered`` keeps the answer in the
request's context, so Bolt's own authorization reuses it without a second look-up)
and answers a request nobody installed for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.metrics import Metrics

log = logging.getLogger(__name__)

# Where a request's installation look-up is kept in its Bolt context.
AUTHORIZED: Final = "smtpbot_authorized"
# What someone running a slash command in a workspace without an installation is told
# (the command's own response: shown to them only, no call to Slack).
NOT_INSTALLED: Final = (
    "smtpbot is not installed in this workspace any more. Ask an admin to add it "
    "again with its Add to Slack link."
)
# Requests Bolt serves without authorization: Slack's URL check and TLS check, and the
# events that say the app lost its access (slack_bolt's ``no_auth_test_events``).
_OUTER_WITHOUT_AUTH: Final = frozenset({"url_verification", "ssl_check"})
_EVENTS_WITHOUT_AUTH: Final = frozenset(
    {"app_uninstalled", "tokens_revoked", "team_access_revoked"}
)


class Remembered(AsyncAuthorize):
    """
    An authorize whose answer for a request is kept in the request's context.
    """

    def __init__(self, inner: AsyncAuthorize) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.inner = inner

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **actor: Any,
    ) -> AuthorizeResult | None:
        """
        The inner authorize's answer, looked up once per request.
        """
        if AUTHORIZED in context:
            found: AuthorizeResult | None = context[AUTHORIZED]
            return found
        found = await self.inner(
            context=context,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            **actor,
        )
        context[AUTHORIZED] = found
        return found


def needs_installation(body: Mapping[str, Any]) -> bool:
    """
    True for a request that is served with an installation's token.
    """
    if body.get("type") in _OUTER_WITHOUT_AUTH:
        return False
    event = body.get("event")
    return not (
        body.get("type") == "event_callback"
        and isinstance(event, Mapping)
        and event.get("type") in _EVENTS_WITHOUT_AUTH
    )


async def installed(authorize: AsyncAuthorize, context: AsyncBoltContext) -> bool:
    """
    True when an installation serves the request (its answer kept for Bolt).
    """
    found = await authorize(
        context=context,
        enterprise_id=context.enterprise_id,
        team_id=context.team_id,
        user_id=context.user_id,
    )
    return found is not None


def not_installed(
    body: Mapping[str, Any], context: AsyncBoltContext, kind: str, metrics: Metrics
) -> BoltResponse:
    """
    The answer to a request from a workspace with no installation: an empty 200 (a
    slash command's says why), counted by kind and logged without its payload.
    """
    metrics.not_installed.labels(kind).inc()
    log.debug(
        "not_installed kind=%s enterprise=%s team=%s",
        kind,
        context.enterprise_id or "-",
        context.team_id or "-",
    )
    return BoltResponse(status=200, body=NOT_INSTALLED if "command" in body else "")
