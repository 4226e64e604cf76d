"""The chain test circuit (``tests/fixtures/groth16/chain.circom.in``) built in Python, no circom.

``Chain(N)`` has inputs ``a`` (private), ``b``, ``c`` (public), output ``out`` and one
quadratic constraint per step ``i < N`` on ``x[0] = a``, ``x[N] = out``:

* ``i ≡ 0 (mod 3)``: ``x[i+1] = x[i]·(x[i] + b) + i``
* ``i ≡ 1``: ``x[i+1] = (x[i] + c)·(b + 3i) − x[i]``
* ``i ≡ 2``: ``x[i+1] = x[i]² + c + 7``

:func:`chain_r1cs` returns the constraint system circom2 ``--O1`` (and ``--O2``) writes for
it — same header, labels and terms, checked against circom2 0.2.23 at 2^12 in
``tests/workers/test_groth16_circuits.py`` (and at 2^16); only the order of the terms inside
one linear combination differs (circom's follows its hash map, ours the wire) —
wire 0 = 1, 1 = ``out``, 2 = ``b``, 3 = ``c``, 4 = ``a``, then ``x[1..N−1]`` (``x[0]`` and
``x[N]`` substituted by ``a`` and ``out``), ``N + 4`` wires, ``N + 6`` labels (``x[0]`` and
``x[N]`` keep theirs); circom writes each step as ``A·B − C = 0`` with ``A = −(b + x)`` /
``−(c + x)`` / ``−x``.  The arrays are
built with numpy (a 2^20 circuit in a few seconds).  :func:`chain_witness` is the witness
``snarkjs wtns calculate`` computes from the circom wasm (same order, same values): one
Python-integer loop over the steps, ≈ 1 µs a step.
"""

from __future__ import annotations

import numpy as np

from workers.codec.limb_arrays import ints_to_limbs
from workers.groth16.r1cs import R1cs
from workers.params import BN254_R

OUT, B, C, A = 1, 2, 3, 4
FIRST_X = 4
"""Wire of ``x[j]`` is ``FIRST_X + j`` for ``0 < j < N`` (``x[0]`` is ``a``)."""
_R_LIMBS = np.array([(BN254_R >> (64 * k)) & (2**64 - 1) for k in range(4)], np.uint64)


def _coefficient_limbs(coefficients: np.ndarray) -> np.ndarray:
    """``int64`` coefficients (``|v| < 2^63``) as canonical ``(n, 4)`` limbs mod ``r``."""
    limbs = np.zeros((coefficients.size, 4), dtype=np.uint64)
    magnitude = np.abs(coefficients).astype(np.uint64)
    negative = coefficients < 0
    limbs[~negative, 0] = magnitude[~negative]
    neg = magnitude[negative]
    low = _R_LIMBS[0] - neg  # r − |v|, the borrow carried into the high limbs
    borrow = (neg > _R_LIMBS[0]).astype(np.uint64)
    limbs[negative, 0] = low
    limbs[negative, 1] = _R_LIMBS[1] - borrow
    limbs[negative, 2] = _R_LIMBS[2]
    limbs[negative, 3] = _R_LIMBS[3]
    return limbs


def _x_wire(j: np.ndarray, steps: int) -> np.ndarray:
    wire = (FIRST_X + j).astype(np.uint32)
    wire[j == 0] = A
    wire[j == steps] = OUT
    return wire


def chain_r1cs(steps: int) -> tuple[R1cs, np.ndarray]:
    """``(r1cs, wire_labels)`` of ``Chain(steps)`` as circom2 ``--O1`` writes it."""
    if steps < 1 or steps >= 2**28:
        raise ValueError(f"the chain needs 1 ≤ steps < 2^28, got {steps}")
    i = np.arange(steps, dtype=np.int64)
    x_in, x_out = _x_wire(i, steps), _x_wire(i + 1, steps)
    kind = i % 3
    # (matrix, step mask, wire, coefficient) per term family; wires/coefficients broadcast.
    families = [
        (0, kind == 0, B, -1),
        (0, kind == 0, x_in, -1),
        (1, kind == 0, x_in, 1),
        (2, (kind == 0) & (i != 0), 0, i),
        (2, kind == 0, x_out, -1),
        (0, kind == 1, C, -1),
        (0, kind == 1, x_in, -1),
        (1, kind == 1, 0, 3 * i),
        (1, kind == 1, B, 1),
        (2, kind == 1, x_in, -1),
        (2, kind == 1, x_out, -1),
        (0, kind == 2, x_in, -1),
        (1, kind == 2, x_in, 1),
        (2, kind == 2, 0, 7),
        (2, kind == 2, C, 1),
        (2, kind == 2, x_out, -1),
    ]
    keys, coefficients = [], []
    for matrix, mask, wire, coefficient in families:
        step = i[mask]
        wires = np.broadcast_to(wire, i.shape)[mask].astype(np.uint64)
        keys.append(((step.astype(np.uint64) * 3 + matrix) << np.uint64(32)) | wires)
        coefficients.append(np.broadcast_to(coefficient, i.shape)[mask])
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    key = key[order]
    values = _coefficient_limbs(np.concatenate(coefficients)[order])
    lc = key >> np.uint64(32)
    r1cs = R1cs(
        n_wires=steps + 4,
        n_pub_out=1,
        n_pub_in=2,
        n_prv_in=1,
        n_labels=steps + 6,
        n_constraints=steps,
        matrix=(lc % np.uint64(3)).astype(np.uint8),
        constraint=(lc // np.uint64(3)).astype(np.uint32),
        wire=(key & np.uint64(0xFFFF_FFFF)).astype(np.uint32),
        values=values,
    )
    labels = np.arange(steps + 4, dtype=np.uint64)
    labels[FIRST_X + 1 :] += 1  # label FIRST_X + 1 is x[0], substituted by a
    return r1cs, labels


def chain_steps(x: int, b: int, c: int, steps: int) -> list[int]:
    """``x[1..steps]`` from ``x[0] = x`` (plain integers mod ``r``)."""
    r = BN254_R
    xs = [0] * steps
    for i in range(steps):
        kind = i % 3
        if kind == 0:
            x = (x * (x + b) + i) % r
        elif kind == 1:
            x = ((x + c) * (b + 3 * i) - x) % r
        else:
            x = (x * x + c + 7) % r
        xs[i] = x
    return xs


def chain_witness(steps: int, a: int, b: int, c: int) -> np.ndarray:
    """The witness of ``Chain(steps)`` for inputs ``a, b, c`` as ``(steps + 4, 4)`` limbs."""
    if steps < 1:
        raise ValueError(f"the chain needs at least one step, got {steps}")
    a, b, c = a % BN254_R, b % BN254_R, c % BN254_R
    xs = chain_steps(a, b, c, steps)
    return ints_to_limbs([1, xs[-1], b, c, a, *xs[:-1]])
