"""
Every kind of message people send, over both transports (the HTTP front with its
worker, and Socket Mode): uploads of text snippets and files, forwarded and shared
messages, rich text, and edits.

Payloads follow Slack's documented shapes: ``file_share`` messages with file objects
(api.slack.com/types/file; bolt-python's file_share fixture), shared-message
attachments (``is_share``/``is_msg_unfurl``), ``rich_text`` blocks, and
``message_changed`` with ``message`` and ``previous_message``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.slack.files import FILE_LIMIT
from bot.slack.intake import slim_event
from tests.support.bot import make_settings
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import BOT_ID, BOT_USER, USER, FakeSlack, message_event
from tests.support.transport import TRANSPORTS, Transport, running

BOT_TOKEN = "Bearer xoxb-test-token"
LOG_LINE = "2024-06-02T10:15:01Z INFO queue=mailers job started status=ok\n"
GMAIL_PASTE = "535-5.7.8 Username and Password not accepted. Learn more at gmail"


@pytest.fixture(params=TRANSPORTS)
async def transport(
    request: pytest.FixtureRequest, fake_slack: FakeSlack, redis_url: str, prefix: str
) -> AsyncIterator[Transport]:
    """
    The whole bot behind one of Slack's transports.
    """
    async with running(request.param, fake_slack, redis_url, prefix) as bot:
        yield bot


def file_share(
    files: list[dict[str, Any]], *, ts: str, text: str = ""
) -> dict[str, Any]:
    """
    A ``file_share`` message carrying uploads, as Slack sends it.
    """
    return message_event(
        text,
        ts=ts,
        subtype="file_share",
        files=files,
        upload=False,
        display_as_bot=False,
    )


def edit(
    new: dict[str, Any], old: dict[str, Any], *, ts: str, edited_at: str
) -> dict[str, Any]:
    """
    A ``message_changed`` event: the message as it is now and as it was.
    """
    body = message_event("", ts=edited_at, subtype="message_changed", hidden=True)
    del body["event"]["text"], body["event"]["user"]
    base = {"type": "message", "user": USER, "ts": ts}
    body["event"]["message"] = {
        **base,
        **new,
        "edited": {"user": USER, "ts": edited_at},
    }
    body["event"]["previous_message"] = {**base, **old}
    return body


def rich_text(*lines: str, preformatted: bool = False) -> list[dict[str, Any]]:
    """
    ``rich_text`` blocks as Slack's composer writes them.
    """
    kind = "rich_text_preformatted" if preformatted else "rich_text_section"
    return [
        {
            "type": "rich_text",
            "block_id": "b1",
            "elements": [
                {"type": kind, "elements": [{"type": "text", "text": line}]}
                for line in lines
            ],
        }
    ]


def posts(fake: FakeSlack, thread: str) -> list[dict[str, Any]]:
    """
    What the bot posted in a thread.
    """
    return [
        c.args for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == thread
    ]


# --- uploads ---------------------------------------------------------------------


async def test_a_text_snippet_is_read_and_answered_in_its_thread(
    transport: Transport,
) -> None:
    """
    A log shared as a snippet is downloaded with the bot token and answered in its
    thread from its content.
    """
    fake = transport.fake
    log = (LOG_LINE * 200 + STARTTLS_PASTE + "\n" + LOG_LINE * 50).encode()
    snippet = fake.add_file("smtp.log", log)
    ts = "1700001000.000100"
    assert (await transport.send(file_share([snippet], ts=ts))).ok
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == ts
    assert "How to fix it" in str(answer.args["blocks"])
    (download,) = fake.of("file:download")
    assert download.headers["Authorization"] == BOT_TOKEN


async def test_a_file_known_only_by_id_is_looked_up_then_read(
    transport: Transport,
) -> None:
    """
    When the event names only the file (``file_access: check_file_info``), files.info
    gives its URLs; a plain-text file (not a snippet) is read too.
    """
    fake = transport.fake
    full = fake.add_file(
        "error.txt", GMAIL_PASTE.encode(), mode="hosted", filetype="text"
    )
    bare = {"id": full["id"], "mode": "hosted", "file_access": "check_file_info"}
    bare |= {"mimetype": "text/plain", "filetype": "text"}
    ts = "1700001001.000100"
    assert (await transport.send(file_share([bare], ts=ts, text="see attached"))).ok
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == ts
    (info,) = fake.of("files.info")
    assert info.args["file"] == full["id"]
    assert info.headers["Authorization"] == BOT_TOKEN
    assert fake.of("file:download")[0].headers["Authorization"] == BOT_TOKEN


async def test_uploads_are_read_only_up_to_the_size_cap(transport: Transport) -> None:
    """
    Only the first FILE_LIMIT bytes of an upload are read: an error beyond them is
    not seen, one at the start of a longer log is (with the message's own text).
    """
    fake = transport.fake
    filler = LOG_LINE * (FILE_LIMIT // len(LOG_LINE) + 100)
    late = fake.add_file("late.log", (filler + STARTTLS_PASTE).encode())
    early = fake.add_file("early.log", (STARTTLS_PASTE + "\n" + filler).encode())
    await transport.send(file_share([late], ts="1700001002.000100"))
    await fake.wait_for("file:download")
    await transport.send(
        file_share([early], ts="1700001002.000200", text="full log attached")
    )
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == "1700001002.000200"
    await fake.settle(0.5)
    assert len(fake.of("chat.postMessage")) == 1


async def test_images_and_binary_files_are_ignored_politely(
    transport: Transport,
) -> None:
    """
    A screenshot or a binary upload is never downloaded; alone it gets one short note
    asking for the error as text, with an error in the text that is answered instead.
    """
    fake = transport.fake
    image = fake.add_file(
        "screenshot.png", b"\x89PNG\r\n\x1a\n", mimetype="image/png", filetype="png"
    )
    binary = fake.add_file(
        "dump.bin",
        b"\x00\x01\x02",
        mimetype="application/octet-stream",
        filetype="binary",
        mode="hosted",
    )
    await transport.send(file_share([image, binary], ts="1700001003.000100"))
    (note,) = await fake.wait_for("chat.postMessage")
    assert "text" in note.args["text"] and "blocks" not in note.args
    await transport.send(
        file_share([image], ts="1700001003.000200", text=STARTTLS_PASTE)
    )
    (_, answer) = await fake.wait_for("chat.postMessage", 2)
    assert "How to fix it" in str(answer.args["blocks"])
    await fake.settle(0.5)
    assert not [c for c in fake.calls if c.method.startswith("file:")]
    assert len(fake.of("chat.postMessage")) == 2


# --- forwarded messages, attachments, rich text ---------------------------------------


async def test_a_forwarded_message_is_read_like_message_text(
    transport: Transport,
) -> None:
    """
    An error in a shared message's attachment (no text of its own) is answered.
    """
    shared = {
        "is_share": True,
        "is_msg_unfurl": True,
        "channel_id": "C0ELSEWHERE",
        "author_id": "U0CAROL",
        "author_name": "Carol",
        "fallback": f"[June 2nd] Carol: {STARTTLS_PASTE}",
        "text": STARTTLS_PASTE,
        "ts": "1700000000.000001",
        "from_url": "https://test.slack.com/archives/C0ELSEWHERE/p1700000000000001",
        "footer": "Posted in #mail",
        "mrkdwn_in": ["text"],
    }
    ts = "1700001100.000100"
    await transport.send(message_event("", ts=ts, attachments=[shared]))
    (answer,) = await transport.fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == ts


async def test_an_integrations_attachment_and_rich_text_are_read(
    transport: Transport,
) -> None:
    """
    Error text in a legacy attachment's fields, or only in rich-text blocks, is read.
    """
    fake = transport.fake
    alert = {
        "fallback": "Mail delivery alert",
        "color": "danger",
        "title": "Delivery failed",
        "fields": [{"title": "SMTP reply", "value": STARTTLS_PASTE, "short": False}],
    }
    await transport.send(
        message_event("mail alert below", ts="1700001101.000100", attachments=[alert])
    )
    await fake.wait_for("chat.postMessage")
    await transport.send(
        message_event(
            "", ts="1700001101.000200", blocks=rich_text(GMAIL_PASTE, preformatted=True)
        )
    )
    (first, second) = await fake.wait_for("chat.postMessage", 2)
    assert first.args["thread_ts"] == "1700001101.000100"
    assert second.args["thread_ts"] == "1700001101.000200"


async def test_a_link_preview_is_not_read(transport: Transport) -> None:
    """
    A web page's unfurl is not what the person wrote: an error in it gets nothing.
    """
    preview = {
        "from_url": "https://status.example.com/incident",
        "service_name": "Status",
        "title": "Incident",
        "title_link": "https://status.example.com/incident",
        "text": STARTTLS_PASTE,
    }
    await transport.send(
        message_event("our status page", ts="1700001102.000100", attachments=[preview])
    )
    await transport.fake.settle(1.0)
    assert transport.fake.of("chat.postMessage") == []


# --- edits -----------------------------------------------------------------------


async def test_an_edit_that_completes_an_error_is_answered_in_its_thread(
    transport: Transport,
) -> None:
    """
    A half-paste that gets nothing, edited into a full error, is answered in its
    thread once; the unfurl that follows (same text) gets nothing.
    """
    fake = transport.fake
    ts = "1700001200.000100"
    half = "my mail client says:"
    await transport.send(message_event(half, ts=ts))
    await fake.settle(0.5)
    assert fake.of("chat.postMessage") == []
    full = f"{half} {STARTTLS_PASTE}"
    changed = edit({"text": full}, {"text": half}, ts=ts, edited_at="1700001210.000001")
    assert (await transport.send(changed)).ok
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == ts
    unfurl = {
        "from_url": "https://example.com",
        "title": "Example",
        "text": "A web page",
    }
    unfurled = edit(
        {"text": full, "attachments": [unfurl]},
        {"text": full},
        ts=ts,
        edited_at="1700001211.000001",
    )
    same = edit({"text": full}, {"text": full}, ts=ts, edited_at="1700001212.000001")
    for body in (unfurled, same, changed):
        assert (await transport.send(body)).ok
    await fake.settle(1.0)
    assert len(fake.of("chat.postMessage")) == 1


async def test_an_edit_in_a_thread_is_answered_there(transport: Transport) -> None:
    """
    A reply edited into an error is answered in the thread it belongs to.
    """
    fake = transport.fake
    parent, reply = "1700001220.000100", "1700001220.000200"
    changed = edit(
        {"text": GMAIL_PASTE, "thread_ts": parent},
        {"text": "it fails", "thread_ts": parent},
        ts=reply,
        edited_at="1700001221.000001",
    )
    await transport.send(changed)
    (answer,) = await fake.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == parent


async def test_edits_of_bot_messages_get_nothing(transport: Transport) -> None:
    """
    The bot's own edited answers (and other bots') are never answered.
    """
    own = edit(
        {"text": STARTTLS_PASTE, "user": BOT_USER, "bot_id": BOT_ID},
        {"text": "Checking…", "user": BOT_USER, "bot_id": BOT_ID},
        ts="1700001230.000100",
        edited_at="1700001231.000001",
    )
    other = edit(
        {"text": STARTTLS_PASTE, "subtype": "bot_message", "bot_id": "B0OTHER"},
        {"text": "pending", "subtype": "bot_message", "bot_id": "B0OTHER"},
        ts="1700001230.000200",
        edited_at="1700001231.000002",
    )
    for body in (own, other):
        assert (await transport.send(body)).ok
    await transport.fake.settle(1.0)
    assert transport.fake.of("chat.postMessage") == []


def test_queued_kinds_stay_redacted(fake_slack: FakeSlack) -> None:
    """
    What the front queues for attachments, rich text, edits and uploads is redacted
    and holds no raw blocks or attachments.
    """
    secret = "dXNlcjpwYXNzd29yZA=="
    paste = f"{STARTTLS_PASTE}\nC: AUTH PLAIN {secret}"
    settings = make_settings(fake_slack, "redis://127.0.0.1:1/0", "unused:")
    upload = fake_slack.add_file("smtp.log", paste.encode())
    bodies = [
        message_event("", ts="1700001300.000100", attachments=[{"text": paste}]),
        message_event("", ts="1700001300.000200", blocks=rich_text(paste)),
        edit(
            {"text": paste},
            {"text": f"earlier: AUTH PLAIN {secret}"},
            ts="1700001300.000300",
            edited_at="1700001301.000001",
        ),
        file_share([upload], ts="1700001300.000400", text=paste),
    ]
    for body in bodies:
        slim = slim_event(body, settings)
        assert slim is not None
        queued = json.dumps(slim)
        assert secret not in queued and "[redacted]" in queued
        assert "blocks" not in queued and "attachments" not in queued
    assert (
        slim["event"]["files"][0]["url_private_download"]
        == upload["url_private_download"]
    )
