"""Everything one running pool holds: settings, database, Redis, blobs, runner, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from pool_api import migrate
from pool_api.blobs import BlobStore
from pool_api.db import make_engine
from pool_api.events import EventBus, connect_redis
from pool_api.metrics import Metrics
from pool_api.runner import JobRunner
from pool_api.settings import Settings


@dataclass
class PoolState:
    settings: Settings
    engine: Engine
    events: EventBus
    blobs: BlobStore
    metrics: Metrics
    runner: JobRunner

    @classmethod
    def open(cls, settings: Settings) -> PoolState:
        """Connect everything; an external database must already be migrated."""
        engine = make_engine(settings.resolved_database_url)
        if settings.database_url is None:
            migrate.upgrade(engine)  # the embedded database is ours to migrate
        else:
            try:
                migrate.require_current(engine)
            except migrate.SchemaNotMigratedError:
                engine.dispose()
                raise
        events = EventBus(connect_redis(settings))
        blobs = BlobStore(settings.blob_dir)
        metrics = Metrics()
        runner = JobRunner(settings, engine, blobs, events, metrics)
        return cls(settings, engine, events, blobs, metrics, runner)

    def close(self) -> None:
        self.runner.stop()
        self.engine.dispose()
