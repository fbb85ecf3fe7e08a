"""
The Redis installation and OAuth state stores, against a real Redis: what an install
stores and where, org-wide installs serving their workspaces, revocation leaving no
copy of a token, sealing at rest and key rotation, one-time expiring states shared by
replicas.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.errors import ConfigError, StateUnavailableError
from bot.slack.oauth.cipher import TokenCipher, new_key
from bot.slack.oauth.installations import RedisInstallationStore
from bot.slack.oauth.states import RedisOAuthStateStore
from tests.oauth.conftest import org_install, team_install
from tests.support.redis import free_port


async def stored_values(redis: aioredis.Redis, prefix: str) -> str:
    """
    Every string, set member and field stored under the prefix, concatenated.
    """
    parts: list[str] = []
    async for key in redis.scan_iter(match=f"{prefix}*"):
        kind = await redis.type(key)
        if kind == "string":
            parts.append(str(await redis.get(key)))
        elif kind == "set":
            parts.extend(await redis.smembers(key))
        elif kind == "hash":
            parts.extend(f"{k}={v}" for k, v in (await redis.hgetall(key)).items())
    return "\n".join(parts)


def store(
    redis: aioredis.Redis, prefix: str, keys: tuple[str, ...] = ()
) -> RedisInstallationStore:
    return RedisInstallationStore(redis, prefix=prefix, cipher=TokenCipher(keys))


async def test_a_team_install_is_found_by_its_team(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    A saved workspace install gives its bot and its installation back by team id.
    """
    installations = store(redis, prefix)
    await installations.async_save(team_install())
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert bot is not None
    assert (bot.bot_token, bot.bot_user_id, bot.bot_id) == (
        "xoxb-alpha-0123456789abcdef",
        "U0BOTT0ALPHA",
        "BT0ALPHA",
    )
    found = await installations.async_find_installation(
        enterprise_id=None, team_id="T0ALPHA"
    )
    assert found is not None
    assert found.bot_token == "xoxb-alpha-0123456789abcdef"
    assert found.user_id == "U0INSTALLER" and found.team_name == "Team T0ALPHA"
    assert (
        await installations.async_find_bot(enterprise_id=None, team_id="T0BETA") is None
    )
    assert await installations.installed() == ["T0ALPHA"]


