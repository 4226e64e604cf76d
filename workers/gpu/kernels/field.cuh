// Montgomery arithmetic for 254/255-bit prime fields on four 64-bit limbs (CUDA C++).
//
// The same algorithms as workers/arith.py (the CPU backend), so both give
// bit-identical results:
//   * Montgomery multiplication (P. L. Montgomery, "Modular multiplication
//     without trial division", Math. Comp. 44 (1985)) with R = 2^256, in the
//     CIOS form of Koc, Acar and Kaliski ("Analyzing and comparing Montgomery
//     multiplication algorithms", IEEE Micro 16(3), 1996), with the "no-carry"
//     shortcut of Botrel and El Housni (EdMSM, IACR ePrint 2022/1400), valid
//     because every modulus here has a top limb below 2^63 - 1.
//   * Elements are `Fe` structs of four little-endian uint64 limbs; every
//     function takes and returns canonical values (< p).
//
// Field constants live in structs of `static constexpr` scalars (immediates in
// the generated code), one per field; the templates take the struct as a
// parameter.  The 64x64 -> 128-bit products use `__umul64hi` on the device;
// workers/kernels/host_compat.h provides it on the host (unsigned __int128)
// when this source is compiled with g++ for the host build used in tests.
#pragma once

#if defined(__CUDACC_RTC__)
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef unsigned int uint32_t;
typedef int int32_t;
#else
#include <stdint.h>
#endif

struct Fe {
    uint64_t v[4];
};

// BN254 base field F_p.
struct Bn254Fp {
    static constexpr uint64_t P0 = 0x3c208c16d87cfd47ull, P1 = 0x97816a916871ca8dull,
                              P2 = 0xb85045b68181585dull, P3 = 0x30644e72e131a029ull;
    static constexpr uint64_t ONE0 = 0xd35d438dc58f0d9dull, ONE1 = 0x0a78eb28f5c70b3dull,
                              ONE2 = 0x666ea36f7879462cull, ONE3 = 0x0e0a77c19a07df2full;
    static constexpr uint64_t R20 = 0xf32cfc5b538afa89ull, R21 = 0xb5e71911d44501fbull,
                              R22 = 0x47ab1eff0a417ff6ull, R23 = 0x06d89f71cab8351full;
    static constexpr uint64_t PINV = 0x87d20782e4866389ull;
};

// BN254 scalar field F_r.
struct Bn254Fr {
    static constexpr uint64_t P0 = 0x43e1f593f0000001ull, P1 = 0x2833e84879b97091ull,
                              P2 = 0xb85045b68181585dull, P3 = 0x30644e72e131a029ull;
    static constexpr uint64_t ONE0 = 0xac96341c4ffffffbull, ONE1 = 0x36fc76959f60cd29ull,
                              ONE2 = 0x666ea36f7879462eull, ONE3 = 0x0e0a77c19a07df2full;
    static constexpr uint64_t R20 = 0x1bb8e645ae216da7ull, R21 = 0x53fe3ab1e35c59e3ull,
                              R22 = 0x8c49833d53bb8085ull, R23 = 0x0216d0b17f4e44a5ull;
    static constexpr uint64_t PINV = 0xc2e1f593efffffffull;
};

// BLS12-381 scalar field F_r (255 bits; top limb still below 2^63 - 1).
struct Bls12381Fr {
    static constexpr uint64_t P0 = 0xffffffff00000001ull, P1 = 0x53bda402fffe5bfeull,
                              P2 = 0x3339d80809a1d805ull, P3 = 0x73eda753299d7d48ull;
    static constexpr uint64_t ONE0 = 0x00000001fffffffeull, ONE1 = 0x5884b7fa00034802ull,
                              ONE2 = 0x998c4fefecbc4ff5ull, ONE3 = 0x1824b159acc5056full;
    static constexpr uint64_t R20 = 0xc999e990f3f29c6dull, R21 = 0x2b6cedcb87925c23ull,
                              R22 = 0x05d314967254398full, R23 = 0x0748d9d99f59ff11ull;
    static constexpr uint64_t PINV = 0xfffffffeffffffffull;
};

