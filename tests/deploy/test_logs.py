"""
Structured logs: LOG_FORMAT=json gives one redacted JSON object per line with the
request id and the key=value context; text stays text, also redacted.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.logs import (
    REQUEST_ID,
    JsonFormatter,
    TextFormatter,
    log_format,
    message_context,
    request_id_of,
    setup_logging,
)

TOKEN = "xoxb-1234567890-abcdefghijkl"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    """
    A WARNING record from logger bot.test.
    """
    made = logging.LogRecord(
        "bot.test", logging.WARNING, __file__, 1, message, args, None
    )
    made.__dict__.update(extra)
    return made


@pytest.fixture
def restore_root() -> Iterator[None]:
    """
    Put the root logger back as it was.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_line_has_the_fixed_fields_and_the_message_context() -> None:
    """
    time, level, logger, message, plus event and key=value pairs from the message.
    """
    line = JsonFormatter().format(
        record("slack_call_failed method=%s error=%s", "chat.update", "'rate limited'")
    )
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "bot.test"
    assert data["time"].endswith("+00:00")
    assert data["message"].startswith("slack_call_failed method=chat.update")
    assert data["event"] == "slack_call_failed"
    assert data["method"] == "chat.update"
    assert data["error"] == "rate limited"
    assert "request_id" not in data


def test_request_id_comes_from_the_record_or_the_context() -> None:
    """
    A record's request_id extra wins; otherwise the REQUEST_ID context variable.
    """
    formatter = JsonFormatter()
    made = json.loads(formatter.format(record("x", request_id="Ev1")))
    assert made["request_id"] == "Ev1"
    token = REQUEST_ID.set("Ev2")
    try:
        assert json.loads(formatter.format(record("x")))["request_id"] == "Ev2"
    finally:
        REQUEST_ID.reset(token)
    assert request_id_of({"event_id": "Ev3", "trigger_id": "1.2"}) == "Ev3"
    assert request_id_of({"trigger_id": "1.2"}) == "1.2"
    assert request_id_of({}) is None


def test_secrets_are_redacted_in_message_extras_and_tracebacks() -> None:
    """
    Tokens and passwords never reach the log line, whatever field carries them.
    """
    try:
        raise ValueError(f"token={TOKEN}")
    except ValueError as exc:
        made = record("login_failed password=hunter2 token=%s", TOKEN, note=TOKEN)
        made.exc_info = (type(exc), exc, exc.__traceback__)
    line = JsonFormatter().format(made)
    assert TOKEN not in line and "hunter2" not in line
    data = json.loads(line)
    assert "[redacted]" in data["message"] and "[redacted]" in data["note"]
    assert "ValueError" in data["exc_info"]
    text = TextFormatter("%(message)s").format(record("token=%s", TOKEN))
    assert TOKEN not in text


def test_extras_never_overwrite_the_fixed_fields() -> None:
    """
    A key=value named like a fixed field stays out; extras of any type are JSON.
    """
    data = json.loads(
        JsonFormatter().format(record("odd level=debug", count=3, path=Path("/x")))
    )
    assert data["level"] == "WARNING"
    assert data["count"] == 3 and data["path"] == "/x"


def test_message_context_reads_only_event_style_messages() -> None:
    """
    Plain prose gives no event; quoted values lose their quotes.
    """
    assert message_context("just some words") == {}
    assert message_context("probe_done target='a b' ms=3") == {
        "event": "probe_done",
        "target": "a b",
        "ms": "3",
    }


def test_log_format_is_text_by_default_and_validated() -> None:
    """
    LOG_FORMAT defaults to text, accepts json, and names itself when wrong.
    """
    assert log_format({}) == "text"
    assert log_format({"LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        log_format({"LOG_FORMAT": "xml"})


def test_setup_logging_installs_one_handler_from_env_and_dotenv(
    tmp_path: Path, restore_root: None
) -> None:
    """
    .env supplies LOG_FORMAT, the environment LOG_LEVEL; the root logger uses both.
    """
    dotenv = tmp_path / ".env"
    dotenv.write_text("LOG_FORMAT=json\nLOG_LEVEL=ERROR\n", encoding="utf-8")
    stream = io.StringIO()
    setup_logging({"LOG_LEVEL": "warning"}, env_file=dotenv, stream=stream)
    logging.getLogger("bot.x").info("hidden")
    logging.getLogger("bot.x").warning("shown key=1")
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["key"] == "1"
    assert len(logging.getLogger().handlers) == 1


def test_setup_logging_falls_back_when_other_settings_are_bad(
    tmp_path: Path, restore_root: None
) -> None:
    """
    A bad LOG_LEVEL or .env is left for Settings to report; logging still works.
    """
    dotenv = tmp_path / ".env"
    dotenv.write_text("not a line\n", encoding="utf-8")
    stream = io.StringIO()
    setup_logging({"LOG_LEVEL": "LOUD"}, env_file=dotenv, stream=stream)
    logging.getLogger("bot.x").info("visible")
    assert "INFO bot.x visible" in stream.getvalue()
    with pytest.raises(ConfigError):
        setup_logging({"LOG_FORMAT": "yaml"}, env_file=None, stream=stream)


def test_configured_secrets_are_hidden_in_every_encoding(restore_root: None) -> None:
    """
    After hide_in_logs, a signing secret (which no pattern recognises) is replaced
    verbatim, URL-encoded and JSON-escaped, in text and JSON lines alike.
    """
    from bot.logs import hide_in_logs, make_handler

    secret = "8f3a0c1d2e4b5a6978f0e1d2c3b4a596"
    password = 'p@ss w"rd/1'
    stream = io.StringIO()
    root = logging.getLogger()
    root.handlers[:] = [make_handler("text", stream=stream)]
    root.addHandler(make_handler("json", stream=stream))
    root.setLevel(logging.INFO)
    hide_in_logs(secret, password, None)
    for form in (secret, password, json.dumps(password), "p%40ss+w%22rd%2F1"):
        logging.getLogger("bot.test").warning("seen %s here", form)
    logged = stream.getvalue()
    assert secret not in logged and "p@ss" not in logged and "p%40ss" not in logged
    assert logged.count("[redacted]") == 8


def test_a_logged_payload_with_escaped_lines_is_redacted_as_lines() -> None:
    """
    A payload logged with its line breaks escaped (a dict's repr, a JSON body) loses
    the AUTH LOGIN answers after a 334 all the same.
    """
    payload = {"text": "S: 334 UGFzc3dvcmQ6\nC: aHVudGVyMg==\nS: 535 5.7.8 failed"}
    line = TextFormatter("%(message)s").format(record("body %s", payload))
    assert "aHVudGVyMg==" not in line and "535 5.7.8" in line
