"""
A recording fake of Slack's Web API (and response_url endpoint) on 127.0.0.1, and
helpers
that build and sign the three kinds of request Slack sends.

For "Add to Slack" it also plays Slack's OAuth side: ``grant`` stands for an installer
approving the app (a one-time code, as Slack's consent page hands back), and
``oauth.v2.access`` exchanges it, with the app's client credentials, for a bot token
in the documented response shapes (api.slack.com/methods/oauth.v2.access; org-wide
installs: api.slack.com/enterprise/apps/reference). Every call records the token it
carried; ``auth.test`` answers per token, and a revoked token gets ``token_revoked``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.slack.inbound import Inbound, parse

SECRET = "test-signing-secret"
TEAM = "T0TEST"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
CHANNEL = "C0SUPPORT"
OTHER_CHANNEL = "C0RANDOM"
ADMIN = "U0ADMIN"
USER = "U0ALICE"


@dataclass
class Hold:
    """
    A Web API call held open by the fake (see ``FakeSlack.hold``): ``arrived`` is set
    when the call comes in; ``release()`` lets the fake answer it.
    """

    method: str
    channel: str | None
    commit: bool
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    call: Call | None = None

    def release(self) -> None:
        """
        Let the held call finish (a held call that was not committed fails).
        """
        self.released.set()


@dataclass
class Call:
    """
    One request the fake received.
    """

    method: str
    args: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    refused: bool = False

    @property
    def token(self) -> str | None:
        """
        The token the call carried (Bearer header, or a ``token`` argument).
        """
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        token = self.args.get("token")
        return str(token) if token else None


@dataclass(frozen=True)
class Install:
    """
    What one approved installation gave: its code, bot token and ids.
    """

    code: str
    token: str
    team_id: str | None
    enterprise_id: str | None
    bot_user_id: str
    bot_id: str
    installer: str
    is_enterprise_install: bool = False
    # With Slack's token rotation on: the refresh token, and the first token's life.
    refresh_token: str | None = None
    expires_in: int | None = None

    @property
    def workspace(self) -> str:
        """
        The key the bot stores it under (the org for an org-wide install).
        """
        key = self.enterprise_id if self.is_enterprise_install else self.team_id
        assert key is not None
        return key


class FakeSlack:
    """
    Slack's Web API on a local port: records calls, answers like Slack, injects
    failures.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.refusals: list[tuple[str, str | None, str]] = []
        # Messages chat.postMessage accepted (with their ts), for conversations.history.
        self.posted: list[dict[str, Any]] = []
        self.socket_url: str | None = None
        self.holds: list[Hold] = []
        # When (time.monotonic()) each posted message was accepted, by its ts.
        self.posted_at: dict[str, float] = {}
        # OAuth: the app's credentials, codes not yet exchanged, and each bot token's
        # identity (auth.test). With ``strict_tokens`` a token the fake did not issue
        # is refused (invalid_auth) instead of answering as the default test bot.
        self.client_id = "1111111111.2222222222"
        self.client_secret = "fake-client-secret-0123456789abcdef"
        self.codes: dict[str, Install] = {}
        self.identities: dict[str, dict[str, Any]] = {}
        self.revoked: set[str] = set()
        self.strict_tokens = False
        # Rotating installs by refresh token, and the tokens refreshes handed out.
        self.refreshable: dict[str, Install] = {}
        self.refreshed: list[str] = []
        # Uploads served under /files/: id -> (file object, content).
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/files/{file_id}/{mode}/{name}", self._file)
        app.router.add_post("/response/{token}", self._response)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """
        The SLACK_API_URL to configure.
        """
        return f"{self.url}/api/"

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int = 1
    ) -> None:
        """
        Make the next call of ``method`` fail (429 carries Retry-After).
        """
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.failures.setdefault(method, []).append((status, headers))

    def refuse_next(
        self, method: str, *, channel: str | None = None, error: str = "fatal_error"
    ) -> None:
        """
        Answer the next call of ``method`` (to ``channel``, if given) with ok=false:
        an error slack_sdk does not retry.
        """
        self.refusals.append((method, channel, error))

    def hold(
        self, method: str, *, channel: str | None = None, commit: bool = False
    ) -> Hold:
        """
        Hold the next call of ``method`` (to ``channel``, if given) open until the
        test releases it, so a test can kill the caller mid-call. With ``commit`` the
        call takes effect first (a post is in the channel; only the answer is held):
        the caller dies after Slack did the work. Without it the call never takes
        effect and fails once released.
        """
        held = Hold(method, channel, commit)
        self.holds.append(held)
        return held

    def _held(self, method: str, args: dict[str, Any]) -> Hold | None:
        for n, held in enumerate(self.holds):
            if held.method == method and held.channel in (None, args.get("channel")):
                del self.holds[n]
                return held
        return None

    def _refusal(self, method: str, args: dict[str, Any]) -> str | None:
        for n, (name, channel, error) in enumerate(self.refusals):
            if name == method and channel in (None, args.get("channel")):
                del self.refusals[n]
                return error
        return None

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        if request.method == "GET":
            args: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            args = json.loads(raw or b"{}")
        else:
            args = dict(urllib.parse.parse_qsl(raw.decode()))
        call = Call(method, args, dict(request.headers))
        refusal = self._refusal(method, args) or self._token_problem(call)
        call.refused = refusal is not None
        held = self._held(method, args)
        if held is not None and refusal is None:
            held.call = call
            answer = self._respond(call) if held.commit else None
            if answer is not None:
                await self._record(call)
            held.arrived.set()
            await held.released.wait()
            if answer is None:
                call.refused = True
                await self._record(call)
                return web.json_response({"ok": False, "error": "fatal_error"})
            return web.json_response(answer)
        await self._record(call)
        if refusal is not None:
            return web.json_response({"ok": False, "error": refusal})
        pending = self.failures.get(method)
        if pending:
            status, headers = pending.pop(0)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=status, headers=headers
            )
        return web.json_response(self._respond(call))

    def _respond(self, call: Call) -> dict[str, Any]:
        """
        The answer to an accepted call: an OAuth exchange or refresh, or a Web API
        method's.
        """
        if call.method == "oauth.v2.access":
            return self._exchange(call)
        return self._answer(call.method, call.args, token=call.token)

    def add_file(
        self,
        name: str,
        content: bytes,
        *,
        mimetype: str = "text/plain",
        filetype: str = "text",
        mode: str = "snippet",
        user: str = USER,
    ) -> dict[str, Any]:
        """
        Host an upload and return its file object as Slack's events carry it
        (api.slack.com/types/file), its URLs pointing here.
        """
        file_id = f"F{len(self.files) + 1:08d}"
        base = f"{self.url}/files/{file_id}"
        now = int(time.time())
        file = {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": "Plain Text" if filetype == "text" else filetype.upper(),
            "user": user,
            "user_team": TEAM,
            "editable": mode == "snippet",
            "size": len(content),
            "mode": mode,
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/view/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://test.slack.com/files/{user}/{file_id}/{name}",
            "has_rich_preview": False,
        }
        self.files[file_id] = (file, content)
        return file

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        await self._record(
            Call(
                f"file:{request.match_info['mode']}",
                {"id": file_id},
                dict(request.headers),
            )
        )
        known = self.files.get(file_id)
        if known is None:
            return web.Response(status=404, text="file_not_found")
        if not request.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            # Slack answers a request it cannot authorise with its sign-in page.
            return web.Response(text="<html>Sign in</html>", content_type="text/html")
        file, content = known
        return web.Response(body=content, content_type=file["mimetype"])

    async def _response(self, request: web.Request) -> web.Response:
        args = json.loads(await request.read() or b"{}")
        await self._record(Call("response_url", args, dict(request.headers)))
        return web.Response(text="ok")

    def _token_problem(self, call: Call) -> str | None:
        """
        Slack's error for a call whose token is revoked or unknown, else None.
        """
        if call.method == "oauth.v2.access":
            return None
        token = call.token
        if token in self.revoked:
            return "token_revoked"
        if self.strict_tokens and token not in self.identities:
            return "not_authed" if token is None else "invalid_auth"
        return None

    def grant(
        self,
        *,
        team_id: str | None = None,
        enterprise_id: str | None = None,
        org_wide: bool = False,
        installer: str = "U0INSTALLER",
        bot_user_id: str | None = None,
        expires_in: int | None = None,
    ) -> Install:
        """
        An installer approves the app on Slack's consent page: a one-time code for
        ``oauth.v2.access``, and the bot token it will give.
        """
        owner = enterprise_id if org_wide else team_id
        assert owner is not None, "a team install names a team, an org-wide one an org"
        install = Install(
            code=f"{secrets.token_hex(8)}.{secrets.token_hex(12)}",
            token=f"xoxb-{owner}-{secrets.token_hex(12)}",
            team_id=None if org_wide else team_id,
            enterprise_id=enterprise_id,
            bot_user_id=bot_user_id or f"U0BOT{owner}",
            bot_id=f"B0{owner}",
            installer=installer,
            is_enterprise_install=org_wide,
            refresh_token=f"xoxe-1-{secrets.token_hex(16)}" if expires_in else None,
            expires_in=expires_in,
        )
        self.codes[install.code] = install
        return install

    def _exchange(self, call: Call) -> dict[str, Any]:
        """
        oauth.v2.access: the client credentials (HTTP Basic or form fields) and a
        code not used before; the installation's documented response.
        """
        client_id, secret = call.args.get("client_id"), call.args.get("client_secret")
        auth = call.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = (
                base64.b64decode(auth[len("Basic ") :]).decode().partition(":")
            )
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if call.args.get("grant_type") == "refresh_token":
            return self._refresh(str(call.args.get("refresh_token")))
        install = self.codes.pop(str(call.args.get("code")), None)
        if install is None:
            return {"ok": False, "error": "invalid_code"}
        enterprise = (
            {"id": install.enterprise_id, "name": f"Org {install.enterprise_id}"}
            if install.enterprise_id
            else None
        )
        team = (
            {"id": install.team_id, "name": f"Team {install.team_id}"}
            if install.team_id
            else None
        )
        self.identities[install.token] = {
            "url": f"https://{(install.workspace).lower()}.slack.com/",
            "team": (team or enterprise or {}).get("name"),
            "user": "smtpbot",
            "team_id": install.team_id or install.enterprise_id,
            "user_id": install.bot_user_id,
            "bot_id": install.bot_id,
            "enterprise_id": install.enterprise_id,
            "is_enterprise_install": install.is_enterprise_install,
        }
        if install.refresh_token:
            self.refreshable[install.refresh_token] = install
        rotating = (
            {"refresh_token": install.refresh_token, "expires_in": install.expires_in}
            if install.refresh_token
            else {}
        )
        return {
            "ok": True,
            "access_token": install.token,
            "token_type": "bot",
            "scope": ",".join(self.scopes),
            "bot_user_id": install.bot_user_id,
            "app_id": "A0APP",
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": install.is_enterprise_install,
            "authed_user": {"id": install.installer},
            **rotating,
        }

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        """
        oauth.v2.access with grant_type=refresh_token: a new 12-hour bot token and a
        new refresh token; the refresh token used is revoked, so it works once
        (docs.slack.dev/authentication/using-token-rotation).
        """
        install = self.refreshable.pop(refresh_token, None)
        if install is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        token = f"xoxb-{install.workspace}-{secrets.token_hex(12)}"
        self.identities[token] = dict(self.identities.get(install.token, {}))
        self.refreshed.append(token)
        refresh_token = f"xoxe-1-{secrets.token_hex(16)}"
        self.refreshable[refresh_token] = install
        return {
            "ok": True,
            "app_id": "A0APP",
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(self.scopes),
            "bot_user_id": install.bot_user_id,
            "refresh_token": refresh_token,
            "expires_in": 43_200,
            "team": {"id": install.team_id} if install.team_id else None,
            "enterprise": {"id": install.enterprise_id}
            if install.enterprise_id
            else None,
            "is_enterprise_install": install.is_enterprise_install,
        }

    # The scopes an exchange reports as granted.
    scopes: tuple[str, ...] = ("chat:write", "commands")

    def _answer(
        self, method: str, args: dict[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        if method == "chat.postMessage":
            self.posted.append({**args, "ts": ts})
            self.posted_at[ts] = time.monotonic()
        answers: dict[str, dict[str, Any]] = {
            "auth.test": self.identities.get(token or "")
            or {
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "team_id": TEAM,
                "user": "smtpbot",
                "team": "Test",
                "url": "https://test.slack.com/",
            },
            "chat.postMessage": {
                "channel": args.get("channel"),
                "ts": ts,
                "message": {"text": args.get("text"), "ts": ts},
            },
            "chat.update": {"channel": args.get("channel"), "ts": args.get("ts")},
            "chat.postEphemeral": {"message_ts": ts},
            "chat.getPermalink": {
                "permalink": f"https://test.slack.com/archives/"
                f"{args.get('channel')}/p{ts}"
            },
            "views.publish": {"view": {"id": "V1"}},
            "files.info": (
                {"file": self.files[str(args.get("file"))][0]}
                if str(args.get("file")) in self.files
                else {"ok": False, "error": "file_not_found"}
            ),
            "conversations.replies": {
                "messages": self._thread(args),
                "has_more": False,
            },
            "conversations.history": {
                "messages": [
                    {
                        "ts": m["ts"],
                        "text": m.get("text"),
                        "metadata": m.get("metadata"),
                    }
                    for m in reversed(self.posted)
                    if m.get("channel") == args.get("channel")
                    and float(m["ts"]) >= float(args.get("oldest") or 0)
                ],
                "has_more": False,
            },
            "apps.connections.open": {"url": self.socket_url or ""},
        }
        return {"ok": True, **answers.get(method, {})}

    def _thread(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """
        The bot's posts in a thread (conversations.replies), oldest first, from
        ``oldest`` on; metadata only with include_all_metadata, as Slack does.
        """
        oldest = float(args.get("oldest") or 0)
        inclusive = str(args.get("inclusive")).lower() in {"true", "1"}
        metadata = str(args.get("include_all_metadata")).lower() in {"true", "1"}
        return [
            {
                "ts": m["ts"],
                "thread_ts": m.get("thread_ts") or m["ts"],
                "text": m.get("text"),
                "bot_id": BOT_ID,
                **({"metadata": m.get("metadata")} if metadata else {}),
            }
            for m in self.posted
            if m.get("channel") == args.get("channel")
            and args.get("ts") in (m.get("thread_ts"), m["ts"])
            and (float(m["ts"]) > oldest or (inclusive and float(m["ts"]) == oldest))
        ]

    def in_thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """
        Everything posted in a thread (not refused), oldest first.
        """
        return [
            m
            for m in self.posted
            if m.get("channel") == channel and m.get("thread_ts") == thread_ts
        ]

    def answered_at(self, channel: str, message_ts: str) -> float | None:
        """
        When the bot's first answer to the message ``message_ts`` was posted (by the
        answer metadata), or None.
        """
        for m in self.posted:
            metadata = m.get("metadata") or {}
            if (
                m.get("channel") == channel
                and metadata.get("event_type") == "smtpbot_reply"
                and metadata.get("event_payload", {}).get("message_ts") == message_ts
            ):
                return self.posted_at.get(m["ts"])
        return None

    def of(self, method: str) -> list[Call]:
        """
        The calls of one method, in order.
        """
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, *, timeout: float = 10.0
    ) -> list[Call]:
        """
        Wait until ``method`` was called ``count`` times; returns those calls.
        """

        async def enough() -> list[Call]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(method)) >= count)
            return self.of(method)

        return await asyncio.wait_for(enough(), timeout)

    async def wait_for_post(
        self, *, channel: str, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        """
        Wait until ``count`` messages were posted to ``channel``; returns them.
        """

        def posts() -> list[Call]:
            return [
                c
                for c in self.of("chat.postMessage")
                if c.args.get("channel") == channel
            ]

        async def enough() -> list[Call]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(posts()) >= count)
            return posts()

        return await asyncio.wait_for(enough(), timeout)

    async def settle(self, seconds: float = 0.3) -> None:
        """
        Give background listeners time to (not) make further calls.
        """
        await asyncio.sleep(seconds)


