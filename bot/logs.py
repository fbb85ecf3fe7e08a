"""
Log output for ``smtpbot run``: plain text, or one JSON object per line
(``LOG_FORMAT=json``) for log collectors; secrets are redacted in both.

A JSON line carries ``time``, ``level``, ``logger``, ``message``, ``request_id`` when
one is known (a record's ``request_id`` extra, else the ``REQUEST_ID`` context
variable), the ``key=value`` context of event-style messages
(``slack_call_failed method=chat.update error=...``) with the leading word as
``event``, and any ``extra={...}`` fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from bot.config import read_dotenv
from bot.errors import ConfigError
from bot.redact import redact

# The id of the Slack request being handled (event_id, trigger_id); listener tasks
# inherit it from the middleware that sets it, so every line they log carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("smtpbot_request_id", default=None)
FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "taskName"}
# The fields a JSON line always has; context keys never overwrite them.
_FIXED: Final = frozenset({"time", "level", "logger", "message", "request_id"})
# House style: "event_name key=value key='quoted value' ..." (values end at a space).
_EVENT: Final = re.compile(r"^([a-z][a-z0-9_]*)(?=\s|$)")
_PAIR: Final = re.compile(r"(?:^|\s)([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|\S+)")


def request_id_of(body: Mapping[str, Any]) -> str | None:
    """
    The id Slack gives a request: the event id, else the trigger id, else None.
    """
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def message_context(message: str) -> dict[str, str]:
    """
    The event name and ``key=value`` pairs of an event-style message.
    """
    context: dict[str, str] = {}
    event = _EVENT.match(message)
    if event is not None and _PAIR.search(message):
        context["event"] = event.group(1)
    for key, value in _PAIR.findall(message):
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        context[key] = value
    return context


class JsonFormatter(logging.Formatter):
    """
    One JSON object per record, on one line, with secrets redacted.
    """

    def format(self, record: logging.LogRecord) -> str:
        """
        The record as a JSON line.
        """
        message = redact(record.getMessage())
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = str(request_id)
        context: dict[str, Any] = message_context(message)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                context[key] = _clean(value)
        for key, value in context.items():
            if key not in _FIXED:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc_info"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


def _clean(value: Any) -> Any:
    """
    An ``extra`` value fit for JSON, strings redacted.
    """
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class TextFormatter(logging.Formatter):
    """
    The classic one-line text format, with secrets redacted.
    """

    def format(self, record: logging.LogRecord) -> str:
        """
        The record as text.
        """
        return redact(super().format(record))


def log_format(env: Mapping[str, str]) -> str:
    """
    ``LOG_FORMAT``: ``text`` (default) or ``json``.
    """
    value = env.get("LOG_FORMAT", "").strip().lower() or "text"
    if value not in FORMATS:
        raise ConfigError("LOG_FORMAT", f"expected text or json, got {value!r}")
    return value


def make_handler(fmt: str, *, stream: TextIO | None = None) -> logging.Handler:
    """
    A stream handler (stderr by default) with the formatter for ``fmt``.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter = JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    return handler


def setup_logging(
    environ: Mapping[str, str],
    *,
    env_file: Path | None = Path(".env"),
    stream: TextIO | None = None,
) -> None:
    """
    Configure the root logger from ``LOG_LEVEL`` and ``LOG_FORMAT`` (``.env`` too).

    Raises:
        ConfigError: LOG_FORMAT is neither text nor json. Other bad values are left
            to ``Settings``, which the command validates and reports next.
    """
    try:
        merged = {**(read_dotenv(env_file) if env_file is not None else {})}
    except ConfigError:
        merged = {}
    merged.update(environ)
    fmt = log_format(merged)
    level = merged.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        level = "INFO"
    logging.basicConfig(
        level=level, handlers=[make_handler(fmt, stream=stream)], force=True
    )
