"""
``smtpbot installs``: listing installed workspaces without their tokens, making a key,
and re-sealing stored tokens under a new key, as an operator runs them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from bot.slack.oauth.cipher import TokenCipher, new_key
from bot.slack.oauth.installations import RedisInstallationStore
from tests.oauth.conftest import org_install, team_install
from tests.support.process import run_bot

ROOT = Path(__file__).resolve().parents[2]


def env(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """
    The command's environment: the test Redis and prefix, nothing of the shell's.
    """
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "REDIS_", "ADMIN_", "SUPPORT_", "ESCALATION_"))
    }
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        **extra,
    }


async def test_list_shows_every_install_and_no_token(
    redis: aioredis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    `installs list --json` names the team and the org-wide install with their
    installers and scopes, and prints no token.
    """
    store = RedisInstallationStore(redis, prefix=prefix)
    await store.async_save(team_install())
    await store.async_save(org_install())
    done = run_bot(["installs", "list", "--json"], env(redis_url, prefix), tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {row["workspace"]: row for row in json.loads(done.stdout)}
    assert set(rows) == {"T0ALPHA", "E0ORG"}
    assert rows["E0ORG"]["org_wide"] and rows["E0ORG"]["installer"] == "W0ADMIN"
    assert rows["T0ALPHA"]["scopes"] == ["chat:write", "commands"]
    assert "xoxb-" not in done.stdout + done.stderr
    text = run_bot(["installs", "list"], env(redis_url, prefix), tmp_path)
    assert "T0ALPHA  Team T0ALPHA (workspace)" in text.stdout
    assert "xoxb-" not in text.stdout


def test_new_key_prints_a_usable_fernet_key(tmp_path: Path) -> None:
    """
    `installs new-key` prints one key Fernet accepts, different each time.
    """
    first = run_bot(["installs", "new-key"], env("", ""), tmp_path).stdout.strip()
    second = run_bot(["installs", "new-key"], env("", ""), tmp_path).stdout.strip()
    assert first != second
    Fernet(first.encode())


async def test_rekey_moves_tokens_to_the_new_key(
    redis: aioredis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    With a new key put first, `installs rekey` re-seals the tokens so that the old
    key can be dropped.
    """
    old, new = new_key(), new_key()
    await RedisInstallationStore(
        redis, prefix=prefix, cipher=TokenCipher((old,))
    ).async_save(team_install())
    done = run_bot(
        ["installs", "rekey"],
        env(redis_url, prefix, SLACK_TOKEN_ENCRYPTION_KEYS=f"{new},{old}"),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "1 record(s) rewritten" in done.stdout
    after = RedisInstallationStore(redis, prefix=prefix, cipher=TokenCipher((new,)))
    bot = await after.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert bot is not None and bot.bot_token == "xoxb-alpha-0123456789abcdef"


def test_a_bad_key_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    """
    A malformed SLACK_TOKEN_ENCRYPTION_KEYS stops the command with exit code 2.
    """
    done = run_bot(
        ["installs", "rekey"],
        env("redis://127.0.0.1:1/0", "x:", SLACK_TOKEN_ENCRYPTION_KEYS="not-a-key"),
        tmp_path,
    )
    assert done.returncode == 2
    assert "SLACK_TOKEN_ENCRYPTION_KEYS: key 1 is not a Fernet key" in done.stderr
