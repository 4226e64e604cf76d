"""Reading ``deploy/`` for the static checks of tests/deploy (issue 7 §4).

Loaders for the YAML/JSON/unit files, and :func:`invocations`: every
``proverpool <subcommand> …`` command line the files run (compose services of
the proverpool image, Kubernetes ``command``/``args``, shell strings, unit
``Exec*`` lines, README code blocks), resolved against the real typer app by
:func:`resolve`.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import typer
import yaml

from pool_api.cli.app import app

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RAY_DEFAULT_PORT = 6379

EXPECTED_FILES = [
    "Dockerfile",
    "docker-compose.yml",
    "prometheus/prometheus.yml",
    "grafana/provisioning/datasources/prometheus.yml",
    "grafana/provisioning/dashboards/proverpool.yml",
    "kuberay/raycluster.yaml",
    "kuberay/api.yaml",
    "ray/cluster.yaml",
    "systemd/proverpool-worker.service",
    "README.md",
]

# PROVERPOOL_* names in deploy/ that are deliberately not pool settings.
NOT_SETTINGS = {
    "PROVERPOOL_INVITE": "the single-use invite handed to `proverpool join --invite` "
    "(compose .env, k8s Secret, systemd EnvironmentFile): a command-line value",
    "PROVERPOOL_POOL_URL": "POOL_URL argument of `proverpool join` in the systemd EnvironmentFile",
    "PROVERPOOL_NODE_NAME": "`--name` of `proverpool join` in the systemd EnvironmentFile",
    "PROVERPOOL_PAYOUT_ADDRESS": "`--payout` of `proverpool join` in the systemd EnvironmentFile",
}
PENDING_SETTINGS: dict[str, str] = {}
"""Settings the deploy files name before the Settings class has them (none now)."""
# Subcommands the deploy files use before they exist; their checks xfail meanwhile (none now).
PENDING_COMMANDS: dict[str, str] = {}


def deploy_files() -> list[Path]:
    """Every file under deploy/ except a filled-in ``.env`` (secrets, gitignored)."""
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.name != ".env")


def rel_path(path: Path) -> str:
    return str(path.relative_to(DEPLOY))


def yaml_files() -> list[Path]:
    return [p for p in deploy_files() if p.suffix in {".yml", ".yaml"}]


def yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def one_yaml(rel: str) -> Any:
    (doc,) = yaml_docs(DEPLOY / rel)
    return doc


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for p in sorted((DEPLOY / "kuberay").glob("*.yaml")) for doc in yaml_docs(p)]


def k8s(kind: str, name: str) -> dict[str, Any]:
    (obj,) = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def load_compose() -> dict[str, Any]:
    return one_yaml("docker-compose.yml")


def console_scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def dockerfile_entrypoint() -> list[str]:
    (line,) = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", (DEPLOY / "Dockerfile").read_text(), re.M)
    return json.loads(line)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# ---------------------------------------------------------------- proverpool invocations

_INVOCATION = re.compile(
    r"(?:^|(?<=[\s\"'`(\[;&|])|(?<=/bin/))proverpool[ \t]+(?=[a-z])", re.MULTILINE
)
_SHELL_STOP = {";", "&&", "||", "|", "&", ">", ">>", "<", "2>&1", ")", "("}


def argv_from_text(text: str) -> list[list[str]]:
    """``proverpool …`` command lines in shell-ish text (``#`` comments dropped), cut at
    the first shell operator."""
    text = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    found = []
    for match in _INVOCATION.finditer(text):
        line = text[match.start() :].splitlines()[0]
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        argv: list[str] = []
        for token in lexer:
            if token in _SHELL_STOP or token.startswith((">", "2>")):
                break
            argv.append(token)
        found.append(argv)
    return found


def walk_yaml(node: Any) -> list[list[str]]:
    """Invocations in a YAML tree: ``command: [.../proverpool, …] (+ args)`` and strings."""
    found = []
    if isinstance(node, dict):
        command = node.get("command")
        if isinstance(command, list) and command and str(command[0]).endswith("proverpool"):
            found.append([str(t) for t in command + list(node.get("args") or [])])
        for value in node.values():
            found += walk_yaml(value)
    elif isinstance(node, list):
        for value in node:
            found += walk_yaml(value)
    elif isinstance(node, str):
        found += argv_from_text(node)
    return found


def compose_invocations() -> list[list[str]]:
    """Services of the proverpool image: the Dockerfile's entry point + their command."""
    entrypoint = dockerfile_entrypoint()
    found = []
    for service in load_compose()["services"].values():
        if "build" in service or str(service.get("image", "")).startswith("proverpool"):
            found.append(list(service.get("entrypoint") or entrypoint) + service["command"])
    return found


def fenced_code(markdown: str) -> str:
    return "\n".join(re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL))


def invocations() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for path in deploy_files():
        rel = rel_path(path)
        if path.suffix in {".yml", ".yaml"}:
            argvs = [a for doc in yaml_docs(path) for a in walk_yaml(doc)]
            if rel == "docker-compose.yml":
                argvs += compose_invocations()
        elif path.suffix == ".md":
            argvs = argv_from_text(fenced_code(path.read_text()))
        elif path.suffix in {".json", ".example"} or path.name.startswith("."):
            continue
        else:  # Dockerfile, systemd unit
            argvs = argv_from_text(path.read_text())
        found += [(rel, argv) for argv in argvs]
    return found


def resolve(argv: list[str]) -> tuple[list[str], list[str]]:
    """(subcommand path, problems) of ``argv`` (``argv[0]`` is the proverpool script)."""
    command = typer.main.get_command(app)
    path: list[str] = []
    tokens = argv[1:]
    while getattr(command, "commands", None) and tokens and not tokens[0].startswith("-"):
        name = tokens.pop(0)
        if name not in command.commands:
            return [*path, name], [f"no subcommand {' '.join([*path, name])!r}"]
        path.append(name)
        command = command.commands[name]
    if getattr(command, "commands", None):
        return path, [f"{' '.join(path) or 'proverpool'} needs a subcommand"]
    known = {"--help"}
    for param in command.params:
        known.update(getattr(param, "opts", []), getattr(param, "secondary_opts", []))
    options = [t.split("=")[0] for t in tokens if t.startswith("--")]
    unknown = [option for option in options if option not in known]
    return path, [f"{' '.join(path)}: unknown option {t}" for t in unknown]
