"""
Choosing between one workspace and many: SLACK_BOT_TOKEN or SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET, never both; the OAuth settings' defaults and errors naming the
variable; what `smtpbot run` and `smtpbot work` accept.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from bot.config import DEFAULT_BOT_SCOPES, Settings
from bot.errors import ConfigError
from bot.slack.entrypoints import run_command, work_command

ROOT = Path(__file__).resolve().parents[2]
KEY = "etPb8dKK3znFcAO7JPfLVBHNuJuHLSYUCxTyBRbizVY="
MANY = {
    "SLACK_CLIENT_ID": "1111111111.2222222222",
    "SLACK_CLIENT_SECRET": "0123456789abcdef0123456789abcdef",
    "SLACK_SIGNING_SECRET": "signing",
}


def test_client_credentials_without_a_bot_token_serve_many_workspaces() -> None:
    """
    Client id and secret without a bot token: many workspaces, with defaults for
    the scopes (the manifest's), the redirect URL (none) and the state's life (600 s).
    """
    settings = Settings.from_env(MANY)
    assert settings.multi_workspace and settings.has_http_credentials
    assert settings.slack_scopes == DEFAULT_BOT_SCOPES
    assert settings.slack_redirect_uri is None
    assert settings.slack_state_expiration_seconds == 600
    assert "0123456789abcdef" not in repr(settings)
    assert not Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1-2"}).multi_workspace


def test_the_default_scopes_are_the_manifests_bot_scopes() -> None:
    """
    An install asks for exactly the bot scopes deploy/slack-app-manifest.yml declares.
    """
    manifest = yaml.safe_load(
        (ROOT / "deploy" / "slack-app-manifest.yml").read_text(encoding="utf-8")
    )
    assert set(DEFAULT_BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])


def test_both_a_bot_token_and_client_credentials_are_refused() -> None:
    """
    SLACK_BOT_TOKEN with SLACK_CLIENT_ID/SECRET is a configuration error naming them.
    """
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**MANY, "SLACK_BOT_TOKEN": "xoxb-1-2"})
    message = str(caught.value)
    assert caught.value.variable == "SLACK_BOT_TOKEN"
    assert "SLACK_CLIENT_ID" in message and "SLACK_CLIENT_SECRET" in message


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"SLACK_CLIENT_ID": "1111.2222"}, "SLACK_CLIENT_SECRET"),
        ({"SLACK_CLIENT_SECRET": "s"}, "SLACK_CLIENT_ID"),
        ({**MANY, "SLACK_CLIENT_ID": "my-app"}, "SLACK_CLIENT_ID"),
        ({**MANY, "SLACK_SCOPES": "chat:write, Bad Scope"}, "SLACK_SCOPES"),
        (
            {**MANY, "SLACK_REDIRECT_URI": "ftp://x/slack/oauth_redirect"},
            "SLACK_REDIRECT_URI",
        ),
        (
            {**MANY, "SLACK_REDIRECT_URI": "https://bot.example.com/cb"},
            "SLACK_REDIRECT_URI",
        ),
        (
            {**MANY, "SLACK_STATE_EXPIRATION_SECONDS": "0"},
            "SLACK_STATE_EXPIRATION_SECONDS",
        ),
        (
            {**MANY, "SLACK_STATE_EXPIRATION_SECONDS": "ten"},
            "SLACK_STATE_EXPIRATION_SECONDS",
        ),
        (
            {**MANY, "SLACK_TOKEN_ENCRYPTION_KEYS": "short"},
            "SLACK_TOKEN_ENCRYPTION_KEYS",
        ),
    ],
)
def test_bad_oauth_settings_name_the_variable(
    env: dict[str, str], variable: str
) -> None:
    """
    A half-configured or malformed OAuth setting stops start-up naming its variable.
    """
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == variable


def test_oauth_settings_are_read() -> None:
    """
    Scopes, redirect URL, a one-second state life and a key list are taken as given.
    """
    settings = Settings.from_env(
        {
            **MANY,
            "SLACK_SCOPES": "chat:write,commands,chat:write",
            "SLACK_REDIRECT_URI": "https://bot.example.com/slack/oauth_redirect",
            "SLACK_STATE_EXPIRATION_SECONDS": "1",
            "SLACK_TOKEN_ENCRYPTION_KEYS": KEY,
        }
    )
    assert settings.slack_scopes == ("chat:write", "commands")
    assert settings.slack_redirect_uri == "https://bot.example.com/slack/oauth_redirect"
    assert settings.slack_state_expiration_seconds == 1
    assert len(settings.token_encryption_keys) == 1
    assert KEY not in repr(settings)


def test_run_refuses_socket_mode_and_a_missing_signing_secret_for_many() -> None:
    """
    `smtpbot run` without --http, or without SLACK_SIGNING_SECRET, explains what
    serving many workspaces needs (exit code 2).
    """
    out = io.StringIO()
    code = run_command(
        MANY, http=False, host="127.0.0.1", port=None, stdin=io.StringIO(), out=out
    )
    assert code == 2 and "SLACK_CLIENT_ID" in out.getvalue()
    assert "--http" in out.getvalue()
    out = io.StringIO()
    unsigned = {k: v for k, v in MANY.items() if k != "SLACK_SIGNING_SECRET"}
    code = run_command(
        unsigned, http=True, host="127.0.0.1", port=0, stdin=io.StringIO(), out=out
    )
    assert code == 2 and "SLACK_SIGNING_SECRET" in out.getvalue()


def test_both_set_stops_run_and_work_naming_the_variables() -> None:
    """
    `smtpbot run --http` and `smtpbot work` with both kinds of credentials exit 2
    naming SLACK_BOT_TOKEN and SLACK_CLIENT_ID.
    """
    both = {**MANY, "SLACK_BOT_TOKEN": "xoxb-1-2"}
    out = io.StringIO()
    assert (
        run_command(
            both, http=True, host="127.0.0.1", port=0, stdin=io.StringIO(), out=out
        )
        == 2
    )
    assert "SLACK_BOT_TOKEN" in out.getvalue() and "SLACK_CLIENT_ID" in out.getvalue()
    out = io.StringIO()
    assert work_command(both, priority="normal", out=out) == 2
    assert "SLACK_BOT_TOKEN" in out.getvalue() and "SLACK_CLIENT_ID" in out.getvalue()
