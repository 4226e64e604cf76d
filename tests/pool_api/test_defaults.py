"""Embedded defaults: with no configuration the pool uses a SQLite file and an embedded Redis."""

from __future__ import annotations

import stat

from fastapi.testclient import TestClient

from pool_api.live.embedded_redis import EmbeddedRedisClient
from pool_api.main import create_app
from pool_api.settings import Settings


def test_defaults_are_embedded(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "OPERATOR_TOKEN", "DATA_DIR"):
        monkeypatch.delenv(f"PROVERPOOL_{name}", raising=False)
    monkeypatch.setenv("PROVERPOOL_DATA_DIR", str(tmp_path / "pool"))
    settings = Settings()
    assert settings.database_url is None and settings.redis_url is None
    with TestClient(create_app(settings, start_runner=False)) as client:
        health = client.get("/healthz").json()
        assert health == {"status": "ok", "database": "ok", "redis": "ok", "ray": health["ray"]}
        assert health["ray"] in ("not used", "ok")  # no runner, no cluster named
        state = client.app.state.pool
        assert isinstance(state.events.client, EmbeddedRedisClient)
        assert state.engine.url.drivername == "sqlite"
    assert (tmp_path / "pool" / "pool.db").exists()
    token_file = tmp_path / "pool" / "operator_token"
    token = settings.resolved_operator_token
    assert token_file.read_text().strip() == token and len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert Settings().resolved_operator_token == token  # generated once, then kept


def test_environment_switches_to_external_services(monkeypatch, tmp_path):
    monkeypatch.setenv("PROVERPOOL_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    monkeypatch.setenv("PROVERPOOL_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("PROVERPOOL_FEE_BPS", "250")
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url.startswith("postgresql")
    assert settings.redis_url == "redis://127.0.0.1:6379/15"
    assert settings.fee_bps == 250
