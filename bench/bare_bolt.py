"""
The baseline for ``slack_bench.py``: a bare Bolt AsyncApp that only acks events, served
by aiohttp exactly like the bot's HTTP mode (same adapter, same route).

    python bench/bare_bolt.py --port N     (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
                                            SLACK_API_URL from the environment)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build() -> web.Application:
    """
    The bare app: one message listener that does nothing (Bolt acks events itself).
    """
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.event("message")
    async def on_message(body: dict[str, Any]) -> None:
        return None

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await bolt.async_dispatch(await to_bolt_request(request))
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


async def main(port: int) -> None:
    """
    Serve until SIGTERM.
    """
    runner = web.AppRunner(build(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
