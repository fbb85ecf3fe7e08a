"""
What the code expects, read from the code itself at test time: the environment
variables it reads, the Slack events, commands and actions it handles, the Web API
methods it calls, its HTTP routes and its metric names. The deploy tests compare
deploy/ and docs/ against these, so they stay right as handlers and settings are added.
"""

from __future__ import annotations

import ast
import inspect
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.metrics import Metrics
from bot.slack.app import build_app
from bot.slack.oauth import make_oauth
from bot.slack.probing import make_prober
from bot.slack.server import build_web_app
from bot.state.redis_store import embedded_store
from knowledge.matcher import Matcher
from tests.support.kb import write_kb

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SOURCES = (ROOT / "bot", ROOT / "knowledge")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# Names of the mapping that holds the environment, in our modules.
ENV_HOLDERS = frozenset({"env", "environ", "environment", "merged"})
# Web API families; "chat.postMessage" as a string, or client.chat_postMessage(...).
API_FAMILIES = (
    "admin|apps|auth|bookmarks|bots|calls|chat|conversations|dialog|dnd|emoji|files|"
    "pins|reactions|reminders|search|stars|team|usergroups|users|views|workflows"
)
API_STRING = re.compile(rf"^(?:{API_FAMILIES})\.[a-zA-Z]+(?:\.[a-zA-Z]+)?$")
API_ATTRIBUTE = re.compile(rf"^({API_FAMILIES})_([a-zA-Z]+)$")
# Bolt's listener decorators, by the kind of payload they take.
LISTENER_KINDS = {
    "event": "event",
    "message": "event",
    "command": "command",
    "action": "action",
    "block_action": "action",
    "view": "view",
    "view_submission": "view",
    "view_closed": "view",
    "shortcut": "shortcut",
    "global_shortcut": "shortcut",
    "message_shortcut": "shortcut",
    "options": "options",
    "block_suggestion": "options",
}


def python_files() -> Iterator[Path]:
    """
    Every module of the bot and the knowledge package.
    """
    for root in SOURCES:
        yield from sorted(root.rglob("*.py"))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


class RecordingEnv(dict[str, str]):
    """
    A mapping that remembers every key looked up.
    """

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def settings_variables() -> set[str]:
    """
    The variables ``Settings.from_env`` reads (observed, not parsed).
    """
    env = RecordingEnv()
    Settings.from_env(env)
    return env.read


def _constants(tree: ast.Module) -> dict[str, str]:
    """
    Module-level ``NAME = "string"`` assignments.
    """
    found: dict[str, str] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        value = getattr(node, "value", None)
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            found[target.id] = value.value
    return found


def _holds_env(node: ast.expr) -> bool:
    """
    ``env``, ``environ``, ``os.environ`` and the like.
    """
    if isinstance(node, ast.Name):
        return node.id in ENV_HOLDERS
    return isinstance(node, ast.Attribute) and node.attr in ENV_HOLDERS


def source_variables() -> set[str]:
    """
    Variables read anywhere in bot/ and knowledge/: ``env.get("X")``, ``env["X"]``,
    ``os.environ.get("X")``, ``helper(env, "X", ...)``.
    """
    names: set[str] = set()
    for path in python_files():
        for node in ast.walk(_parse(path)):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Subscript) and _holds_env(node.value):
                candidates.append(node.slice)
            elif isinstance(node, ast.Call):
                func = node.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in {"get", "pop", "setdefault"}
                    and _holds_env(func.value)
                ) or any(_holds_env(arg) for arg in node.args):
                    candidates.extend(node.args)
            for arg in candidates:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and ENV_NAME.match(arg.value)
                ):
                    names.add(arg.value)
    return names


def variables_read() -> set[str]:
    """
    Every environment variable the code reads.
    """
    return settings_variables() | source_variables()


@dataclass
class Handled:
    """
    What the Slack app listens to.
    """

    events: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)
    actions: list[object] = field(default_factory=list)
    views: list[object] = field(default_factory=list)
    shortcuts: set[str] = field(default_factory=set)
    options: list[object] = field(default_factory=list)

    def add(self, kind: str, value: object) -> None:
        """
        Record one listener's constraint.
        """
        if kind == "event":
            event_type = value.get("type") if isinstance(value, dict) else value
            self.events.add(str(event_type))
        elif kind == "command":
            self.commands.add(str(value))
        elif kind == "shortcut":
            callback = value.get("callback_id") if isinstance(value, dict) else value
            self.shortcuts.add(str(callback))
        else:
            {"action": self.actions, "view": self.views, "options": self.options}[
                kind
            ].append(value)

    @property
    def interactive(self) -> bool:
        """
        Slack must post interactivity payloads (buttons, modals, shortcuts).
        """
        return bool(self.actions or self.views or self.shortcuts or self.options)


