"""
Installing the app into many workspaces: "Add to Slack" (Bolt's OAuth flow), the
installations and one-time OAuth states kept in Redis, per-request authorization from
the installation store, and the Web API client of each installed workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.metrics import Metrics
from bot.slack.oauth.authorize import InstalledBotAuthorize
from bot.slack.oauth.cipher import TokenCipher
from bot.slack.oauth.clients import InstalledClients
from bot.slack.oauth.flow import make_oauth_flow
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.refresh import Refresher, RefreshLocks
from bot.slack.oauth.states import RedisOAuthStateStore


@dataclass(frozen=True, slots=True)
class OAuth:
    """
    Everything a process serving many workspaces needs, on one Redis client.
    """

    installations: RedisInstallationStore
    states: RedisOAuthStateStore
    flow: AsyncOAuthFlow
    authorize: InstalledBotAuthorize
    clients: InstalledClients


def make_oauth(
    settings: Settings,
    redis: aioredis.Redis,
    client: AsyncWebClient,
    *,
    metrics: Metrics | None = None,
) -> OAuth:
    """
    The stores, flow, authorizer and clients for SLACK_CLIENT_ID / SECRET; ``client``
    is the token-less Web API client (SLACK_API_URL, retries) they all call through.
    """
    if not (settings.slack_client_id and settings.slack_client_secret):
        raise ValueError("multi-workspace mode needs the client id and secret")
    installations = RedisInstallationStore(
        redis,
        prefix=settings.redis_prefix,
        cipher=TokenCipher(settings.token_encryption_keys),
        metrics=metrics,
    )
    states = RedisOAuthStateStore(
        redis,
        prefix=settings.redis_prefix,
        expiration_seconds=settings.slack_state_expiration_seconds,
        metrics=metrics,
    )
    refresher = Refresher(
        installations,
        locks=RefreshLocks(redis, prefix=settings.redis_prefix, metrics=metrics),
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        client=client,
        metrics=metrics,
    )
    return OAuth(
        installations=installations,
        states=states,
        flow=make_oauth_flow(
            settings, client=client, installations=installations, states=states
        ),
        authorize=InstalledBotAuthorize(installations, refresher=refresher),
        clients=InstalledClients(installations, base=client, refresher=refresher),
    )
