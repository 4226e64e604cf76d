"""The GPU backend: CUDA kernels (``kernels/``), their host-side driver, the CuPy launcher
and the g++ host build that tests them where no GPU is.

Only :mod:`workers.gpu.cupy_backend` imports CuPy (inside functions).
"""
