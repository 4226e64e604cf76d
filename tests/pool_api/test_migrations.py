"""Alembic migrations build exactly the models' schema; the app refuses an old database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from pool_api import migrate
from pool_api.db import make_engine
from pool_api.main import create_app
from pool_api.settings import Settings


def test_migrations_build_the_models_schema(db_url):
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, SQLModel.metadata)
        assert differences == []
        migrate.downgrade(engine, "base")  # downgrade all the way, then up again
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def test_app_refuses_an_unmigrated_external_database(db_url, tmp_path, caplog):
    settings = Settings(data_dir=tmp_path, database_url=db_url, operator_token="t")
    app = create_app(settings, start_runner=False)
    with (
        pytest.raises(migrate.SchemaNotMigratedError, match="proverpool db upgrade"),
        TestClient(app),
    ):
        pass
    assert "refuses to start" in caplog.text


def test_head_command_refuses_an_unmigrated_database(db_url, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pool_api.cli import app

    monkeypatch.setenv("PROVERPOOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROVERPOOL_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["head", "--port", "1"])
    assert result.exit_code == 1
    assert "proverpool db upgrade" in result.output
