"""Splitting a job into chunks and combining the partial results.

Pure planning, no Ray: :mod:`workers.cluster.dispatch` runs the chunks.

* MSM is split by points: ``Σ_i k_i P_i = Σ_chunks Σ_{i ∈ chunk} k_i P_i``;
  each chunk is an independent, smaller MSM and the head adds the partial
  sums (one affine addition per chunk).
* NTT is split with the four-step algorithm (Bailey, "FFTs in external or
  hierarchical memory", J. Supercomputing 4, 1990, §2): with ``n = n1·n2``,
  input index ``j = j1·n2 + j2`` and output index ``k = k1 + n1·k2``::

      out[k1 + n1·k2] = Σ_j2 ω_{n2}^{j2·k2} · ω_n^{j2·k1} · Σ_j1 a[j1·n2 + j2] ω_{n1}^{j1·k1}

  Phase 1 ("column" slices): for each column ``j2`` an NTT of size ``n1``
  over ``j1``; then the head multiplies by the twiddle ``ω_n^{j2·k1}``
  (so that every slice a worker computes is a batch of plain NTTs, which
  :mod:`workers.cluster.verify` checks cheaply).  Phase 2 ("row" slices):
  for each ``k1`` an NTT of size ``n2`` over ``j2``.  The result is read out
  transposed.  Both phases split freely into slices of columns/rows.
  The inverse transform is the forward one read backwards and scaled:
  ``a[j] = n⁻¹ · NTT(out)[(−j) mod n]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.cluster.costs import msm_work_units, ntt_work_units


@dataclass(frozen=True)
class Chunk:
    """One unit of distributed work: rows/points ``[start, stop)`` of a phase."""

    index: int
    """Position of the chunk in the job, unique across phases."""
    phase: str
    """``"msm"``, ``"ntt_columns"`` or ``"ntt_rows"``."""
    start: int
    stop: int
    work_units: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def _ranges(total: int, parts: int) -> list[tuple[int, int]]:
    """Split ``[0, total)`` into ``min(parts, total)`` contiguous, near-equal ranges."""
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    ranges = []
    start = 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        ranges.append((start, stop))
        start = stop
    return ranges


def weighted_ranges(total: int, weights: Sequence[float]) -> list[tuple[int, int]]:
    """Split ``[0, total)`` into one contiguous range per weight, sizes ∝ weights.

    Used to size chunks by node speed (a node twice as fast gets a chunk twice
    as big, so both finish together).  Sizes are ``⌊total·wᵢ/Σw⌋``, at least 1,
    with what is left over handed out by largest remainder; when there are
    more weights than items the extra weights are dropped.
    """
    weights = [max(float(w), 1e-9) for w in weights][: max(1, total)]
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    sizes = [max(1, int(x)) for x in exact] if total >= len(weights) else [total]
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    i = 0
    while sum(sizes) < total:
        sizes[order[i % len(order)]] += 1
        i += 1
    while sum(sizes) > total:  # the ``max(1, ·)`` floors overshot: trim the biggest
        sizes[sizes.index(max(sizes))] -= 1
    ranges, start = [], 0
    for size in sizes:
        ranges.append((start, start + size))
        start += size
    return ranges


def plan_msm(
    curve: str, n_points: int, n_chunks: int, weights: Sequence[float] | None = None
) -> list[Chunk]:
    """Chunks of contiguous points; an empty MSM still has one (empty) chunk.

    With ``weights`` (one per chunk; ``n_chunks`` is then ignored) chunk sizes
    are proportional to them (:func:`weighted_ranges`).
    """
    if n_points == 0:
        return [Chunk(0, "msm", 0, 0, 1)]
    ranges = weighted_ranges(n_points, weights) if weights else _ranges(n_points, n_chunks)
    return [
        Chunk(i, "msm", start, stop, msm_work_units(curve, stop - start))
        for i, (start, stop) in enumerate(ranges)
    ]


def four_step_shape(n: int) -> tuple[int, int]:
    """``(n1, n2)`` with ``n1 · n2 = n``, both powers of two, ``n1 ≤ n2``."""
    log_n = n.bit_length() - 1
    n1 = 1 << (log_n // 2)
    return n1, n // n1


@dataclass(frozen=True)
class NttPlan:
    n: int
    n1: int
    n2: int
    column_chunks: list[Chunk]
    """Phase 1: slices of the ``n2`` columns, each an NTT of size ``n1`` (twiddles: the head)."""
    row_chunks: list[Chunk]
    """Phase 2: slices of the ``n1`` rows, each an NTT of size ``n2``."""

    @property
    def chunks(self) -> list[Chunk]:
        return self.column_chunks + self.row_chunks


def plan_ntt(
    field: str,
    n: int,
    column_slices: int,
    row_slices: int,
    weights: Sequence[float] | None = None,
) -> NttPlan:
    """Four-step plan of an NTT of size ``n`` (a power of two).

    With ``weights`` (one per slice, in both phases; the slice counts are then
    ignored) slice sizes are proportional to them (:func:`weighted_ranges`),
    so a node twice as fast gets twice as many columns and rows; a phase with
    fewer columns or rows than weights drops the extra weights.
    """
    n1, n2 = four_step_shape(n)
    column_ranges = weighted_ranges(n2, weights) if weights else _ranges(n2, column_slices)
    row_ranges = weighted_ranges(n1, weights) if weights else _ranges(n1, row_slices)
    column_chunks = [
        Chunk(i, "ntt_columns", a, b, ntt_work_units(field, n1, b - a))
        for i, (a, b) in enumerate(column_ranges)
    ]
    offset = len(column_chunks)
    row_chunks = [
        Chunk(offset + i, "ntt_rows", a, b, ntt_work_units(field, n2, b - a))
        for i, (a, b) in enumerate(row_ranges)
    ]
    return NttPlan(n, n1, n2, column_chunks, row_chunks)
