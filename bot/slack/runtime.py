"""
Composition root of ``smtpbot run``: build the store, Web client, prober and app from
Settings, serve HTTP or Socket Mode until stopped, and close everything on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, TextIO

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.errors import ConfigError
from bot.escalation.learning import Learning
from bot.escalation.store import EscalationStore
from bot.metrics import Metrics
from bot.slack.app import build_app, make_web_client
from bot.slack.escalation.desk import Desk
from bot.slack.intake import Intake, stream_key
from bot.slack.lifecycle import Forgets, Lifecycle, TokenGuard, forget_queued
from bot.slack.oauth import OAuth, make_oauth
from bot.slack.oauth.orgteams import OrgTeams
from bot.slack.oauth.revocation import Revocations
from bot.slack.probing import make_prober
from bot.slack.readiness import Readiness, WorkerCheck
from bot.slack.replay import ReplayGuard
from bot.slack.server import build_web_app
from bot.slack.supervisor import WorkerPool
from bot.slack.worker import BATCH, IntakeWorker, bolt_dispatch, consumer_name
from bot.slack.workspaces import Workspaces
from bot.state.redis_store import RedisStore

log = logging.getLogger(__name__)

# DESIGN.md's example; the bot runs (without state) while it is unreachable.
DEFAULT_REDIS_URL: Final = "redis://localhost:6379/0"
# Listener tasks still running at shutdown get this long to post their replies.
DRAIN_SECONDS: Final = 5.0
# The coroutine Bolt's asyncio listener runner wraps each listener in (slack_bolt 1.x).
BOLT_LISTENER: Final = "run_ack_function_asynchronously"
# One pooled HTTP session for the Web API: a connection per reply would cost a TLS
# handshake.
WEB_CONNECTIONS: Final = 64
# A worker sharing the front's event loop takes small batches: the acks of requests
# arriving meanwhile wait behind every entry of a batch that is ready to run.
IN_PROCESS_BATCH: Final = 16
# Bolt's conventional port, used by `run --http` without --port.
DEFAULT_HTTP_PORT: Final = 3000


@dataclass(frozen=True, slots=True)
class Bot:
    """
    What ``open_bot`` builds: the front's Bolt app, and with ``worker=True`` the
    intake workers' app, on one store, Web client and metrics.
    """

    app: AsyncApp
    store: RedisStore
    metrics: Metrics
    worker_app: AsyncApp | None = None
    # Serving many workspaces: the installation store, OAuth flow and per-team clients.
    oauth: OAuth | None = None
    # Each workspace's settings (the environment's when serving one).
    workspaces: Workspaces | None = None
    desk: Desk | None = None


@contextlib.asynccontextmanager
async def open_bot(settings: Settings, *, worker: bool = False) -> AsyncIterator[Bot]:
    """
    Build the Bolt app(s) and their dependencies; close them all on exit.
    """
    from bot.commands import default_matcher

    url = settings.redis_url or DEFAULT_REDIS_URL
    metrics = Metrics()
    store = RedisStore.from_url(
        url,
        prefix=settings.redis_prefix,
        conversation_ttl=settings.conversation_ttl_seconds,
        dedupe_ttl=settings.dedupe_ttl_seconds,
        timeout=settings.redis_timeout,
        max_connections=settings.redis_max_connections,
        metrics=metrics,
        wait_replicas=settings.redis_wait_replicas,
        wait_timeout=settings.redis_wait_timeout,
    )
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=WEB_CONNECTIONS)
    )
    guard = TokenGuard(store.client, prefix=settings.redis_prefix, metrics=metrics)
    stop = asyncio.Event()
    loop: asyncio.Task[None] | None = None
    try:
        client = make_web_client(settings, session=session, metrics=metrics)
        oauth = (
            make_oauth(settings, store.client, client, metrics=metrics)
            if settings.multi_workspace
            else None
        )
        workspaces = Workspaces(
            settings,
            store.client if oauth is not None else None,
            installer_of=oauth.installations.installer_of
            if oauth is not None
            else None,
        )
        desk = make_desk(
            settings, store, metrics, oauth=oauth, workspaces=workspaces, guard=guard
        )
        teams = (
            OrgTeams(store.client, prefix=settings.redis_prefix, metrics=metrics)
            if oauth is not None
            else None
        )
        lifecycle = make_lifecycle(
            settings,
            store,
            desk,
            metrics,
            guard=guard,
            workspaces=workspaces,
            teams=teams,
        )
        parts: dict[str, Any] = {
            "matcher": default_matcher(),
            "store": store,
            "prober": make_prober(settings),
            "client": client,
            "metrics": metrics,
            "desk": desk,
            "lifecycle": lifecycle,
            "authorize": oauth.authorize if oauth is not None else None,
            "workspaces": workspaces,
            "revocations": Revocations(oauth.installations, teams)
            if oauth is not None
            else None,
        }
        app = build_app(settings, **parts)
        worker_app = (
            build_app(settings, verified_upstream=True, **parts) if worker else None
        )
        loop = asyncio.create_task(
            desk.run(client, stop, period=settings.escalation_tick_seconds)
        )
        yield Bot(app, store, metrics, worker_app, oauth, workspaces, desk)
        await drain()
        await lifecycle.wait()
    finally:
        stop.set()
        if loop is not None:
            await loop
        await session.close()
        await store.close()


def make_desk(
    settings: Settings,
    store: RedisStore,
    metrics: Metrics,
    *,
    oauth: OAuth | None = None,
    workspaces: Workspaces | None = None,
    guard: TokenGuard | None = None,
) -> Desk:
    """
    The escalation desk on the store's Redis client (one pool per process); serving
    many workspaces, it posts with each escalation's workspace token.
    """
    return Desk(
        settings,
        escalations=EscalationStore(
            store.client,
            prefix=settings.redis_prefix,
            retention_seconds=settings.escalation_retention_days * 24 * 3600,
            replication=store.replication,
        ),
        learning=Learning(store.client, prefix=settings.redis_prefix),
        store=store,
        metrics=metrics,
        clients=oauth.clients if oauth is not None else None,
        workspaces=workspaces,
        guard=guard,
    )


def make_lifecycle(
    settings: Settings,
    store: RedisStore,
    desk: Desk | None,
    metrics: Metrics,
    *,
    guard: TokenGuard | None = None,
    workspaces: Workspaces | None = None,
    teams: OrgTeams | None = None,
) -> Lifecycle:
    """
    Revocations shared through Redis, and an uninstall that deletes the workspace's
    conversations, escalations, unmatched errors and queued messages (and, for an
    org, which of its workspaces each channel is in).
    """
    stores: list[Forgets] = [store]
    if desk is not None:
        stores += [desk.escalations, desk.learning]
    if workspaces is not None and workspaces.editable:
        stores.append(workspaces)
    if teams is not None:
        stores.append(teams)
    return Lifecycle(
        guard
        or TokenGuard(store.client, prefix=settings.redis_prefix, metrics=metrics),
        stores=stores,
        queue=functools.partial(
            forget_queued, store.client, stream_key(settings.redis_prefix)
        ),
        metrics=metrics,
    )


def listener_tasks() -> list[asyncio.Task[object]]:
    """
    Bolt's listener tasks still running (it starts one per request and acks first).
    """
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and BOLT_LISTENER in getattr(t.get_coro(), "__qualname__", "")
    ]


async def drain(timeout: float = DRAIN_SECONDS) -> None:
    """
    Let listener tasks finish their Web API calls before the clients close.
    """
    pending = listener_tasks()
    if pending:
        await asyncio.wait(pending, timeout=timeout)


async def _serve_web(
    web_app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """
    Start an aiohttp site; returns the runner and the bound port.
    """
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server  # aiohttp exposes the bound port only here
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)


async def serve(
    settings: Settings,
    *,
    http: bool,
    host: str,
    port: int | None,
    stop: asyncio.Event,
    workers: int = 0,
    out: TextIO = sys.stderr,
) -> None:
    """
    Run the bot until ``stop`` is set: HTTP mode, or Socket Mode with SLACK_APP_TOKEN.

    In HTTP mode the front queues Events API messages (``bot.slack.intake``); with
    ``workers`` 0 this process also answers them, else N ``smtpbot work`` processes do.
    """
    if settings.multi_workspace and not http:
        raise ConfigError(
            "SLACK_CLIENT_ID",
            "serving every workspace that installs the app runs over HTTP: "
            "`smtpbot run --http` (Slack sends installers to /slack/oauth_redirect)",
        )
    if http and not settings.has_http_credentials:
        raise ConfigError(
            "SLACK_SIGNING_SECRET"
            if settings.slack_bot_token or settings.multi_workspace
            else "SLACK_BOT_TOKEN",
            "HTTP mode needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (one workspace) "
            "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many)",
        )
    if not http and not settings.has_socket_credentials:
        raise ConfigError(
            "SLACK_APP_TOKEN" if settings.slack_bot_token else "SLACK_BOT_TOKEN",
            "Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (xapp-...); "
            "or run `smtpbot run --http` with SLACK_SIGNING_SECRET",
        )
    if not settings.redis_url:
        print(f"REDIS_URL is not set; using {DEFAULT_REDIS_URL}", file=out)
    async with open_bot(settings, worker=http and workers == 0) as bot:
        runner: web.AppRunner | None = None
        handler = None
        done = asyncio.Event()
        background: list[asyncio.Task[None]] = []
        consumer: IntakeWorker | None = None
        pool: WorkerPool | None = None
        if http and bot.worker_app is not None:
            consumer = make_worker(settings, bot, batch=IN_PROCESS_BATCH)
        elif http:
            pool = WorkerPool(workers, env=os.environ)
        try:
            if http or port is not None:
                intake = (
                    Intake(
                        settings,
                        bot.store.client,
                        metrics=bot.metrics,
                        replication=bot.store.replication,
                        workspaces=bot.workspaces,
                    )
                    if http
                    else None
                )
                readiness = Readiness(
                    bot.store,
                    intake=intake,
                    escalations=bot.desk.escalations if bot.desk else None,
                    workers=worker_check(consumer, pool),
                    stuck_after=settings.intake_stuck_seconds if http else None,
                )
                await readiness.prepare()
                web_app = build_web_app(
                    bot.app,
                    store=bot.store,
                    metrics=bot.metrics,
                    signing_secret=settings.slack_signing_secret or "",
                    intake=intake,
                    ready=readiness.check,
                    replay=ReplayGuard(
                        bot.store.client, settings.redis_prefix, metrics=bot.metrics
                    ),
                    oauth=bot.oauth.flow if bot.oauth is not None else None,
                )
                runner, bound = await _serve_web(web_app, host, port or 0)
                install = " /slack/install" if bot.oauth is not None else ""
                print(
                    f"smtpbot listening on http://{host}:{bound} (POST /slack/events, "
                    f"GET /healthz /readyz /metrics{install})",
                    file=out,
                    flush=True,
                )
            if consumer is not None:
                background.append(asyncio.create_task(consumer.run(done)))
            elif pool is not None:
                background.append(asyncio.create_task(pool.run(done)))
                print(f"smtpbot started {workers} worker(s)", file=out, flush=True)
            if not http:
                from slack_bolt.adapter.socket_mode.async_handler import (
                    AsyncSocketModeHandler,
                )

                handler = AsyncSocketModeHandler(
                    bot.app,
                    app_token=settings.slack_app_token,
                    web_client=bot.app.client,
                )
                # slack_bolt leaves connect_async/close_async unannotated.
                await handler.connect_async()  # type: ignore[no-untyped-call]
                print("smtpbot connected to Slack in Socket Mode", file=out, flush=True)
            await stop.wait()
        finally:
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]
            if runner is not None:
                await runner.cleanup()
            # Queued messages already taken are answered; the rest wait in the stream.
            done.set()
            await asyncio.gather(*background, return_exceptions=True)


def worker_check(
    consumer: IntakeWorker | None, pool: WorkerPool | None
) -> WorkerCheck | None:
    """
    The readiness check of whatever answers this front's queued messages.
    """
    if consumer is not None:
        worker = consumer
        return lambda: None if worker.healthy else "the worker cannot read the queue"
    if pool is not None:
        workers = pool
        return lambda: None if workers.alive else "no worker process is running"
    return None


def make_worker(
    settings: Settings,
    bot: Bot,
    *,
    batch: int = BATCH,
    take_over: str | None = None,
) -> IntakeWorker:
    """
    A consumer of the intake stream that hands entries to the bot's workers' app.
    """
    if bot.worker_app is None:
        raise ValueError("open_bot(worker=True) builds the workers' app")
    return IntakeWorker(
        bot.store.client,
        stream_key(settings.redis_prefix),
        dispatch=bolt_dispatch(bot.worker_app),
        metrics=bot.metrics,
        batch=batch,
        reclaim_ms=int(settings.intake_reclaim_seconds * 1000),
        take_over=take_over,
        # One message first: what the app sets up on first use (Bolt asks Slack who
        # the bot token is, once per process) is then done once, not once for each
        # message of a full first batch.
        first_batch=1,
    )


async def work(
    settings: Settings,
    *,
    stop: asyncio.Event,
    parent: int | None = None,
    replaces: int | None = None,
) -> None:
    """
    ``smtpbot work``: answer queued messages until ``stop`` is set, or until the
    ``parent`` process (the front that started it) is gone; first take over what the
    dead worker ``replaces`` (a pid on this host) left unfinished.
    """
    watch = (
        asyncio.create_task(watch_parent(parent, stop)) if parent is not None else None
    )
    try:
        async with open_bot(settings, worker=True) as bot:
            dead = consumer_name(replaces) if replaces is not None else None
            await make_worker(settings, bot, take_over=dead).run(stop)
    finally:
        if watch is not None:
            watch.cancel()


async def watch_parent(pid: int, stop: asyncio.Event, period: float = 1.0) -> None:
    """
    Set ``stop`` once this process is no longer ``pid``'s child (the front died
    without stopping its workers, e.g. SIGKILL).
    """
    while not stop.is_set():
        if os.getppid() != pid:
            log.warning("worker_orphaned front_pid=%s; stopping", pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
