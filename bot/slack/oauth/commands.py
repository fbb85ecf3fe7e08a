"""
``smtpbot installs``: what an operator does with the installations in Redis.

    list      every installed workspace and org: names, ids, installer, when, scopes
              (never a token)
    new-key   a fresh key for SLACK_TOKEN_ENCRYPTION_KEYS
    rekey     re-seal every stored token under the first key (after adding a key, or
              turning encryption on), so that older keys can be dropped
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TextIO, TypeVar

from bot.config import Settings, load_settings
from bot.errors import ConfigError, StateUnavailableError
from bot.slack.oauth.cipher import TokenCipher, new_key
from bot.slack.oauth.installations import RedisInstallationStore
from bot.state.redis_store import RedisStore

_T = TypeVar("_T")


def _settings(environ: Mapping[str, str], err: TextIO) -> Settings | int:
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code
    if not settings.redis_url:
        print(
            "error: REDIS_URL: installations are in the bot's Redis; set it "
            "(e.g. redis://localhost:6379/0).",
            file=err,
        )
        return 2
    return settings


def _with_store(
    settings: Settings,
    work: Callable[[RedisInstallationStore], Awaitable[_T]],
) -> _T:
    async def main() -> _T:
        store = RedisStore.from_url(
            settings.redis_url or "",
            prefix=settings.redis_prefix,
            timeout=max(settings.redis_timeout, 5.0),
        )
        try:
            return await work(
                RedisInstallationStore(
                    store.client,
                    prefix=settings.redis_prefix,
                    cipher=TokenCipher(settings.token_encryption_keys),
                )
            )
        finally:
            await store.close()

    return asyncio.run(main())


async def _rows(store: RedisInstallationStore) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for workspace in await store.installed():
        bot = await store.bot_of(workspace)
        if bot is None:
            continue
        installer = await store.installer_of(workspace)
        rows.append(
            {
                "workspace": workspace,
                "org_wide": bot.is_enterprise_install,
                "team_id": bot.team_id,
                "team_name": bot.team_name,
                "enterprise_id": bot.enterprise_id,
                "enterprise_name": bot.enterprise_name,
                "bot_user_id": bot.bot_user_id,
                "installer": installer,
                "installed_at": datetime.datetime.fromtimestamp(
                    bot.installed_at, datetime.UTC
                ).isoformat(timespec="seconds"),
                "scopes": list(bot.bot_scopes),
                "token_rotation": bot.bot_refresh_token is not None,
            }
        )
    return rows


def list_command(
    environ: Mapping[str, str], *, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """
    ``smtpbot installs list``: one line (or JSON object) per installed workspace.
    """
    settings = _settings(environ, err)
    if isinstance(settings, int):
        return settings
    try:
        rows = _with_store(settings, _rows)
    except (ConfigError, StateUnavailableError) as exc:
        print(f"error: {exc}", file=err)
        return 2 if isinstance(exc, ConfigError) else 1
    if as_json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    if not rows:
        print("No workspace has installed the app.", file=out)
    for row in rows:
        name = row["enterprise_name"] if row["org_wide"] else row["team_name"]
        kind = "org-wide" if row["org_wide"] else "workspace"
        print(
            f"{row['workspace']}  {name or '?'} ({kind}), installed "
            f"{row['installed_at']} by {row['installer'] or '?'}",
            file=out,
        )
    return 0


def new_key_command(out: TextIO) -> int:
    """
    ``smtpbot installs new-key``: print a fresh Fernet key.
    """
    print(new_key(), file=out)
    return 0


def rekey_command(environ: Mapping[str, str], *, out: TextIO, err: TextIO) -> int:
    """
    ``smtpbot installs rekey``: re-seal every stored token under the first key.
    """
    settings = _settings(environ, err)
    if isinstance(settings, int):
        return settings
    try:
        count = _with_store(settings, lambda store: store.rekey())
    except (ConfigError, StateUnavailableError) as exc:
        print(f"error: {exc}", file=err)
        return 2 if isinstance(exc, ConfigError) else 1
    how = (
        "sealed under the first key of SLACK_TOKEN_ENCRYPTION_KEYS"
        if settings.token_encryption_keys
        else "stored in the clear (SLACK_TOKEN_ENCRYPTION_KEYS is empty)"
    )
    print(f"{count} record(s) rewritten; every token is now {how}.", file=out)
    return 0
