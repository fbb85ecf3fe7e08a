"""
Black-box: several bot processes on one Redis serving installed workspaces. Two
fronts (`run --http --workers 1`, whose worker is a child process, and `run --http`
answering in process) and a standalone `work` process, all logging at DEBUG, on the
fake of Slack's Web API and OAuth endpoint. Two teams and an Enterprise Grid org are
installed through the flow across the fronts and answered with their own tokens; bad
states are refused with nothing stored; revocation and uninstall silence their
workspace; and no token or secret appears in any process's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.slack.oauth.cipher import new_key
from tests.support.bot import delete_prefix
from tests.support.installs import (
    begin,
    event_for,
    finish,
    install,
    lifecycle_for,
    oauth_env,
    post_event,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.process import server_process, wait_healthy
from tests.support.redis import free_port
from tests.support.slack import SECRET, FakeSlack, Install, message_event

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
# Variables of the developer's shell that would leak into the processes under test.
FOREIGN = ("SLACK_", "REDIS_", "PROBE_", "SUPPORT_", "ADMIN_", "ESCALATION_", "LOG_")
# How long a state lives in these processes (the expired-state case waits it out).
STATE_SECONDS = 4
# "Within a couple of seconds" no Redis record holds a revoked token (the bound
# leaves room for a busy shared machine; it takes milliseconds).
REVOKED_WITHIN = 3.0


@contextlib.contextmanager
def bot_process(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """
    `python -m bot ARGS` with its stderr in ``log``; yields its base URL (for a
    front) and the process.
    """
    port = free_port()
    if args[0] == "run":
        args = [*args, "--host", "127.0.0.1", "--port", str(port)]
    with (
        log.open("wb") as stderr,
        server_process(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=log.parent,
            stderr=stderr,
            stop_timeout=20,
        ) as process,
    ):
        yield f"http://127.0.0.1:{port}", process


async def bot_keys(redis_url: str, pattern: str) -> list[str]:
    """
    The keys matching a pattern.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sorted([k async for k in client.scan_iter(match=pattern)])
    finally:
        await client.aclose()


async def answered(fake: FakeSlack, before: int, count: int) -> dict[str, str | None]:
    """
    Thread ts -> token of the replies posted since call ``before`` (waits for count).
    """
    deadline = time.monotonic() + 30
    while True:
        posts = [c for c in fake.calls[before:] if c.method == "chat.postMessage"]
        if len(posts) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    await fake.settle(0.5)
    return {
        str(c.args.get("thread_ts")): c.token
        for c in fake.calls[before:]
        if c.method == "chat.postMessage"
    }


async def test_processes_serve_installed_workspaces_and_keep_secrets(
    fake_slack: FakeSlack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """
    Installs across two fronts, answers with each workspace's token from any
    process, refused states storing nothing, revocation and uninstall taking effect,
    and no secret in any log.
    """
    fake_slack.strict_tokens = True
    key = new_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        oauth_env(
            fake_slack,
            redis_url,
            prefix,
            PYTHONPATH=str(ROOT),
            LOG_LEVEL="DEBUG",
            SLACK_TOKEN_ENCRYPTION_KEYS=key,
            SLACK_STATE_EXPIRATION_SECONDS=str(STATE_SECONDS),
        )
    )
    logs = [tmp_path / n for n in ("front-a.log", "front-b.log", "worker.log")]
    try:
        with (
            bot_process(
                ["run", "--http", "--workers", "1"],
                {**env, "LOG_FORMAT": "json"},
                logs[0],
            ) as (a, proc_a),
            bot_process(["run", "--http"], env, logs[1]) as (b, proc_b),
            bot_process(["work"], env, logs[2]) as (_, proc_w),
        ):
            at_a = aiohttp.ClientSession(base_url=a)
            at_b = aiohttp.ClientSession(base_url=b)
            seen = Seen()
            try:
                await wait_healthy(a, proc_a)
                await wait_healthy(b, proc_b)
                await serve_and_check(at_a, at_b, fake_slack, redis_url, prefix, seen)
            finally:
                await at_a.close()
                await at_b.close()
            assert proc_w.poll() is None
        text = "\n".join(log.read_text(errors="replace") for log in logs)
        for event in (
            "app_installed",
            "bot_token_revoked",
            "oauth_refused reason=invalid_code",
            "oauth_refused reason=access_denied",
            "token_refreshed",
            "token_refresh_failed workspace=T0DELTA error=invalid_refresh_token",
        ):
            assert event in text, event
        secrets_ = seen.secrets(fake_slack) + [fake_slack.client_secret, SECRET, key]
        leaks = [line for line in text.splitlines() if any(s in line for s in secrets_)]
        assert leaks == [], "log lines carry a token, code or state:\n" + "\n".join(
            line[:160] for line in leaks
        )
    finally:
        await delete_prefix(redis_url, prefix)


