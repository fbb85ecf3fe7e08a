"""
Redaction of a whole Slack payload: every text in it, wherever Slack puts it (message
text, attachments, file previews, edited messages, input values), so that a new kind
of message cannot carry a secret past the boundary. Pure; no I/O.
"""

from __future__ import annotations

from typing import Any, Final

from bot.redact import redact

# Fields that are capabilities or identifiers Slack sets and needs back unchanged;
# never anything a person typed.
KEEP: Final = frozenset(
    {
        "response_url",
        "response_urls",
        "trigger_id",
        "type",
        "subtype",
        "channel",
        "channel_type",
        "user",
        "team",
        "team_id",
        "enterprise_id",
        "api_app_id",
        "app_id",
        "bot_id",
        "event_id",
        "event_time",
        "event_ts",
        "ts",
        "thread_ts",
        "action_ts",
        "client_msg_id",
        "action_id",
        "block_id",
        "callback_id",
        "is_enterprise_install",
    }
)
# Fields dropped: the legacy verification token is a credential, and nothing reads it.
DROP: Final = frozenset({"token"})


def redact_payload(value: Any) -> Any:
    """
    A copy of a parsed payload with ``redact`` applied to every string in it.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: item if key in KEEP else redact_payload(item)
            for key, item in value.items()
            if key not in DROP
        }
    if isinstance(value, list):
        return [redact_payload(item) for item in value]
    return value
