"""
``.env`` files: read once at start-up and overlaid by the environment (the environment
wins).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from bot.config.settings import Settings
from bot.errors import ConfigError

_DOTENV_LINE: Final = re.compile(
    r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$"
)


def read_dotenv(path: Path) -> dict[str, str]:
    """
    Parse a ``.env`` file (``KEY=value``, ``export``, quotes, ``#`` comments); missing:
    {}.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ConfigError(f"{path}:{number}", "expected KEY=value")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_settings(
    environ: Mapping[str, str], *, env_file: Path | None = Path(".env")
) -> Settings:
    """
    Settings from ``.env`` overlaid by the environment (the environment wins).
    """
    merged = read_dotenv(env_file) if env_file is not None else {}
    merged.update(environ)
    return Settings.from_env(merged)
