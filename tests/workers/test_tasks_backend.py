"""Chunk tasks pick the GPU or the CPU kernels by their node (issue 4).

On this machine (no CuPy) a node that advertises a logical GPU gets GPU
requests for the kernels the GPU covers and falls back to the CPU with a
warning; the tests marked ``gpu`` run a chunk task on a real device and are
skipped without one (``pytest -m gpu tests/workers/test_tasks_backend.py``).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numba
import numpy as np
import pytest
import ray
from gpu_cases import msm_case
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from workers import msm
from workers.cluster import calibration, tasks
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.gpu import cupy_backend, host_build
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import FIELDS

from ray_cluster import extra_workers

R = FIELDS["bn254_fr"].modulus
NO_GPU = pytest.mark.skipif(
    cupy_backend.gpu_available(), reason="a CUDA device is visible: no fallback"
)
FIXTURES = (extra_workers,)  # used as test arguments
GPU_ONLY = pytest.mark.skipif(
    not cupy_backend.gpu_available(), reason="no CUDA device visible to CuPy"
)


def test_backend_is_cpu_where_the_gpu_has_no_kernel_or_no_device(caplog):
    caplog.set_level(logging.WARNING, logger="workers.cluster.tasks")
    assert tasks.chunk_backend("msm", "bls12_381_g1", gpu_assigned=True) == "cpu"
    assert tasks.chunk_backend("ntt", "goldilocks", gpu_assigned=True) == "cpu"
    assert tasks.chunk_backend("msm", "bn254_g1", gpu_assigned=False) == "cpu"
    assert tasks.chunk_backend("ntt", "bn254_fr") == "cpu"  # not in a task: no GPU id
    assert not caplog.records


@NO_GPU
def test_assigned_but_unusable_gpu_falls_back_with_a_warning(caplog, monkeypatch):
    monkeypatch.setattr(tasks, "_GPU_WARNED", set())
    caplog.set_level(logging.WARNING, logger="workers.cluster.tasks")
    assert tasks.chunk_backend("msm", "bn254_g1", gpu_assigned=True) == "cpu"
    assert tasks.chunk_backend("ntt", "bls12_381_fr", gpu_assigned=True) == "cpu"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # once per process
    assert "CuPy sees no CUDA device" in warnings[0]
    assert "CPU" in warnings[0]


def test_a_failing_gpu_kernel_is_logged_and_computed_on_the_cpu(caplog):
    caplog.set_level(logging.WARNING, logger="workers.cluster.tasks")

    def broken() -> object:
        raise RuntimeError("cudaErrorMemoryAllocation")

    assert tasks._computed("gpu", broken, lambda: 42) == (42, "cpu")
    assert "GPU kernel failed" in caplog.text
    assert tasks._computed("cpu", broken, lambda: 7) == (7, "cpu")


@NO_GPU
def test_calibration_without_a_device_times_the_cpu(caplog):
    caplog.set_level(logging.WARNING, logger="workers.cluster.calibration")
    steps: list[str] = []
    speeds = calibration.measure_speeds("bn254_g1", "bn254_fr", steps.append, use_gpu=True)
    assert set(speeds) == {"msm", "ntt"} and all(v > 0 for v in speeds.values())
    assert steps == ["msm warm", "msm timed", "ntt warm", "ntt timed"]
    assert "no CUDA device" in caplog.text


# --- the GPU branch on the host build of the same CUDA kernels --------------------------------


@pytest.fixture
def host_gpu(monkeypatch):
    """:mod:`workers.gpu.cupy_backend` driving the g++ build of the CUDA kernels
    (:mod:`workers.gpu.host_build`):
    the chunk tasks' GPU branch, run in this process on the CPU."""
    if host_build.compiler() is None:
        pytest.skip("no g++ for the host build")
    launcher = host_build.HostLauncher()
    monkeypatch.setattr(cupy_backend, "launcher", lambda: launcher)
    monkeypatch.setattr(cupy_backend, "gpu_available", lambda: True)
    threads = numba.get_num_threads()
    yield launcher
    numba.set_num_threads(threads)  # the task bodies set one thread on this (main) thread


