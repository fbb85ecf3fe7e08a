"""
Errors the bot raises, each fit to show a user.

    BotError
    ├── ConfigError(BotError, ValueError)                names the variable at fault
    ├── KnowledgeError(BotError, ValueError)             carries path (and line)
    ├── InputError(BotError, ValueError)                 bad user text or arguments
    ├── ProbeRefusedError(BotError, PermissionError)     refused by the probe policy
    ├── StateUnavailableError(BotError, ConnectionError) Redis unreachable
    └── NotDoneError(BotError)                           queued work to try again
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose; ``str()`` is fit for users."""

    exit_code = 1


class ConfigError(BotError, ValueError):
    """A configuration variable is missing or invalid."""

    exit_code = 2

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class KnowledgeError(BotError, ValueError):
    """A knowledge-base file is invalid."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class InputError(BotError, ValueError):
    """Text or arguments from a user that cannot be processed."""

    exit_code = 2


class ProbeRefusedError(BotError, PermissionError):
    """A probe target is not allowed by the safety policy."""

    exit_code = 2


class StateUnavailableError(BotError, ConnectionError):
    """The state store (Redis) cannot be reached."""


class NotDoneError(BotError):
    """A queued message's work could not be finished now (Redis or Slack failed); its
    entry stays in the queue and is tried again."""