def test_settings() -> Settings:
    """
    Settings good enough to build the app without any service.
    """
    return Settings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-introspect", "SLACK_SIGNING_SECRET": "introspect"}
    )


def built_app() -> Any:
    """
    The real Bolt app from ``build_app`` (embedded store, small knowledge base).
    """
    settings = test_settings()
    with tempfile.TemporaryDirectory() as tmp:
        matcher = Matcher(write_kb(Path(tmp)))
    return build_app(
        settings,
        matcher=matcher,
        store=embedded_store(),
        prober=make_prober(settings),
        metrics=Metrics(),
    )


def registered_listeners(app: Any) -> Handled:
    """
    The constraints of every listener registered on a Bolt app (slack_bolt 1.x keeps
    each in a closure of its matcher: ``event_type``, ``command``, ``constraints``).
    """
    handled = Handled()
    for listener in app._async_listeners:
        for matcher in listener.matchers:
            outer = getattr(matcher, "func", None)
            if outer is None:
                continue
            inner = inspect.getclosurevars(outer).nonlocals.get("func")
            if inner is None:
                continue
            kind = inner.__qualname__.split(".", 1)[0]
            captured = inspect.getclosurevars(inner).nonlocals
            value = next(
                (
                    captured[key]
                    for key in ("event_type", "command", "constraints", "callback_id")
                    if key in captured
                ),
                None,
            )
            if kind in LISTENER_KINDS and value is not None:
                handled.add(LISTENER_KINDS[kind], value)
    return handled


def _literal(node: ast.expr, constants: dict[str, str]) -> object:
    """
    A decorator argument's value: a string, a module constant, a dict, or a marker.
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Dict):
        return {
            _literal(k, constants): _literal(v, constants)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    return f"<{ast.unparse(node)}>"


def declared_listeners() -> Handled:
    """
    Listener registrations written anywhere in bot/ (``@app.event("x")``, ...).

    Catches handlers registered outside ``build_app`` too. Click's ``.command(...)``
    is told apart by the leading slash of a slash command.
    """
    handled = Handled()
    for path in python_files():
        tree = _parse(path)
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LISTENER_KINDS
                and node.args
            ):
                continue
            kind = LISTENER_KINDS[node.func.attr]
            value = _literal(node.args[0], constants)
            if kind == "command" and not (
                isinstance(value, str) and value.startswith("/")
            ):
                continue
            if kind == "event" and not isinstance(value, str | dict):
                continue
            if node.func.attr == "message" and kind == "event":
                value = "message"
            handled.add(kind, value)
    return handled


def _is_client(node: ast.expr) -> bool:
    """
    ``client``, ``self.client``, ``web_client``, ``app.client``: a Web API client.
    """
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name.endswith("client")


def web_api_methods() -> set[str]:
    """
    Slack Web API methods the code calls, by name or by client attribute.
    """
    methods: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(_parse(path)):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and API_STRING.match(node.value)
            ):
                methods.add(node.value)
            elif isinstance(node, ast.Attribute) and _is_client(node.value):
                match = API_ATTRIBUTE.match(node.attr)
                if match is not None:
                    methods.add(f"{match.group(1)}.{match.group(2)}")
    return methods


def http_routes(*, oauth: bool = False) -> dict[str, set[str]]:
    """
    Path -> HTTP methods served by HTTP mode's aiohttp application (with ``oauth``,
    serving many workspaces).
    """
    flow = None
    if oauth:
        settings = Settings.from_env(
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"}
        )
        store = embedded_store()
        flow = make_oauth(
            settings, store.client, AsyncWebClient(), metrics=Metrics()
        ).flow
    app = build_web_app(
        built_app(),
        store=embedded_store(),
        metrics=Metrics(),
        signing_secret="x",
        oauth=flow,
    )
    routes: dict[str, set[str]] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if "{" not in path:
            routes.setdefault(path, set()).add(route.method)
    return routes


def metric_names() -> set[str]:
    """
    The sample names ``/metrics`` can expose (``_total``, ``_bucket``, ... included).
    """
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {
                f"{family.name}_{suffix}"
                for suffix in ("bucket", "sum", "count", "created")
            }
        elif family.type == "gauge":
            names.add(family.name)
    return names
