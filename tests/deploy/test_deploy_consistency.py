"""Cross-file consistency of ``deploy/`` (issue 7 §4): ports, names, metrics.

The API port agrees between the head's command, published ports, Prometheus'
target, the worker's join URL and the Kubernetes Service; the Ray GCS port is
never 6379; the API reaches KubeRay's head Service; secrets are referenced,
not inlined; the Grafana dashboard queries metrics that ``pool_api/metrics.py``
registers and resolves its datasource when provisioned.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy_files import (
    DEPLOY,
    RAY_DEFAULT_PORT,
    REPO,
    argv_from_text,
    k8s,
    k8s_objects,
    load_compose,
    one_yaml,
    option,
)

# ------------------------------------------------------------------------- compose


def test_compose_services_and_ports() -> None:
    compose = load_compose()
    services = compose["services"]
    assert {"head", "worker", "postgres", "redis", "prometheus", "grafana"} <= set(services)
    head = services["head"]
    api_port = int(option(head["command"], "--port"))
    published = [str(p).rsplit(":", 1)[-1] for p in head["ports"]]
    assert published == [str(api_port)]
    ray_port = int(head["environment"]["PROVERPOOL_RAY_PORT"])
    assert ray_port != RAY_DEFAULT_PORT
    for name, service in services.items():
        for port in service.get("ports", []):
            assert not str(port).endswith(f":{RAY_DEFAULT_PORT}"), name
        for dependency in service.get("depends_on", {}):
            assert "healthcheck" in services[dependency] or dependency == "migrate", name
        assert set(service.get("networks", [])) <= set(compose["networks"]), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} missing"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} undeclared"
    worker = services["worker"]
    url = urlsplit(worker["command"][worker["command"].index("join") + 1])
    assert (url.hostname, url.port) == ("head", api_port)
    prometheus = one_yaml("prometheus/prometheus.yml")
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"head:{api_port}"]
    assert prometheus["scrape_configs"][0]["metrics_path"] == "/metrics"


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2) if present, else the legacy ``docker-compose`` (v1), else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(_compose_cli() is None, reason="neither docker compose nor docker-compose")
def test_compose_config_validates(tmp_path: Path) -> None:
    """Compose's own schema check (no daemon needed).  Compose v1 predates the top-level
    ``name``, so it checks a copy without that line."""
    cli = _compose_cli()
    assert cli is not None
    text = (DEPLOY / "docker-compose.yml").read_text()
    if cli == ["docker-compose"]:
        text = re.sub(r"^name:.*\n", "", text, flags=re.MULTILINE)
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(text)
    secrets = ("POSTGRES_PASSWORD", "PROVERPOOL_OPERATOR_TOKEN", "GRAFANA_ADMIN_PASSWORD")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)} | dict.fromkeys(secrets, "x")
    command = [*cli, "-f", str(compose_file), "--project-directory", str(DEPLOY)]
    result = subprocess.run(
        [*command, "--profile", "worker", "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_keeps_stores_out_of_worker_reach() -> None:
    services = load_compose()["services"]
    worker_networks = set(services["worker"]["networks"])
    for store in ("postgres", "redis"):
        assert not worker_networks & set(services[store]["networks"]), store
    assert "PROVERPOOL_OPERATOR_TOKEN" not in services["worker"].get("environment", {})
    assert "PROVERPOOL_DATABASE_URL" not in services["worker"].get("environment", {})


def test_grafana_provisioning_matches_compose() -> None:
    grafana = load_compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    dashboard_target = mounts["./grafana/proverpool.json"]
    (provider,) = one_yaml("grafana/provisioning/dashboards/proverpool.yml")["providers"]
    assert Path(dashboard_target).parent == Path(provider["options"]["path"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (datasource,) = one_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    prometheus_port = load_compose()["services"]["prometheus"]["ports"][0].rsplit(":", 1)[-1]
    assert datasource["url"] == f"http://prometheus:{prometheus_port}"


# ----------------------------------------------------------------- grafana dashboard

DASHBOARD = DEPLOY / "grafana/proverpool.json"
needs_dashboard = pytest.mark.skipif(
    not DASHBOARD.exists(), reason="deploy/grafana/proverpool.json not written yet (issue 6)"
)


def _registered_metrics() -> set[str]:
    """Metric names in pool_api/metrics.py (its string literals: counters, histograms, gauges)."""
    source = (REPO / "pool_api/metrics.py").read_text()
    return set(re.findall(r"[\"'](proverpool_[a-z0-9_]+)[\"']", source))


@needs_dashboard
def test_dashboard_metrics_are_registered() -> None:
    registered = _registered_metrics()
    exprs = re.findall(r'"expr":\s*"((?:[^"\\]|\\.)*)"', DASHBOARD.read_text())
    used = {m for expr in exprs for m in re.findall(r"\bproverpool_[a-z0-9_]+", expr)}
    assert used, "the dashboard queries no proverpool_ metric"
    unknown = {m for m in used if re.sub(r"_(bucket|sum|count)$", "", m) not in registered}
    unknown -= registered
    assert not unknown, f"not registered in pool_api/metrics.py: {sorted(unknown)}"


def _datasource_refs(node: Any) -> list[Any]:
    if isinstance(node, dict):
        refs = [node["datasource"]] if "datasource" in node else []
        return refs + [r for v in node.values() for r in _datasource_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _datasource_refs(v)]
    return []


@needs_dashboard
def test_dashboard_datasources_resolve_when_provisioned() -> None:
    """File provisioning does not apply ``__inputs`` (grafana/grafana#10786): a ``${VAR}``
    datasource must be a templating variable of type ``datasource``, else a provisioned uid."""
    dashboard = json.loads(DASHBOARD.read_text())
    templating = dashboard.get("templating", {}).get("list", [])
    variables = {v["name"] for v in templating if v.get("type") == "datasource"}
    (provisioned,) = one_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    bad = set()
    for ref in _datasource_refs(dashboard.get("panels", [])):
        uid = ref.get("uid") if isinstance(ref, dict) else ref
        if uid is None or uid in {provisioned["uid"], "-- Grafana --", "grafana"}:
            continue
        name = re.fullmatch(r"\$\{?(\w+)\}?", str(uid))
        if not (name and name.group(1) in variables):
            bad.add(str(uid))
    assert not bad, f"datasources that do not resolve under provisioning: {sorted(bad)}"


# ------------------------------------------------------------------------ kubernetes


def _k8s_validatable() -> list[dict[str, Any]]:
    """Built-in objects as they are; a RayCluster's pod templates as ``v1/PodTemplate``
    (the KubeRay CRD's own schema is not bundled)."""
    objects = []
    for obj in k8s_objects():
        if obj["kind"] != "RayCluster":
            objects.append(obj)
            continue
        groups = [obj["spec"]["headGroupSpec"], *obj["spec"]["workerGroupSpecs"]]
        objects += [
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {}, "template": g["template"]}
            for g in groups
        ]
    return objects


def test_kubernetes_objects_match_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    for obj in _k8s_validatable():
        kubernetes_validate.validate(obj, version, strict=True)


def test_kuberay_cluster() -> None:
    cluster = k8s("RayCluster", "proverpool")
    spec = cluster["spec"]
    assert spec["authOptions"]["mode"] == "token"
    head_params = spec["headGroupSpec"]["rayStartParams"]
    assert int(head_params["port"]) != RAY_DEFAULT_PORT and head_params["num-cpus"] == "0"
    head_ports = {
        p["name"]: p["containerPort"]
        for p in spec["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert head_ports["gcs-server"] == int(head_params["port"])
    assert head_ports["client"] == int(head_params["ray-client-server-port"])
    (gpu_group,) = spec["workerGroupSpecs"]
    (worker,) = gpu_group["template"]["spec"]["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] >= 1
    # The API it joins is the Service of api.yaml, on that Service's port.
    url = urlsplit(worker["args"][worker["args"].index("join") + 1])
    service = k8s("Service", url.hostname)
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    # The API reaches the cluster through KubeRay's head Service (<name>-head-svc) and Ray Client.
    api = k8s("Deployment", "proverpool-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    ray_url = urlsplit(env["PROVERPOOL_RAY_ADDRESS"]["value"])
    assert ray_url.scheme == "ray" and ray_url.hostname == "proverpool-head-svc"
    assert ray_url.port == head_ports["client"]
    token_secret = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
    assert token_secret == spec["authOptions"]["secretName"]


def test_kuberay_api_service_and_secrets() -> None:
    api = k8s("Deployment", "proverpool-api")
    service = k8s("Service", "proverpool-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    port = int(option(container["args"], "--port"))
    (http,) = container["ports"]
    assert http["containerPort"] == port
    assert service["spec"]["ports"][0]["targetPort"] in {http["name"], port}
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    env = {e["name"]: e for e in container["env"]}
    for secret in ("PROVERPOOL_DATABASE_URL", "PROVERPOOL_OPERATOR_TOKEN", "PROVERPOOL_REDIS_URL"):
        assert "value" not in env[secret] and "secretKeyRef" in env[secret]["valueFrom"], secret
    assert not [o for o in k8s_objects() if o["kind"] == "Secret"], "secrets must not be inlined"


# ---------------------------------------------------------------------- ray launcher


def test_ray_launcher_ports() -> None:
    cluster = one_yaml("ray/cluster.yaml")
    head_commands = " ".join(cluster["head_start_ray_commands"])
    (gcs_port,) = {int(p) for p in re.findall(r"--port=(\d+)", head_commands)}
    assert gcs_port != RAY_DEFAULT_PORT
    assert f"PROVERPOOL_RAY_ADDRESS=127.0.0.1:{gcs_port}" in head_commands
    assert "RAY_AUTH_MODE=token" in head_commands
    (head_argv,) = [a for a in argv_from_text(head_commands) if a[1] == "head"]
    api_port = int(option(head_argv, "--port"))
    (join_argv,) = argv_from_text(" ".join(cluster["worker_start_ray_commands"]))
    assert urlsplit(join_argv[2]).port == api_port
    assert cluster["available_node_types"][cluster["head_node_type"]]["resources"] == {"CPU": 0}
