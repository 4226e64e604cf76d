"""What Ray's processes see of the pool's environment (issue 14, "Also"; threat model §6).

``proverpool head`` and ``join`` start Ray with :func:`pool_api.membership.ray_environment`:
no ``PROVERPOOL_*`` variable reaches Ray's processes (where any cluster member can run
code) except the few the workers read, whatever the variable is called.
"""

from __future__ import annotations

from pool_api.membership import RAY_VISIBLE_SETTINGS, ray_environment


def test_only_the_workers_settings_reach_ray(monkeypatch):
    monkeypatch.setenv("PROVERPOOL_DATABASE_URL", "postgresql://pool:pw@db/pool")
    monkeypatch.setenv("PROVERPOOL_OPERATOR_TOKEN", "t" * 40)
    monkeypatch.setenv("PROVERPOOL_DATA_DIR", "/srv/pool")  # no "secret word" in the name
    monkeypatch.setenv("PROVERPOOL_FEE_BPS", "300")
    monkeypatch.setenv("PROVERPOOL_KERNEL_THREADS", "2")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "old")
    monkeypatch.setenv("UNRELATED", "kept")
    env = ray_environment("new-token")
    assert {k for k in env if k.startswith("PROVERPOOL_")} == {"PROVERPOOL_KERNEL_THREADS"}
    assert env["RAY_AUTH_TOKEN"] == "new-token" and env["RAY_AUTH_MODE"] == "token"
    assert env["UNRELATED"] == "kept"
    assert all(name.startswith("PROVERPOOL_") for name in RAY_VISIBLE_SETTINGS)
    assert "RAY_AUTH_MODE" not in ray_environment(None)
