"""The CUDA kernels compiled for the host with g++, to test them where no GPU is.

:func:`workers.gpu.driver.kernel_source` (the very text CuPy compiles on a GPU)
is compiled with ``g++ -x c++ -O2 -shared -fPIC -include host_compat.h``;
``kernels/host_compat.h`` turns ``__global__``/``__device__`` into nothing and
``threadIdx``/``blockIdx``/``blockDim``/``gridDim`` into thread-local
variables.  For every ``extern "C" __global__`` kernel a launcher
``launch_<name>(grid, block, args…)`` is appended that loops over the grid's
blocks (in parallel with OpenMP) and each block's threads, setting those
variables and calling the kernel.  The kernels use no shared memory and no
``__syncthreads``, so this sequential schedule computes exactly what the GPU
does.

The shared library is cached under ``$PROVERPOOL_KERNEL_CACHE`` (default
``~/.cache/proverpool/kernels``), named by a hash of the source, the header,
the launchers and the compiler flags, so it is rebuilt only when one of them
changes (a build takes ~10 s).  :class:`HostLauncher` is the launcher of
:mod:`workers.gpu.driver` over NumPy arrays.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from workers.gpu.driver import KERNEL_DIR, arg_kind, kernel_signatures, kernel_source

CXX_FLAGS = ("-x", "c++", "-std=c++17", "-O2", "-shared", "-fPIC", "-fopenmp")
BLOCK = 128
"""Threads per block of the host launches (any value gives the same results)."""

_CTYPES = {
    "ptr": ctypes.c_void_p,
    "u64": ctypes.c_uint64,
    "i64": ctypes.c_int64,
    "u32": ctypes.c_uint32,
    "i32": ctypes.c_int32,
}


def compiler() -> str | None:
    """The host C++ compiler (``$CXX`` or ``g++``), or ``None`` if there is none."""
    return shutil.which(os.environ.get("CXX", "g++"))


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "proverpool" / "kernels"
    return Path(os.environ.get("PROVERPOOL_KERNEL_CACHE", default))


def _launchers(signatures: dict[str, list[tuple[str, str]]]) -> str:
    """C++ source of one ``launch_<kernel>(grid, block, args…)`` per kernel."""
    out = []
    for name, params in signatures.items():
        decls = "".join(f", {ctype} {pname}" for ctype, pname in params)
        call = ", ".join(pname for _, pname in params)
        out.append(
            f'extern "C" void launch_{name}(unsigned int grid, unsigned int block{decls}) {{\n'
            "#pragma omp parallel for schedule(dynamic)\n"
            "    for (long g = 0; g < (long)grid; ++g) {\n"
            "        gridDim = {grid, 1, 1};\n"
            "        blockDim = {block, 1, 1};\n"
            "        blockIdx = {(unsigned int)g, 0, 0};\n"
            "        for (unsigned int t = 0; t < block; ++t) {\n"
            "            threadIdx = {t, 0, 0};\n"
            f"            {name}({call});\n"
            "        }\n"
            "    }\n"
            "}\n"
        )
    return "\n".join(out)


def build() -> Path:
    """Compile (or find in the cache) the host shared library; returns its path."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) for the host build of the CUDA kernels")
    source = kernel_source()
    header = KERNEL_DIR / "host_compat.h"
    full = source + "\n// ---- launchers ----\n" + _launchers(kernel_signatures(source))
    key = hashlib.sha256(
        "\0".join([full, header.read_text(), cxx, *CXX_FLAGS]).encode()
    ).hexdigest()[:24]
    directory = cache_dir()
    target = directory / f"proverpool_kernels_{key}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        src = Path(tmp) / "kernels.cu"
        src.write_text(full)
        lib = Path(tmp) / "kernels.so"
        cmd = [cxx, *CXX_FLAGS, "-include", str(header), str(src), "-o", str(lib)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"host build failed:\n{' '.join(cmd)}\n{result.stderr}")
        os.replace(lib, target)  # atomic: concurrent builders never see a partial file
    return target


@cache
def _library() -> tuple[ctypes.CDLL, dict[str, list[str]]]:
    lib = ctypes.CDLL(str(build()))
    kinds = {}
    for name, params in kernel_signatures(kernel_source()).items():
        kinds[name] = [arg_kind(ctype) for ctype, _ in params]
        fn = getattr(lib, f"launch_{name}")
        fn.restype = None
        fn.argtypes = [ctypes.c_uint32, ctypes.c_uint32] + [_CTYPES[k] for k in kinds[name]]
    return lib, kinds


class HostLauncher:
    """The :mod:`workers.gpu.driver` launcher over NumPy arrays and the host build."""

    xp = np

    def __init__(self) -> None:
        self._lib, self._kinds = _library()

    def to_device(self, array: np.ndarray) -> np.ndarray:
        return np.array(array, dtype=np.asarray(array).dtype, order="C", copy=True)

    def to_host(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array)

    def launch(self, name: str, threads: int, *args: Any) -> None:
        kinds = self._kinds[name]
        if len(args) != len(kinds):
            raise TypeError(f"{name} takes {len(kinds)} arguments, got {len(args)}")
        values = []
        for kind, arg in zip(kinds, args, strict=True):
            if kind == "ptr":
                if not (isinstance(arg, np.ndarray) and arg.flags.c_contiguous):
                    raise TypeError(f"{name}: pointer arguments must be C-contiguous arrays")
                values.append(arg.ctypes.data)
            else:
                values.append(int(arg))
        grid = max(1, -(-threads // BLOCK))
        getattr(self._lib, f"launch_{name}")(grid, BLOCK, *values)
