"""Peer kernels for :mod:`bench.kernels`: ffjavascript (the BN254 code inside snarkjs) and galois.

* ffjavascript is installed from npm by :func:`ensure_ffjavascript` (``npm install
  --prefix bench/peers``, version pinned in ``bench/peers/package.json``, into the
  git-ignored ``bench/peers/node_modules``) and driven by ``bench/peers/ffjs_bench.mjs``
  in a separate ``node`` process: the inputs go over as binary files in ffjavascript's
  own layouts, the timings and results come back as JSON.  ``buildBn128(true)`` is its
  single-thread mode (the wasm code on the main thread); ``buildBn128()`` starts one
  worker thread per CPU.
* galois (``pip install 'proverpool[bench]'``) is imported lazily.
* py-arkworks-bls12381 (``pip install 'proverpool[bench]'``: Python bindings of the Rust
  arkworks ``ark-bls12-381`` code) runs in a child process (:func:`run_arkworks`) so that
  its rayon thread pool can be sized with ``RAYON_NUM_THREADS`` per run; its
  ``G1Point.multiexp_unchecked`` is the MSM compared with ours on ``bls12_381_g1``.

Every helper here reports a missing peer as a string instead of raising, so that the
benchmark still prints its table and exits 0.  :func:`ours_threads_main` is the child
process that times our kernels under ``NUMBA_NUM_THREADS=2`` (the parent runs pinned to
one thread, and numba reads the variable once, at import).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / "peers"
FFJS_SCRIPT = PEERS_DIR / "ffjs_bench.mjs"
NPM_TIMEOUT_S = 300
NODE_TIMEOUT_S = 1200


# --- ffjavascript ---------------------------------------------------------------------------


def ensure_ffjavascript() -> str | None:
    """Install ffjavascript into ``bench/peers/node_modules`` if needed; an error text or None."""
    if (PEERS_DIR / "node_modules" / "ffjavascript" / "package.json").exists():
        return None
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return "node/npm not found"
    try:
        out = subprocess.run(
            [npm, "install", "--prefix", str(PEERS_DIR), "--no-audit", "--no-fund"],
            cwd=PEERS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm install failed: {exc}"
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
        return f"npm install failed: {tail[0]}"
    return None


def le_bytes(values: list[int] | np.ndarray, width: int = 32) -> bytes:
    """Integers (or a ``(n, 4)`` limb array) as concatenated little-endian words."""
    if isinstance(values, np.ndarray):
        return np.ascontiguousarray(values, dtype="<u8").tobytes()
    return b"".join(v.to_bytes(width, "little") for v in values)


def montgomery_bytes(values: list[int], modulus: int) -> bytes:
    """``v·2^256 mod p`` as 32-byte little-endian words: ffjavascript's "LEM" layout."""
    return b"".join(((v << 256) % modulus).to_bytes(32, "little") for v in values)


def from_le_bytes(data: bytes, width: int = 32) -> list[int]:
    return [int.from_bytes(data[i : i + width], "little") for i in range(0, len(data), width)]


