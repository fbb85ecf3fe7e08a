"""
Writes that wait for replicas (WAIT), on a Sentinel group of the test's own: a claim
is confirmed only once the replica has it, a frozen replica makes writes fail rather
than be confirmed unreplicated, and a master left with no replica writes on alone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from bot.errors import StateUnavailableError
from bot.state import MessageRecord, ThreadKey
from bot.state.redis_store import RedisStore
from bot.state.store import Claim
from tests.support.redis import sentinel_group

KEY = ThreadKey("T1", "C1", "1700000000.000100")


async def test_writes_wait_for_the_replica_and_fail_while_it_is_frozen(
    tmp_path: Path,
) -> None:
    """
    With the replica SIGSTOPped, a claim and an append fail (not confirmed by 1
    replica within the timeout) instead of counting as durable; once it resumes they
    succeed and the replica holds them.
    """
    with sentinel_group(tmp_path) as group:
        # The replica acknowledges within milliseconds when it runs; a bound of a
        # second leaves room for a loaded machine (two cores, the rest of the suite)
        # without letting a frozen replica pass.
        store = RedisStore.from_url(
            group.url, prefix="t:", timeout=3.0, wait_replicas=1, wait_timeout=1.0
        )
        replica = group.processes["b"].pid
        try:
            claim, _ = await store.begin(KEY, dedupe=("event:E1",), token="1-0")
            assert claim is Claim.NEW
            os.kill(replica, signal.SIGSTOP)
            try:
                with pytest.raises(StateUnavailableError, match="0 of 1 replica"):
                    await store.begin(KEY, dedupe=("event:E2",), token="2-0")
                with pytest.raises(StateUnavailableError, match="0 of 1 replica"):
                    await store.append(KEY, MessageRecord("U1", "1.1", "hello"))
            finally:
                os.kill(replica, signal.SIGCONT)
            await store.append(KEY, MessageRecord("U1", "1.2", "again"))
            copy = RedisStore.from_url(group.direct_url("b"), prefix="t:")
            try:
                texts = [m.text for m in (await copy.load(KEY)).messages]
            finally:
                await copy.close()
            assert "again" in texts
        finally:
            await store.close()


async def test_a_master_without_replicas_writes_alone(tmp_path: Path) -> None:
    """
    When the master has no replica connected (it died, or was never there), writes go
    on without waiting: nothing could be failed over to, so nothing is lost by it.
    """
    with sentinel_group(tmp_path) as group:
        group.kill("b")
        store = RedisStore.from_url(
            group.url, prefix="t:", timeout=2.0, wait_replicas=1, wait_timeout=0.3
        )
        try:
            claim, _ = await store.begin(KEY, dedupe=("event:E3",), token="3-0")
            assert claim is Claim.NEW
            assert store.replication.degraded >= 1
        finally:
            await store.close()
