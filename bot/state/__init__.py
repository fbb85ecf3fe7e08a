"""
Conversation state: the model (pure), the store contract, and the Redis-backed store.
"""

from bot.state.model import (
    Conversation,
    FeedbackRecord,
    HandbackRecord,
    HumanRecord,
    MessageRecord,
    OfferRecord,
    ProbeRecord,
    Record,
    ThreadKey,
)
from bot.state.store import StateStore

__all__ = [
    "Conversation",
    "FeedbackRecord",
    "HandbackRecord",
    "HumanRecord",
    "MessageRecord",
    "OfferRecord",
    "ProbeRecord",
    "Record",
    "StateStore",
    "ThreadKey",
]
