"""The README's first command: ``proverpool demo`` runs end to end and exits 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(400)


def _proverpool() -> list[str]:
    script = Path(sys.executable).with_name("proverpool")
    if script.exists():
        return [str(script)]
    found = shutil.which("proverpool")
    return [found] if found else [sys.executable, "-m", "pool_api.cli.app"]


def test_demo_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVERPOOL_")}
    env["HOME"] = str(tmp_path)  # nothing of the user's data dir is touched
    env["COLUMNS"] = "120"
    done = subprocess.run(
        [*_proverpool(), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=360,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "MSM result equals the single-process kernel: yes" in output
    assert "NTT result equals the single-process kernel: yes" in output
    assert "demo passed" in output
    assert "alice" in output and "bob" in output
