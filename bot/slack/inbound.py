"""
Reading one request to /slack/events safely: headers first, then the body within a
size and time bound while its signature is computed, and only a verified body is ever
decoded and parsed.

Order matters (api.slack.com/authentication/verifying-requests-from-slack): a request
without Slack's headers, or with a timestamp more than five minutes off, is refused
before a byte of its body is read; a body over ``MAX_BODY`` is refused from its
Content-Length, or as soon as the stream passes the limit; the HMAC is computed over
the raw bytes as they arrive; only then is the body decoded (UTF-8, as Slack sends)
and parsed (JSON, or a form with an optional ``payload=`` JSON field), with a depth
limit, and lone UTF-16 surrogates replaced so that nothing downstream fails to encode
the text. A refusal carries a short reason fit for one log line: never the body, a
token or a response_url.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

# Slack's payloads are small (a message holds at most 40,000 characters).
MAX_BODY: Final = 1024 * 1024
# Slack's replay window: a request whose timestamp is further off is refused.
FRESH_SECONDS: Final = 300
# Slack's payloads nest about ten levels (Block Kit rich text); far deeper is an attack
# on the parser, and json's recursion would fail first.
MAX_DEPTH: Final = 64
# A body must arrive within this long once the headers are in (slow senders hold a
# connection and memory otherwise).
READ_SECONDS: Final = 10.0
# Form fields a Slack request has at most (a slash command sends about a dozen).
MAX_FIELDS: Final = 100
_SIGNATURE: Final = re.compile(r"v0=[0-9a-f]{64}")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# A JSON escape of a UTF-16 surrogate: the only way one gets into a parsed string (a
# strict UTF-8 decode refuses encoded ones).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_CHARSETS: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class Refusal(Exception):
    """
    A request answered with an HTTP error; ``reason`` is short and safe to log.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> web.Response:
        """
        The JSON error response.
        """
        return web.json_response({"error": self.reason}, status=self.status)


@dataclass(frozen=True, slots=True)
class Inbound:
    """
    A verified and parsed request: the body (a JSON object), and the signature that
    names this exact request (timestamp and body) for replay detection.
    """

    body: dict[str, Any]
    signature: str
    form: bool


def check_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> tuple[str, str]:
    """
    The (timestamp, signature) headers, refused (401) when missing, malformed or
    stale; (413) when Content-Length says the body is too large.
    """
    length = headers.get("Content-Length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise Refusal(413, "body too large")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp.isdigit() or not _SIGNATURE.fullmatch(signature):
        raise Refusal(401, "invalid request")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > FRESH_SECONDS:
        raise Refusal(401, "invalid request")
    return timestamp, signature


async def read_signed(
    request: web.Request, secret: str, *, timeout: float = READ_SECONDS
) -> tuple[bytes, str]:
    """
    The raw body of a request whose signature is valid, and that signature.

    Raises:
        Refusal: 401 unsigned or badly signed, 413 too large, 408 too slow.
    """
    timestamp, signature = check_headers(request.headers)
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:".encode(), hashlib.sha256)
    chunks: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        while True:
            chunk = await request.content.readany()
            if not chunk:
                return
            size += len(chunk)
            if size > MAX_BODY:
                raise Refusal(413, "body too large")
            mac.update(chunk)
            chunks.append(chunk)

    try:
        # A timeout scope, not wait_for: no task per request.
        async with asyncio.timeout(timeout):
            await read()
    except TimeoutError as exc:
        raise Refusal(408, "body too slow") from exc
    if not hmac.compare_digest("v0=" + mac.hexdigest(), signature):
        raise Refusal(401, "invalid request")
    return b"".join(chunks), signature


def _clean(value: Any, depth: int) -> Any:
    """
    The parsed value with lone surrogates replaced; Refusal past MAX_DEPTH.
    """
    if isinstance(value, str):
        if value.isascii():
            return value
        return _SURROGATE.sub("\ufffd", value)
    if depth >= MAX_DEPTH:
        raise Refusal(400, "payload nested too deeply")
    if isinstance(value, dict):
        return {_clean(k, depth + 1): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise Refusal(400, "payload nested too deeply") from exc
    except ValueError as exc:
        raise Refusal(400, "malformed payload: not JSON") from exc


def parse(raw: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
    """
    The body as a JSON object, and whether it came as a form.

    Raises:
        Refusal: 415 for a charset other than UTF-8, 400 for undecodable, malformed
            or too deeply nested bodies.
    """
    media, _, params = content_type.partition(";")
    charset = dict(
        p.strip().lower().split("=", 1) for p in params.split(";") if "=" in p
    ).get("charset", "utf-8")
    if charset.strip("\"'") not in _CHARSETS:
        raise Refusal(415, "unsupported charset")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, "malformed payload: not UTF-8") from exc
    stripped = text.lstrip()
    form = not stripped.startswith("{") and media.strip().lower() != "application/json"
    source = text
    if not form:
        body = _json(text)
    else:
        try:
            fields = urllib.parse.parse_qsl(
                text,
                keep_blank_values=True,
                errors="replace",
                max_num_fields=MAX_FIELDS,
            )
        except ValueError as exc:
            raise Refusal(400, "malformed payload: too many fields") from exc
        values = dict(fields)
        source = values.get("payload", "")
        body = _json(source) if "payload" in values else values
    if not isinstance(body, dict):
        raise Refusal(400, "malformed payload: expected a JSON object")
    # The walk is needed only when a surrogate may be in a string, or when the body
    # has enough brackets to nest past MAX_DEPTH: most bodies skip it.
    if (
        source.count("[") + source.count("{") >= MAX_DEPTH
        or _SURROGATE_ESCAPE.search(source) is not None
    ):
        body = _clean(body, 0)
    return body, form


async def read_request(request: web.Request, secret: str) -> Inbound:
    """
    Verify, read and parse one request (see the module docstring).
    """
    raw, signature = await read_signed(request, secret)
    body, form = parse(raw, request.headers.get("Content-Type", ""))
    return Inbound(body, signature, form)
