"""Everything one running pool holds: settings, database, Redis, blobs, runner, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from pool_api.blobs import BlobStore
from pool_api.db import create_schema, make_engine
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
        engine = make_engine(settings.resolved_database_url)
        create_schema(engine)
        events = EventBus(connect_redis(settings))
        blobs = BlobStore(settings.blob_dir)
        metrics = Metrics()
        runner = JobRunner(settings, engine, blobs, events, metrics)
        return cls(settings, engine, events, blobs, metrics, runner)

    def close(self) -> None:
        self.runner.stop()
        self.engine.dispose()