def run_ffjs(tasks: list[dict], single_thread: bool, repeat: int) -> dict:
    """Run ``ffjs_bench.mjs`` on ``tasks``; its JSON answer, or ``{"error": text}``."""
    spec = {"single_thread": single_thread, "repeat": repeat, "tasks": tasks}
    spec_path = Path(tasks[0].get("bases") or tasks[0]["values"]).parent / "spec.json"
    spec_path.write_text(json.dumps(spec))
    try:
        out = subprocess.run(
            ["node", str(FFJS_SCRIPT), str(spec_path)],
            cwd=PEERS_DIR,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"node failed: {exc}"}
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or ["?"]
        errors = [line for line in lines if "Error" in line] or lines
        return {"error": f"node exited {out.returncode}: {errors[-1].strip()}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- galois ---------------------------------------------------------------------------------


def galois_version() -> str | None:
    try:
        import galois
    except ImportError:
        return None
    return galois.__version__


def galois_ntt(values: list[int], modulus: int, repeat: int) -> tuple[float, float, list[int]]:
    """``galois.ntt`` of ``values`` over GF(modulus): (first call s, best of ``repeat`` s, out).

    With ``repeat = 0`` the one (first) call is the best.

    The input is a ready ``GF(p)`` array, so the conversion from Python integers is not
    timed (as ours is timed on ready limb arrays).
    """
    import galois

    field = galois.GF(modulus)
    x = field(values)
    start = time.perf_counter()
    out = galois.ntt(x, modulus=modulus)
    first = time.perf_counter() - start
    best = first
    for _ in range(repeat):
        start = time.perf_counter()
        out = galois.ntt(x, modulus=modulus)
        best = min(best, time.perf_counter() - start)
    return first, best, [int(v) for v in out]


# --- py-arkworks-bls12381 ------------------------------------------------------------------


def arkworks_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        import py_arkworks_bls12381  # noqa: F401
    except ImportError:
        return None
    try:
        return version("py-arkworks-bls12381")
    except PackageNotFoundError:
        return "?"


def run_arkworks(work_dir: Path, threads: int, repeat: int) -> dict:
    """Time ``G1Point.multiexp_unchecked`` on ``work_dir/ark_points.bin`` (96-byte ``x‖y``
    little-endian points) and ``ark_scalars.bin`` (32-byte little-endian) in a child with
    ``RAYON_NUM_THREADS=threads``: ``{"best_s", "xy_le_hex", "threads"}`` or ``{"error"}``."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    spec = work_dir / "arkworks.json"
    spec.write_text(json.dumps({"repeat": repeat, "threads": threads}))
    try:
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "arkworks", str(spec)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"arkworks child failed: {exc}"}
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def arkworks_main(spec_path: Path) -> None:
    from py_arkworks_bls12381 import G1Point, Scalar

    spec = json.loads(spec_path.read_text())
    work_dir = spec_path.parent
    raw_points = (work_dir / "ark_points.bin").read_bytes()
    raw_scalars = (work_dir / "ark_scalars.bin").read_bytes()
    points = [
        G1Point.from_xy_bytes_unchecked_le(raw_points[i : i + 96])
        for i in range(0, len(raw_points), 96)
    ]
    scalars = [
        Scalar.from_le_bytes(raw_scalars[i : i + 32]) for i in range(0, len(raw_scalars), 32)
    ]
    result = G1Point.multiexp_unchecked(points, scalars)
    times = []
    for _ in range(spec["repeat"]):
        start = time.perf_counter()
        result = G1Point.multiexp_unchecked(points, scalars)
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "best_s": min(times),
                "xy_le_hex": bytes(result.to_xy_bytes_le()).hex(),
                "threads": spec["threads"],
            }
        )
    )


# --- ours under NUMBA_NUM_THREADS=2 ---------------------------------------------------------


def ours_threads(threads: int, work_dir: Path, jobs: list[dict], repeat: int) -> dict:
    """Time ``jobs`` (``.npy`` inputs in ``work_dir``) in a child with ``threads`` numba threads.

    Jobs: ``{"name", "kind": "msm", "bases", "scalars"[, "curve"]}`` (``curve`` defaults to
    ``bn254_g1``) or ``{"name", "kind": "ntt", "field", "values"}``.  Returns
    ``{name: best seconds}`` and ``numba_threads``, or ``{"error": text}``.
    """
    spec = work_dir / "ours_threads.json"
    spec.write_text(json.dumps({"repeat": repeat, "jobs": jobs}))
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(spec)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours_parallel() -> bool:
    """Whether any of our CPU kernels splits its work among threads: a numba parallel one
    (``parallel=True`` / ``prange``) or ``nogil`` kernels on Python threads (the MSM)."""
    marks = ("prange", "parallel=True", "ThreadPoolExecutor")
    sources = [f.read_text() for f in (ROOT / "workers").rglob("*.py")]
    return any(mark in text for text in sources for mark in marks)


def ours_threads_main(spec_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import numba

    from workers.msm import pippenger
    from workers.ntt import radix2

    spec = json.loads(spec_path.read_text())
    work_dir = spec_path.parent
    results: dict[str, object] = {"numba_threads": numba.config.NUMBA_NUM_THREADS}
    for job in spec["jobs"]:
        if job["kind"] == "msm":
            bases = np.load(work_dir / job["bases"])
            scalars = np.load(work_dir / job["scalars"])
            curve = job.get("curve", "bn254_g1")

            def call(bases=bases, scalars=scalars, curve=curve) -> object:
                return pippenger.msm_limbs(curve, bases, scalars)

        else:
            values = np.load(work_dir / job["values"])

            def call(values=values, field=job["field"]) -> object:
                return radix2.ntt_limbs(field, values)

        call()
        times = []
        for _ in range(spec["repeat"]):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        results[job["name"]] = min(times)
    print(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "arkworks":
        arkworks_main(Path(sys.argv[2]))
    else:
        ours_threads_main(Path(sys.argv[1]))
