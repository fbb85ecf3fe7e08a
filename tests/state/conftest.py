"""
Fixtures for the state store contract: the embedded store and a real Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.state.redis_store import RedisStore, embedded_store
from tests.slack.conftest import delete_prefix
from tests.support.redis import test_redis_url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """
    The real Redis the suite uses.
    """
    with test_redis_url(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["embedded", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[RedisStore]:
    """
    Each backend in turn, with a key prefix of the test's own.
    """
    prefix = f"smtpbot-test:{uuid.uuid4().hex[:12]}:"
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
