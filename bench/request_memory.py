"""Peak memory of the API per binary job request (issue 14 item 13).

Usage: ``python bench/request_memory.py [--mib 32] [--json PATH] [--only NAME …]``

For every NTT field (``bn254_fr``, ``bls12_381_fr``, ``goldilocks``, ``babybear``)
and every MSM curve (``bn254_g1``, ``bls12_381_g1``, ``bn254_g2``,
``bls12_381_g2``) a fresh API process (``uvicorn pool_api.main:app``: SQLite,
embedded Redis, no job runner) is started in a subprocess; after a small warm-up
job of the same kind (imports, numba compilation), its peak RSS is reset
(``/proc/<pid>/clear_refs``) and one binary job of ``--mib`` MiB is posted with
the operator token.  Reported per job: the body, the server's peak RSS increase
over its RSS before the request (``VmHWM``, cross-checked by sampling ``VmRSS``
every few milliseconds), their ratio, the stored input blob's size (it must be the
body: the compact encoding of :mod:`workers.codec.arrays`) and the request's time.
The target is a peak at most 3× the body.

NTT bodies are random canonical elements, as many as a power of two that fits;
MSM bodies are ``n`` points (the generator on ``bn254_g1``, infinity elsewhere, so
that building them stays cheap) and ``n`` random scalars.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from workers.codec import arrays

NTT_FIELDS = ("bn254_fr", "bls12_381_fr", "goldilocks", "babybear")
MSM_CURVES = ("bn254_g1", "bls12_381_g1", "bn254_g2", "bls12_381_g2")
TOKEN = "request-memory-bench-operator-token-0123456789"
MIB = 1 << 20


@dataclass
class Measurement:
    name: str
    kind: str
    elements: int
    body_bytes: int
    peak_increase_bytes: int
    sampled_increase_bytes: int
    ratio: float
    stored_blob_bytes: int
    status: int
    seconds: float


def _random_words(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    """Random canonical elements of a 254/255-bit field: the top word below 2^60."""
    values = rng.integers(0, 2**63, size=(n, words), dtype=np.uint64)
    values[:, -1] &= np.uint64((1 << 60) - 1)
    return values


def ntt_body(field: str, body_bytes: int, seed: int = 1) -> tuple[bytes, int]:
    """A binary NTT body of random canonical ``field`` elements: ``(body, n)``, ``n`` the
    largest power of two whose elements fit in ``body_bytes``."""
    width = arrays.element_width(field)
    n = 1 << ((body_bytes // width).bit_length() - 1)
    rng = np.random.default_rng(seed)
    modulus = arrays.field_params(field).modulus
    if width == 4:
        values = (rng.integers(0, 2**32, size=n, dtype=np.uint64) % modulus).astype(np.uint32)
    elif width == 8:
        values = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    else:
        values = _random_words(rng, n, width // 8)
    return arrays.encode_elements(field, values), n


def msm_body(curve: str, body_bytes: int, seed: int = 1) -> tuple[bytes, int]:
    """A binary MSM body of ``n`` points and ``n`` random scalars in ``body_bytes``."""
    point, scalar = arrays.point_width(curve), arrays.scalar_width(curve)
    n = body_bytes // (point + scalar)
    points = np.zeros((n, point // 8), dtype=np.uint64)  # infinity
    if curve == "bn254_g1":
        points[:, 0], points[:, 4] = 1, 2  # the generator (1, 2)
    scalars = _random_words(np.random.default_rng(seed), n, scalar // 8)
    return points.astype("<u8").tobytes() + scalars.astype("<u8").tobytes(), n


def job_body(name: str, body_bytes: int) -> tuple[dict[str, str], bytes, int]:
    """``(query parameters, body, elements)`` of a binary job on field or curve ``name``."""
    if name in MSM_CURVES:
        body, n = msm_body(name, body_bytes)
        return {"kind": "msm", "curve": name}, body, n
    body, n = ntt_body(name, body_bytes)
    return {"kind": "ntt", "field": name}, body, n


def _status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiProcess:
    """The real API under uvicorn in a subprocess of its own (its RSS is the server's)."""

    def __init__(self, data_dir: Path, max_body_bytes: int) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        env = {
            **os.environ,
            "PROVERPOOL_DATA_DIR": str(data_dir),
            "PROVERPOOL_OPERATOR_TOKEN": TOKEN,
            "PROVERPOOL_API_RUNS_JOBS": "false",
            "PROVERPOOL_MAX_BODY_BYTES": str(max_body_bytes),
        }
        for name in ("PROVERPOOL_DATABASE_URL", "PROVERPOOL_REDIS_URL", "PROVERPOOL_PUBLIC_SUBMIT"):
            env.pop(name, None)
        command = [sys.executable, "-m", "uvicorn", "pool_api.main:app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start within 120 s")
            time.sleep(0.2)

    def blob_size(self, body: bytes) -> int:
        """Size of the stored blob named by ``body``'s SHA-256 (0 if there is none)."""
        sha = hashlib.sha256(body).hexdigest()
        path = self.data_dir / "blobs" / sha[:2] / sha
        return path.stat().st_size if path.exists() else 0

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


def _post(url: str, params: dict[str, str], body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream", "Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{url}/v1/jobs", params=params, content=body, headers=headers, timeout=600)


def measure(name: str, body_bytes: int, workdir: Path) -> Measurement:
    """Peak RSS increase of a fresh API process for one binary job on ``name``."""
    params, body, n = job_body(name, body_bytes)
    warm_params, warm_body, _ = job_body(name, 64 * 1024)
    api = ApiProcess(workdir / name, max_body_bytes=max(2 * len(body), 1 << 20))
    pid = api.process.pid
    try:
        warm = _post(api.url, warm_params, warm_body)
        assert warm.status_code == 201, warm.text
        time.sleep(0.5)
        baseline_kib = _status_kib(pid, "VmRSS")
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to VmRSS
            hwm_reset = True
        except OSError:
            hwm_reset = False
        sampled = [baseline_kib]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    sampled.append(_status_kib(pid, "VmRSS"))
                except (OSError, KeyError):
                    return
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        answer = _post(api.url, params, body)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join(5)
        peak_kib = _status_kib(pid, "VmHWM") if hwm_reset else max(sampled)
        increase = max(0, peak_kib - baseline_kib) * 1024
        sampled_increase = max(0, max(sampled) - baseline_kib) * 1024
        return Measurement(
            name=name,
            kind=params["kind"],
            elements=n,
            body_bytes=len(body),
            peak_increase_bytes=increase,
            sampled_increase_bytes=sampled_increase,
            ratio=increase / len(body),
            stored_blob_bytes=api.blob_size(body),
            status=answer.status_code,
            seconds=seconds,
        )
    finally:
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=float, default=32, help="Body size, MiB.")
    parser.add_argument("--json", type=Path, help="Write the measurements here.")
    parser.add_argument("--only", nargs="*", help="Fields or curves to measure (default: all).")
    args = parser.parse_args()
    names = args.only or [*NTT_FIELDS, *MSM_CURVES]
    body_bytes = int(args.mib * MIB)
    results = []
    with tempfile.TemporaryDirectory(prefix="request-memory-") as tmp:
        for name in names:
            results.append(measure(name, body_bytes, Path(tmp)))
            r = results[-1]
            print(
                f"{r.kind:4} {r.name:13} {r.elements:>9} elements"
                f"  body {r.body_bytes / MIB:6.2f} MiB"
                f"  peak +{r.peak_increase_bytes / MIB:7.1f} MiB ({r.ratio:4.2f}× body; sampled "
                f"+{r.sampled_increase_bytes / MIB:.1f})  blob {r.stored_blob_bytes / MIB:6.2f} MiB"
                f"  HTTP {r.status}  {r.seconds:5.2f} s",
                flush=True,
            )
    worst = max(r.ratio for r in results)
    print(f"worst peak: {worst:.2f}× the body (target ≤ 3×)")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


if __name__ == "__main__":
    main()
