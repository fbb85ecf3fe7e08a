"""
Fixtures for the state store contract: the embedded store and a real Redis (the
``redis_url`` fixture is in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.state.redis_store import RedisStore, embedded_store
from tests.support.bot import delete_prefix
from tests.support.redis import new_prefix


@pytest.fixture(params=["embedded", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[RedisStore]:
    """
    Each backend in turn, with a key prefix of the test's own.
    """
    prefix = new_prefix()
    if request.param == "embedded":
        backend = embedded_store(prefix=prefix, conversation_ttl=3600, dedupe_ttl=600)
    else:
        backend = RedisStore.from_url(
            redis_url, prefix=prefix, conversation_ttl=3600, dedupe_ttl=600
        )
    yield backend
    await backend.close()
    if request.param == "redis":
        await delete_prefix(redis_url, prefix)
