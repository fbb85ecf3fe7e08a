"""
The process entry points behind ``smtpbot run`` and ``smtpbot work``: validate
settings, set up logging and CPU priority, and run ``runtime.serve`` or
``runtime.work`` until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, TextIO

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.logs import hide_in_logs
from bot.slack.runtime import DEFAULT_HTTP_PORT, DEFAULT_REDIS_URL, serve, work
from bot.slack.supervisor import lower_priority

log = logging.getLogger(__name__)

# Redis timeout (seconds) of a worker at reduced CPU priority (at least REDIS_TIMEOUT).
STARVED_REDIS_TIMEOUT: Final = 10.0


def until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """
    Run ``main(stop)`` on a new event loop; SIGINT or SIGTERM sets ``stop``.
    """

    async def wrapper() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(wrapper())


def _settings(environ: Mapping[str, str], out: TextIO) -> Settings | int:
    """
    Validated settings with logging set up at their level, or the exit code after
    printing what is wrong.
    """
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return exc.exit_code
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    redis_password = (
        urllib.parse.urlsplit(settings.redis_url).password
        if settings.redis_url
        else None
    )
    # Installed workspaces' tokens are Slack tokens: the log's patterns catch those.
    hide_in_logs(
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.slack_client_secret,
        *settings.token_encryption_keys,
        redis_password,
    )
    return settings


NO_TOKENS: Final = (
    "No Slack tokens are configured. Set SLACK_BOT_TOKEN and SLACK_APP_TOKEN "
    "(Socket Mode), or SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET with --http; to serve "
    "every workspace that installs the app, SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
    "SLACK_SIGNING_SECRET with --http; see docs/slack.md. To try the bot without "
    "Slack, run `smtpbot console`."
)


def run_command(
    environ: Mapping[str, str],
    *,
    http: bool,
    host: str,
    port: int | None,
    stdin: TextIO,
    out: TextIO,
    workers: int = 0,
) -> int:
    """
    ``smtpbot run``: validate settings, then serve; with no tokens, explain (or
    console).
    """
    settings = _settings(environ, out)
    if isinstance(settings, int):
        return settings
    if not settings.has_any_slack_token:
        if http or not stdin.isatty():
            print(f"error: {NO_TOKENS}", file=out)
            return 2
        print(f"{NO_TOKENS}\nStarting the console now.\n", file=out, flush=True)
        from bot.console import console_command

        return console_command(environ, stdin=stdin, stdout=sys.stdout)
    if port is None and http:
        port = DEFAULT_HTTP_PORT
    try:
        until_signalled(
            lambda stop: serve(
                settings, http=http, host=host, port=port, stop=stop, workers=workers
            )
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return exc.exit_code
    return 0


def work_command(
    environ: Mapping[str, str],
    *,
    priority: str,
    out: TextIO,
    parent: int | None = None,
    replaces: int | None = None,
) -> int:
    """
    ``smtpbot work``: answer the messages HTTP fronts queue, until SIGTERM.
    """
    settings = _settings(environ, out)
    if isinstance(settings, int):
        return settings
    if not (settings.slack_bot_token or settings.multi_workspace):
        print(
            "error: SLACK_BOT_TOKEN: a worker posts replies and needs it (or "
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to serve installed workspaces)",
            file=out,
        )
        return 2
    if not settings.redis_url:
        print(f"REDIS_URL is not set; using {DEFAULT_REDIS_URL}", file=out)
    got = lower_priority(priority)
    if got != "normal":
        # At reduced priority a burst can keep this process off the CPU for seconds;
        # a reply Redis sent meanwhile must not count as Redis being down.
        settings = dataclasses.replace(
            settings, redis_timeout=max(settings.redis_timeout, STARVED_REDIS_TIMEOUT)
        )
    log.info(
        "worker_ready priority=%s redis_timeout=%.1fs", got, settings.redis_timeout
    )
    until_signalled(
        lambda stop: work(settings, stop=stop, parent=parent, replaces=replaces)
    )
    return 0
