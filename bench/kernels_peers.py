"""The peer rows of :mod:`bench.kernels`: ours side by side with ffjavascript, galois, arkworks.

Each ``_*_rows`` function times ours and the peer on the same input (a peer that
cannot be installed or run leaves its row's peer column empty with the reason),
checks that both give the same result, and returns table rows (:func:`_row`) plus
details for the JSON; :func:`compare_with_peers` runs them all and
:func:`print_peers` prints them.  The peers themselves are driven by
``bench/peers.py``.  :func:`best_of` is the timing rule of both modules.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import peers
from workers import api
from workers.codec.arrays import elements_from_ints, elements_to_ints
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints, points_to_limbs
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import BN254_P, BN254_R, CURVES, FIELDS

MSM_TARGET = 2.0
"""MSM bn254_g1 2^16: at least 2× faster than ffjavascript (one core each)."""
NTT_BN254_TARGET = 2.0
"""NTT bn254_fr 2^20: at least 2× faster than ffjavascript's ``Fr.fft``."""
NTT_SMALL_TARGET = 3.0
"""NTT babybear / goldilocks 2^20: at least 3× faster than ``galois.ntt``."""
ARKWORKS_TARGET = 1.0
"""MSM bls12_381_g1 2^16: no slower than py-arkworks-bls12381 (one core each)."""
GALOIS_LIMIT_S = 60.0
"""A galois NTT expected to take longer than this is extrapolated (n log n), not run."""


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _row(
    label: str,
    ours: float | None,
    peer: str,
    peer_s: float | None,
    target: float | None = None,
    verified: str = "",
    note: str = "",
) -> dict[str, object]:
    ratio = peer_s / ours if ours and peer_s else None
    met = None if target is None or ratio is None else ratio >= target
    return {
        "label": label,
        "ours_s": ours,
        "peer": peer,
        "peer_s": peer_s,
        "ratio": ratio,
        "target": target,
        "met": met,
        "verified": verified,
        "note": note,
    }


