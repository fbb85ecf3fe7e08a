"""
Log output for ``smtpbot run``: plain text, or one JSON object per line
(``LOG_FORMAT=json``) for log collectors; secrets are redacted in both: whatever
``redact`` recognises (also inside logged payloads whose line breaks are escaped),
and the configured credentials themselves (``hide_in_logs``), verbatim or encoded.

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
import urllib.parse
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from bot.config import read_dotenv
from bot.errors import ConfigError
from bot.redact import REDACTED, redact

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


class Mask:
    """
    Redaction for log text: ``redact``, then the known secret values in any form.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()

    def hide(self, values: Iterable[str | None]) -> None:
        """
        Add secret values (and their URL-encoded and JSON-escaped forms).
        """
        for value in values:
            if value and len(value) >= 6:
                self._values.update(
                    {
                        value,
                        urllib.parse.quote(value, safe=""),
                        urllib.parse.quote_plus(value),
                        json.dumps(value)[1:-1],
                    }
                )

    def __call__(self, text: str) -> str:
        """
        ``text`` with secrets replaced by ``[redacted]``.
        """
        if "\\n" in text:
            # A logged payload (repr or JSON) keeps a paste's lines escaped: redact
            # them as lines.
            text = redact(text.replace("\\r\\n", "\n").replace("\\n", "\n"))
            text = text.replace("\n", "\\n")
        else:
            text = redact(text)
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


def hide_in_logs(*values: str | None) -> None:
    """
    Never log these values (tokens, signing secrets, passwords from settings): every
    handler with one of our formatters replaces them.
    """
    for handler in logging.getLogger().handlers:
        mask = getattr(handler.formatter, "mask", None)
        if isinstance(mask, Mask):
            mask.hide(values)


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

    def __init__(self) -> None:
        super().__init__()
        self.mask = Mask()

    def format(self, record: logging.LogRecord) -> str:
        """
        The record as a JSON line.
        """
        message = self.mask(record.getMessage())
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
                context[key] = _clean(value, self.mask)
        for key, value in context.items():
            if key not in _FIXED:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.mask(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc_info"] = self.mask(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


def _clean(value: Any, mask: Mask) -> Any:
    """
    An ``extra`` value fit for JSON, strings redacted.
    """
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask(str(value))


class TextFormatter(logging.Formatter):
    """
    The classic one-line text format, with secrets redacted.
    """

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.mask = Mask()

    def format(self, record: logging.LogRecord) -> str:
        """
        The record as text.
        """
        return self.mask(super().format(record))


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
