"""
The conversation engine shared by Slack and the terminal console.

It decides what to say to a message given the thread so far, runs probes under the rate
limits and the port policy, and records everything (redacted) in the state store.

A turn is recorded after its answer is out (``handle_turn``, post, ``record``): an
answer recorded first and then lost in a crash would make the redelivered message look
done. A queued message (it has a delivery token) needs its state: when the store is
unavailable the error reaches the worker, which keeps the message and tries again.
Without a token (Socket Mode) the engine carries on without state only where it cannot
be wrong: a new top-level message is answered (a small in-process memory stops Slack's
retries to this replica), a reply in a thread stays unanswered, since the thread may be
with a human.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Final

from bot.config import Settings
from bot.conversation.checking import Checker
from bot.conversation.checks import Prober, ProbeTarget, ProgressCallback
from bot.conversation.replies import ProbeOutcome, Reply, ReplyKind, answer_reply
from bot.conversation.turns import CONTEXT_MESSAGES as CONTEXT_MESSAGES
from bot.conversation.turns import HumanRequest as HumanRequest
from bot.conversation.turns import Incoming as Incoming
from bot.conversation.turns import (
    Learning,
    decide_reply,
    diagnose_in_thread,
    feedback_ack,
    human_claim,
    human_request,
    looks_like_error,
    pointed_back,
    repeat_reply,
    repeated_answer,
)
from bot.conversation.turns import Turn as Turn
from bot.errors import StateUnavailableError
from bot.metrics import Metrics
from bot.redact import redact
from bot.state import (
    Conversation,
    FeedbackRecord,
    HumanRecord,
    MessageRecord,
    OfferRecord,
    Record,
    StateStore,
    ThreadKey,
)
from bot.state.model import STORED_TEXT_LIMIT, Command
from bot.state.store import Claim
from knowledge.matcher import Decision, Diagnosis, Matcher
from knowledge.normalize import MAX_TEXT

log = logging.getLogger(__name__)

# Event ids remembered in-process: covers Slack retries to this replica even when Redis
# is down.
LOCAL_MEMORY: Final = 20_000


class Engine:
    """
    Answers messages, runs probes, records feedback and human requests.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        matcher: Matcher,
        store: StateStore,
        prober: Prober,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        learning: Learning | None = None,
    ) -> None:
        self.settings = settings
        self.matcher = matcher
        self.store = store
        self.prober = prober
        self.metrics = metrics or Metrics()
        self._clock = clock
        self.learning = learning
        self._seen: OrderedDict[str, None] = OrderedDict()
        # Messages handled at once: more would queue for Redis connections anyway, and a
        # burst must wait here rather than time out in the pool and look like an outage.
        self._slots = asyncio.Semaphore(settings.redis_max_connections)
        self.checker = Checker(
            settings=settings,
            store=store,
            prober=prober,
            kb=matcher.kb,
            metrics=self.metrics,
            clock=clock,
        )

    def _seen_before(self, names: Sequence[str]) -> bool:
        """
        Remember names in-process; True when any was seen already.
        """
        duplicate = any(name in self._seen for name in names)
        for name in names:
            self._seen[name] = None
            self._seen.move_to_end(name)
        while len(self._seen) > LOCAL_MEMORY:
            self._seen.popitem(last=False)
        return duplicate

    async def _append(
        self, key: ThreadKey, *records: Record, also: Sequence[Command] = ()
    ) -> None:
        """
        Record in the store; an unavailable store is counted, not fatal.
        """
        try:
            await self.store.append(key, *records, also=also)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("state_append_failed key=%s error=%s", key, exc)

    async def _learn(self, update: Callable[[Learning], Awaitable[None]]) -> None:
        """
        Feed the learning loop, if any; an unavailable store is counted, not fatal.
        """
        if self.learning is None:
            return
        try:
            await update(self.learning)
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("learning_update_failed error=%s", exc)

    async def load(self, key: ThreadKey, *, strict: bool = False) -> Conversation:
        """
        The thread's state, or an empty one when the store is unavailable (with
        ``strict``, StateUnavailableError instead).
        """
        try:
            return (await self.store.begin(key))[1]
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("state_load_failed key=%s error=%s", key, exc)
            if strict:
                raise
            return Conversation(key)

    async def quiet(self, key: ThreadKey) -> bool:
        """
        True when the bot must say nothing in the thread: it is with a human, or the
        store cannot tell whether it is.
        """
        try:
            return (await self.load(key, strict=True)).escalated
        except StateUnavailableError:
            return True

    async def handle_message(self, message: Incoming) -> Reply | None:
        """
        Answer one message, or None to stay silent (duplicate, escalated, nothing
        useful).
        """
        turn = await self.handle_turn(message)
        await self.record(message.key, turn)
        return turn.reply

    async def handle_turn(self, message: Incoming) -> Turn:
        """
        Answer one message; ``wants_human`` when a follow-up after an answer matched
        nothing but reads like an error (the bot cannot help: escalate).
        """
        # A queued message comes back until it is done: only Redis may call it a
        # duplicate, never this process's memory of an attempt that failed.
        if (
            message.token is None
            and message.dedupe
            and self._seen_before(message.dedupe)
        ):
            self.metrics.deduplicated.inc()
            return Turn(None, duplicate=True)
        async with self._slots:
            return await self._handle(message)

    async def record(self, key: ThreadKey, turn: Turn, *, strict: bool = False) -> None:
        """
        Record a turn once its answer is out; with ``strict`` an unavailable store
        raises StateUnavailableError (the caller tries the message again).
        """
        if strict:
            await self.store.append(key, *turn.records, also=turn.also)
        else:
            await self._append(key, *turn.records, also=turn.also)
        gap = turn.gap
        if gap is not None:
            await self._learn(lambda ln: ln.unmatched(gap, workspace=key.team_id))

    async def _handle(self, message: Incoming) -> Turn:
        """
        Claim, load, match, decide and record one message.
        """
        if len(message.text) > MAX_TEXT:
            # A message with a long upload: the matcher reads at most MAX_TEXT.
            message = replace(message, text=message.text[:MAX_TEXT])
        early: Diagnosis | None = None
        # Redacted once (pure, and among the costlier steps of a message).
        text = redact(message.text)
        if message.key.thread_ts == message.ts:
            # A new top-level message has no thread state to read. Chatter that names no
            # server and reads like no error is neither answered nor worth remembering,
            # so it costs no Redis round trip (most of a support channel's traffic).
            early = self.matcher.diagnose(text)
            if (
                early.decision == Decision.NONE
                and early.server is None
                and not looks_like_error(message.text)
            ):
                self.metrics.matches.labels(early.category, str(early.decision)).inc()
                return Turn(None)
        try:
            claim, conversation = await self.store.begin(
                message.key, dedupe=message.dedupe, token=message.token
            )
        except StateUnavailableError as exc:
            self.metrics.redis_errors.inc()
            log.warning("state_begin_failed key=%s error=%s", message.key, exc)
            if message.token is not None:
                raise
            if message.key.thread_ts != message.ts:
                # Fail closed: without state nothing proves that no human has taken
                # this thread over.
                return Turn(None)
            claim, conversation = Claim.NEW, Conversation(message.key)
        if claim is Claim.TAKEN:
            self.metrics.deduplicated.inc()
            return Turn(None, duplicate=True)
        look_first = claim is Claim.OURS or message.retried
        alone = early if early is not None else self.matcher.diagnose(text)
        diagnosis = (
            alone
            if not conversation.messages
            else diagnose_in_thread(
                self.matcher, text, conversation, message.user_id, alone=alone
            )
        )
        named = str(diagnosis.server) if diagnosis.server else None
        seen = MessageRecord(
            message.user_id,
            message.ts,
            text[:STORED_TEXT_LIMIT],
            server=named,
            at=self._clock(),
        )
        if conversation.escalated:
            return Turn(None, quiet=True, records=(seen,))
        self.metrics.matches.labels(diagnosis.category, str(diagnosis.decision)).inc()
        server = named or conversation.latest_server(user_id=message.user_id)
        reply = decide_reply(diagnosis, conversation, server, new_server=named)
        earlier = (
            repeated_answer(alone, conversation)
            if reply is None and conversation.offers
            else None
        )
        if earlier is not None and not message.edit:
            if pointed_back(earlier, conversation):
                # Pointed back once already and the error is still there: the fix
                # did not help.
                return Turn(None, wants_human=True, reason="repeated", records=(seen,))
            reply = repeat_reply(earlier)
        records: list[Record] = [seen]
        if reply is not None:
            records.append(
                OfferRecord(
                    str(reply.kind),
                    reply.category,
                    reply.entry_id,
                    tuple(c.entry_id for c in reply.choices),
                    server=reply.server,
                    at=self._clock(),
                )
            )
            self.metrics.replies.labels(str(reply.kind)).inc()
        answered = reply is not None and reply.kind in {
            ReplyKind.ANSWER,
            ReplyKind.CHOICES,
        }
        # The learning counters ride in the same pipeline as the thread's records.
        also = (
            self.learning.suggested_commands(reply.category, reply.entry_id)
            if reply is not None and answered and self.learning is not None
            else []
        )
        error_like = looks_like_error(text)
        gap = (
            text
            if not answered and diagnosis.decision == Decision.NONE and error_like
            else None
        )
        # A follow-up error after an answer that gets nothing new: the bot is stuck.
        # An edit is never a reason to hand over (it restates a message already seen).
        stuck = (
            bool(conversation.offers)
            and reply is None
            and error_like
            and earlier is None
            and not message.edit
        )
        return Turn(
            reply,
            wants_human=stuck,
            records=tuple(records),
            also=tuple(also),
            gap=gap,
            look_first=look_first,
        )

    async def choose(self, key: ThreadKey, user_id: str, entry_id: str) -> Reply | None:
        """
        The full answer for an alternative the user picked; None for an unknown id.
        """
        entry = self.matcher.kb.get(entry_id)
        if entry is None:
            return None
        conversation = await self.load(key)
        reply = answer_reply(entry, server=conversation.latest_server(user_id=user_id))
        await self._append(
            key,
            OfferRecord(
                "chosen",
                entry.category,
                entry.id,
                server=reply.server,
                at=self._clock(),
            ),
        )
        self.metrics.replies.labels(str(ReplyKind.ANSWER)).inc()
        await self._learn(lambda ln: ln.suggested(entry.category, entry.id))
        return reply

    async def feedback(
        self, key: ThreadKey, user_id: str, *, helpful: bool, entry_id: str | None
    ) -> str:
        """
        Record "Did this help?" and return the acknowledgement to show.
        """
        await self._append(
            key, FeedbackRecord(user_id, helpful, entry_id, at=self._clock())
        )
        counter = "helpful" if helpful else "rejected"
        await self._learn(lambda ln: ln.count(counter, entry_id))
        return feedback_ack(helpful=helpful)

    async def rejected_twice(self, key: ThreadKey) -> bool:
        """
        True when "Did this help? no" was answered at least twice in the thread.
        """
        conversation = await self.load(key)
        return sum(not f.helpful for f in conversation.feedback) >= 2

    async def ask_human(
        self, key: ThreadKey, user_id: str, *, reason: str = "button", text: str = ""
    ) -> HumanRequest:
        """
        Record a request for a human (once per thread); the bot then stays quiet.
        """
        try:
            first = await self.store.claim(
                human_claim(key), ttl=self.settings.conversation_ttl_seconds
            )
        except StateUnavailableError:
            self.metrics.redis_errors.inc()
            first = not self._seen_before([human_claim(key)])
        if first:
            await self._append(key, HumanRecord(user_id, at=self._clock()))
        conversation = await self.load(key)
        return human_request(
            conversation, first=first, user_id=user_id, reason=reason, text=text
        )

    async def probe(
        self,
        target: ProbeTarget,
        *,
        user_id: str,
        progress: ProgressCallback,
        key: ThreadKey | None = None,
    ) -> ProbeOutcome:
        """
        Run a probe for a user under the port policy and rate limits, and record it.
        """
        return await self.checker.probe(
            target, user_id=user_id, progress=progress, key=key
        )

    async def claim_once(self, name: str, *, ttl: int) -> bool:
        """
        True the first time ``name`` is claimed within ``ttl``; True when the store is
        down.
        """
        try:
            return await self.store.claim(name, ttl=ttl)
        except StateUnavailableError:
            self.metrics.redis_errors.inc()
            return True

    async def ready(self) -> bool:
        """
        True when the state store answers.
        """
        try:
            await self.store.ping()
        except StateUnavailableError:
            return False
        return True