def _ffjs_rows(
    points: list[tuple[int, int]],
    scalars: list[int],
    ntt_values: dict[int, list[int]],
    msm_logs: list[int],
    repeat: int,
    work: Path,
    timings: dict[str, float],
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """MSM and NTT against ffjavascript, one thread each, then both cores each."""
    info: dict[str, object] = {}
    error = peers.ensure_ffjavascript()
    tasks: list[dict] = []
    ours_msm: dict[int, tuple[int, int]] = {}
    ours_ntt: dict[int, list[int]] = {}
    bases = points_to_limbs(points)
    scalar_limbs = ints_to_limbs(scalars)
    for log_n in msm_logs:
        n = 1 << log_n
        b, s = bases[:n], scalar_limbs[:n]
        ours_msm[log_n] = pippenger.msm_limbs("bn254_g1", b, s)
        timings[f"msm_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda b=b, s=s: pippenger.msm_limbs("bn254_g1", b, s)
        )
        api_points, api_scalars = points[:n], scalars[:n]
        assert api.msm("bn254_g1", api_points, api_scalars, backend="cpu") == ours_msm[log_n]
        timings[f"msm_2^{log_n}_api_s"] = best_of(
            repeat, lambda p=api_points, k=api_scalars: api.msm("bn254_g1", p, k, backend="cpu")
        )
        np.save(work / f"bases_{log_n}.npy", b)
        np.save(work / f"scalars_{log_n}.npy", s)
        if error is None:
            coords = [c for point in points[:n] for c in point]
            (work / f"bases_{log_n}.bin").write_bytes(peers.montgomery_bytes(coords, BN254_P))
            (work / f"scalars_{log_n}.bin").write_bytes(peers.le_bytes(s))
            tasks.append(
                {
                    "kind": "msm",
                    "name": f"msm_{log_n}",
                    "bases": str(work / f"bases_{log_n}.bin"),
                    "scalars": str(work / f"scalars_{log_n}.bin"),
                }
            )
    for log_n, values in ntt_values.items():
        limbs = ints_to_limbs(values)
        ours_ntt[log_n] = limbs_to_ints(radix2.ntt_limbs("bn254_fr", limbs))
        if f"ntt_2^{log_n}_limbs_s" not in timings:
            timings[f"ntt_2^{log_n}_limbs_s"] = best_of(
                repeat, lambda limbs=limbs: radix2.ntt_limbs("bn254_fr", limbs)
            )
        np.save(work / f"ntt_{log_n}.npy", limbs)
        if error is None:
            (work / f"ntt_{log_n}.bin").write_bytes(peers.montgomery_bytes(values, BN254_R))
            tasks.append(
                {
                    "kind": "fft",
                    "name": f"fft_{log_n}",
                    "values": str(work / f"ntt_{log_n}.bin"),
                    "out": str(work / f"fft_{log_n}.out"),
                }
            )

    # Ours with two numba threads (a child process: numba reads NUMBA_NUM_THREADS at import).
    jobs: list[dict] = [
        {
            "name": f"msm_{k}",
            "kind": "msm",
            "bases": f"bases_{k}.npy",
            "scalars": f"scalars_{k}.npy",
        }
        for k in msm_logs[1:]
    ]
    jobs += [
        {"name": f"ntt_{k}", "kind": "ntt", "field": "bn254_fr", "values": f"ntt_{k}.npy"}
        for k in list(ntt_values)[-1:]
    ]
    two = peers.ours_threads(2, work, jobs, repeat)
    info["ours_2_threads"] = two
    parallel = peers.ours_parallel()
    info["ours_parallel_kernels"] = parallel
    for job in jobs:
        if job["name"] in two:
            timings[f"{job['kind']}_2^{job['name'].split('_')[1]}_limbs_2threads_s"] = two[
                job["name"]
            ]

    runs: dict[bool, dict] = {}
    if error is None:
        for single in (True, False):
            runs[single] = peers.run_ffjs(tasks, single, repeat)
        info["ffjavascript"] = {
            "version": runs[True].get("version"),
            "concurrency_default": runs[False].get("concurrency"),
            "single_thread": runs[True],
            "default": runs[False],
        }
    else:
        info["ffjavascript"] = {"error": error}

    def peer(single: bool, name: str) -> tuple[float | None, str, dict]:
        if error is not None:
            return None, f"not run: {error}", {}
        run_info = runs[single]
        if "error" in run_info:
            return None, f"not run: {run_info['error']}", {}
        got = run_info["results"][name]
        return got["best_s"], "", got

    rows: list[dict[str, object]] = []
    r_inv = pow(1 << 256, -1, BN254_R)
    for single, label in ((True, "1 thread each"), (False, "both cores each")):
        tag = "1t" if single else "mt"
        peer_name = "ffjavascript " + ("buildBn128(true)" if single else "buildBn128() workers")
        for log_n in msm_logs:
            peer_s, note, got = peer(single, f"msm_{log_n}")
            verified = ""
            if got:
                same = (int(got["x"]), int(got["y"])) == ours_msm[log_n]
                verified = "same sum" if same else "DIFFERENT sum"
                timings[f"ffjs_msm_2^{log_n}_{tag}_s"] = peer_s
            if single:
                ours = timings[f"msm_2^{log_n}_limbs_s"]
            else:
                ours = two.get(f"msm_{log_n}")
                if ours is None:
                    continue
                note = note or (
                    "ours: NUMBA_NUM_THREADS=2"
                    + (
                        " (windows split between the threads)"
                        if parallel
                        else " (our MSM does not parallelise: one core)"
                    )
                )
            target = MSM_TARGET if log_n == 16 and single else None
            rows.append(
                _row(
                    f"MSM 2^{log_n} bn254_g1, msm_limbs, {label}",
                    ours,
                    peer_name + " G1.multiExpAffine",
                    peer_s,
                    target,
                    verified,
                    note,
                )
            )
            if single:
                rows.append(
                    _row(
                        f"MSM 2^{log_n} bn254_g1, public msm (ints), {label}",
                        timings[f"msm_2^{log_n}_api_s"],
                        peer_name + " G1.multiExpAffine",
                        peer_s,
                        verified=verified,
                        note="ours includes validation and int conversion",
                    )
                )
        for log_n in ntt_values:
            peer_s, note, got = peer(single, f"fft_{log_n}")
            verified = ""
            if got:
                data = (work / f"fft_{log_n}.out").read_bytes()
                theirs = [v * r_inv % BN254_R for v in peers.from_le_bytes(data)]
                verified = _ntt_relation(theirs, ours_ntt[log_n], ntt_values[log_n])
                timings[f"ffjs_fft_2^{log_n}_{tag}_s"] = peer_s
            if single:
                ours = timings[f"ntt_2^{log_n}_limbs_s"]
            else:
                ours = two.get(f"ntt_{log_n}")
                if ours is None:
                    continue
                note = note or (
                    "ours: NUMBA_NUM_THREADS=2"
                    + (
                        " (butterfly stages split between the threads)"
                        if parallel
                        else " (our NTT does not parallelise: one core)"
                    )
                )
            target = NTT_BN254_TARGET if log_n == 20 and single else None
            rows.append(
                _row(
                    f"NTT 2^{log_n} bn254_fr, ntt_limbs, {label}",
                    ours,
                    peer_name + " Fr.fft",
                    peer_s,
                    target,
                    verified,
                    note,
                )
            )
    return rows, info


def _ntt_relation(theirs: list[int], ours: list[int], values: list[int]) -> str:
    """How the peer's transform relates to ours on the same input."""
    if theirs == ours:
        return "same output"
    n = len(ours)
    if theirs == [ours[0], *ours[:0:-1]]:
        return "peer = ours with ω⁻¹ (out[k] ↔ out[n−k])"
    bits = n.bit_length() - 1
    reverse = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)]
    if theirs == [ours[reverse[i]] for i in range(n)]:
        return "peer = ours in bit-reversed order"
    return "DIFFERENT output"


