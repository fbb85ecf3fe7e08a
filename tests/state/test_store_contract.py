"""
The StateStore contract, run against the console's embedded store and a real Redis.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import StateUnavailableError
from bot.state import (
    FeedbackRecord,
    HumanRecord,
    MessageRecord,
    OfferRecord,
    ProbeRecord,
    ThreadKey,
)
from bot.state.redis_store import MAX_RECORDS, RedisStore
from bot.state.store import Claim
from tests.support.redis import free_port

KEY = ThreadKey("T1", "C1", "1700000000.000100")


async def test_begin_claims_a_dedupe_name_once(store: RedisStore) -> None:
    """
    The first begin with a name claims it; any later one does not.
    """
    first, _ = await store.begin(KEY, dedupe=("event:Ev1", "msg:C1:1"))
    again, _ = await store.begin(KEY, dedupe=("event:Ev1", "msg:C1:1"))
    overlap, _ = await store.begin(KEY, dedupe=("event:Ev2", "msg:C1:1"))
    fresh, _ = await store.begin(KEY, dedupe=("event:Ev3", "msg:C1:2"))
    assert (first, again, overlap, fresh) == (
        Claim.NEW,
        Claim.TAKEN,
        Claim.TAKEN,
        Claim.NEW,
    )


async def test_a_delivery_token_knows_its_own_claim(store: RedisStore) -> None:
    """
    The same delivery claiming again finds the claim its own (it may have answered
    already); any other delivery of the message finds it taken.
    """
    names = ("event:Ev5", "msg:C1:5")
    first, _ = await store.begin(KEY, dedupe=names, token="1-0")
    redelivered, _ = await store.begin(KEY, dedupe=names, token="1-0")
    retry, _ = await store.begin(KEY, dedupe=("event:Ev5", "msg:C1:5"), token="2-0")
    twin, _ = await store.begin(KEY, dedupe=("event:Ev6", "msg:C1:5"), token="3-0")
    assert (first, redelivered, retry, twin) == (
        Claim.NEW,
        Claim.OURS,
        Claim.TAKEN,
        Claim.TAKEN,
    )


async def test_concurrent_begins_claim_exactly_once(store: RedisStore) -> None:
    """
    Twenty replicas racing on one event: exactly one wins.
    """
    results = await asyncio.gather(
        *(store.begin(KEY, dedupe=("event:race",)) for _ in range(20))
    )
    assert sum(claim is Claim.NEW for claim, _ in results) == 1


async def test_records_fold_back_into_the_conversation(store: RedisStore) -> None:
    """
    Appended records come back, in order, as the conversation's state.
    """
    await store.append(
        KEY,
        MessageRecord("U1", "1.1", "first", server="smtp.a.com:587"),
        OfferRecord("answer", "starttls-required", "e1", ("e2",), "smtp.a.com:587"),
    )
    await store.append(
        KEY,
        MessageRecord("U2", "1.2", "second", server="smtp.b.com"),
        ProbeRecord("smtp.a.com:587", "U1", "ok", None, ""),
        FeedbackRecord("U1", True, "e1"),
    )
    _, conversation = await store.begin(KEY)
    assert [m.text for m in conversation.messages] == ["first", "second"]
    assert conversation.offers[0].alternatives == ("e2",)
    assert conversation.offered("e1") and not conversation.offered("e2")
    assert conversation.latest_server(user_id="U1") == "smtp.a.com:587"
    assert conversation.latest_server() == "smtp.b.com"
    assert conversation.probes[0].verdict == "ok"
    assert conversation.feedback[0].helpful is True
    assert not conversation.escalated


async def test_a_human_request_marks_the_thread_escalated(store: RedisStore) -> None:
    """
    A human record makes the folded conversation escalated, by its first asker.
    """
    await store.append(KEY, HumanRecord("U1"), HumanRecord("U2"))
    conversation = await store.load(KEY)
    assert conversation.escalated and conversation.escalated_by == "U1"


async def test_unknown_thread_is_empty(store: RedisStore) -> None:
    """
    Loading a thread never written gives an empty conversation.
    """
    conversation = await store.load(ThreadKey("T1", "C9", "1.0"))
    assert conversation.messages == () and not conversation.escalated


async def test_thread_keeps_only_the_newest_records(store: RedisStore) -> None:
    """
    A very long thread is trimmed to the newest MAX_RECORDS records.
    """
    records = [MessageRecord("U1", str(n), f"m{n}") for n in range(MAX_RECORDS + 5)]
    await store.append(KEY, *records)
    conversation = await store.load(KEY)
    assert len(conversation.messages) == MAX_RECORDS
    assert conversation.messages[0].text == "m5"


async def test_conversations_and_dedupe_keys_expire(store: RedisStore) -> None:
    """
    Every key the store writes carries a TTL.
    """
    await store.begin(KEY, dedupe=("event:ttl",))
    await store.append(KEY, MessageRecord("U1", "1", "x"))
    await store.claim("once", ttl=30)
    await store.within_limits([("user:U1", 3)], window=60)
    client = store._client
    keys = [k async for k in client.scan_iter(match=f"{store._prefix}*")]
    assert len(keys) == 4
    for key in keys:
        assert 0 < await client.ttl(key) <= 3600


async def test_claim_is_once_per_name(store: RedisStore) -> None:
    """
    claim() returns True once per name within its TTL.
    """
    assert await store.claim("human:T1:C1:1", ttl=60)
    assert not await store.claim("human:T1:C1:1", ttl=60)
    assert await store.claim("human:T1:C1:2", ttl=60)


async def test_rate_limits_count_each_counter(store: RedisStore) -> None:
    """
    Hits within the limit pass; the one over it (on any counter) fails.
    """
    limits = [("user:U1", 2), ("target:smtp.a.com:587", 3)]
    verdicts = [await store.within_limits(limits, window=60) for _ in range(3)]
    assert verdicts == [True, True, False]
    assert await store.within_limits([("user:U2", 2)], window=60)


async def test_rate_limit_window_resets(store: RedisStore) -> None:
    """
    After the window passes the counter starts again.
    """
    assert await store.within_limits([("user:U3", 1)], window=1)
    assert not await store.within_limits([("user:U3", 1)], window=1)
    await asyncio.sleep(1.1)
    assert await store.within_limits([("user:U3", 1)], window=1)


async def test_damaged_records_are_skipped(store: RedisStore) -> None:
    """
    Unreadable or unknown records in the list are ignored, not fatal.
    """
    name = store.conversation_key(KEY)
    await store._client.rpush(name, "{not json", '{"k": "future-kind"}', '{"k": "msg"}')
    await store.append(KEY, MessageRecord("U1", "1", "kept"))
    conversation = await store.load(KEY)
    assert [m.text for m in conversation.messages] == ["kept"]


async def test_ping_answers(store: RedisStore) -> None:
    """
    A reachable store answers ping.
    """
    await store.ping()


async def test_one_message_costs_two_round_trips(store: RedisStore) -> None:
    """
    begin (claim + load) and append (push + trim + expire) are one round trip each.
    """
    before = store.round_trips
    await store.begin(KEY, dedupe=("event:rt", "msg:C1:rt"))
    await store.append(
        KEY, MessageRecord("U1", "1", "x"), OfferRecord("answer", "c", "e")
    )
    assert store.round_trips - before == 2


@pytest.mark.parametrize("operation", ["begin", "append", "claim", "limits", "ping"])
async def test_unreachable_redis_raises_state_unavailable(operation: str) -> None:
    """
    Every operation on a Redis that is down raises StateUnavailableError, fast.
    """
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.3)
    calls = {
        "begin": lambda: store.begin(KEY, dedupe=("x",)),
        "append": lambda: store.append(KEY, MessageRecord("U1", "1", "x")),
        "claim": lambda: store.claim("x", ttl=1),
        "limits": lambda: store.within_limits([("x", 1)], window=1),
        "ping": store.ping,
    }
    try:
        with pytest.raises(StateUnavailableError, match="state store unavailable"):
            await asyncio.wait_for(calls[operation](), timeout=3)
    finally:
        await store.close()
