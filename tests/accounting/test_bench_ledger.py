"""``bench/ledger.py`` keeps working: its core at 1,000 contributors (not timed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ledger.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_ledger", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_core_splits_exactly_and_audits_clean(db_url: str) -> None:
    bench = _bench_module()
    result = bench.bench_database(db_url, 1_000)
    assert result["contributors"] == 1_000
    assert result["exact"] and result["audit_clean"]
    assert result["transfers"] == 1_001  # 1,000 shares and the fee
    assert set(result["seconds"]) == {
        "post_reward",
        "post_reward (exists)",
        "post_reward (accounts exist)",
        "audit",
        "balances",
        "work_units_by_contributor",
        "credit_work_many",
        "credit_work_many (exists)",
    }
    assert set(result["client_cpu_seconds"]) == set(result["seconds"])
    # The server's CPU time where it can be read (a PostgreSQL backend on this machine).
    server = result["server_cpu_seconds"]
    assert set(server) == set(result["seconds"])
    if result["dialect"] == "sqlite":
        assert set(server.values()) == {None}
    assert all(t is None or t >= 0 for t in server.values())
    report = {"machine": bench.machine(), "contributors": 1_000, "results": [result]}
    assert "post_reward" in bench.table(report)
