"""
Fixtures for the deploy tests: a real Redis, a key prefix of each test's own, and the
recording fake of Slack's Web API.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.redis import test_redis_url
from tests.support.slack import FakeSlack


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """
    The real Redis the suite uses.
    """
    with test_redis_url(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def prefix() -> str:
    """
    A Redis key prefix of this test's own.
    """
    return f"smtpbot-deploy:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """
    The recording fake of Slack's Web API.
    """
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()
