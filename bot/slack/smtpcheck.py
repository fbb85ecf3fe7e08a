"""
Running a STARTTLS check from Slack: the "Run STARTTLS check" button in a thread
(progress updated per phase, then the report in place) and the admins' ``/smtpcheck``
command (usage, refusal, then the report through response_url).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.checks import ProbeTarget, parse_target
from bot.conversation.engine import Engine
from bot.errors import InputError
from bot.slack import blocks
from bot.state import ThreadKey

USAGE: Final = (
    "Usage: `/smtpcheck host[:port] [--mx]`\n"
    "Checks that a mail server offers STARTTLS with a valid certificate. Without a "
    "port it tries 587, 25 and 465. `--mx` checks a mail domain as senders see it: "
    "its MX hosts on port 25, MTA-STS, DANE and TLS-RPT.\n"
    "Example: `/smtpcheck smtp.example.com:587`"
)

# A Web API call that logs and counts its failures and gives None (``WebCalls``).
Call = Callable[..., Awaitable[Any]]
Respond = Callable[..., Awaitable[Any]]


async def probe_in_thread(
    engine: Engine,
    call: Call,
    client: AsyncWebClient,
    key: ThreadKey,
    user: str,
    target: ProbeTarget,
) -> None:
    """
    Post "checking…" in the thread, update it per phase, then replace it by the report.
    """
    posted = await call(
        client,
        "chat.postMessage",
        channel=key.channel_id,
        thread_ts=key.thread_ts,
        text=f"Checking {target}…",
        blocks=blocks.to_dicts(blocks.progress_blocks(str(target), [])),
    )
    ts = posted.get("ts") if posted is not None else None
    phases: list[str] = []

    async def progress(phase: str) -> None:
        # A "port 587: ..." line replaces that port's previous one: a line per port.
        head = phase.split(":", 1)[0] + ":" if phase.startswith("port ") else None
        same = [i for i, p in enumerate(phases) if head and p.startswith(head)]
        if same:
            phases[same[0]] = phase
        else:
            phases.append(phase)
        if ts is not None:
            await call(
                client,
                "chat.update",
                channel=key.channel_id,
                ts=ts,
                text=f"Checking {target}…",
                blocks=blocks.to_dicts(blocks.progress_blocks(str(target), phases)),
            )

    outcome = await engine.probe(target, user_id=user, progress=progress, key=key)
    report = {
        "text": blocks.probe_text(outcome),
        "blocks": blocks.to_dicts(
            blocks.probe_blocks(outcome, thread_ts=key.thread_ts)
        ),
    }
    if ts is not None:
        await call(client, "chat.update", channel=key.channel_id, ts=ts, **report)
    else:
        await call(
            client,
            "chat.postMessage",
            channel=key.channel_id,
            thread_ts=key.thread_ts,
            **report,
        )


def smtpcheck_refusal(
    admins: frozenset[str], command: Mapping[str, Any], *, in_app_home: bool = False
) -> str | None:
    """
    Why this user may not run /smtpcheck, or None when allowed; ``in_app_home`` when
    each workspace's admins are chosen in the App Home rather than ADMIN_USERS.
    """
    if command.get("user_id") in admins:
        return None
    if not admins:
        where = (
            "the installer can add some in my App Home"
            if in_app_home
            else "ADMIN_USERS is empty"
        )
        return f"/smtpcheck is for admins, and none are configured ({where})."
    names = ", ".join(f"<@{a}>" for a in sorted(admins))
    return (
        f"Sorry, only admins may run /smtpcheck: {names}. "
        "Ask one of them, or paste "
        "your error in a support channel and use the check button there."
    )


async def run_smtpcheck(
    engine: Engine,
    command: Mapping[str, Any],
    ack: Respond,
    respond: Respond,
    *,
    refusal: str | None,
) -> None:
    """
    /smtpcheck: refuse (``refusal``: why this user may not, from
    ``smtpcheck_refusal``), explain usage, or ack with "checking…" and report later.
    """
    words = str(command.get("text") or "").split()
    if refusal is not None:
        await ack(text=refusal)
        return
    mx = "--mx" in words
    args = [w for w in words if w != "--mx"]
    if len(args) != 1 or args[0] in {"help", "-h", "--help"} or args[0].startswith("-"):
        problem = (
            ""
            if not args or args[0] in {"help", "-h", "--help"}
            else (f"I could not read `{' '.join(words)}`.\n")
        )
        await ack(text=problem + USAGE)
        return
    try:
        target = parse_target(args[0], mx=mx)
    except InputError as exc:
        await ack(text=f"{exc}\n{USAGE}")
        return
    await ack(text=f":hourglass_flowing_sand: Checking {target}…")

    async def quiet(phase: str) -> None:
        """
        Slash command reports come once, through response_url.
        """

    outcome = await engine.probe(
        target, user_id=str(command.get("user_id")), progress=quiet
    )
    await respond(
        text=blocks.probe_text(outcome),
        response_type="ephemeral",
        replace_original=False,
        blocks=blocks.to_dicts(blocks.probe_blocks(outcome, thread_ts=None)),
    )
