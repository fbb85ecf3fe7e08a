"""
REDIS_URL forms: Sentinel URLs parsed without the network, and bad ones refused at
start-up with a message naming REDIS_URL.
"""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.redis_url import (
    SENTINEL_PORT,
    RedisUrlError,
    SentinelUrl,
    describe,
    parse_sentinel,
)


def test_a_full_sentinel_url_is_parsed() -> None:
    """
    Hosts (default port 26379, IPv6 in brackets), master, db, the master's user and
    password (percent-decoded) and the sentinels' own credentials from the query.
    """
    url = (
        "rediss+sentinel://bot:p%40ss@s1.example:26380,s2.example,[fd00::1]:5000"
        "/mymaster/3?sentinel_password=sekret&sentinel_username=watch"
    )
    assert parse_sentinel(url) == SentinelUrl(
        hosts=(("s1.example", 26380), ("s2.example", SENTINEL_PORT), ("fd00::1", 5000)),
        master="mymaster",
        db=3,
        tls=True,
        username="bot",
        password="p@ss",
        sentinel_username="watch",
        sentinel_password="sekret",
    )


def test_a_password_without_a_user_and_no_db() -> None:
    """
    ``:password@`` is a password alone; no db means 0; plain redis+sentinel is no TLS.
    """
    group = parse_sentinel("redis+sentinel://:pw@127.0.0.1:26379/smtpbot")
    assert (group.username, group.password, group.db, group.tls) == (
        None,
        "pw",
        0,
        False,
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel:///smtpbot", "at least one sentinel"),
        ("redis+sentinel://h1,,h2/smtpbot", "at least one sentinel"),
        ("redis+sentinel://h1:99999/smtpbot", "bad port"),
        ("redis+sentinel://h1:26379", "name the master"),
        ("redis+sentinel://h1/", "name the master"),
        ("redis+sentinel://h1/smtpbot/x", "db number"),
        ("redis+sentinel://h1/a/1/2", "db number"),
        ("redis+sentinel://h1/smtpbot?password=x", "unknown option 'password'"),
        ("redis+sentinel://[fd00::1/smtpbot", "unclosed ["),
    ],
)
def test_bad_sentinel_urls_say_what_is_wrong(url: str, problem: str) -> None:
    """
    Each malformed Sentinel URL is refused with a message about its fault.
    """
    with pytest.raises(RedisUrlError, match=problem.replace("[", r"\[")):
        parse_sentinel(url)


def test_settings_accept_sentinel_urls_and_wait_for_a_replica_by_default() -> None:
    """
    A Sentinel REDIS_URL is accepted; its writes wait for one replica unless
    REDIS_WAIT_REPLICAS says otherwise; a single endpoint waits for none.
    """
    sentinel = Settings.from_env({"REDIS_URL": "redis+sentinel://h1,h2,h3/smtpbot"})
    assert sentinel.redis_wait_replicas == 1
    plain = Settings.from_env({"REDIS_URL": "redis://localhost:6379/0"})
    assert plain.redis_wait_replicas == 0
    chosen = Settings.from_env(
        {"REDIS_URL": "redis+sentinel://h1/smtpbot", "REDIS_WAIT_REPLICAS": "0"}
    )
    assert chosen.redis_wait_replicas == 0


def test_a_malformed_sentinel_url_stops_start_up_naming_redis_url() -> None:
    """
    A Sentinel URL without a master name is a ConfigError naming REDIS_URL.
    """
    with pytest.raises(ConfigError, match="REDIS_URL: name the master"):
        Settings.from_env({"REDIS_URL": "redis+sentinel://h1:26379"})


def test_descriptions_never_show_credentials() -> None:
    """
    Logged and shown URLs carry no password, of the master or of the sentinels.
    """
    shown = describe("redis+sentinel://u:pw@h1,h2:1/m/2?sentinel_password=sp")
    assert shown == "redis+sentinel://h1:26379,h2:1/m/2"
    assert describe("redis://:pw@host:6379/0") == "redis://***@host:6379/0"
    assert "pw" not in describe("redis+sentinel://:pw@/m")
