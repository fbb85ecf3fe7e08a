"""
Installed tokens at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) under keys
from ``SLACK_TOKEN_ENCRYPTION_KEYS`` before they are written to Redis.

The first key seals; every key opens (``MultiFernet``), so a key is rotated by putting a
new one first, re-sealing what is stored (``smtpbot installs rekey``), then dropping
the old one. Without keys, values are stored as they are (Redis's own access control
and encryption then protect them); a sealed value is recognised by its prefix, so
turning encryption on later needs no migration beyond a rekey.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError

# Marks a sealed value (Fernet tokens themselves start with "gAAAAA").
SEALED: Final = "fernet:"
VARIABLE: Final = "SLACK_TOKEN_ENCRYPTION_KEYS"


def new_key() -> str:
    """
    A fresh Fernet key for SLACK_TOKEN_ENCRYPTION_KEYS.
    """
    return Fernet.generate_key().decode()


class TokenCipher:
    """
    Seals and opens the secrets of an installation (tokens, webhook URLs).
    """

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._keys = [Fernet(k.encode()) for k in keys]
        self._fernet = MultiFernet(self._keys) if self._keys else None

    @property
    def encrypting(self) -> bool:
        """
        True when values are sealed before they are stored.
        """
        return self._fernet is not None

    def seal(self, value: str | None) -> str | None:
        """
        ``value`` as it is to be stored (sealed when keys are configured).
        """
        if value is None or self._fernet is None:
            return value
        return SEALED + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """
        A stored value in the clear.

        Raises:
            ConfigError: it is sealed and no configured key opens it.
        """
        if value is None or not value.startswith(SEALED):
            return value
        if self._fernet is None:
            raise ConfigError(
                VARIABLE, "installed tokens are encrypted, but no key is configured"
            )
        try:
            return self._fernet.decrypt(value[len(SEALED) :].encode()).decode()
        except InvalidToken:
            raise ConfigError(
                VARIABLE, "no configured key opens a stored token (was a key dropped?)"
            ) from None

    def current(self, value: str | None) -> bool:
        """
        True when ``value`` is stored as this cipher stores values now: sealed under
        the first key, or in the clear when there are no keys.
        """
        if value is None:
            return True
        if not self._keys:
            return not value.startswith(SEALED)
        if not value.startswith(SEALED):
            return False
        try:
            self._keys[0].decrypt(value[len(SEALED) :].encode())
        except InvalidToken:
            return False
        return True
