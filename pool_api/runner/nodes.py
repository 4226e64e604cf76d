"""What the runner knows about nodes: owners, bans, strikes and measured speeds (SQL).

* **Owners**: a registered node (``Node`` row) answers for its contributor.  Only
  registered nodes of contributors who are not banned get chunks (docs/architecture.md
  §6): an unregistered node in the pool's shared Ray cluster is nobody's, and a banned
  contributor's nodes stay fenced.  In a private Ray (no ``PROVERPOOL_RAY_ADDRESS``:
  nobody can join, every node is the operator's) unregistered nodes work, uncredited.
* **Strikes and bans** (docs/architecture.md §6): a contributor caught with a wrong result
  in a job gets one :class:`~pool_api.store.models.Strike` for that job (at most
  one per job), earns nothing for it, and is banned (``banned_at``) on its
  ``max_strikes``-th strike.  Banned contributors' nodes are never offered
  work.
* **Speeds**: ``Node.speeds_json`` holds work units per second per kernel
  (``msm``, ``ntt`` on one CPU slot; ``msm_gpu``, ``ntt_gpu`` on a GPU slot):
  a calibration task when the node is first seen, then an exponentially
  weighted moving average of observed chunks, per backend
  (``new = α·observed + (1 − α)·old``, ``α`` = :data:`SPEED_EWMA_WEIGHT`).
  The straggler deadline is derived from it.
* **Links** (issue 15): ``speeds_json["link_bytes_per_second"]`` is the node's link
  throughput from the head, for the link-aware planner (:mod:`workers.cluster.linkplan`):
  a probe when the node is first calibrated (a few MiB pulled from the head,
  :func:`workers.cluster.dispatch.probe_links`), then an EWMA of its real fetches (the MSM
  bases its chunks pull, :meth:`NodeBook.observe_link`), clamped: a node's claim steers
  planning only, never credit.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from pool_api.store.models import Contributor, Node, Strike, utcnow
from workers.cluster import dispatch, runtime
from workers.cluster.linkplan import LINK_KEY, fold_link

log = logging.getLogger(__name__)
SPEED_EWMA_WEIGHT = 0.2


class NodeBook:
    """Owners, bans and speeds of nodes, read from SQL for one job."""

    def __init__(self, engine: Engine, job_id: str, unregistered_may_work: bool = False) -> None:
        """``unregistered_may_work``: the pool's Ray is private (nobody can join it), so
        its unregistered nodes may work (uncredited)."""
        self.engine = engine
        self.job_id = job_id
        self.unregistered_may_work = unregistered_may_work
        self.owners: dict[str, int] = {}
        self.speeds: dict[str, dict[str, float]] = {}
        self.excluded: set[int] = set()
        self.reload()

    def reload(self) -> None:
        """Owners and speeds of registered nodes; banned or struck-in-this-job contributors."""
        with Session(self.engine) as session:
            for node in session.exec(select(Node)):
                self.owners[node.ray_node_id] = node.contributor_id
                if node.speeds_json:
                    self.speeds[node.ray_node_id] = json.loads(node.speeds_json)
            banned = session.exec(
                select(Contributor.id).where(col(Contributor.banned_at).is_not(None))
            ).all()
            struck = session.exec(
                select(Strike.contributor_id).where(Strike.job_id == self.job_id)
            ).all()
        self.excluded = {i for i in banned if i is not None} | set(struck)

    def owner_of(self, node_id: str) -> int | str:
        return self.owners.get(node_id, node_id)

    def contributor_of(self, node_id: str) -> int | None:
        return self.owners.get(node_id)

    def eligible(self, alive: dict[str, int]) -> dict[str, int]:
        """``alive`` (node → slots) with only registered nodes of contributors neither
        banned nor struck in this job (any unregistered one too in a private Ray)."""
        return {
            n: s
            for n, s in alive.items()
            if (n in self.owners or self.unregistered_may_work)
            and self.owners.get(n) not in self.excluded
        }

    # --- strikes ---------------------------------------------------------------------------
    def strike(self, node_id: str, chunk_index: int, reason: str, max_strikes: int) -> bool:
        """One strike for the node's contributor in this job; whether it is now banned."""
        contributor_id = self.contributor_of(node_id)
        if contributor_id is None:
            return False
        self.excluded.add(contributor_id)
        with Session(self.engine) as session:
            session.add(
                Strike(
                    contributor_id=contributor_id,
                    job_id=self.job_id,
                    ray_node_id=node_id,
                    chunk_index=chunk_index,
                    reason=reason,
                )
            )
            try:
                session.commit()
                log.warning(
                    "contributor %s struck in job %s (node %s, chunk %s): %s",
                    *(contributor_id, self.job_id, node_id, chunk_index, reason),
                )
            except IntegrityError:  # already struck in this job (a resumed run)
                session.rollback()
            strikes = session.exec(
                select(func.count())
                .select_from(Strike)
                .where(Strike.contributor_id == contributor_id)
            ).one()
            contributor = session.get(Contributor, contributor_id)
            if contributor is not None and contributor.banned_at is None and strikes >= max_strikes:
                contributor.banned_at = utcnow()
                session.add(contributor)
                session.commit()
                log.warning("contributor %s banned after %s strikes", contributor_id, strikes)
            return contributor is not None and contributor.banned_at is not None

    def struck_contributors(self) -> set[int]:
        with Session(self.engine) as session:
            return set(
                session.exec(select(Strike.contributor_id).where(Strike.job_id == self.job_id))
            )

    # --- speeds ----------------------------------------------------------------------------
    def expected_seconds(self, kernel: str, node_id: str, work_units: int) -> float | None:
        speed = self.speeds.get(node_id, {}).get(kernel)
        if not speed:
            return None
        return work_units / speed

    def observe(self, session: Session, node_id: str, kernel: str, units_per_second: float) -> None:
        """Fold one observed chunk speed into the node's EWMA (in ``session``, not committed)."""
        speeds = self.speeds.setdefault(node_id, {})
        old = speeds.get(kernel)
        speeds[kernel] = (
            units_per_second
            if old is None
            else SPEED_EWMA_WEIGHT * units_per_second + (1 - SPEED_EWMA_WEIGHT) * old
        )
        node = session.get(Node, node_id)
        if node is not None:
            node.speeds_json = json.dumps(speeds, sort_keys=True)
            session.add(node)

    def observe_link(
        self, session: Session, node_id: str, fetched_bytes: int, fetch_seconds: float
    ) -> None:
        """Fold one fetch into the node's link average (:func:`fold_link`: clamped, tiny or
        malformed fetches ignored; in ``session``, not committed)."""
        speeds = self.speeds.setdefault(node_id, {})
        folded = fold_link(speeds.get(LINK_KEY), fetched_bytes, fetch_seconds)
        if folded is None or folded == speeds.get(LINK_KEY):
            return
        speeds[LINK_KEY] = folded
        node = session.get(Node, node_id)
        if node is not None:
            node.speeds_json = json.dumps(speeds, sort_keys=True)
            session.add(node)

    def needs_calibration(self, node_id: str) -> bool:
        """A registered node without kernel speeds or a measured link."""
        known = set(self.speeds.get(node_id, {}))
        return node_id in self.owners and not {"msm", "ntt", LINK_KEY} <= known

    def calibrate(self, nodes: list[str], curve: str, field: str) -> None:
        """Calibrate registered nodes that have no speeds yet
        (:func:`workers.cluster.runtime.calibrate_nodes`), probe the links of those with
        none measured (:func:`workers.cluster.dispatch.probe_links`), store what they
        measured."""
        missing = [
            n
            for n in nodes
            if n in self.owners and not {"msm", "ntt"} <= set(self.speeds.get(n, {}))
        ]
        unprobed = [n for n in nodes if n in self.owners and LINK_KEY not in self.speeds.get(n, {})]
        if not missing and not unprobed:
            return
        measured = runtime.calibrate_nodes(missing, curve, field) if missing else {}
        for node_id, (nbytes, seconds) in dispatch.probe_links(unprobed).items():
            link = fold_link(None, nbytes, seconds)
            if link is not None:
                measured.setdefault(node_id, {})[LINK_KEY] = link
        with Session(self.engine) as session:
            for node_id, speeds in measured.items():
                self.speeds.setdefault(node_id, {}).update(speeds)
                node = session.get(Node, node_id)
                if node is not None:
                    node.speeds_json = json.dumps(self.speeds[node_id], sort_keys=True)
                    session.add(node)
            session.commit()
