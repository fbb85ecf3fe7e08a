"""
Web API calls made on a listener's behalf.

Every failure is logged and counted here, never raised into Bolt: a reply that cannot
be posted must not take the listener down with a stack trace. The exception is a
queued message (its payload carries the worker's delivery token): when Slack fails
before its answer is out, ``NotDoneError`` tells the worker to keep the entry and try
again.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import NotDoneError
from bot.metrics import Metrics
from bot.slack.lifecycle import TokenGuard

log = logging.getLogger(__name__)


def transient(exc: Exception) -> bool:
    """
    True when a failed Web API call may work if tried again later (no answer, a
    server error, a rate limit); False when Slack refused it for good.
    """
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500 or status == 429
    return True


class WebCalls:
    """
    Makes one Web API call at a time; nothing is sent with a revoked token.
    """

    def __init__(self, metrics: Metrics, guard: TokenGuard) -> None:
        self.metrics = metrics
        self.guard = guard

    async def __call__(
        self,
        client: AsyncWebClient,
        method: str,
        *,
        http_verb: str = "POST",
        strict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """
        One Web API call; failures are counted and logged, and give None. Nothing is
        sent with a revoked token. With ``strict`` a failure that may pass raises
        NotDoneError instead.
        """
        if self.guard.blocked(client.token):
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_skipped method=%s reason=token_revoked", method)
            return None
        try:
            if http_verb == "GET":
                return await client.api_call(method, http_verb="GET", params=kwargs)
            return await client.api_call(method, json=kwargs)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self.metrics.slack_errors.labels(method).inc()
            log.warning("slack_call_failed method=%s error=%s", method, exc)
            if strict and transient(exc):
                raise NotDoneError(f"{method} failed: {type(exc).__name__}") from exc
            return None