def _galois_rows(
    rng: random.Random, repeat: int, quick: bool, timings: dict[str, float]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    version = peers.galois_version()
    info: dict[str, object] = {"version": version}
    rows: list[dict[str, object]] = []
    log_n = 16 if quick else 20
    for field in ("babybear", "goldilocks"):
        p = FIELDS[field].modulus
        size = 1 << log_n
        values = [rng.randrange(p) for _ in range(size)]
        compact = elements_from_ints(field, values)
        ours_out = elements_to_ints(field, radix2.ntt_limbs(field, compact))
        key = f"ntt_{field}_2^{log_n}_s"
        if key not in timings:
            timings[key] = best_of(
                repeat, lambda compact=compact, f=field: radix2.ntt_limbs(f, compact)
            )
        ours = timings[key]
        label = f"NTT 2^{log_n} {field}, ntt_limbs ({compact.dtype} words), 1 thread"
        target = NTT_SMALL_TARGET if log_n == 20 else None
        if version is None:
            rows.append(_row(label, ours, "galois.ntt", None, target, "", "not run: no galois"))
            continue
        # Warm up (galois JIT-compiles its kernels per field), then smaller sizes to predict.
        peers.galois_ntt(values[:1024], p, 0)
        measured: dict[int, float] = {}
        verified, note = "", ""
        for k in sorted({min(16, log_n), min(18, log_n), log_n}):
            if k == log_n and k > 16:
                prev = max(measured)
                predicted = measured[prev] * (1 << (k - prev)) * k / prev
                if predicted > GALOIS_LIMIT_S:
                    measured[k] = predicted
                    note = (
                        f"galois 2^{k} extrapolated (n log n) from 2^{prev} = "
                        f"{measured[prev]:.3g} s (predicted > {GALOIS_LIMIT_S:.0f} s)"
                    )
                    break
            sub = values[: 1 << k]
            # galois on goldilocks works on Python ints (object arrays): one call past 2^16.
            reps = repeat if field == "babybear" or k <= 16 else 0
            _, best, out = peers.galois_ntt(sub, p, reps)
            measured[k] = best
            timings[f"galois_ntt_{field}_2^{k}_s"] = best
            if k == log_n:
                verified = "same output" if out == ours_out else "DIFFERENT output"
            else:
                ours_sub = radix2.ntt_limbs(field, elements_from_ints(field, sub))
                ours_k = elements_to_ints(field, ours_sub)
                verified = f"same output at 2^{k}" if out == ours_k else f"DIFFERENT at 2^{k}"
        peer_s = measured[log_n]
        timings[f"galois_ntt_{field}_2^{log_n}_s"] = peer_s
        info[field] = {f"2^{k}_s": v for k, v in measured.items()}
        rows.append(_row(label, ours, "galois.ntt", peer_s, target, verified, note))
    return rows, info


def _arkworks_rows(
    rng: random.Random, repeat: int, work: Path, timings: dict[str, float]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """MSM bls12_381_g1 2^16 against ``G1Point.multiexp_unchecked``, 1 thread and 2 each."""
    curve, log_n = "bls12_381_g1", 16
    n = 1 << log_n
    version = peers.arkworks_version()
    info: dict[str, object] = {"version": version}
    label = f"MSM 2^{log_n} {curve}, msm_limbs"
    peer_name = "py-arkworks-bls12381 G1Point.multiexp_unchecked"
    if version is None:
        ours = timings.get(f"msm_{curve}_2^{log_n}_limbs_s")
        note = "not run: pip install py-arkworks-bls12381"
        return [
            _row(f"{label}, 1 thread each", ours, peer_name, None, ARKWORKS_TARGET, "", note)
        ], info
    from py_arkworks_bls12381 import G1Point, Scalar

    order = CURVES[curve].order
    side = 1 << (log_n // 2)
    multiples = [
        G1Point() * Scalar.from_le_bytes(rng.randrange(1, order).to_bytes(32, "little"))
        for _ in range(2 * side)
    ]
    raw = b"".join(
        bytes((a + b).to_xy_bytes_le()) for a in multiples[:side] for b in multiples[side:]
    )
    scalars = [rng.randrange(order) for _ in range(n)]
    (work / "ark_points.bin").write_bytes(raw)
    (work / "ark_scalars.bin").write_bytes(peers.le_bytes(scalars))
    bases = np.frombuffer(raw, dtype="<u8").reshape(n, 2, 6).astype(np.uint64)
    scalar_limbs = ints_to_limbs(scalars)
    ours_sum = pippenger.msm_limbs(curve, bases, scalar_limbs)
    ours_1 = best_of(repeat, lambda: pippenger.msm_limbs(curve, bases, scalar_limbs))
    timings[f"msm_{curve}_2^{log_n}_arkworks_points_s"] = ours_1
    np.save(work / "ark_bases.npy", bases)
    np.save(work / "ark_scalars.npy", scalar_limbs)
    job = {"name": "ark", "kind": "msm", "curve": curve}
    two = peers.ours_threads(
        2, work, [{**job, "bases": "ark_bases.npy", "scalars": "ark_scalars.npy"}], repeat
    )
    rows = []
    for threads, ours in ((1, ours_1), (2, two.get("ark"))):
        got = peers.run_arkworks(work, threads, repeat)
        info[f"rayon_{threads}"] = got
        peer_s, verified, note = None, "", ""
        if "error" in got:
            note = f"not run: {got['error']}"
        else:
            peer_s = got["best_s"]
            timings[f"arkworks_msm_{curve}_2^{log_n}_{threads}t_s"] = peer_s
            xy = bytes.fromhex(got["xy_le_hex"])
            theirs = (int.from_bytes(xy[:48], "little"), int.from_bytes(xy[48:], "little"))
            verified = "same sum" if theirs == ours_sum else "DIFFERENT sum"
        what = "1 thread each" if threads == 1 else "both cores each"
        note = note or f"RAYON_NUM_THREADS={threads}, NUMBA_NUM_THREADS={threads}"
        target = ARKWORKS_TARGET if threads == 1 else None
        rows.append(_row(f"{label}, {what}", ours, peer_name, peer_s, target, verified, note))
    return rows, info


def compare_with_peers(
    points: list[tuple[int, int]],
    scalars: list[int],
    rng: random.Random,
    repeat: int,
    quick: bool,
    timings: dict[str, float],
) -> dict[str, object]:
    """Every peer row of issue 3 (item 5); figures also go into ``timings``."""
    msm_logs = [12, 16] if quick else [12, 16, 18]
    ntt_logs = [16] if quick else [16, 20]
    ntt_values = {k: [rng.randrange(BN254_R) for _ in range(1 << k)] for k in ntt_logs}
    with tempfile.TemporaryDirectory() as tmp:
        ffjs_rows, ffjs_info = _ffjs_rows(
            points, scalars, ntt_values, msm_logs, repeat, Path(tmp), timings
        )
    galois_rows, galois_info = _galois_rows(rng, repeat, quick, timings)
    with tempfile.TemporaryDirectory() as tmp:
        ark_rows, ark_info = _arkworks_rows(rng, repeat, Path(tmp), timings)
    floor = _row(
        "MSM 2^16 bn254_g1, public msm vs py_ecc naive (2^8 scaled)",
        timings["msm_2^16_api_s"],
        "py_ecc optimized_bn128",
        timings["py_ecc_2^16_scaled_s"],
        note="the floor",
    )
    return {
        "quick": quick,
        "rows": [*ffjs_rows, *galois_rows, *ark_rows, floor],
        **ffjs_info,
        "galois": galois_info,
        "arkworks": ark_info,
    }


def _fmt(value: object, unit: str = "s") -> str:
    if value is None:
        return "-"
    assert isinstance(value, float)
    return f"{value:.3g} {unit}" if unit else f"{value:.2f}x"


def print_peers(peer_results: dict[str, object]) -> None:
    rows = peer_results["rows"]
    assert isinstance(rows, list)
    width = max(len(str(row["label"])) for row in rows)
    print()
    print("side by side with the peers (ratio = peer time / our time; > 1: ours faster)")
    head = f"{'comparison':<{width}}  {'ours':>10}  {'peer':>10}  {'ratio':>8}  target  met"
    print(head)
    print("-" * len(head))
    for row in rows:
        target = f">= {row['target']:.0f}x" if row["target"] else ""
        met = {True: "yes", False: "NO", None: ""}[row["met"]]
        print(
            f"{row['label']:<{width}}  {_fmt(row['ours_s']):>10}  {_fmt(row['peer_s']):>10}  "
            f"{_fmt(row['ratio'], ''):>8}  {target:>6}  {met}"
        )
        details = "; ".join(str(x) for x in (row["peer"], row["verified"], row["note"]) if x)
        print(f"    {details}")