template <class F>
__device__ __forceinline__ Fe fe_modulus() {
    Fe p = {{F::P0, F::P1, F::P2, F::P3}};
    return p;
}

template <class F>
__device__ __forceinline__ Fe fe_one() {
    Fe one = {{F::ONE0, F::ONE1, F::ONE2, F::ONE3}};
    return one;
}

template <class F>
__device__ __forceinline__ Fe fe_r2() {
    Fe r2 = {{F::R20, F::R21, F::R22, F::R23}};
    return r2;
}

__device__ __forceinline__ Fe fe_zero() {
    Fe z = {{0, 0, 0, 0}};
    return z;
}

__device__ __forceinline__ bool fe_is_zero(const Fe& a) {
    return (a.v[0] | a.v[1] | a.v[2] | a.v[3]) == 0;
}

__device__ __forceinline__ Fe fe_load(const uint64_t* src) {
    Fe a = {{src[0], src[1], src[2], src[3]}};
    return a;
}

__device__ __forceinline__ void fe_store(uint64_t* dst, const Fe& a) {
    dst[0] = a.v[0];
    dst[1] = a.v[1];
    dst[2] = a.v[2];
    dst[3] = a.v[3];
}

// a + b + carry_in -> (sum, carry_out in {0, 1}).
__device__ __forceinline__ uint64_t addc(uint64_t a, uint64_t b, uint64_t& carry) {
    uint64_t s = a + carry;
    uint64_t c1 = s < carry;
    uint64_t t = s + b;
    carry = c1 | (t < b);
    return t;
}

// a - b - borrow_in -> (difference, borrow_out in {0, 1}).
__device__ __forceinline__ uint64_t subb(uint64_t a, uint64_t b, uint64_t& borrow) {
    uint64_t d = a - b;
    uint64_t b1 = a < b;
    uint64_t e = d - borrow;
    borrow = b1 | (d < borrow);
    return e;
}

// a*b + c + d -> (lo, hi); never overflows 128 bits.
__device__ __forceinline__ uint64_t mac(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                                        uint64_t& hi) {
    uint64_t lo = a * b;
    hi = __umul64hi(a, b);
    lo += c;
    hi += lo < c;
    lo += d;
    hi += lo < d;
    return lo;
}

// t (with a fifth word t4) minus p if it is >= p; requires t < 2p.
template <class F>
__device__ __forceinline__ Fe fe_reduce_once(const Fe& t, uint64_t t4) {
    Fe p = fe_modulus<F>();
    Fe d;
    uint64_t br = 0;
    d.v[0] = subb(t.v[0], p.v[0], br);
    d.v[1] = subb(t.v[1], p.v[1], br);
    d.v[2] = subb(t.v[2], p.v[2], br);
    d.v[3] = subb(t.v[3], p.v[3], br);
    subb(t4, 0, br);
    return br ? t : d;
}

template <class F>
__device__ __forceinline__ Fe fe_add(const Fe& a, const Fe& b) {
    Fe s;
    uint64_t c = 0;
    s.v[0] = addc(a.v[0], b.v[0], c);
    s.v[1] = addc(a.v[1], b.v[1], c);
    s.v[2] = addc(a.v[2], b.v[2], c);
    s.v[3] = addc(a.v[3], b.v[3], c);
    return fe_reduce_once<F>(s, c);
}

template <class F>
__device__ __forceinline__ Fe fe_sub(const Fe& a, const Fe& b) {
    Fe d;
    uint64_t br = 0;
    d.v[0] = subb(a.v[0], b.v[0], br);
    d.v[1] = subb(a.v[1], b.v[1], br);
    d.v[2] = subb(a.v[2], b.v[2], br);
    d.v[3] = subb(a.v[3], b.v[3], br);
    uint64_t mask = 0 - br;  // all ones when a < b: add p back
    Fe p = fe_modulus<F>();
    uint64_t c = 0;
    d.v[0] = addc(d.v[0], p.v[0] & mask, c);
    d.v[1] = addc(d.v[1], p.v[1] & mask, c);
    d.v[2] = addc(d.v[2], p.v[2] & mask, c);
    d.v[3] = addc(d.v[3], p.v[3] & mask, c);
    return d;
}

