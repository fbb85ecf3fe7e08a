"""
Web API calls made on a listener's behalf.

Every failure is logged and counted here, never raised into Bolt: a reply that cannot
be posted must not take the listener down with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.lifecycle import TokenGuard

log = logging.getLogger(__name__)


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
        **kwargs: Any,
    ) -> Any:
        """
        One Web API call; failures are counted and logged, and give None. Nothing is
        sent with a revoked token.
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
            return None
