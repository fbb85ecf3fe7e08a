"""
The shapes of Slack's payloads as the listeners read them: a signed payload with a
field missing or of the wrong type is refused (400) before Bolt, which assumes Slack's
shapes, can fail on it. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


# The fields Bolt and the listeners read, by payload type, and what each must be.
_SHAPES: Final[dict[str, dict[str, Callable[[Any], bool]]]] = {
    "event_callback": {"event": _is_object, "team_id": _optional(_is_text)},
    "block_actions": {
        "user": _is_object,
        "team": _optional(_is_object),
        "channel": _optional(_is_object),
        "container": _optional(_is_object),
        "message": _optional(_is_object),
        "response_url": _optional(_is_text),
    },
    "url_verification": {"challenge": _is_text},
}
_COMMAND: Final[dict[str, Callable[[Any], bool]]] = {
    "command": _is_text,
    "user_id": _is_text,
    "team_id": _is_text,
    "channel_id": _is_text,
    "text": _optional(_is_text),
    "response_url": _optional(_is_text),
}
_ACTION: Final[dict[str, Callable[[Any], bool]]] = {
    "action_id": _is_text,
    "block_id": _optional(_is_text),
    "value": _optional(_is_text),
    "type": _optional(_is_text),
}
_EVENT: Final[dict[str, Callable[[Any], bool]]] = {
    "type": _is_text,
    "subtype": _optional(_is_text),
    "user": _optional(_is_text),
    "text": _optional(_is_text),
    "channel": _optional(lambda v: isinstance(v, str | dict)),
    "ts": _optional(_is_text),
    "thread_ts": _optional(_is_text),
    "item": _optional(_is_object),
    "reaction": _optional(_is_text),
}


# Event types whose fields the listeners read (message subtypes included).
_CHECKED_EVENTS: Final = frozenset(
    {"message", "app_mention", "reaction_added", "app_home_opened"}
)


def _mismatch(
    body: Mapping[str, Any], shape: Mapping[str, Callable[[Any], bool]]
) -> str | None:
    for key, check in shape.items():
        if not check(body.get(key)):
            return f"{key!r} missing or of the wrong type"
    return None


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """
    What makes a parsed payload unfit for Bolt and the listeners (which assume
    Slack's shapes), or None.
    """
    if "command" in body:
        return _mismatch(body, _COMMAND)
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "'type' must be a string"
    problem = _mismatch(body, _SHAPES.get(str(kind), {}))
    if problem is not None:
        return problem
    if kind == "event_callback":
        event = body["event"]
        if not isinstance(event.get("type"), str):
            return "'type' missing or of the wrong type"
        # The events the listeners read in detail; others need only a type.
        if event["type"] in _CHECKED_EVENTS:
            return _mismatch(event, _EVENT)
    if kind == "block_actions":
        actions = body.get("actions")
        if not (isinstance(actions, list) and actions):
            return "block_actions without actions"
        for action in actions:
            if not isinstance(action, dict):
                return "each action must be an object"
            problem = _mismatch(action, _ACTION)
            if problem is not None:
                return problem
    for key in ("event", "container", "channel", "message", "view", "team", "user"):
        if key in body and not isinstance(body[key], dict | str):
            return f"{key!r} must be an object"
    return None