def test_task_bodies_on_the_gpu_branch_match_the_cpu(ray_cluster, host_gpu, monkeypatch):
    choose = tasks.chunk_backend
    assert choose("msm", "bn254_g1", gpu_assigned=True) == "gpu"
    assert choose("ntt", "goldilocks", gpu_assigned=True) == "cpu"
    monkeypatch.setattr(tasks, "chunk_backend", lambda kind, name: choose(kind, name, True))

    points, scalars, bases, scalar_limbs = _msm_input(300, seed=8)
    run = tasks.msm_chunk._function  # the task body, here (the patches stay in this process)
    out = run("bn254_g1", f"host-{random.random()}", [ray.put(bases)], scalar_limbs, 17, 290)
    assert out.backend == "gpu"
    assert out.value == msm("bn254_g1", points[17:290], scalars[17:290], backend="cpu")

    field = "bls12_381_fr"
    rng = random.Random(9)
    modulus = FIELDS[field].modulus
    values = ints_to_limbs([rng.randrange(modulus) for _ in range(16 * 32)]).reshape(16, 32, 4)
    out = tasks.ntt_rows_chunk._function(field, values, 4, 12, None)
    assert out.backend == "gpu"
    assert np.array_equal(out.value, radix2.ntt_rows_limbs(field, values[4:12]))
    out = tasks.ntt_rows_chunk._function(field, values, 0, 16, 11)
    assert out.backend == "gpu"
    block = radix2.ntt_rows_limbs(field, values)
    assert np.array_equal(out.value, radix2.scale_limbs(field, block, 11))
    out = tasks.ntt_rows_chunk._function("goldilocks", values[..., 0] % 5, 0, 2, None)
    assert out.backend == "cpu"  # no GPU kernel for this field


def test_calibration_times_the_gpu_where_it_has_kernels(host_gpu, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="workers.cluster.calibration")
    monkeypatch.setattr(calibration, "CALIBRATION_GPU_MSM_POINTS", 1 << 8)
    monkeypatch.setattr(calibration, "CALIBRATION_GPU_NTT_SHAPE", (4, 1 << 8))
    speeds = calibration.measure_speeds("bn254_g1", "bn254_fr", use_gpu=True)
    assert set(speeds) == {"msm", "ntt", "msm_gpu", "ntt_gpu"}
    assert all(v > 0 for v in speeds.values())
    assert "calibration msm: CPU" in caplog.text and "calibration ntt: CPU" in caplog.text
    caplog.clear()
    speeds = calibration.measure_speeds("bls12_381_g1", "goldilocks", use_gpu=True)
    assert set(speeds) == {"msm", "ntt"} and "calibration" not in caplog.text  # CPU only


# --- on the Ray cluster: a node with a logical GPU ------------------------------------------


@ray.remote(num_cpus=1)
def _assigned_gpus() -> list:
    return [str(i) for i in ray.get_gpu_ids()]


def _add_gpu_node(cluster):
    """A worker node advertising one (logical) GPU; removed when the test ends."""
    node = cluster.cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.cluster.wait_for_nodes()
    cluster.added.append(node)
    return node


def _gpu_node(cluster) -> str:
    return _add_gpu_node(cluster).node_id