def sign(
    body: str, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """
    Slack's signature headers for ``body``.
    """
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


_event_ids = itertools.count(1)


def message_event(
    text: str,
    *,
    channel: str = CHANNEL,
    user: str | None = USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    event_type: str = "message",
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """
    An Events API ``event_callback`` envelope for a message (or app_mention).
    """
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": event_type,
        "text": text,
        "channel": channel,
        "ts": ts,
        "channel_type": "channel",
        **extra,
    }
    if user is not None:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}{int(time.time() * 1000)}",
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def event_request(payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """
    A JSON Events API body with its headers.
    """
    body = json.dumps(payload)
    return body, {"Content-Type": "application/json", **sign(body)}


def command_request(
    text: str, *, user: str = ADMIN, response_url: str, command: str = "/smtpcheck"
) -> tuple[str, dict[str, str]]:
    """
    A form-encoded slash command body with its headers.
    """
    body = urllib.parse.urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "test",
            "channel_id": CHANNEL,
            "channel_name": "support",
            "user_id": user,
            "user_name": "someone",
            "command": command,
            "text": text,
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}


def action_request(
    action_id: str,
    value: str,
    *,
    user: str = USER,
    channel: str = CHANNEL,
    message_ts: str = "1700000000.000200",
    response_url: str = "",
) -> tuple[str, dict[str, str]]:
    """
    A form-encoded ``payload=`` block_actions body with its headers.
    """
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": "someone", "team_id": TEAM},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "channel": {"id": channel, "name": "support"},
        "message": {"type": "message", "ts": message_ts, "text": "answer"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}


def verified(body: str, headers: dict[str, str]) -> Inbound:
    """
    A signed request as the HTTP front hands it on once verified and parsed.
    """
    parsed, form = parse(body.encode(), headers.get("Content-Type", ""))
    return Inbound(parsed, headers["X-Slack-Signature"], form)


def answer_counts(fake: FakeSlack) -> dict[str, int]:
    """
    How many answers each message got in the support channel (by the message ts
    their metadata names).
    """
    from bot.slack import blocks

    counts: dict[str, int] = {}
    for message in fake.posted:
        metadata = message.get("metadata") or {}
        if message.get("channel") == CHANNEL and (
            metadata.get("event_type") == blocks.REPLY_EVENT
        ):
            ts = metadata["event_payload"]["message_ts"]
            counts[ts] = counts.get(ts, 0) + 1
    return counts
