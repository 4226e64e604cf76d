// Radix-2 number-theoretic transform stages for the 254/255-bit fields (CUDA C++).
//
// Iterative decimation-in-time Cooley-Tukey (J. W. Cooley and J. W. Tukey,
// "An algorithm for the machine calculation of complex Fourier series",
// Math. Comp. 19 (1965); Cormen et al., Introduction to Algorithms, 30.3):
// one bit-reversal permutation kernel, then one launch of ntt_stage_* per
// stage, one thread per butterfly (u, v) -> (u + w v, u - w v).  The host
// driver (workers/gpu_plan.py) passes the stage-ordered twiddle table of
// workers/cpu_ntt.py: twiddles[h + j] = w_{2h}^j in Montgomery form, so the
// Montgomery product of a canonical value and a twiddle is the canonical
// product and values stay canonical throughout, exactly as on the CPU.
// Every array is (n, 4) uint64 limbs; `rows` independent transforms of size n
// are laid out one after the other (a batch).
#include "field.cuh"

__device__ __forceinline__ uint64_t bit_reverse(uint64_t i, uint32_t log_n) {
    uint64_t r = 0;
    for (uint32_t k = 0; k < log_n; ++k) {
        r = (r << 1) | (i & 1);
        i >>= 1;
    }
    return r;
}

__device__ __forceinline__ void ntt_bit_reverse(uint64_t* out, const uint64_t* in, uint64_t total,
                                                uint32_t log_n) {
    uint64_t t = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    uint64_t n = (uint64_t)1 << log_n;
    uint64_t row = t >> log_n;
    uint64_t i = t & (n - 1);
    fe_store(out + 4 * (row * n + bit_reverse(i, log_n)), fe_load(in + 4 * t));
}

template <class F>
__device__ __forceinline__ void ntt_stage(uint64_t* a, const uint64_t* twiddles, uint64_t total,
                                          uint32_t log_n, uint64_t half) {
    uint64_t t = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (total >> 1)) return;
    uint64_t n = (uint64_t)1 << log_n;
    uint64_t row = t >> (log_n - 1);
    uint64_t k = t & ((n >> 1) - 1);
    uint64_t j = k % half;
    uint64_t i0 = row * n + (k / half) * 2 * half + j;
    uint64_t i1 = i0 + half;
    Fe u = fe_load(a + 4 * i0);
    Fe v = fe_load(a + 4 * i1);
    if (half > 1) v = fe_mul<F>(v, fe_load(twiddles + 4 * (half + j)));
    fe_store(a + 4 * i0, fe_add<F>(u, v));
    fe_store(a + 4 * i1, fe_sub<F>(u, v));
}

// a[t] *= k * base^(t mod n) (k, base in Montgomery form, a canonical): coset shifts and
// the inverse's n^-1.  base = one gives a plain scaling by k.
template <class F>
__device__ __forceinline__ void ntt_scale_powers(uint64_t* a, const uint64_t* k_and_base,
                                                 uint64_t total, uint32_t log_n) {
    uint64_t t = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    uint64_t j = t & (((uint64_t)1 << log_n) - 1);
    Fe factor = fe_mul<F>(fe_load(k_and_base), fe_pow_u64<F>(fe_load(k_and_base + 4), j));
    fe_store(a + 4 * t, fe_mul<F>(fe_load(a + 4 * t), factor));
}

extern "C" __global__ void ntt_bit_reverse_256(uint64_t* out, const uint64_t* in, uint64_t total,
                                               uint32_t log_n) {
    ntt_bit_reverse(out, in, total, log_n);
}

extern "C" __global__ void ntt_stage_bn254_fr(uint64_t* a, const uint64_t* twiddles,
                                              uint64_t total, uint32_t log_n, uint64_t half) {
    ntt_stage<Bn254Fr>(a, twiddles, total, log_n, half);
}

extern "C" __global__ void ntt_stage_bls12_381_fr(uint64_t* a, const uint64_t* twiddles,
                                                  uint64_t total, uint32_t log_n, uint64_t half) {
    ntt_stage<Bls12381Fr>(a, twiddles, total, log_n, half);
}

extern "C" __global__ void ntt_scale_powers_bn254_fr(uint64_t* a, const uint64_t* k_and_base,
                                                     uint64_t total, uint32_t log_n) {
    ntt_scale_powers<Bn254Fr>(a, k_and_base, total, log_n);
}

extern "C" __global__ void ntt_scale_powers_bls12_381_fr(uint64_t* a, const uint64_t* k_and_base,
                                                         uint64_t total, uint32_t log_n) {
    ntt_scale_powers<Bls12381Fr>(a, k_and_base, total, log_n);
}
