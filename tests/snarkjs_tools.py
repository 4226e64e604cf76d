"""snarkjs for the Groth16 tests: the session fixture that installs it, and ``groth16 verify``.

Registered for every test in ``tests/conftest.py`` (like the Ray cluster).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "groth16"
SNARKJS = FIXTURES / "node_modules" / ".bin" / "snarkjs"


@pytest.fixture(scope="session")
def snarkjs() -> Path:
    """snarkjs from npm (version pinned in the fixtures' package-lock.json), installed once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not found: cannot run snarkjs groth16 verify")
    # one installer at a time: pytest-xdist workers share the fixtures directory
    with (Path(tempfile.gettempdir()) / "proverpool-snarkjs-npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not SNARKJS.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=FIXTURES,
                check=True,
                capture_output=True,
                timeout=600,
            )
    return SNARKJS


def snarkjs_verify(
    snarkjs: Path, vkey: Path, proof: object, public: object, tmp_path: Path
) -> subprocess.CompletedProcess:
    """Run ``snarkjs groth16 verify`` on JSON objects ``proof`` and ``public``."""
    proof_path, public_path = tmp_path / "proof.json", tmp_path / "public.json"
    proof_path.write_text(json.dumps(proof, indent=1))
    public_path.write_text(json.dumps(public, indent=1))
    return subprocess.run(
        [snarkjs, "groth16", "verify", vkey, public_path, proof_path],
        capture_output=True,
        text=True,
        timeout=120,
    )
