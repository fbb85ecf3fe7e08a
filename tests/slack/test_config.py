"""
Settings from the environment and .env: defaults, parsing, and errors that name the
variable.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bot.config import DEFAULT_PROBE_PORTS, Settings, load_settings, read_dotenv
from bot.errors import ConfigError


def test_defaults_without_any_variable() -> None:
    """
    An empty environment gives usable defaults and no Slack credentials.
    """
    settings = Settings.from_env({})
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.probe_ports == DEFAULT_PROBE_PORTS == {25, 465, 587, 2525}
    assert settings.probe_allow_cidrs == ()
    assert settings.escalation_sla_minutes == 15
    assert settings.redis_url is None
    assert not settings.has_any_slack_token
    assert settings.answers_in("C123")


def test_every_documented_variable_is_read() -> None:
    """
    All DESIGN.md variables land in their fields.
    """
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1-2",
            "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_APP_TOKEN": "xapp-1-A-2",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "REDIS_URL": "redis://localhost:6379/2",
            "SUPPORT_CHANNELS": "C1, C2",
            "ADMIN_USERS": "U1",
            "ESCALATION_CHANNEL": "C9",
            "ESCALATION_MENTION": "<!subteam^S123>",
            "ESCALATION_SLA_MINUTES": "30",
            "PROBE_ALLOW_CIDRS": "127.0.0.0/8, ::1/128",
            "PROBE_PORTS": "25,2525",
            "PROBE_USER_LIMIT": "2",
            "PROBE_TARGET_LIMIT": "3",
            "PROBE_WINDOW_SECONDS": "60",
        }
    )
    assert settings.has_http_credentials and settings.has_socket_credentials
    assert settings.support_channels == {"C1", "C2"}
    assert settings.answers_in("C1") and not settings.answers_in("C3")
    assert settings.admin_users == {"U1"}
    assert settings.escalation_channel == "C9"
    assert settings.escalation_mention == "<!subteam^S123>"
    assert settings.escalation_sla_minutes == 30
    assert settings.probe_allow_cidrs == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert settings.probe_ports == {25, 2525}
    assert (settings.probe_user_limit, settings.probe_target_limit) == (2, 3)


def test_secrets_stay_out_of_repr() -> None:
    """
    Tokens and the signing secret never appear in repr (logs, tracebacks).
    """
    text = repr(
        Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-very-secret",
                "SLACK_SIGNING_SECRET": "sign-secret",
                "SLACK_APP_TOKEN": "xapp-1-secret",
            }
        )
    )
    assert "secret" not in text


@pytest.mark.parametrize(
    "variable,value,message",
    [
        ("SLACK_BOT_TOKEN", "abc", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-1", "xapp-"),
        ("SLACK_API_URL", "ftp://x", "http"),
        ("REDIS_URL", "http://x", "redis"),
        ("SUPPORT_CHANNELS", "C1,#general", "'#general'"),
        ("ADMIN_USERS", "alice", "'alice'"),
        ("ESCALATION_CHANNEL", "C1,C2", "one channel"),
        ("ESCALATION_MENTION", "@oncall", "mention"),
        ("ESCALATION_SLA_MINUTES", "0", "between"),
        ("ESCALATION_SLA_MINUTES", "soon", "whole number"),
        ("PROBE_ALLOW_CIDRS", "10.0.0.0/33", "'10.0.0.0/33'"),
        ("PROBE_PORTS", "25,70000", "'70000'"),
        ("PROBE_TIMEOUT", "fast", "number"),
        ("PROBE_CAFILE", "/nonexistent/ca.pem", "not a readable file"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    """
    Each invalid value raises ConfigError naming the variable and the problem.
    """
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert message in str(caught.value)


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    """
    .env supplies values; the real environment overrides them.
    """
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nexport SUPPORT_CHANNELS=C1\nADMIN_USERS='U1'\n"
        'SLACK_API_URL="http://127.0.0.1:1/api/"\nPROBE_PORTS=25 # trailing\n'
    )
    settings = load_settings({"ADMIN_USERS": "U2"}, env_file=env_file)
    assert settings.support_channels == {"C1"}
    assert settings.admin_users == {"U2"}
    assert settings.slack_api_url == "http://127.0.0.1:1/api/"
    assert settings.probe_ports == {25}
    assert load_settings({}, env_file=tmp_path / "missing").admin_users == frozenset()


def test_bad_dotenv_line_names_file_and_line(tmp_path: Path) -> None:
    """
    A line that is not KEY=value is reported with its file and number.
    """
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\nthis is not a setting\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=value"):
        read_dotenv(env_file)
