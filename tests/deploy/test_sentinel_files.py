"""
The Sentinel deployment examples hang together: the bot's REDIS_URL names sentinels
that exist, on Sentinel's port, asking for the master name the sentinels monitor; the
Kubernetes overlay replaces the single Redis and opens the sentinels' port.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.redis_url import parse_sentinel
from tests.deploy.code import DEPLOY
from tests.deploy.test_files import documents

OVERLAY = DEPLOY / "k8s-sentinel"
_MONITOR = re.compile(r"sentinel monitor (\S+) (\S+) 6379 2")


def named(doc: dict[str, Any], kind: str, name: str) -> bool:
    """
    True when a Kubernetes object is of that kind and name.
    """
    return bool(doc["kind"] == kind and doc["metadata"]["name"] == name)


def test_compose_sentinel_points_the_bot_at_its_three_sentinels() -> None:
    """
    compose.sentinel.yaml: a valid Sentinel REDIS_URL whose hosts are the file's
    sentinel services on 26379, asking for the master they monitor (the "redis"
    service), which the replica follows.
    """
    (compose,) = documents(DEPLOY / "compose.sentinel.yaml")
    services = compose["services"]
    url = services["bot"]["environment"]["REDIS_URL"]
    settings = Settings.from_env({"REDIS_URL": url})
    assert settings.redis_wait_replicas == 1
    group = parse_sentinel(url)
    assert {host for host, _ in group.hosts} == {
        name for name in services if name.startswith("sentinel-")
    }
    assert {port for _, port in group.hosts} == {26379}
    for name, host in ((h, h) for h, _ in group.hosts):
        script = services[name]["command"][0]
        (monitored,) = _MONITOR.findall(script)
        assert monitored == (group.master, "redis"), host
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]


def test_k8s_sentinel_overlay_names_the_monitored_master() -> None:
    """
    The overlay's REDIS_URL asks the redis-sentinel Service for the master name the
    pods' sentinels monitor, on the port that Service exposes.
    """
    (kustomization,) = documents(OVERLAY / "kustomization.yaml")
    patches = "\n".join(p.get("patch", "") for p in kustomization["patches"])
    url = re.search(r"value: (redis\+sentinel://\S+)", patches)
    assert url is not None
    group = parse_sentinel(url.group(1))
    objects = documents(OVERLAY / "redis-sentinel.yaml")
    (service,) = [
        o
        for o in objects
        if o["kind"] == "Service" and o["metadata"]["name"] == "redis-sentinel"
    ]
    assert group.hosts == (("redis-sentinel", service["spec"]["ports"][0]["port"]),)
    (scripts,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert f"sentinel monitor {group.master} " in scripts["data"]["configure.sh"]


def test_kustomize_builds_the_sentinel_overlay_when_kubectl_is_here() -> None:
    """
    `kubectl kustomize deploy/k8s-sentinel` renders without the single Redis, with the
    three-pod Redis, and with 26379 open from the bot.
    """
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert ("StatefulSet", "redis") not in names
    assert ("Service", "redis") not in names
    (redis,) = [d for d in rendered if d["kind"] == "StatefulSet"]
    assert redis["spec"]["replicas"] == 3
    (policy,) = [
        d
        for d in rendered
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "smtpbot"
    ]
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert 26379 in ports
    (config,) = [
        d
        for d in rendered
        if d["kind"] == "ConfigMap" and "REDIS_URL" in d.get("data", {})
    ]
    assert config["data"]["REDIS_URL"].startswith("redis+sentinel://")