@dataclass
class Seen:
    """
    The installs made and the OAuth codes and states used: none may be in a log.
    """

    installs: list[Install] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def add(self, *installs: Install) -> None:
        """
        Remember installs (their tokens, refresh tokens and codes).
        """
        self.installs += installs
        self.codes += [i.code for i in installs]

    def secrets(self, fake: FakeSlack) -> list[str]:
        """
        Every token, refresh token, code and state that went through the bots.
        """
        tokens = [i.token for i in self.installs] + list(fake.refreshed)
        refresh = [i.refresh_token for i in self.installs if i.refresh_token]
        return [*tokens, *refresh, *fake.refreshable, *self.codes, *self.states]


async def serve_and_check(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    redis_url: str,
    prefix: str,
    seen: Seen,
) -> None:
    """
    Install two teams and an org across the fronts, then run each check.
    """
    states = seen.states
    teams = {
        "alpha": await install(at_a, at_b, fake, states=states, team_id="T0ALPHA"),
        "beta": await install(at_b, at_a, fake, states=states, team_id="T0BETA"),
        "org": await install(
            at_a, at_b, fake, states=states, enterprise_id="E0ORG", org_wide=True
        ),
    }
    seen.add(*teams.values())
    await refused_states(at_a, at_b, fake, redis_url, prefix, seen)
    await failed_exchanges(at_a, at_b, fake, teams["alpha"], seen)
    await each_answered_with_its_token(at_a, at_b, fake, teams)
    await rotated(at_a, at_b, fake, seen)
    await revoked_and_uninstalled(at_a, at_b, fake, teams, redis_url, prefix)


async def refused_states(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    redis_url: str,
    prefix: str,
    seen: Seen,
) -> None:
    """
    Forged, replayed, expired and missing states: 4xx, no exchange, nothing stored.
    """
    stored = await bot_keys(redis_url, f"{prefix}install:*")
    exchanges = len(fake.of("oauth.v2.access"))
    forged = secrets.token_urlsafe(32)
    code = fake.grant(team_id="T0MALLORY").code
    seen.codes.append(code)
    seen.states.append(forged)
    cookie = f"slack-app-oauth-state={forged}"
    assert (await finish(at_a, code=code, state=forged, cookie=cookie)).status == 401
    assert (await finish(at_b, code=code, state=None, cookie=None)).status == 400
    started = await begin(at_a)
    seen.states.append(started.state)
    await asyncio.sleep(STATE_SECONDS + 0.5)
    late = await finish(at_b, code=code, state=started.state, cookie=started.cookie)
    assert late.status == 401
    assert len(fake.of("oauth.v2.access")) == exchanges
    started = await begin(at_b)
    seen.states.append(started.state)
    replayed = fake.grant(team_id="T0REPLAY")
    seen.add(replayed)
    first = await finish(
        at_a, code=replayed.code, state=started.state, cookie=started.cookie
    )
    assert first.status == 200
    again = await finish(
        at_b, code=replayed.code, state=started.state, cookie=started.cookie
    )
    assert again.status == 401
    assert len(fake.of("oauth.v2.access")) == exchanges + 1
    now = await bot_keys(redis_url, f"{prefix}install:*")
    assert [k for k in now if k not in stored and "T0REPLAY" not in k] == []


