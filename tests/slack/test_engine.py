"""
The conversation engine on its own: thread context, repeats, and life without Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.conversation.checks import ProbeTarget
from bot.conversation.engine import Engine, Incoming
from bot.conversation.replies import ReplyKind
from bot.errors import StateUnavailableError
from bot.slack.probing import make_prober
from bot.state import ThreadKey
from bot.state.redis_store import RedisStore
from knowledge.matcher import Decision, Matcher
from tests.support.bot import delete_prefix
from tests.support.kb import STARTTLS_PASTE
from tests.support.redis import free_port

KEY = ThreadKey("T1", "C1", "1700000000.000100")


async def nothing(phase: str) -> None:
    """
    A progress callback that ignores progress.
    """


def make_engine(store: RedisStore, matcher: Matcher, **env: str) -> Engine:
    """
    An engine with the real prober.
    """
    settings = Settings.from_env({"PROBE_ALLOW_CIDRS": "127.0.0.0/8", **env})
    return Engine(
        settings=settings, matcher=matcher, store=store, prober=make_prober(settings)
    )


@pytest.fixture
async def redis_store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    """
    A store on the real Redis.
    """
    store = RedisStore.from_url(redis_url, prefix=prefix)
    yield store
    await store.close()
    await delete_prefix(redis_url, prefix)


@pytest.fixture
async def down_store() -> AsyncIterator[RedisStore]:
    """
    A store pointed at a port where no Redis listens.
    """
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    yield store
    await store.close()


async def test_handled_message_costs_two_redis_round_trips(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    Claim + load, then record: two round trips for an answered message.
    """
    engine = make_engine(redis_store, matcher)
    reply = await engine.handle_message(
        Incoming(KEY, "U1", STARTTLS_PASTE, "1.1", ("event:E1", "msg:C1:1.1"))
    )
    assert reply is not None and reply.kind == ReplyKind.ANSWER
    assert redis_store.round_trips == 2


