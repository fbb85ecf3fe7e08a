"""
How fast each kind of Slack request is acknowledged, over both transports.

Runs the whole bot in process (``smtpbot run --http`` with its in-process worker, and
Socket Mode against a local websocket endpoint) on a local fake of Slack's Web API and
the test Redis, and sends each kind of payload one after another: a support paste, a
text snippet upload, an edit, a forwarded message, a direct message, a bare mention,
tokens_revoked (user tokens only), app_uninstalled (another workspace) and
app_rate_limited. Prints p50 / p99 / max of the time to the HTTP 200 or the envelope
ack, per transport and kind (Slack's limit is 3 s).

    python bench/ack_bench.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.kb import STARTTLS_PASTE  # noqa: E402
from tests.support.redis import new_prefix, test_redis_url  # noqa: E402
from tests.support.slack import BOT_USER, TEAM, FakeSlack, message_event  # noqa: E402
from tests.support.transport import TRANSPORTS, Transport, running  # noqa: E402


def kinds(fake: FakeSlack, n: int) -> dict[str, tuple[dict[str, Any], str | None]]:
    """
    One payload of each kind (unique timestamps per round) and its envelope type.
    """
    ts = f"{1700100000 + n}.{n:06d}"
    snippet = fake.add_file("smtp.log", (STARTTLS_PASTE + "\n").encode() * 50)
    upload = message_event("", ts=ts, subtype="file_share", files=[snippet])
    edit = message_event("", ts=f"{ts}1", subtype="message_changed")
    edit["event"]["message"] = {
        "type": "message",
        "user": "U0A",
        "text": STARTTLS_PASTE,
    }
    edit["event"]["message"]["ts"] = ts
    edit["event"]["previous_message"] = {"type": "message", "text": "half", "ts": ts}
    shared = {"is_share": True, "is_msg_unfurl": True, "text": STARTTLS_PASTE}
    lifecycle = message_event("", ts=f"{ts}2")
    revoked = {
        **lifecycle,
        "event": {"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}},
    }
    gone = {**lifecycle, "event": {"type": "app_uninstalled"}, "team_id": "T0GONE"}
    gone["authorizations"] = [
        {"team_id": "T0GONE", "user_id": BOT_USER, "is_bot": True}
    ]
    rate = {"type": "app_rate_limited", "team_id": TEAM, "minute_rate_limited": 0}
    return {
        "paste": (message_event(STARTTLS_PASTE, ts=f"{ts}3"), None),
        "snippet": (upload, None),
        "edit": (edit, None),
        "forwarded": (message_event("", ts=f"{ts}4", attachments=[shared]), None),
        "dm": (
            message_event("hi", ts=f"{ts}5", channel="D0A", channel_type="im"),
            None,
        ),
        "mention": (
            message_event(f"<@{BOT_USER}> hi", ts=f"{ts}6", event_type="app_mention"),
            None,
        ),
        "tokens_revoked": (revoked, None),
        "app_uninstalled": (gone, None),
        "app_rate_limited": (rate, "app_rate_limited"),
    }


async def measure(kind: str, redis_url: str, rounds: int) -> dict[str, list[float]]:
    """
    Ack times (seconds) per payload kind over one transport.
    """
    fake = await FakeSlack().start()
    times: dict[str, list[float]] = {}
    try:
        async with running(kind, fake, redis_url, new_prefix()) as bot:
            await warm(bot)
            for n in range(rounds):
                for name, (payload, envelope) in kinds(fake, n).items():
                    ack = await bot.send(payload, envelope=envelope)
                    if not ack.ok:
                        raise SystemExit(f"{kind} {name} not acked: {ack.detail}")
                    times.setdefault(name, []).append(ack.seconds)
    finally:
        await fake.stop()
    return times


async def warm(bot: Transport) -> None:
    """
    One request first: loading the knowledge base is not an ack.
    """
    await bot.send(message_event(STARTTLS_PASTE, ts=f"{time.time():.6f}"))
    await asyncio.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as work, test_redis_url(Path(work)) as url:
        for kind in TRANSPORTS:
            times = asyncio.run(measure(kind, url, args.rounds))
            for name, seconds in times.items():
                ms = sorted(s * 1000 for s in seconds)
                p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
                print(
                    f"{kind:6} {name:16} p50 {statistics.median(ms):6.1f} ms  "
                    f"p99 {p99:6.1f} ms  max {ms[-1]:6.1f} ms  (n={len(ms)})"
                )


if __name__ == "__main__":
    main()