async def test_an_org_wide_install_serves_every_workspace_of_its_org(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    An org-wide install is found for any team of its enterprise, flagged or not, and
    a team's own install inside the org takes precedence.
    """
    installations = store(redis, prefix)
    await installations.async_save(org_install())
    for team in ("T0ONE", "T0TWO", None):
        for flag in (True, False):
            bot = await installations.async_find_bot(
                enterprise_id="E0ORG", team_id=team, is_enterprise_install=flag
            )
            assert bot is not None and bot.bot_token == "xoxb-org-0123456789abcdef"
    await installations.async_save(
        team_install("T0OWN", enterprise_id="E0ORG", token="xoxb-own-0123456789")
    )
    own = await installations.async_find_bot(enterprise_id="E0ORG", team_id="T0OWN")
    assert own is not None and own.bot_token == "xoxb-own-0123456789"
    other = await installations.async_find_bot(enterprise_id="E0OTHER", team_id="T0ONE")
    assert other is None
    assert await installations.installed() == ["E0ORG", "T0OWN"]


async def test_revoking_the_bot_leaves_no_copy_of_its_token(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    delete_bot removes the token from every record; the installation's other
    details stay, and other workspaces keep theirs.
    """
    installations = store(redis, prefix)
    await installations.async_save(team_install())
    await installations.async_save(
        team_install("T0BETA", token="xoxb-beta-0123456789abcdef")
    )
    assert "xoxb-alpha-0123456789abcdef" in await stored_values(redis, prefix)
    await installations.async_delete_bot(enterprise_id=None, team_id="T0ALPHA")
    assert "xoxb-alpha" not in await stored_values(redis, prefix)
    assert (
        await installations.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
        is None
    )
    kept = await installations.async_find_installation(
        enterprise_id=None, team_id="T0ALPHA"
    )
    assert kept is not None and kept.bot_token is None and kept.user_id == "U0INSTALLER"
    beta = await installations.async_find_bot(enterprise_id=None, team_id="T0BETA")
    assert beta is not None and beta.bot_token == "xoxb-beta-0123456789abcdef"
    assert await installations.installed() == ["T0BETA"]


async def test_delete_all_forgets_one_workspace_entirely(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    delete_all removes a workspace's records, its installers' records and its bot;
    another workspace's records are untouched.
    """
    installations = store(redis, prefix)
    await installations.async_save(team_install(user_id="U0FIRST"))
    await installations.async_save(team_install(user_id="U0SECOND"))
    await installations.async_save(org_install())
    await installations.async_delete_all(enterprise_id=None, team_id="T0ALPHA")
    left = [k async for k in redis.scan_iter(match=f"{prefix}*")]
    assert left and all("T0ALPHA" not in k for k in left)
    assert "xoxb-alpha" not in await stored_values(redis, prefix)
    assert await installations.async_find_bot(
        enterprise_id="E0ORG", team_id=None, is_enterprise_install=True
    )


async def test_an_org_uninstall_named_by_a_workspace_of_the_org_finds_the_org(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    delete_all with the enterprise and one of its teams (as an event names them)
    removes the org-wide install.
    """
    installations = store(redis, prefix)
    await installations.async_save(org_install())
    await installations.async_delete_all(enterprise_id="E0ORG", team_id="T0ONE")
    assert [k async for k in redis.scan_iter(match=f"{prefix}*")] == []


async def test_installations_per_user_and_their_removal(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    Each installer's installation is found by user id; deleting one user's removes
    their user token and keeps the bot.
    """
    installations = store(redis, prefix)
    await installations.async_save(team_install(user_id="U0FIRST"))
    await installations.async_save(
        team_install(user_id="U0SECOND", user_token="xoxp-second-0123456789")
    )
    first = await installations.async_find_installation(
        enterprise_id=None, team_id="T0ALPHA", user_id="U0FIRST"
    )
    assert first is not None and first.user_id == "U0FIRST"
    await installations.async_delete_installation(
        enterprise_id=None, team_id="T0ALPHA", user_id="U0SECOND"
    )
    assert "xoxp-second" not in await stored_values(redis, prefix)
    assert (
        await installations.async_find_installation(
            enterprise_id=None, team_id="T0ALPHA", user_id="U0SECOND"
        )
        is None
    )
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0ALPHA")


async def test_tokens_are_sealed_at_rest_with_a_key(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    With SLACK_TOKEN_ENCRYPTION_KEYS no token is readable in Redis, and the store
    still gives it back.
    """
    installations = store(redis, prefix, (new_key(),))
    await installations.async_save(
        team_install(user_token="xoxp-user-0123456789abcdef")
    )
    raw = await stored_values(redis, prefix)
    assert "xoxb-" not in raw and "xoxp-" not in raw and "fernet:" in raw
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert bot is not None and bot.bot_token == "xoxb-alpha-0123456789abcdef"


async def test_rotating_the_key_reseals_every_token(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    New key first, rekey, old key dropped: tokens stay readable, and only the new key
    opens them.
    """
    old, new = new_key(), new_key()
    await store(redis, prefix, (old,)).async_save(team_install())
    rotating = store(redis, prefix, (new, old))
    assert await rotating.rekey() == 1
    assert await rotating.rekey() == 0
    after = store(redis, prefix, (new,))
    bot = await after.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert bot is not None and bot.bot_token == "xoxb-alpha-0123456789abcdef"
    with pytest.raises(ConfigError, match="SLACK_TOKEN_ENCRYPTION_KEYS"):
        await store(redis, prefix, (old,)).async_find_bot(
            enterprise_id=None, team_id="T0ALPHA"
        )


async def test_turning_encryption_on_later_seals_what_was_stored(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    Tokens stored in the clear are still read once a key is set, and a rekey seals
    them.
    """
    await store(redis, prefix).async_save(team_install())
    key = Fernet.generate_key().decode()
    sealed = store(redis, prefix, (key,))
    assert await sealed.async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert await sealed.rekey() == 1  # the bot record: installations hold no bot token
    assert "xoxb-" not in await stored_values(redis, prefix)
    with pytest.raises(ConfigError, match="no key is configured"):
        await store(redis, prefix).async_find_bot(enterprise_id=None, team_id="T0ALPHA")


async def test_states_are_one_time_and_shared_by_replicas(
    redis_url: str, redis: aioredis.Redis, prefix: str
) -> None:
    """
    A state issued by one replica is accepted once by another; a second use, a
    forged state and an empty one are refused.
    """
    other = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        issuer = RedisOAuthStateStore(redis, prefix=prefix)
        finisher = RedisOAuthStateStore(other, prefix=prefix)
        state = await issuer.async_issue()
        assert state != await issuer.async_issue()
        assert await finisher.async_consume(state)
        assert not await finisher.async_consume(state)
        assert not await issuer.async_consume(state)
        assert not await finisher.async_consume("forged-" + state[7:])
        assert not await finisher.async_consume("")
        assert not await finisher.async_consume("x" * 10_000)
        raw = await stored_values(redis, prefix)
        assert state not in raw
    finally:
        await other.aclose()


async def test_racing_callbacks_consume_a_state_once(
    redis: aioredis.Redis, prefix: str
) -> None:
    """
    Twenty concurrent consumptions of one state: exactly one succeeds.
    """
    states = RedisOAuthStateStore(redis, prefix=prefix)
    state = await states.async_issue()
    results = await asyncio.gather(*(states.async_consume(state) for _ in range(20)))
    assert results.count(True) == 1


async def test_states_expire(redis: aioredis.Redis, prefix: str) -> None:
    """
    A state older than its expiration (one second here) is refused.
    """
    states = RedisOAuthStateStore(redis, prefix=prefix, expiration_seconds=1)
    state = await states.async_issue()
    await asyncio.sleep(1.3)
    assert not await states.async_consume(state)


async def test_redis_down_is_a_state_error_not_a_redis_one() -> None:
    """
    With Redis unreachable both stores raise StateUnavailableError.
    """
    down = aioredis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        with pytest.raises(StateUnavailableError):
            await RedisOAuthStateStore(down).async_issue()
        with pytest.raises(StateUnavailableError):
            await RedisInstallationStore(down).async_find_bot(
                enterprise_id=None, team_id="T0ALPHA"
            )
    finally:
        await down.aclose()
