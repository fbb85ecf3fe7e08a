"""
Everything under deploy/ parses and matches what the code expects: ports, probe paths,
environment variable names, the Ingress path, the image's user and health check, the
dashboard's metric names, and the operations guide's configuration table.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import read_dotenv
from tests.deploy.code import DEPLOY, ROOT, http_routes, metric_names, variables_read

K8S = DEPLOY / "k8s"
YAML_FILES = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
# A version tag (3.11.13-slim...) or a digest: never a floating 3.11 or latest.
PINNED = re.compile(
    r":\d+\.\d+\.\d+[\w.-]*(?:@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$"
)


def documents(path: Path) -> list[dict[str, Any]]:
    """
    The YAML documents of a file (empty ones dropped).
    """
    with path.open(encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def k8s(kind: str, name: str | None = None) -> dict[str, Any]:
    """
    The one Kubernetes object of that kind (and name) under deploy/k8s.
    """
    found = [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        for doc in documents(path)
        if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def dockerfile() -> list[tuple[str, str]]:
    """
    The Dockerfile's instructions as (KEYWORD, arguments), continuations joined.
    """
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        pending = ""
    return lines


def instruction(keyword: str) -> list[str]:
    """
    The arguments of every instruction with that keyword.
    """
    return [rest for key, rest in dockerfile() if key == keyword]


def image_cmd() -> list[str]:
    """
    The final CMD, exec form.
    """
    cmd = json.loads(instruction("CMD")[-1])
    assert isinstance(cmd, list)
    return [str(part) for part in cmd]


def cmd_port() -> int:
    """
    The --port of the image's CMD.
    """
    cmd = image_cmd()
    return int(cmd[cmd.index("--port") + 1])


def bot_container() -> dict[str, Any]:
    """
    The smtpbot container of the Deployment.
    """
    (container,) = k8s("Deployment", "smtpbot")["spec"]["template"]["spec"][
        "containers"
    ]
    return dict(container)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    """
    yaml.safe_load_all reads every file under deploy/, and each has content.
    """
    assert documents(path)


def test_kustomization_lists_every_manifest_but_the_placeholder_secret() -> None:
    """
    `kubectl apply -k` applies all objects except the Secret, created once by hand.
    """
    (kustomization,) = documents(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"secret.yaml"}
    assert kustomization["namespace"] == k8s("Namespace")["metadata"]["name"]
    assert k8s("Secret")["metadata"]["namespace"] == kustomization["namespace"]


def test_ports_agree_across_image_deployment_service_and_policy() -> None:
    """
    CMD --port == EXPOSE == containerPort == probes' port == Service targetPort.
    """
    port = cmd_port()
    assert instruction("EXPOSE") == [str(port)]
    container = bot_container()
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(named.values()) == [port]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        target = container[probe]["httpGet"]["port"]
        assert named.get(target, target) == port
    (service_port,) = k8s("Service", "smtpbot")["spec"]["ports"]
    assert named.get(service_port["targetPort"], service_port["targetPort"]) == port
    policy = k8s("NetworkPolicy", "smtpbot")
    assert [p["port"] for r in policy["spec"]["ingress"] for p in r["ports"]] == [port]
    template = k8s("Deployment", "smtpbot")["spec"]["template"]["metadata"]
    assert template["annotations"]["prometheus.io/port"] == str(port)
    compose = documents(DEPLOY / "compose.yaml")[0]["services"]["bot"]
    assert compose["ports"] == [f"{port}:{port}"]


def test_probe_paths_are_routes_the_server_serves() -> None:
    """
    readiness on /readyz, liveness and startup on /healthz, all GET routes.
    """
    routes = http_routes()
    container = bot_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert "GET" in routes[container[probe]["httpGet"]["path"]]
    annotations = k8s("Deployment", "smtpbot")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert "GET" in routes[annotations["prometheus.io/path"]]


def test_every_configured_variable_is_one_the_code_reads() -> None:
    """
    ConfigMap, Secret, compose and env.example only set variables the code reads.
    """
    known = variables_read()
    sources = {
        "ConfigMap": set(k8s("ConfigMap")["data"]),
        "Secret": set(k8s("Secret")["stringData"]),
        "compose": set(
            documents(DEPLOY / "compose.yaml")[0]["services"]["bot"]["environment"]
        ),
        "env.example": set(read_dotenv(DEPLOY / "env.example")),
    }
    for source, names in sources.items():
        assert names, source
        assert names <= known, f"{source} sets unknown {names - known}"
    secret = sources["Secret"]
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= secret
    assert not secret & sources["ConfigMap"]


def test_deployment_is_replicated_probed_limited_and_locked_down() -> None:
    """
    2+ replicas, env from ConfigMap and Secret, resources, restricted security context.
    """
    deployment = k8s("Deployment", "smtpbot")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = bot_container()
    refs = {
        next(iter(ref)): next(iter(ref.values()))["name"]
        for ref in container["envFrom"]
    }
    assert refs == {
        "configMapRef": k8s("ConfigMap")["metadata"]["name"],
        "secretRef": k8s("Secret")["metadata"]["name"],
    }
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    cache = k8s("ConfigMap")["data"]["SMTPBOT_CACHE_DIR"]
    for path in ("/tmp", cache):
        assert "emptyDir" in volumes[mounts[path]]
    user = instruction("USER")[-1].split(":")[0]
    assert pod["runAsUser"] == int(user)


def test_pdb_hpa_and_service_select_the_deployment() -> None:
    """
    The PDB and Service select the bot's pods; the HPA scales it on CPU from 2.
    """
    labels = k8s("Deployment", "smtpbot")["spec"]["template"]["metadata"]["labels"]
    pdb = k8s("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1
    service = k8s("Service", "smtpbot")
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = k8s("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "smtpbot"
    assert hpa["spec"]["minReplicas"] >= 2
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_ingress_routes_only_slack_paths_over_tls() -> None:
    """
    One TLS host; /slack/events and the "Add to Slack" pages, exactly, to the bot's
    Service port, each a route the bot serves with that method.
    """
    ingress = k8s("Ingress")["spec"]
    (rule,) = ingress["rules"]
    paths = {p["path"]: p for p in rule["http"]["paths"]}
    expected = {
        "/slack/events": "POST",
        "/slack/install": "GET",
        "/slack/oauth_redirect": "GET",
    }
    assert set(paths) == set(expected)
    routes = http_routes(oauth=True)
    for name, path in paths.items():
        assert expected[name] in routes[name]
        assert path["pathType"] == "Exact"
        assert path["backend"]["service"]["name"] == "smtpbot"
        assert path["backend"]["service"]["port"]["name"] == "http"
    assert ingress["tls"][0]["hosts"] == [rule["host"]]


def test_network_policy_egress_is_dns_redis_slack_and_mail_only() -> None:
    """
    Egress ports: 53 UDP/TCP, 6379 to the Redis pods, 443, and the probe's mail ports.
    """
    policy = k8s("NetworkPolicy", "smtpbot")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    allowed = {
        (p["port"], p.get("protocol", "TCP"))
        for rule in policy["egress"]
        for p in rule["ports"]
    }
    mail = {(port, "TCP") for port in (25, 465, 587, 2525)}
    assert allowed == {(53, "UDP"), (53, "TCP"), (6379, "TCP"), (443, "TCP")} | mail
    (redis_rule,) = [
        r for r in policy["egress"] if any(p["port"] == 6379 for p in r["ports"])
    ]
    redis_labels = k8s("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    (peer,) = redis_rule["to"]
    assert peer["podSelector"]["matchLabels"].items() <= redis_labels.items()
    probe_ports = k8s("ConfigMap")["data"]["PROBE_PORTS"].split(",")
    assert {(int(p), "TCP") for p in probe_ports} == mail


def test_redis_persists_with_appendonly_on_a_volume() -> None:
    """
    The StatefulSet runs appendonly yes on a PVC; REDIS_URL names its Service.
    """
    redis = k8s("StatefulSet", "redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {m["name"] for m in container["volumeMounts"]} == {claim["metadata"]["name"]}
    url = k8s("ConfigMap")["data"]["REDIS_URL"]
    service = k8s("Service", "redis")
    assert url == f"redis://{service['metadata']['name']}:6379/0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_compose_runs_http_mode_with_a_persistent_healthy_redis() -> None:
    """
    Bot: .env, compose's Redis, health check, waits for Redis healthy; Redis: AOF.
    """
    compose = documents(DEPLOY / "compose.yaml")[0]
    bot, redis = compose["services"]["bot"], compose["services"]["redis"]
    assert bot["env_file"] == "../.env"
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert f"127.0.0.1:{cmd_port()}/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert redis["image"] == "redis:7-alpine"
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_dockerfile_is_multi_stage_pinned_non_root_and_health_checked() -> None:
    """
    Two stages from a pinned base, USER not root, HEALTHCHECK on /healthz, the CMD.
    """
    args = dict(a.split("=", 1) for a in instruction("ARG") if "=" in a)
    bases = [shlex.split(f)[0] for f in instruction("FROM")]
    assert len(bases) >= 2
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert image.startswith("python:3.11"), image
        assert PINNED.search(image), f"{image} is not pinned"
    assert "AS builder" in instruction("FROM")[0]
    runs = instruction("RUN")
    assert any("--require-hashes" in run and "uvpin.py" in run for run in runs)
    assert sum("uv sync --locked" in run for run in runs) == 2
    assert not any("pip install ." in run or "uv pip" in run for run in runs)
    user = instruction("USER")[-1].split(":")[0]
    assert user not in {"root", "0"}
    (healthcheck,) = instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{cmd_port()}/healthz" in healthcheck
    assert "urllib" in healthcheck and "curl" not in healthcheck
    assert image_cmd() == ["smtpbot", "run", "--http", "--port", "3000"]
    assert "/healthz" in http_routes()


def test_dockerignore_keeps_secrets_out_and_the_wheel_sources_in() -> None:
    """
    .env and .git never enter the build context; bot/, knowledge/ and the lock do.
    """
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".git" in ignored
    sources = {"bot", "knowledge", "pyproject.toml", "uv.lock", "README.md"}
    assert not sources & set(ignored)
    assert "deploy" in ignored and "!deploy/uvpin.py" in ignored
    copied = " ".join(instruction("COPY"))
    for needed in ("pyproject.toml", "uv.lock", "deploy/uvpin.py", "bot", "knowledge"):
        assert needed in copied


def test_the_wheel_ships_the_knowledge_base() -> None:
    """
    pyproject packages knowledge/ (entries included) next to bot/.
    """
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert {"bot", "knowledge"} <= set(packages)
    assert any((ROOT / "knowledge" / "entries").rglob("*.yaml"))


def test_dashboard_queries_only_metrics_the_bot_exports() -> None:
    """
    Every smtpbot_* name in the Grafana dashboard is a sample /metrics can expose.
    """
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text("utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"smtpbot_\w+", expr)}
    assert used, "the dashboard has smtpbot panels"
    assert used <= metric_names(), f"unknown metrics: {used - metric_names()}"
    families = {n.removesuffix("_total") for n in used if n.endswith("_total")}
    assert {
        "smtpbot_events_received",
        "smtpbot_events_deduplicated",
        "smtpbot_matches",
        "smtpbot_probes",
        "smtpbot_slack_api_errors",
        "smtpbot_redis_errors",
    } <= families
    assert any("smtpbot_probe_seconds_bucket" in expr for expr in exprs)


def test_operations_guide_documents_every_variable_the_code_reads() -> None:
    """
    docs/operations.md's configuration table has a row for every variable read.
    """
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = [line for line in guide.splitlines() if line.startswith("| `")]
    documented = {
        name
        for row in rows
        for name in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1])
    }
    missing = variables_read() - documented
    assert not missing, f"docs/operations.md lacks {sorted(missing)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/operations.md)" in readme


def test_kustomize_builds_the_manifests_when_kubectl_is_here() -> None:
    """
    `kubectl kustomize deploy/k8s` renders every object into the namespace (offline).
    """
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    (kustomization,) = documents(K8S / "kustomization.yaml")
    expected = sum(len(documents(K8S / name)) for name in kustomization["resources"])
    assert len(rendered) == expected
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "smtpbot"
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/smtpbot:0.1.0"
