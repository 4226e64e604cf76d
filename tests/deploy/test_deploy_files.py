"""Static checks of ``deploy/`` (issue 7 §4): files parse, names are real.

No Docker, Kubernetes or cloud here.  Every YAML/JSON file parses (and the
unit, the launcher config and the compose file pass their own tools' checks
where those are installed); every ``PROVERPOOL_*`` name is a field of
:class:`pool_api.settings.Settings` or an explicitly allowed non-setting; every
``proverpool <subcommand> [--option]`` used refers to the real typer app; entry
points are real console scripts.  Cross-file consistency (ports, service names,
metrics): ``test_deploy_consistency.py``.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from deploy_files import (
    DEPLOY,
    EXPECTED_FILES,
    NOT_SETTINGS,
    PENDING_COMMANDS,
    PENDING_SETTINGS,
    console_scripts,
    deploy_files,
    dockerfile_entrypoint,
    invocations,
    k8s_objects,
    one_yaml,
    rel_path,
    resolve,
    yaml_docs,
    yaml_files,
)

from pool_api.cli.app import app
from pool_api.settings import Settings


def _invocation_params() -> list[Any]:
    params = []
    for rel, argv in invocations():
        sub = argv[1] if len(argv) > 1 else ""
        marks = []
        if sub in PENDING_COMMANDS and sub not in typer.main.get_command(app).commands:
            marks = [pytest.mark.xfail(strict=False, reason=PENDING_COMMANDS[sub])]
        params.append(pytest.param(argv, id=f"{rel}:{' '.join(argv[1:3])}", marks=marks))
    return params


# ---------------------------------------------------------------------------- parsing


def test_expected_files_exist() -> None:
    missing = [rel for rel in EXPECTED_FILES if not (DEPLOY / rel).is_file()]
    assert not missing, f"deploy/ lacks {missing}"


@pytest.mark.parametrize("path", yaml_files(), ids=rel_path)
def test_yaml_parses(path: Path) -> None:
    docs = yaml_docs(path)
    assert docs and all(isinstance(doc, dict) for doc in docs), f"{rel_path(path)}: not a mapping"


@pytest.mark.parametrize("path", [p for p in deploy_files() if p.suffix == ".json"], ids=rel_path)
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


def test_systemd_unit_parses() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string((DEPLOY / "systemd/proverpool-worker.service").read_text())
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "proverpool" and service["EnvironmentFile"].startswith("/etc/")
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    # These close the device list (ProtectClock implies DeviceAllow=char-rtc r): no /dev/nvidia*.
    assert not {"PrivateDevices", "DeviceAllow", "ProtectClock"} & set(service)
    exec_start = shlex.split(service["ExecStart"])
    assert Path(exec_start[0]).name in console_scripts() and exec_start[1] == "join"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_verifies() -> None:
    """``systemd-analyze verify``: unknown keys, bad values.  The binary is not installed here."""
    unit = DEPLOY / "systemd/proverpool-worker.service"
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    lines = (result.stdout + result.stderr).splitlines()
    problems = [line for line in lines if line.strip() and "is not executable" not in line]
    assert not problems


def test_ray_launcher_matches_rays_schema() -> None:
    """The cluster launcher's own JSON schema, shipped inside the installed Ray."""
    (ray_dir,) = importlib.util.find_spec("ray").submodule_search_locations
    schema = json.loads((Path(ray_dir) / "autoscaler/ray-schema.json").read_text())
    jsonschema.validate(one_yaml("ray/cluster.yaml"), schema)


# --------------------------------------------------------------- settings and commands


def _settings_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {(prefix + name).upper() for name in Settings.model_fields}


def _used_env_names() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in deploy_files():
        for name in set(re.findall(r"\bPROVERPOOL_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())):
            used.setdefault(name, []).append(rel_path(path))
    return used


def test_env_names_are_settings_or_allowed() -> None:
    allowed = _settings_env_names() | set(NOT_SETTINGS) | set(PENDING_SETTINGS)
    unknown = {n: files for n, files in _used_env_names().items() if n not in allowed}
    assert not unknown, f"not fields of pool_api.settings.Settings: {unknown}"


def test_allowlists_are_used_and_not_settings() -> None:
    used = _used_env_names()
    assert set(NOT_SETTINGS) | set(PENDING_SETTINGS) <= set(used), "stale allowlist entry"
    stale = set(NOT_SETTINGS) & _settings_env_names()
    assert not stale, f"now real settings, drop them from NOT_SETTINGS: {stale}"


def test_invocations_found() -> None:
    subcommands = {argv[1] for _, argv in invocations()}
    assert {"head", "join", "leave", "db"} <= subcommands


@pytest.mark.parametrize("argv", _invocation_params())
def test_proverpool_invocation_is_real(argv: list[str]) -> None:
    assert Path(argv[0]).name in console_scripts()
    _, problems = resolve(argv)
    assert not problems, f"{shlex.join(argv)}: {problems}"


def test_entry_points_are_console_scripts() -> None:
    scripts = console_scripts()
    assert dockerfile_entrypoint() == ["proverpool"] and "proverpool" in scripts
    module, _, attr = scripts["proverpool"].partition(":")
    assert module == "pool_api.cli.app" and attr == "app"
    for obj in k8s_objects():
        spec = obj["spec"].get("template", {}).get("spec")
        pod_specs = [spec] if spec else []
        if obj["kind"] == "RayCluster":
            groups = [obj["spec"]["headGroupSpec"], *obj["spec"]["workerGroupSpecs"]]
            pod_specs = [g["template"]["spec"] for g in groups]
        for pod in pod_specs:
            for container in pod.get("initContainers", []) + pod["containers"]:
                binary = Path(container["command"][0]).name
                assert binary in scripts or binary == "bash", container["name"]
