"""Issue 14 item 12: the data directory is the owner's alone.

Fault: the data directory and what it holds (the SQLite file with every API-key digest
and the ledger, the generated operator token, job blobs, the embedded Redis) were
created with the umask's modes (0755 / 0644 under the usual 022), readable by every
user of the machine.  What must hold, with umask 022, on a fresh data directory and on
one an older version left at 0755 with 0644 files: while the pool runs (a job submitted,
so a blob exists) and after it stopped, every directory under the data directory is
0700 and every file 0600 (sockets: no group or other bits).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pool_api.main import create_app
from pool_api.settings import Settings

NTT_JOB = {"kind": "ntt", "field": "babybear", "values": ["1", "2", "3", "4"]}


def _loose_modes(data_dir: Path) -> list[str]:
    entries = [data_dir, *data_dir.rglob("*")]
    loose = []
    for path in entries:
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            ok = mode == 0o700
        elif stat.S_ISSOCK(st.st_mode):
            ok = mode & 0o077 == 0
        else:
            ok = mode == 0o600
        if not ok:
            loose.append(f"{oct(mode)} {path.relative_to(data_dir.parent)}")
    return loose


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing-0755"])
def test_data_dir_is_private(tmp_path, monkeypatch, umask_022, existing):
    for name in ("DATABASE_URL", "REDIS_URL", "OPERATOR_TOKEN", "DATA_DIR"):
        monkeypatch.delenv(f"PROVERPOOL_{name}", raising=False)
    data_dir = tmp_path / "pool"
    if existing:  # what an older version left: world-readable dir, token and blob
        (data_dir / "blobs" / "ab").mkdir(parents=True)
        (data_dir / "operator_token").write_text("t" * 43 + "\n")
        (data_dir / "blobs" / "ab" / ("ab" + "0" * 62)).write_bytes(b"old blob")
        for path in [data_dir, *data_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    settings = Settings(data_dir=data_dir)  # embedded SQLite and Redis, generated token
    operator = {"Authorization": f"Bearer {settings.resolved_operator_token}"}
    with TestClient(create_app(settings, start_runner=False)) as client:
        created = client.post("/v1/jobs", json=NTT_JOB, headers=operator)
        assert created.status_code == 201, created.text
        job = client.get(f"/v1/jobs/{created.json()['id']}", headers=operator).json()
        assert job["status"] == "queued"
        assert any((data_dir / "blobs").rglob("*")), "no blob was written"
        assert (data_dir / "pool.db").exists()
        assert _loose_modes(data_dir) == []
    assert _loose_modes(data_dir) == []  # the Redis dump written at shutdown too
