"""
``smtpbot console``: the conversation engine in a terminal.

Paste an error (several lines; finish with an empty line), read the answer, accept the
STARTTLS check, say whether it helped, ask for a human. Works the same when stdin is a
pipe, so it can be scripted. Uses Redis when REDIS_URL is set, else an embedded store.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from typing import Final, TextIO

from bot.config import Settings, load_settings
from bot.conversation.checks import parse_target
from bot.conversation.engine import Engine, Incoming
from bot.conversation.replies import Reply, ReplyKind, render_probe_text, render_text
from bot.errors import ConfigError, InputError
from bot.state import ThreadKey

PROMPT: Final = "paste> "
MORE: Final = "...... "
HELP: Final = """Paste an error message (several lines are fine), then an empty line.
Commands: human (or escalate) asks for a human, new starts a new conversation,
help shows this, quit (or Ctrl-D) leaves."""
USER: Final = "console"


class Console:
    """
    One terminal session: reads pastes and commands, prints answers.
    """

    def __init__(self, engine: Engine, *, stdin: TextIO, stdout: TextIO) -> None:
        self.engine = engine
        self.stdin = stdin
        self.stdout = stdout
        self.key = self._new_key()
        self._turn = 0

    @staticmethod
    def _new_key() -> ThreadKey:
        return ThreadKey("console", "local", f"{time.time():.6f}")

    def say(self, text: str = "") -> None:
        """
        Print and flush (a pipe would otherwise hold the prompt back).
        """
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def _readline(self, prompt: str) -> str | None:
        """
        One line without its newline, or None at end of input.
        """
        self.stdout.write(prompt)
        self.stdout.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        if not line:
            return None
        return line.rstrip("\r\n")

    async def _paste(self) -> str | None:
        """
        A paste: lines up to an empty line (or end of input); None at end of input.
        """
        first = await self._readline(PROMPT)
        if first is None:
            return None
        lines = [first]
        if first.strip().lower() in {
            "quit",
            "exit",
            "help",
            "?",
            "human",
            "escalate",
            "new",
        }:
            return first.strip().lower()
        while lines[-1].strip():
            line = await self._readline(MORE)
            if line is None:
                break
            lines.append(line)
        return "\n".join(lines).strip()

    async def _ask(self, question: str) -> str:
        """
        A one-line answer, lower-cased ("" at end of input).
        """
        return ((await self._readline(question)) or "").strip().lower()

    async def run(self) -> int:
        """
        The read-answer loop; returns the exit code.
        """
        self.say(HELP)
        while True:
            text = await self._paste()
            if text is None or text in {"quit", "exit"}:
                self.say("Bye.")
                return 0
            if text in {"help", "?"}:
                self.say(HELP)
            elif text in {"human", "escalate"}:
                request = await self.engine.ask_human(self.key, USER)
                self.say(
                    f"You asked for a human. {request.message}"
                    if request.first
                    else request.message
                )
            elif text == "new":
                self.key = self._new_key()
                self.say("Started a new conversation.")
            elif text:
                await self._answer(text)

    async def _answer(self, text: str) -> None:
        """
        Answer one paste, then offer the probe and ask for feedback.
        """
        self._turn += 1
        reply = await self.engine.handle_message(
            Incoming(self.key, USER, text, str(self._turn))
        )
        if reply is None:
            conversation = await self.engine.load(self.key)
            if conversation.escalated:
                self.say(
                    "(A human has been asked; I'm staying quiet. "
                    "Type 'new' to start over.)"
                )
            elif conversation.offers:
                self.say(
                    "Nothing new in that for me; see my answer above. "
                    "Type 'human' for a "
                    "person, or 'new' to start over."
                )
            else:
                self.say(
                    "I don't recognise a mail error in that. "
                    "Paste the exact error text, "
                    "or type 'human'."
                )
            return
        self.say()
        self.say(render_text(reply))
        self.say()
        if reply.kind == ReplyKind.CHOICES:
            reply = await self._choose(reply) or reply
        if reply.server and await self._ask(
            f"Run the STARTTLS check on {reply.server}? [y/N] "
        ) in {"y", "yes"}:
            await self._probe(reply.server)
        if reply.kind == ReplyKind.ANSWER:
            answer = await self._ask("Did this help? [y/n] ")
            if answer in {"y", "yes", "n", "no"}:
                self.say(
                    await self.engine.feedback(
                        self.key,
                        USER,
                        helpful=answer[0] == "y",
                        entry_id=reply.entry_id,
                    )
                )

    async def _choose(self, reply: Reply) -> Reply | None:
        """
        Let the user pick one of the alternatives by number.
        """
        picked = await self._ask(f"Which one? [1-{len(reply.choices)}, Enter to skip] ")
        if not picked.isdigit() or not 1 <= int(picked) <= len(reply.choices):
            return None
        chosen = await self.engine.choose(
            self.key, USER, reply.choices[int(picked) - 1].entry_id
        )
        if chosen is not None:
            self.say()
            self.say(render_text(chosen))
            self.say()
        return chosen

    async def _probe(self, server: str) -> None:
        """
        Run the check with progress lines.
        """
        try:
            target = parse_target(server)
        except InputError as exc:
            self.say(f"Cannot check {server}: {exc}")
            return
        self.say(f"Checking {target}…")

        async def progress(phase: str) -> None:
            self.say(f"  {phase}")

        outcome = await self.engine.probe(
            target, user_id=USER, progress=progress, key=self.key
        )
        self.say(render_probe_text(outcome))
        self.say()


async def run_console(settings: Settings, *, stdin: TextIO, stdout: TextIO) -> int:
    """
    Build the engine (Redis when REDIS_URL is set, else embedded) and run the console.
    """
    from bot.commands import default_matcher
    from bot.metrics import Metrics
    from bot.slack.probing import make_prober
    from bot.state.redis_store import RedisStore, embedded_store

    if settings.redis_url:
        store = RedisStore.from_url(
            settings.redis_url,
            prefix=settings.redis_prefix,
            conversation_ttl=settings.conversation_ttl_seconds,
            dedupe_ttl=settings.dedupe_ttl_seconds,
            timeout=settings.redis_timeout,
        )
        note = f"State: Redis at {store.description}."
    else:
        store = embedded_store(prefix=settings.redis_prefix)
        note = (
            "State: embedded in-process store "
            "(no REDIS_URL set; conversations end with "
            "this session)."
        )
    engine = Engine(
        settings=settings,
        matcher=default_matcher(),
        store=store,
        prober=make_prober(settings),
        metrics=Metrics(),
    )
    console = Console(engine, stdin=stdin, stdout=stdout)
    console.say(f"smtpbot console. {note}")
    try:
        return await console.run()
    finally:
        await store.close()


def console_command(
    environ: Mapping[str, str], *, stdin: TextIO, stdout: TextIO
) -> int:
    """
    ``smtpbot console``: settings from the environment and .env, then the session.
    """
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(
        level=logging.ERROR, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        return asyncio.run(run_console(settings, stdin=stdin, stdout=stdout))
    except KeyboardInterrupt:
        stdout.write("\nBye.\n")
        return 130
