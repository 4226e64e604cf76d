"""A pool's job runner alone, in its own process, until it is killed (for test_runner_kill).

``python tests/pool_api/runner_process.py``: the settings come from the
``PROVERPOOL_*`` environment like any pool's (database, Redis, data dir,
``PROVERPOOL_RAY_ADDRESS`` of the cluster to join).  When the environment sets
``PROVERPOOL_TEST_SLOWDOWN_FACTOR`` (and the pool is in test mode), this
process's Ray job passes it to its workers on every node (Ray ``runtime_env``),
so every chunk task of this runner is slowed and a test can kill it mid-job.
Prints ``runner started`` once the runner thread runs.
"""

from __future__ import annotations

import os
import threading

import ray

from pool_api.live.events import EventBus, connect_redis
from pool_api.metrics import Metrics
from pool_api.runner.loop import JobRunner
from pool_api.settings import Settings
from pool_api.store.blobs import BlobStore
from pool_api.store.db import make_engine
from workers.cluster.runtime import ensure_ray
from workers.cluster.tasks import SLOWDOWN_ENV


def main() -> None:
    settings = Settings()
    slowdown = os.environ.get(SLOWDOWN_ENV)
    if slowdown and settings.test_mode:
        ray.init(
            address=settings.ray_address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {SLOWDOWN_ENV: slowdown}},
        )
    ensure_ray(settings.ray_address)
    engine = make_engine(settings.resolved_database_url)
    events = EventBus(connect_redis(settings))
    runner = JobRunner(settings, engine, BlobStore(settings.blob_dir), events, Metrics())
    runner.start()
    print("runner started", flush=True)
    threading.Event().wait()  # until SIGKILL (or SIGTERM/SIGINT)


if __name__ == "__main__":
    main()
