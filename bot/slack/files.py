"""
Reading uploaded text: a log shared as a text snippet, or a plain-text file, is read
like message text. Images and binary files are never downloaded.

Slack's file objects (api.slack.com/types/file) carry ``url_private`` and
``url_private_download``, fetched with the bot token as a Bearer token (``files:read``).
Some events give only the file id (``file_access: check_file_info``); ``files.info``
fills in the rest. The token is only ever sent to Slack's file host, or to the host of
SLACK_API_URL (a local fake in tests); every read is bounded in size and time.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.lifecycle import TokenGuard

log = logging.getLogger(__name__)

# Bytes read from one upload: DESIGN.md diagnoses texts up to 1,000,000 characters; a
# longer log is read from its start.
FILE_LIMIT: Final = 1_000_000
# Uploads read from one message (Slack allows ten); the rest are skipped.
FILES_PER_MESSAGE: Final = 3
# Seconds one download may take.
FILE_TIMEOUT: Final = 10.0
# Where Slack serves uploads.
SLACK_FILES: Final = "https://files.slack.com"
# File fields kept when a message is queued (the URLs and what decides readability).
FILE_FIELDS: Final = (
    "id",
    "name",
    "mimetype",
    "filetype",
    "mode",
    "size",
    "url_private",
    "url_private_download",
    "file_access",
)
# Slack filetypes of text (api.slack.com/types/file#types) besides any text/* mimetype.
TEXT_FILETYPES: Final = frozenset(
    {"text", "log", "csv", "tsv", "json", "xml", "yaml", "ini", "conf", "diff"}
    | {"shell", "python", "javascript", "java", "php", "ruby", "go", "markdown"}
    | {"email", "eml", "toml", "properties", "sql", "perl", "powershell"}
)
TEXT_MIMETYPES: Final = frozenset(
    {"application/json", "application/xml", "application/x-yaml", "message/rfc822"}
)
# Bytes looked at to tell text from binary.
SNIFF: Final = 8192

ApiCall = Callable[[str, dict[str, Any]], Awaitable[Any]]


def attached(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """
    The file objects of a message.
    """
    files = message.get("files")
    if not isinstance(files, Sequence) or isinstance(files, str):
        return []
    return [f for f in files if isinstance(f, Mapping) and f.get("id")]


def is_text(file: Mapping[str, Any]) -> bool:
    """
    True for a text snippet or a plain-text file.
    """
    mimetype = str(file.get("mimetype") or "").split(";")[0].strip().lower()
    if mimetype.startswith(("image/", "video/", "audio/")):
        return False
    return (
        file.get("mode") == "snippet"
        or mimetype.startswith("text/")
        or mimetype in TEXT_MIMETYPES
        or str(file.get("filetype") or "").lower() in TEXT_FILETYPES
    )


def slim_file(file: Mapping[str, Any]) -> dict[str, Any]:
    """
    The fields of a file object the bot reads (for the intake queue).
    """
    return {k: file[k] for k in FILE_FIELDS if k in file}


def trusted(url: str, api_url: str) -> bool:
    """
    True when the bot token may be sent to ``url``: Slack's file host over HTTPS, or
    the host of SLACK_API_URL.
    """
    target = urllib.parse.urlsplit(url)
    origin = (target.scheme, target.netloc)
    return bool(target.netloc) and any(
        origin == (allowed.scheme, allowed.netloc)
        for allowed in map(urllib.parse.urlsplit, (SLACK_FILES, api_url))
    )


def decode(data: bytes) -> str | None:
    """
    Uploaded bytes as text, or None when they look binary.
    """
    if b"\x00" in data[:SNIFF]:
        return None
    return data.decode("utf-8-sig", errors="replace").replace("\x00", "")


async def download(
    url: str,
    *,
    token: str,
    session: aiohttp.ClientSession | None,
    limit: int = FILE_LIMIT,
    timeout: float = FILE_TIMEOUT,
) -> bytes | None:
    """
    The first ``limit`` bytes at ``url``, fetched with the bot token; None on failure
    (including Slack's sign-in page, which it serves when a token may not read a file).
    """
    headers = {"Authorization": f"Bearer {token}"}

    async def fetch(http: aiohttp.ClientSession) -> bytes | None:
        async with http.get(
            url,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            kind = response.headers.get("Content-Type", "")
            if response.status != 200 or kind.startswith("text/html"):
                log.warning(
                    "file_download_refused status=%s type=%s", response.status, kind
                )
                return None
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) >= limit:
                    break
            return bytes(data[:limit])

    try:
        if session is not None and not session.closed:
            return await fetch(session)
        async with aiohttp.ClientSession() as own:
            return await fetch(own)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("file_download_failed error=%s", type(exc).__name__)
        return None


async def complete(file: Mapping[str, Any], api: ApiCall) -> Mapping[str, Any]:
    """
    The file with its URLs, asking ``files.info`` when the event gave only its id.
    """
    if file.get("url_private_download") or file.get("url_private"):
        return file
    answer = await api("files.info", {"file": str(file["id"])})
    # A Web API response (dict-like, not a Mapping), or None when the call failed.
    info = answer.get("file") if answer is not None else None
    return info if isinstance(info, Mapping) else file


async def read_uploads(
    found: Sequence[Mapping[str, Any]],
    client: AsyncWebClient,
    *,
    call: Callable[..., Awaitable[Any]],
    guard: TokenGuard,
    api_url: str,
) -> tuple[str, bool]:
    """
    The text of a message's text uploads, and whether any upload was unreadable (an
    image, a binary file, or one Slack would not give). ``call`` makes Web API calls
    (``files.info``) the way the handlers do.
    """
    texts: list[str] = []
    unreadable = False

    async def api(method: str, args: dict[str, Any]) -> Any:
        return await call(client, method, http_verb="GET", **args)

    for file in found[:FILES_PER_MESSAGE]:
        if not is_text(file):
            unreadable = True
            continue
        full = await complete(file, api)
        url = full.get("url_private_download") or full.get("url_private")
        token = client.token
        if (
            not isinstance(url, str)
            or not token
            or guard.blocked(token)
            or not trusted(url, api_url)
        ):
            unreadable = True
            continue
        data = await download(url, token=token, session=client.session)
        text = decode(data) if data is not None else None
        if text is None:
            unreadable = True
            continue
        texts.append(text)
    return "\n".join(texts), unreadable