def _worker_logs_say(logs_dir: Path, text: str, timeout_seconds: float = 10) -> bool:
    """Whether a Ray worker's stderr log in ``logs_dir`` contains ``text`` (within the timeout)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if any(text in f.read_text(errors="replace") for f in logs_dir.glob("worker-*.err")):
            return True
        time.sleep(0.2)
    return False


def _on(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


def _msm_input(n: int, seed: int) -> tuple[list, list, np.ndarray, np.ndarray]:
    points, scalars = msm_case(n, seed)
    return points, scalars, points_to_limbs(points), ints_to_limbs(scalars)


def test_gpu_node_gets_a_device_and_chunks_stay_right(extra_workers):
    added = _add_gpu_node(extra_workers)
    gpu_node = added.node_id
    cpu_node = extra_workers.worker_node_ids[0]
    assert tasks.node_gpus(gpu_node) == 1 and tasks.node_gpus(cpu_node) == 0
    assert tasks.gpu_options(_on(gpu_node), ("msm", "bn254_g1")) == {"num_gpus": 1.0}
    assert tasks.gpu_options(gpu_node, ("ntt", "goldilocks"), ("ntt", "bn254_fr")) == {
        "num_gpus": 1.0
    }
    assert tasks.gpu_options(gpu_node, ("msm", "bls12_381_g1")) == {}  # CPU-only kernel
    if not any(n["NodeID"] == cpu_node and n["Resources"].get("GPU") for n in ray.nodes()):
        assert tasks.gpu_options(_on(cpu_node), ("msm", "bn254_g1")) == {}  # a CPU-only node
    options = tasks.gpu_options(gpu_node, ("msm", "bn254_g1"))
    assert ray.get(_assigned_gpus.options(scheduling_strategy=_on(gpu_node), **options).remote())

    points, scalars, bases, scalar_limbs = _msm_input(64, seed=3)
    box = [ray.put(bases)]
    out = ray.get(
        tasks.msm_chunk.options(scheduling_strategy=_on(gpu_node), **options).remote(
            "bn254_g1", f"backend-test-{random.random()}", box, scalar_limbs, 8, 60
        )
    )
    assert out.node_id == gpu_node
    assert out.value == msm("bn254_g1", points[8:60], scalars[8:60], backend="cpu")
    assert out.backend == ("gpu" if cupy_backend.gpu_available() else "cpu")
    if not cupy_backend.gpu_available():  # the fallback is logged by the worker that ran the chunk
        logs = Path(added.get_logs_dir_path())
        assert _worker_logs_say(logs, "CuPy sees no CUDA device"), logs

    rng = random.Random(5)
    values = ints_to_limbs([rng.randrange(R) for _ in range(8 * 16)]).reshape(8, 16, 4)
    for task, args, expected in (
        (
            tasks.ntt_rows_chunk,
            (values, 2, 6, None),
            radix2.ntt_rows_limbs("bn254_fr", values[2:6]),
        ),
        (
            tasks.ntt_rows_chunk,
            (values, 1, 7, 5),
            radix2.scale_limbs("bn254_fr", radix2.ntt_rows_limbs("bn254_fr", values[1:7]), 5),
        ),
    ):
        ntt_options = tasks.gpu_options(gpu_node, ("ntt", "bn254_fr"))
        out = ray.get(
            task.options(scheduling_strategy=_on(gpu_node), **ntt_options).remote("bn254_fr", *args)
        )
        assert np.array_equal(out.value, expected)
        assert out.backend == ("gpu" if cupy_backend.gpu_available() else "cpu")

    node_id, speeds = ray.get(
        tasks.calibrate.options(
            scheduling_strategy=_on(gpu_node),
            **tasks.gpu_options(gpu_node, ("msm", "bn254_g1"), ("ntt", "bn254_fr")),
        ).remote("bn254_g1", "bn254_fr")
    )
    assert node_id == gpu_node
    assert set(speeds) == {"msm", "ntt"} and all(v > 0 for v in speeds.values())


# --- on a real device ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 17, 1000, 1 << 13])
@pytest.mark.gpu
@GPU_ONLY
def test_msm_chunk_on_the_gpu_matches_the_cpu(extra_workers, n):
    gpu_node = _gpu_node(extra_workers)
    _, _, bases, scalar_limbs = _msm_input(n, seed=n)
    options = tasks.gpu_options(gpu_node, ("msm", "bn254_g1"))
    assert options == {"num_gpus": 1.0}
    out = ray.get(
        tasks.msm_chunk.options(scheduling_strategy=_on(gpu_node), **options).remote(
            "bn254_g1", f"gpu-test-{n}-{random.random()}", [ray.put(bases)], scalar_limbs, 0, n
        )
    )
    assert out.backend == "gpu"
    assert out.value == pippenger.msm_limbs("bn254_g1", bases, scalar_limbs)


@pytest.mark.parametrize("field", ["bn254_fr", "bls12_381_fr"])
@pytest.mark.gpu
@GPU_ONLY
def test_ntt_chunks_on_the_gpu_match_the_cpu(extra_workers, field):
    gpu_node = _gpu_node(extra_workers)
    rng = random.Random(7)
    modulus = FIELDS[field].modulus
    values = ints_to_limbs([rng.randrange(modulus) for _ in range(64 * 256)]).reshape(64, 256, 4)
    options = tasks.gpu_options(gpu_node, ("ntt", field))
    rows = tasks.ntt_rows_chunk.options(scheduling_strategy=_on(gpu_node), **options)
    out_plain, out_rows = ray.get(
        [rows.remote(field, values, 3, 40, None), rows.remote(field, values, 5, 64, 9)]
    )
    assert out_plain.backend == out_rows.backend == "gpu"
    assert np.array_equal(out_plain.value, radix2.ntt_rows_limbs(field, values[3:40]))
    block = radix2.ntt_rows_limbs(field, values[5:64])
    assert np.array_equal(out_rows.value, radix2.scale_limbs(field, block, 9))
