"""
Fixtures shared by the suites that run the bot: a real Redis, a key prefix of each
test's own, the recording fake of Slack's Web API, and the test knowledge base.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from knowledge.matcher import Matcher
from tests.support.kb import write_kb
from tests.support.redis import new_prefix, test_redis_url
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
    return new_prefix()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """
    The recording fake of Slack's Web API.
    """
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="session")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """
    A matcher over the small test knowledge base.
    """
    # The learned reranker is trained on the shipped knowledge base's answers; over
    # this small one it is left out (tests/knowledge/test_rerank.py tests it).
    return Matcher(write_kb(tmp_path_factory.mktemp("kb")), rerank=False)
