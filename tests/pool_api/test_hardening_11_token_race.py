"""Issue 14 item 11: the generated operator token is created once, atomically.

Fault: with no ``PROVERPOOL_OPERATOR_TOKEN``, processes starting together on a fresh data
directory each found no token file, generated their own token and wrote it (some read
the file between its creation and its write: an empty token, the operator locked
out).  What must hold: in every round of N real processes resolving the token at once,
all get the same non-empty token, the one in the file (0600).  And a configured token
shorter than 32 characters is refused with a clear settings error.
"""

from __future__ import annotations

import multiprocessing
import stat

import pytest
from pydantic import ValidationError

from pool_api.settings import Settings

ROUNDS = 12
PROCESSES = 6


def _resolve(data_dir: str, barrier, results) -> None:
    barrier.wait()
    try:
        results.put(Settings(data_dir=data_dir, operator_token=None).resolved_operator_token)
    except Exception as exc:  # reported to the parent, which fails
        results.put(f"error: {exc!r}")


def test_processes_starting_together_share_one_token(tmp_path, monkeypatch):
    monkeypatch.delenv("PROVERPOOL_OPERATOR_TOKEN", raising=False)
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        data_dir = tmp_path / f"round{round_number}"
        barrier = context.Barrier(PROCESSES)
        results = context.Queue()
        workers = [
            context.Process(target=_resolve, args=(str(data_dir), barrier, results))
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        tokens = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(30)
        stored = (data_dir / "operator_token").read_text().strip()
        assert all(tokens), f"round {round_number}: an empty token was read: {tokens}"
        assert set(tokens) == {stored}, f"round {round_number}: tokens differ: {tokens}"
        assert len(stored) >= 32
        assert stat.S_IMODE((data_dir / "operator_token").stat().st_mode) == 0o600
        assert sorted(p.name for p in data_dir.iterdir()) == ["operator_token"]  # no temp left


def test_short_configured_token_is_refused(tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(data_dir=tmp_path, operator_token="operator-test-token")
    monkeypatch.setenv("PROVERPOOL_OPERATOR_TOKEN", "x" * 31)
    with pytest.raises(ValidationError, match="PROVERPOOL_OPERATOR_TOKEN must be at least 32"):
        Settings(data_dir=tmp_path)
    monkeypatch.setenv("PROVERPOOL_OPERATOR_TOKEN", "x" * 32)
    assert Settings(data_dir=tmp_path).resolved_operator_token == "x" * 32
