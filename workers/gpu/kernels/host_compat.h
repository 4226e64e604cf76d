// Host build of the CUDA kernels: makes workers/kernels/*.cu plain C++ for g++.
//
// Included first (g++ -include host_compat.h) by workers/host_build.py, which
// compiles the same sources the GPU runs into a shared library and calls each
// `extern "C" __global__` kernel through a generated launcher that loops over
// the grid's blocks (in parallel with OpenMP when available) and the block's
// threads, setting the thread-local blockIdx/threadIdx below.  The kernels
// use no shared memory and no __syncthreads, so running a block's threads one
// after the other is exact.  Never included by nvcc or NVRTC.
#pragma once
#ifdef __CUDACC__
#error "host_compat.h is for the g++ host build only"
#endif

#include <stdint.h>

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __restrict__ __restrict

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};

static thread_local uint3 threadIdx = {0, 0, 0};
static thread_local uint3 blockIdx = {0, 0, 0};
static thread_local dim3 blockDim = {1, 1, 1};
static thread_local dim3 gridDim = {1, 1, 1};

static inline uint64_t __umul64hi(uint64_t a, uint64_t b) {
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((uint64_t)a * b) >> 32);
}