async def failed_exchanges(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    used: Install,
    seen: Seen,
) -> None:
    """
    A good state with a code Slack refuses (one already exchanged), and a consent
    the installer cancelled: 4xx, nothing stored, and neither the code nor the state
    logged.
    """
    started = await begin(at_b)
    seen.states.append(started.state)
    refused = await finish(
        at_a, code=used.code, state=started.state, cookie=started.cookie
    )
    assert refused.status == 401
    assert fake.of("oauth.v2.access")[-1].args.get("code") == used.code
    started = await begin(at_a)
    seen.states.append(started.state)
    cancelled = await finish(
        at_b,
        code=None,
        state=started.state,
        cookie=started.cookie,
        error="access_denied",
    )
    assert cancelled.status == 400


async def rotated(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    seen: Seen,
) -> None:
    """
    Two workspaces with rotating tokens a minute from expiry: one is refreshed and
    answered with the new token; Slack refuses the other's refresh, and it is answered
    with its token, which has not expired yet.
    """
    gamma = await install(
        at_a, at_b, fake, states=seen.states, team_id="T0GAMMA", expires_in=60
    )
    delta = await install(
        at_b, at_a, fake, states=seen.states, team_id="T0DELTA", expires_in=60
    )
    seen.add(gamma, delta)
    before = len(fake.calls)
    await post_event(at_a, event_for(gamma, STARTTLS_PASTE, ts="1700200000.000100"))
    (post,) = (await answered(fake, before, 1)).values()
    assert post == fake.refreshed[-1] != gamma.token
    before = len(fake.calls)
    fake.refuse_next("oauth.v2.access", error="invalid_refresh_token")
    await post_event(at_b, event_for(delta, STARTTLS_PASTE, ts="1700200001.000100"))
    assert await answered(fake, before, 1) == {"1700200001.000100": delta.token}


async def each_answered_with_its_token(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    teams: dict[str, Install],
) -> None:
    """
    Pastes from every installed workspace, to both fronts, answered with its own
    token; a stranger's paste gets no call at all.
    """
    before = len(fake.calls)
    sent: dict[str, str] = {}
    for n, team in enumerate(teams[name] for name in sorted(teams)):
        for m, session in enumerate((at_a, at_b)):
            ts = f"17000{n}{m}000.000100"
            extra = {"team": f"T0ORG{m}"} if team.is_enterprise_install else {}
            assert (
                await post_event(
                    session, event_for(team, STARTTLS_PASTE, ts=ts, **extra)
                )
                == 200
            )
            sent[ts] = team.token
    stranger = message_event(STARTTLS_PASTE, ts="1700099000.000100")
    stranger["team_id"] = "T0STRANGER"
    stranger["authorizations"] = [{"team_id": "T0STRANGER", "is_bot": True}]
    assert await post_event(at_a, stranger) == 200
    assert await answered(fake, before, len(sent)) == sent
    assert not [c for c in fake.calls[before:] if c.refused]


async def revoked_and_uninstalled(
    at_a: aiohttp.ClientSession,
    at_b: aiohttp.ClientSession,
    fake: FakeSlack,
    teams: dict[str, Install],
    redis_url: str,
    prefix: str,
) -> None:
    """
    tokens_revoked for alpha and app_uninstalled for the org: within a couple of seconds
    their bots are gone from Redis, their pastes get no call, beta still gets answers.
    """
    alpha, beta, org = teams["alpha"], teams["beta"], teams["org"]
    revoked = lifecycle_for(
        alpha, {"type": "tokens_revoked", "tokens": {"bot": [alpha.bot_user_id]}}
    )
    assert await post_event(at_b, revoked) == 200
    assert (
        await post_event(at_a, lifecycle_for(org, {"type": "app_uninstalled"})) == 200
    )
    fake.revoked |= {alpha.token, org.token}
    deadline = time.monotonic() + REVOKED_WITHIN
    while await bot_keys(redis_url, f"{prefix}install:T0ALPHA:bot") + await bot_keys(
        redis_url, f"{prefix}*E0ORG*"
    ):
        assert time.monotonic() < deadline, "a revoked token is still in Redis"
        await asyncio.sleep(0.05)
    before = len(fake.calls)
    for n, (team, session) in enumerate([(alpha, at_a), (org, at_b), (beta, at_a)]):
        await post_event(
            session, event_for(team, STARTTLS_PASTE, ts=f"17001{n}0000.000100")
        )
    assert await answered(fake, before, 1) == {"1700120000.000100": beta.token}
    assert [c.token for c in fake.calls[before:]] == [beta.token]
