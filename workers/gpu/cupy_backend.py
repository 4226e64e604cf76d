"""The GPU backend: the CUDA kernels of ``workers/kernels`` through CuPy.

This is the only module that imports CuPy, and only inside functions, so
importing it costs nothing on a machine without CuPy.  The kernel source
(:func:`workers.gpu.driver.kernel_source`) is compiled once per process by
NVRTC through :class:`cupy.RawModule` (and cached on disk by CuPy); the
planning around the kernels is :mod:`workers.gpu.driver`, shared with the host
build that the ordinary test suite runs (:mod:`workers.gpu.host_build`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from workers.gpu import driver

BLOCK = 128
"""Threads per block.  The point kernels need many registers; 128 keeps them launchable."""

_NUMPY_TYPES = {
    "u64": np.uint64,
    "i64": np.int64,
    "u32": np.uint32,
    "i32": np.int32,
}


@cache
def gpu_available() -> bool:
    """``True`` when CuPy imports and sees at least one CUDA device; never raises."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:
        return False


@cache
def _module() -> tuple[Any, dict[str, list[str]]]:
    import cupy

    source = driver.kernel_source()
    signatures = driver.kernel_signatures(source)
    module = cupy.RawModule(code=source, options=("-std=c++17",))
    module.compile()
    kinds = {
        name: [driver.arg_kind(ctype) for ctype, _ in params] for name, params in signatures.items()
    }
    return module, kinds


class CupyLauncher:
    """The :mod:`workers.gpu.driver` launcher over CuPy arrays on the current device."""

    def __init__(self) -> None:
        import cupy

        self.xp = cupy
        self._module, self._kinds = _module()
        self._functions: dict[str, Any] = {}

    def to_device(self, array: np.ndarray) -> Any:
        return self.xp.asarray(np.ascontiguousarray(array))

    def to_host(self, array: Any) -> np.ndarray:
        return self.xp.asnumpy(array)

    def launch(self, name: str, threads: int, *args: Any) -> None:
        kinds = self._kinds[name]
        if len(args) != len(kinds):
            raise TypeError(f"{name} takes {len(kinds)} arguments, got {len(args)}")
        values = tuple(
            arg if kind == "ptr" else _NUMPY_TYPES[kind](arg)
            for kind, arg in zip(kinds, args, strict=True)
        )
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = self._module.get_function(name)
        grid = max(1, -(-threads // BLOCK))
        function((grid,), (BLOCK,), values)


@cache
def launcher() -> CupyLauncher:
    """The process-wide CuPy launcher (compiles the kernels on first use)."""
    return CupyLauncher()


def msm_gpu(curve: str, bases: np.ndarray, scalars: np.ndarray) -> tuple[int, int]:
    """Unchecked MSM on the GPU: ``(n, 2, 4)`` canonical bases, ``(n, 4)`` scalars."""
    return driver.msm(launcher(), curve, bases, scalars)


def ntt_rows_gpu(
    field: str, matrix: np.ndarray, inverse: bool = False, coset: int | None = None
) -> np.ndarray:
    """Unchecked (coset, inverse) NTT of every row of a ``(m, n, 4)`` limb array on the GPU."""
    return driver.ntt_rows(launcher(), field, matrix, inverse, coset)


def ntt_gpu(
    field: str, values: np.ndarray, inverse: bool = False, coset: int | None = None
) -> np.ndarray:
    """Unchecked (coset, inverse) NTT of a ``(n, 4)`` canonical limb array on the GPU."""
    values = np.asarray(values, dtype=np.uint64)
    if values.ndim != 2 or values.shape[1] != 4:
        raise ValueError(f"expected a (n, 4) limb array, got shape {values.shape}")
    return ntt_rows_gpu(field, values[np.newaxis], inverse, coset)[0]
