"""The GPU backend's driver: host-side planning around the CUDA kernels, for any launcher.

The kernels in ``workers/kernels/*.cu`` run either on a CUDA device through
CuPy (:mod:`workers.gpu.cupy_backend`) or on the CPU through the host build
(:mod:`workers.gpu.host_build`, the same source compiled by g++).  This module is
the part both share and imports neither: it computes windows, signed digits,
bucket offsets and twiddles and calls a *launcher*, an object with

* ``xp`` — the array module the device arrays belong to (NumPy or CuPy);
* ``to_device(array)`` / ``to_host(array)`` — copies between NumPy and ``xp``;
* ``launch(name, threads, *args)`` — run the ``extern "C"`` kernel ``name``
  over ``threads`` threads (1-D grid), arguments as in its CUDA signature
  (device arrays for pointers, Python ints for integers).

MSM (:func:`msm`) is the bucket method of :mod:`workers.msm.pippenger` — Pippenger
(FOCS 1976) as in Bernstein, Doumen, Lange and Oosterwijk (INDOCRYPT 2012),
signed digits after Botrel and El Housni (EdMSM, IACR ePrint 2022/1400),
the same window rule :func:`workers.msm.window.window_size` — organised the way
the ZPrize 2022 GPU MSM entries are: digits are computed with array
operations on the device, the (point, window) pairs are sorted by bucket
(``xp.argsort``), then one thread per chunk of at most :data:`MSM_CHUNK`
terms of a bucket sums it (``msm_bucket_accumulate``; a crowded bucket, as in
the top window, is thus spread over many threads) and one thread per (window,
bucket) adds its chunks (``msm_bucket_gather``), one thread per (window, segment of buckets)
forms the running sums (``msm_bucket_reduce`` and ``msm_segment_combine``),
and one thread combines the windows (``msm_final``).  Only the final XYZZ
point is converted to affine on the host.

NTT (:func:`ntt_rows`) is the radix-2 decimation-in-time Cooley–Tukey
transform of :mod:`workers.ntt.radix2` (Cooley and Tukey, *Math. Comp.* 19,
1965): a bit-reversal kernel, then one ``ntt_stage_*`` launch per stage with
the CPU backend's cached stage-ordered twiddle table, plus a scaling kernel
for coset shifts and the inverse's ``n⁻¹``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from workers.fields.mont4 import to_montgomery_int
from workers.msm.window import n_windows, window_size
from workers.ntt.radix2 import twiddles_for
from workers.params import CURVES, FIELDS

KERNEL_DIR = Path(__file__).with_name("kernels")
KERNEL_FILES = ("field.cuh", "msm.cu", "ntt.cu")
"""Sources of the one kernel module, in the order they are concatenated."""

GPU_CURVES = frozenset({"bn254_g1"})
"""Curves with a GPU MSM."""
GPU_FIELDS = frozenset({"bn254_fr", "bls12_381_fr"})
"""Fields with a GPU NTT."""

MSM_CHUNK = 64
"""Most terms one thread adds into a bucket (longer runs are split, then gathered)."""
REDUCE_SEGMENTS = 128
"""Segments per window in the bucket reduction (threads per window there)."""

_INCLUDE = re.compile(r'^\s*#include\s+"[^"]+"\s*$', re.MULTILINE)
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')


class Launcher(Protocol):
    xp: Any

    def to_device(self, array: np.ndarray) -> Any: ...

    def to_host(self, array: Any) -> np.ndarray: ...

    def launch(self, name: str, threads: int, *args: Any) -> None: ...


# --- the kernel source ----------------------------------------------------------------------


def kernel_source() -> str:
    """The kernel files concatenated into one translation unit, local includes removed.

    One self-contained string, so that a compiler cache keyed on it (CuPy's,
    :mod:`workers.gpu.host_build`'s) sees every change to any file.
    """
    parts = []
    for name in KERNEL_FILES:
        text = (KERNEL_DIR / name).read_text()
        parts.append(f"// ---- {name} ----\n" + _INCLUDE.sub("", text))
    return "\n".join(parts)


def kernel_signatures(source: str) -> dict[str, list[tuple[str, str]]]:
    """``{kernel: [(C type, parameter name), …]}`` of every ``extern "C" __global__`` kernel."""
    out: dict[str, list[tuple[str, str]]] = {}
    for match in _KERNEL.finditer(source):
        params = []
        for decl in match.group(2).split(","):
            decl = " ".join(decl.split())
            if not decl:
                continue
            name = re.findall(r"\w+", decl)[-1]
            ctype = decl[: decl.rfind(name)].strip()
            params.append((ctype, name))
        out[match.group(1)] = params
    return out


def arg_kind(ctype: str) -> str:
    """``"ptr"``, ``"u64"``, ``"i64"``, ``"u32"`` or ``"i32"`` for a kernel parameter type."""
    if "*" in ctype:
        return "ptr"
    base = ctype.replace("const", "").strip()
    kinds = {
        "uint64_t": "u64",
        "unsigned long long": "u64",
        "int64_t": "i64",
        "long long": "i64",
        "uint32_t": "u32",
        "unsigned": "u32",
        "unsigned int": "u32",
        "int32_t": "i32",
        "int": "i32",
    }
    if base not in kinds:
        raise TypeError(f"unsupported kernel parameter type {ctype!r}")
    return kinds[base]


# --- MSM ------------------------------------------------------------------------------------


def signed_digits(xp: Any, scalars: Any, c: int, windows: int) -> Any:
    """The ``(windows, n)`` ``int64`` signed ``c``-bit digits of ``(n, 4)`` scalars, in ``xp``.

    The same digits as :func:`workers.msm.digits.signed_digits`: the raw window
    value plus the carry, minus ``2^c`` (carrying one on) when above ``2^(c−1)``.
    """
    n = scalars.shape[0]
    limbs = scalars.shape[1]
    digits = xp.empty((windows, n), dtype=xp.int64)
    carry = xp.zeros(n, dtype=xp.int64)
    mask = xp.uint64((1 << c) - 1)
    for w in range(windows):
        offset = w * c
        q, r = offset >> 6, offset & 63
        raw = carry
        if q < limbs:
            bits = scalars[:, q] >> xp.uint64(r)
            if r + c > 64 and q + 1 < limbs:
                bits = bits | (scalars[:, q + 1] << xp.uint64(64 - r))
            raw = carry + (bits & mask).astype(xp.int64)
        carry = (raw > (1 << (c - 1))).astype(xp.int64)
        digits[w] = raw - carry * (1 << c)
    return digits


def bucket_plan(xp: Any, digits: Any, c: int) -> tuple[Any, Any]:
    """Sort the terms of every window by bucket: ``(entries, offsets)`` for the kernel.

    ``entries`` (``uint32``, ``windows·n``): ``2·i + (digit < 0)`` ordered by
    ``|digit|`` within each window; ``offsets`` (``int64``,
    ``windows × (2^(c−1) + 1)``): bucket ``b`` (digit ``±(b + 1)``) of window
    ``w`` is ``entries[offsets[w, b] : offsets[w, b + 1]]`` (zero digits, key
    0, come first and are skipped).
    """
    windows, n = digits.shape
    n_buckets = 1 << (c - 1)
    keys = xp.abs(digits)
    codes = xp.arange(n, dtype=xp.uint32)[None, :] * xp.uint32(2) + (digits < 0).astype(xp.uint32)
    order = xp.argsort(keys, axis=1)
    entries = xp.take_along_axis(codes, order, axis=1)
    shifted = keys + (xp.arange(windows, dtype=xp.int64) * (n_buckets + 1))[:, None]
    counts = xp.bincount(shifted.ravel(), minlength=windows * (n_buckets + 1))
    counts = counts.reshape(windows, n_buckets + 1).astype(xp.int64)
    offsets = xp.cumsum(counts, axis=1) + (xp.arange(windows, dtype=xp.int64) * n)[:, None]
    return xp.ascontiguousarray(entries.ravel()), xp.ascontiguousarray(offsets)


def chunk_plan(xp: Any, offsets: Any, chunk: int = MSM_CHUNK) -> tuple[Any, Any]:
    """Cut every bucket's run into chunks of at most ``chunk`` terms.

    Returns ``bounds`` (``int64``, ``(n_chunks, 2)``: start and stop in
    ``entries``) and ``chunk_offsets`` (``int64``, ``windows·2^(c−1) + 1``:
    the chunks of bucket ``b`` are ``chunk_offsets[b] : chunk_offsets[b + 1]``;
    an empty bucket has one empty chunk).
    """
    starts = offsets[:, :-1].ravel()
    stops = offsets[:, 1:].ravel()
    counts = xp.maximum(1, -(-(stops - starts) // chunk))
    chunk_offsets = xp.zeros(starts.shape[0] + 1, dtype=xp.int64)
    chunk_offsets[1:] = xp.cumsum(counts)
    total = int(chunk_offsets[-1])
    ids = xp.arange(total, dtype=xp.int64)
    owner = xp.searchsorted(chunk_offsets, ids, side="right") - 1
    begin = starts[owner] + (ids - chunk_offsets[owner]) * chunk
    end = xp.minimum(begin + chunk, stops[owner])
    return xp.ascontiguousarray(xp.stack([begin, end], axis=1)), chunk_offsets


def _xyzz_to_affine(limbs: np.ndarray, p: int) -> tuple[int, int]:
    """Affine ``(X/ZZ, Y/ZZZ)`` of a 16-word XYZZ point in Montgomery form; ``(0, 0)`` if ZZ = 0.

    The Montgomery factors ``R`` of numerator and denominator cancel.
    """
    x, y, zz, zzz = (sum(int(limbs[4 * k + j]) << (64 * j) for j in range(4)) for k in range(4))
    if zz == 0:
        return (0, 0)
    return (x * pow(zz, -1, p) % p, y * pow(zzz, -1, p) % p)


def msm(launcher: Launcher, curve: str, bases: np.ndarray, scalars: np.ndarray) -> tuple[int, int]:
    """Unchecked MSM on ``(n, 2, 4)`` canonical bases and ``(n, 4)`` scalars (``< 2^256``)."""
    if curve not in GPU_CURVES:
        raise NotImplementedError(f"the GPU MSM does not handle {curve}")
    p = CURVES[curve].base_modulus
    bases = np.ascontiguousarray(bases, dtype=np.uint64).reshape(-1, 8)
    scalars = np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4)
    if bases.shape[0] != scalars.shape[0]:
        raise ValueError(f"{bases.shape[0]} bases but {scalars.shape[0]} scalars")
    keep = bases.any(axis=1) & scalars.any(axis=1)
    if not keep.any():
        return (0, 0)
    if not keep.all():
        bases, scalars = bases[keep], scalars[keep]
    n = bases.shape[0]
    if n >= 1 << 31:
        raise ValueError("the GPU MSM takes fewer than 2^31 terms")
    xp = launcher.xp
    c = window_size(n)
    windows = n_windows(c)
    n_buckets = 1 << (c - 1)
    d_bases = launcher.to_device(np.array(bases))
    launcher.launch("bn254_g1_to_mont", 2 * n, d_bases, 2 * n)
    digits = signed_digits(xp, launcher.to_device(scalars), c, windows)
    entries, offsets = bucket_plan(xp, digits, c)
    del digits
    bounds, chunk_offsets = chunk_plan(xp, offsets)
    n_chunks = bounds.shape[0]
    partials = xp.empty((n_chunks, 16), dtype=xp.uint64)
    launcher.launch("msm_bucket_accumulate", n_chunks, partials, d_bases, entries, bounds, n_chunks)
    buckets = xp.empty((windows * n_buckets, 16), dtype=xp.uint64)
    total_buckets = windows * n_buckets
    launcher.launch(
        "msm_bucket_gather", total_buckets, buckets, partials, chunk_offsets, total_buckets
    )
    segments = min(n_buckets, REDUCE_SEGMENTS)
    seg_len = -(-n_buckets // segments)
    segments = -(-n_buckets // seg_len)
    sums = xp.empty((windows * segments, 16), dtype=xp.uint64)
    weighted = xp.empty((windows * segments, 16), dtype=xp.uint64)
    launcher.launch(
        "msm_bucket_reduce",
        windows * segments,
        sums,
        weighted,
        buckets,
        windows,
        n_buckets,
        segments,
        seg_len,
    )
    launcher.launch(
        "msm_segment_combine", windows * segments, weighted, sums, windows, segments, seg_len
    )
    out = xp.zeros(16, dtype=xp.uint64)
    launcher.launch("msm_final", 1, out, weighted, windows, segments, c)
    return _xyzz_to_affine(launcher.to_host(out), p)


# --- NTT ------------------------------------------------------------------------------------


def _log2(n: int) -> int:
    if n < 1 or n & (n - 1):
        raise ValueError(f"NTT size {n} is not a power of two")
    return n.bit_length() - 1


def _scale_constants(p: int, k: int, base: int) -> np.ndarray:
    """``[k̄, base̅]`` (Montgomery form) as the ``(2, 4)`` argument of ``ntt_scale_powers_*``."""
    return np.concatenate([to_montgomery_int(k % p, p), to_montgomery_int(base % p, p)])


def ntt_rows(
    launcher: Launcher,
    field: str,
    matrix: np.ndarray,
    inverse: bool = False,
    coset: int | None = None,
) -> np.ndarray:
    """The (coset, inverse) NTT of every row of a ``(m, n, 4)`` canonical limb array."""
    if field not in GPU_FIELDS:
        raise NotImplementedError(f"the GPU NTT does not handle {field}")
    p = FIELDS[field].modulus
    matrix = np.ascontiguousarray(matrix, dtype=np.uint64)
    if matrix.ndim != 3 or matrix.shape[2] != 4:
        raise ValueError(f"expected a (rows, size, 4) limb array, got shape {matrix.shape}")
    if coset is not None and coset % p == 0:
        raise ValueError("a coset shift must be nonzero mod p")
    m, n, _ = matrix.shape
    log_n = _log2(n)
    total = m * n
    if total == 0 or n == 1:
        return matrix.copy()
    xp = launcher.xp
    data = launcher.to_device(matrix)
    if coset is not None and not inverse:
        factors = launcher.to_device(_scale_constants(p, 1, coset))
        launcher.launch(f"ntt_scale_powers_{field}", total, data, factors, total, log_n)
    out = xp.empty_like(data)
    launcher.launch("ntt_bit_reverse_256", total, out, data, total, log_n)
    twiddles = launcher.to_device(np.ascontiguousarray(twiddles_for(field, n, inverse)))
    half = 1
    while half < n:
        launcher.launch(f"ntt_stage_{field}", total // 2, out, twiddles, total, log_n, half)
        half *= 2
    if inverse:
        base = 1 if coset is None else pow(coset, -1, p)
        factors = launcher.to_device(_scale_constants(p, pow(n, -1, p), base))
        launcher.launch(f"ntt_scale_powers_{field}", total, out, factors, total, log_n)
    return launcher.to_host(out)


def supported(kind: str, name: str) -> bool:
    """Whether the GPU backend has kernels for curve (``kind="msm"``) or field (``"ntt"``)."""
    return name in (GPU_CURVES if kind == "msm" else GPU_FIELDS)