template <class F>
__device__ __forceinline__ Fe fe_double(const Fe& a) {
    return fe_add<F>(a, a);
}

template <class F>
__device__ __forceinline__ Fe fe_neg(const Fe& a) {
    if (fe_is_zero(a)) return a;
    return fe_sub<F>(fe_modulus<F>(), a);
}

// Montgomery product a*b*2^-256 mod p (CIOS, no-carry variant).
template <class F>
__device__ __forceinline__ Fe fe_mul(const Fe& a, const Fe& b) {
    const uint64_t p[4] = {F::P0, F::P1, F::P2, F::P3};
    uint64_t t[4] = {0, 0, 0, 0};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        uint64_t ca, cm, lo;
        t[0] = mac(a.v[0], b.v[i], t[0], 0, ca);
        uint64_t m = t[0] * F::PINV;
        mac(m, p[0], t[0], 0, cm);  // the low word cancels by the choice of m
#pragma unroll
        for (int j = 1; j < 4; ++j) {
            t[j] = mac(a.v[j], b.v[i], t[j], ca, ca);
            lo = mac(m, p[j], t[j], cm, cm);
            t[j - 1] = lo;
        }
        t[3] = cm + ca;
    }
    Fe r = {{t[0], t[1], t[2], t[3]}};
    return fe_reduce_once<F>(r, 0);  // the CIOS result is below 2p
}

template <class F>
__device__ __forceinline__ Fe fe_to_mont(const Fe& a) {
    return fe_mul<F>(a, fe_r2<F>());
}

template <class F>
__device__ __forceinline__ Fe fe_from_mont(const Fe& a) {
    Fe one = {{1, 0, 0, 0}};
    return fe_mul<F>(a, one);
}

// a^e (Montgomery form in and out) for a 64-bit exponent, square-and-multiply.
template <class F>
__device__ __forceinline__ Fe fe_pow_u64(const Fe& a, uint64_t e) {
    Fe r = fe_one<F>();
    Fe base = a;
    while (e) {
        if (e & 1) r = fe_mul<F>(r, base);
        base = fe_mul<F>(base, base);
        e >>= 1;
    }
    return r;
}

// --- elementwise kernels on (n, 4) limb arrays, used by tests and the drivers --------------

template <class F>
__device__ __forceinline__ void fe_binary_kernel(uint64_t* out, const uint64_t* a,
                                                 const uint64_t* b, uint64_t n, int op) {
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    Fe x = fe_load(a + 4 * i);
    Fe y = fe_load(b + 4 * i);
    Fe z;
    if (op == 0)
        z = fe_mul<F>(x, y);
    else if (op == 1)
        z = fe_add<F>(x, y);
    else
        z = fe_sub<F>(x, y);
    fe_store(out + 4 * i, z);
}

// out[i] = a[i] (op) b[i]; op 0: Montgomery product, 1: sum, 2: difference.
extern "C" __global__ void bn254_fp_binary(uint64_t* out, const uint64_t* a, const uint64_t* b,
                                           uint64_t n, int op) {
    fe_binary_kernel<Bn254Fp>(out, a, b, n, op);
}

extern "C" __global__ void bn254_fr_binary(uint64_t* out, const uint64_t* a, const uint64_t* b,
                                           uint64_t n, int op) {
    fe_binary_kernel<Bn254Fr>(out, a, b, n, op);
}

extern "C" __global__ void bls12_381_fr_binary(uint64_t* out, const uint64_t* a,
                                               const uint64_t* b, uint64_t n, int op) {
    fe_binary_kernel<Bls12381Fr>(out, a, b, n, op);
}