async def test_same_answer_is_not_repeated_in_a_thread(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    The same error pasted again is pointed back to the answer, never answered twice;
    a third time the fix evidently did not help, and the thread wants a human.
    """
    engine = make_engine(redis_store, matcher)
    first = await engine.handle_message(Incoming(KEY, "U1", STARTTLS_PASTE, "1.1"))
    again = await engine.handle_message(Incoming(KEY, "U1", STARTTLS_PASTE, "1.2"))
    assert first is not None and first.kind == ReplyKind.ANSWER
    assert again is not None and again.kind == ReplyKind.REPEAT
    assert first.title in again.cause and not again.steps
    third = await engine.handle_turn(Incoming(KEY, "U2", STARTTLS_PASTE, "1.3"))
    assert third.reply is None and third.wants_human and third.reason == "repeated"


async def test_an_edit_restating_an_answered_error_gets_nothing(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    An edit that still reads as the error already answered is neither answered again,
    pointed back, nor handed over.
    """
    engine = make_engine(redis_store, matcher)
    assert await engine.handle_message(Incoming(KEY, "U1", STARTTLS_PASTE, "1.1"))
    edited = Incoming(KEY, "U1", STARTTLS_PASTE + " (typo)", "1.1", edit=True)
    turn = await engine.handle_turn(edited)
    assert turn.reply is None and not turn.wants_human


async def test_context_from_earlier_messages_completes_a_follow_up(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    A follow-up that alone is unsure is read with the user's earlier lines.
    """
    first, second = "error from smtp: Must issue a", "STARTTLS command first"
    assert matcher.diagnose(second).decision != Decision.CONFIDENT
    engine = make_engine(redis_store, matcher)
    assert await engine.handle_message(Incoming(KEY, "U1", first, "1.1")) is None
    reply = await engine.handle_message(Incoming(KEY, "U1", second, "1.2"))
    assert reply is not None and reply.kind == ReplyKind.ANSWER
    assert reply.entry_id == "starttls-530-must-issue"
    other = await engine.handle_message(Incoming(KEY, "U2", second, "1.3"))
    assert other is None or other.kind == ReplyKind.CHOICES


async def test_without_redis_retries_are_still_suppressed(
    down_store: RedisStore, matcher: Matcher
) -> None:
    """
    With Redis down a new thread's first message is answered, and the same event
    seen again by this process is not answered again.
    """
    engine = make_engine(down_store, matcher)
    message = Incoming(KEY, "U1", STARTTLS_PASTE, KEY.thread_ts, ("event:E9",))
    assert await engine.handle_message(message) is not None
    assert await engine.handle_message(message) is None
    assert engine.metrics.redis_errors._value.get() >= 2
    assert not await engine.ready()


async def test_without_redis_a_reply_in_a_thread_is_not_answered(
    down_store: RedisStore, matcher: Matcher
) -> None:
    """
    With Redis down a follow-up in a thread gets no answer: the thread may be with a
    human, and nothing can prove it is not.
    """
    engine = make_engine(down_store, matcher)
    follow_up = Incoming(KEY, "U1", STARTTLS_PASTE, "1700000000.000200", ("event:E8",))
    assert await engine.handle_message(follow_up) is None
    assert await engine.quiet(KEY)


async def test_a_queued_message_needs_its_state(
    down_store: RedisStore, matcher: Matcher
) -> None:
    """
    A queued message (one with a delivery token) is never answered without state:
    the error reaches the worker, which keeps it and tries again.
    """
    engine = make_engine(down_store, matcher)
    message = Incoming(KEY, "U1", STARTTLS_PASTE, KEY.thread_ts, token="1-1")
    with pytest.raises(StateUnavailableError):
        await engine.handle_turn(message)


async def test_without_redis_human_requests_and_limits_still_hold(
    down_store: RedisStore, matcher: Matcher
) -> None:
    """
    Human requests are once per thread and probes rate-limited in-process.
    """
    port = free_port()
    engine = make_engine(
        down_store, matcher, PROBE_PORTS=str(port), PROBE_USER_LIMIT="1"
    )
    assert (await engine.ask_human(KEY, "U1")).first
    assert not (await engine.ask_human(KEY, "U1")).first
    first = await engine.probe(
        ProbeTarget("127.0.0.1", port), user_id="U1", progress=nothing, key=KEY
    )
    second = await engine.probe(
        ProbeTarget("127.0.0.1", port), user_id="U1", progress=nothing, key=KEY
    )
    assert first.refused is None and first.summaries[0].category == "connection-refused"
    assert second.refused is not None and "too many checks" in second.refused


async def test_unknown_choice_gives_nothing(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    Picking an entry id that does not exist posts nothing.
    """
    engine = make_engine(redis_store, matcher)
    assert await engine.choose(KEY, "U1", "no-such-entry") is None


async def test_top_level_chatter_costs_no_redis_round_trip(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    A new top-level message that is no error and names no server is not stored.
    """
    engine = make_engine(redis_store, matcher)
    root = ThreadKey("T1", "C1", "1700000009.000100")
    chatter = Incoming(root, "U1", "good morning, coffee anyone?", root.thread_ts)
    assert await engine.handle_message(chatter) is None
    assert redis_store.round_trips == 0
    assert (await engine.load(root)).messages == ()


async def test_top_level_message_naming_a_server_is_kept_for_its_thread(
    redis_store: RedisStore, matcher: Matcher
) -> None:
    """
    A root naming a server is stored, so a later error in its thread offers the check.
    """
    engine = make_engine(redis_store, matcher)
    root = ThreadKey("T1", "C1", "1700000010.000100")
    intro = "we send through smtp.corp.example.org port 587 since Monday"
    assert (
        await engine.handle_message(Incoming(root, "U1", intro, root.thread_ts)) is None
    )
    assert redis_store.round_trips > 0
    error = "530 5.7.0 Must issue a STARTTLS command first"
    reply = await engine.handle_message(
        Incoming(root, "U1", error, "1700000010.000200")
    )
    assert reply is not None and reply.server == "smtp.corp.example.org:587"
