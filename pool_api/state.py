"""Everything one running pool holds: settings, database, Redis, blobs, runner, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from pool_api.live import presence
from pool_api.live.events import EventBus, connect_redis
from pool_api.live.presence import PresenceSweeper
from pool_api.membership import alive_ray_nodes
from pool_api.metrics import Metrics, PoolStateCollector
from pool_api.private_files import secure_data_dir
from pool_api.runner.loop import JobRunner
from pool_api.settings import Settings
from pool_api.store import migrate
from pool_api.store.blobs import BlobStore
from pool_api.store.db import make_engine
from pool_api.store.models import Contributor, Job, Node


@dataclass
class PoolState:
    settings: Settings
    engine: Engine
    events: EventBus
    blobs: BlobStore
    metrics: Metrics
    runner: JobRunner
    sweeper: PresenceSweeper

    @property
    def read_engine(self) -> Engine:
        """The engine in autocommit mode: single reads on hot paths skip BEGIN/ROLLBACK."""
        engine = self.__dict__.get("_read_engine")
        if engine is None:
            engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.__dict__["_read_engine"] = engine
        return engine

    @classmethod
    def open(cls, settings: Settings) -> PoolState:
        """Connect everything; an external database must already be migrated."""
        secure_data_dir(settings.data_dir)  # 0700, its files 0600 (issue 14 item 12)
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
        metrics.watch(
            PoolStateCollector(
                lambda: _jobs_by_status(engine),
                lambda: _nodes_by_status(engine, events, settings.ray_address),
            )
        )
        sweeper = PresenceSweeper(events, max(0.5, settings.node_presence_ttl_seconds / 3))
        sweeper.start()
        return cls(settings, engine, events, blobs, metrics, runner, sweeper)

    def close(self) -> None:
        self.sweeper.stop()
        self.runner.stop()
        self.engine.dispose()
        self.events.client.close()  # the embedded Redis stops with its last user


def _jobs_by_status(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(getattr(status, "value", status)): int(count) for status, count in rows}


def _nodes_by_status(
    engine: Engine, events: EventBus, ray_address: str | None
) -> tuple[dict[str, int], int]:
    """Nodes online (heartbeat and alive in Ray) / offline / banned, and the online ones
    with a GPU."""
    with Session(engine) as session:
        rows = session.exec(
            select(Node.ray_node_id, Node.gpu_model, Contributor.banned_at).join(
                Contributor, Contributor.id == Node.contributor_id
            )
        ).all()
    online = presence.last_seen(events.client, [node_id for node_id, _, _ in rows])
    alive = alive_ray_nodes(ray_address) if online else frozenset()
    online = {node_id: when for node_id, when in online.items() if node_id in alive}
    counts = {"online": 0, "offline": 0, "banned": 0}
    gpus = 0
    for node_id, gpu_model, banned_at in rows:
        if banned_at is not None:
            counts["banned"] += 1
        elif node_id in online:
            counts["online"] += 1
            gpus += gpu_model is not None
        else:
            counts["offline"] += 1
    return counts, gpus
