"""Distributing kernels over a Ray cluster: costs, plans, calibration, tasks, dispatch,
scheduling and verification of untrusted results.

Only :mod:`~workers.cluster.runtime`, :mod:`~workers.cluster.tasks`,
:mod:`~workers.cluster.dispatch` and :mod:`~workers.cluster.scheduler` import Ray.
"""
