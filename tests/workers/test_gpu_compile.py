"""The CUDA kernel source compiles for Ampere (sm_80) and Hopper (sm_90) where nvcc exists."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from workers.gpu.driver import kernel_signatures, kernel_source

NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_kernels_compile_with_nvcc(tmp_path, arch):
    source = tmp_path / "kernels.cu"
    source.write_text(kernel_source())  # the exact text CuPy hands to NVRTC
    cubin = tmp_path / "kernels.cubin"
    cmd = [NVCC, "-std=c++17", f"-arch={arch}", "-cubin", str(source), "-o", str(cubin)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert cubin.stat().st_size > 0
    data = cubin.read_bytes()
    for name in kernel_signatures(kernel_source()):
        assert name.encode() in data, f"kernel {name} missing from the {arch} cubin"


def test_every_kernel_has_a_supported_signature():
    from workers.gpu.driver import arg_kind

    signatures = kernel_signatures(kernel_source())
    assert {"msm_bucket_accumulate", "ntt_stage_bn254_fr", "bn254_fr_binary"} <= set(signatures)
    for params in signatures.values():
        for ctype, _ in params:
            arg_kind(ctype)
