"""
The whole bot as ``smtpbot run`` builds it, in process, reached the two ways Slack
reaches it: signed HTTP requests to the front (which queues messages for its worker), or
envelopes over a local Socket Mode websocket. Tests written against ``Transport`` run
against both.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from websockets.asyncio.server import ServerConnection, serve

from bot.config import Settings
from bot.slack.runtime import serve as serve_bot
from tests.support.bot import delete_prefix, make_settings
from tests.support.slack import FakeSlack, event_request, sign

TRANSPORTS = ("http", "socket")
# The app-level token the Socket Mode bot opens its connection with.
APP_TOKEN = "xapp-1-A0APP-1-test"


class FakeSocketMode:
    """
    Slack's Socket Mode endpoint: hands each new connection to the test.
    """

    def __init__(self) -> None:
        self.connections: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.url = ""

    async def handler(self, connection: ServerConnection) -> None:
        await self.connections.put(connection)
        await connection.wait_closed()

    async def accept(self) -> ServerConnection:
        """
        The next connection, greeted with hello as Slack does.
        """
        connection = await asyncio.wait_for(self.connections.get(), timeout=15)
        await connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0APP"},
                    "debug_info": {"host": "local"},
                }
            )
        )
        return connection


@contextlib.asynccontextmanager
async def socket_endpoint() -> AsyncIterator[FakeSocketMode]:
    """
    A local websocket server speaking Slack's Socket Mode envelopes.
    """
    fake = FakeSocketMode()
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/link/?ticket=test"
        yield fake


async def send_envelope(
    connection: ServerConnection, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """
    Send one envelope and return the client's ack (matched by envelope_id).
    """
    envelope_id = str(uuid.uuid4())
    await connection.send(
        json.dumps(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind not in {"events_api"},
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
    )
    while True:
        ack = json.loads(await asyncio.wait_for(connection.recv(), timeout=15))
        if ack.get("envelope_id") == envelope_id:
            return dict(ack)


@dataclass
class Ack:
    """
    How Slack's request was answered: acked or not, and how fast.
    """

    ok: bool
    seconds: float
    detail: Any = None


@dataclass
class Transport:
    """
    A running bot and the way to send it what Slack sends.
    """

    kind: str
    fake: FakeSlack
    settings: Settings
    url: str = ""
    connection: ServerConnection | None = None
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def send(
        self, payload: dict[str, Any], *, envelope: str | None = None
    ) -> Ack:
        """
        Deliver one payload: a signed POST, or a Socket Mode envelope (``events_api``
        for event callbacks unless ``envelope`` names another type).
        """
        started = time.perf_counter()
        if self.kind == "http":
            assert self._session is not None
            body, headers = event_request(payload)
            async with self._session.post(
                f"{self.url}/slack/events", data=body, headers=headers
            ) as response:
                await response.read()
                return Ack(
                    response.status == 200,
                    time.perf_counter() - started,
                    response.status,
                )
        assert self.connection is not None
        kind = envelope or "events_api"
        ack = await send_envelope(self.connection, kind, payload)
        return Ack("envelope_id" in ack, time.perf_counter() - started, ack)

    async def command(self, fields: dict[str, str]) -> Ack:
        """
        Deliver a slash command: form data over HTTP, a ``slash_commands`` envelope
        over Socket Mode; ``detail`` is what the user is shown.
        """
        started = time.perf_counter()
        if self.kind == "http":
            assert self._session is not None
            body = urllib.parse.urlencode(fields)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                **sign(body),
            }
            async with self._session.post(
                f"{self.url}/slack/events", data=body, headers=headers
            ) as response:
                text = await response.text()
                return Ack(response.status == 200, time.perf_counter() - started, text)
        assert self.connection is not None
        ack = await send_envelope(self.connection, "slash_commands", dict(fields))
        return Ack(
            "envelope_id" in ack,
            time.perf_counter() - started,
            json.dumps(ack.get("payload")),
        )

    async def interact(self, payload: dict[str, Any]) -> Ack:
        """
        Deliver an interactivity payload (a button click): ``payload=`` form data over
        HTTP, an ``interactive`` envelope over Socket Mode.
        """
        started = time.perf_counter()
        if self.kind == "http":
            assert self._session is not None
            body = urllib.parse.urlencode({"payload": json.dumps(payload)})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                **sign(body),
            }
            async with self._session.post(
                f"{self.url}/slack/events", data=body, headers=headers
            ) as response:
                await response.read()
                return Ack(
                    response.status == 200,
                    time.perf_counter() - started,
                    response.status,
                )
        assert self.connection is not None
        ack = await send_envelope(self.connection, "interactive", payload)
        return Ack("envelope_id" in ack, time.perf_counter() - started, ack)


async def get(transport: Transport, path: str) -> tuple[int, str]:
    """
    GET a path of the bot's HTTP port: (status, body).
    """
    assert transport._session is not None
    async with transport._session.get(f"{transport.url}{path}") as response:
        return response.status, await response.text()


async def metric(transport: Transport, name: str) -> float:
    """
    The value of one unlabelled metric on the bot's /metrics page (0 when absent).
    """
    _, text = await get(transport, "/metrics")
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _listening_port(out: io.StringIO, task: asyncio.Task[None]) -> int:
    """
    The port ``smtpbot run --http`` says it listens on.
    """
    for _ in range(300):
        found = re.search(r"listening on http://[\d.]+:(\d+)", out.getvalue())
        if found:
            return int(found.group(1))
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the bot did not start: {out.getvalue()!r}")


@contextlib.asynccontextmanager
async def running(
    kind: str, fake: FakeSlack, redis_url: str, prefix: str, **env: str
) -> AsyncIterator[Transport]:
    """
    ``smtpbot run --http`` (front and an in-process worker) or ``smtpbot run`` in
    Socket Mode, on the fake Web API and Redis, until the block ends.
    """
    stop = asyncio.Event()
    out = io.StringIO()
    async with contextlib.AsyncExitStack() as stack:
        if kind == "socket":
            endpoint = await stack.enter_async_context(socket_endpoint())
            fake.socket_url = endpoint.url
            # Socket Mode needs no signing secret; with --port it still serves /metrics.
            env = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": "", **env}
        settings = make_settings(fake, redis_url, prefix, **env)
        task = asyncio.create_task(
            serve_bot(
                settings,
                http=kind == "http",
                host="127.0.0.1",
                port=None if kind == "http" else 0,
                stop=stop,
                out=out,
            )
        )
        transport = Transport(kind, fake, settings)
        try:
            port = await _listening_port(out, task)
            transport.url = f"http://127.0.0.1:{port}"
            transport._session = await stack.enter_async_context(
                aiohttp.ClientSession()
            )
            if kind == "socket":
                transport.connection = await endpoint.accept()
            yield transport
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
            await delete_prefix(redis_url, prefix)
