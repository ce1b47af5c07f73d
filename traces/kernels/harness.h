/* Harness shared by the characterisation kernels (see traces/characterise.py).
 *
 * Usage: ./kernel CALLS FLUSH ARGS...   Runs setup(ARGS), then (if FLUSH) writes an 8 MiB buffer to
 * push the kernel's data out of every simulated cache, then calls the kernel CALLS times. The
 * characterisation subtracts a run with one call fewer, so only the last call's costs remain:
 * cold = (CALLS=1, FLUSH=1) - (0, 1), warm = (2, 0) - (1, 0). The program prints the work units of
 * one call ("work_units N") and the distinct bytes it touches ("bytes N"), so the script does not
 * repeat the kernel's formulas.
 *
 * Data types follow llama.cpp with an F16 model: F16 weights and KV cache, F32 activations. The
 * vector code uses AVX2, FMA and F16C, as ggml's x86 build does.
 */
#ifndef AILFM_HARNESS_H
#define AILFM_HARNESS_H

#include <alloca.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef uint16_t f16;

static void setup(int argc, char **argv);
static void kernel(void);
static double work_units(void);
static double bytes_touched(void); /* distinct bytes of the kernel's inputs and outputs */

static uint32_t rng_state = 12345u;

static float frand(void) /* deterministic values in [-0.5, 0.5) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 16777216.0f - 0.5f;
}

/* Arrays are mapped page by page from a fixed virtual address, so their cache sets do not depend on where
 * the loader or valgrind happens to place the heap (which moves with the length of the program's path). */
#define ARENA_BASE 0x100000000000ull

static void *alloc(size_t bytes)
{
    static uintptr_t next = ARENA_BASE;
    const size_t size = (bytes + 4095) / 4096 * 4096;
    void *p = mmap((void *)next, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p != (void *)next) {
        fprintf(stderr, "cannot map %zu bytes at %#lx\n", bytes, (unsigned long)next);
        exit(1);
    }
    next += size;
    return p;
}

static float *new_f32(size_t n)
{
    float *p = alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

__attribute__((unused)) static f16 *new_f16(size_t n)
{
    f16 *p = alloc(n * sizeof(f16));
    for (size_t i = 0; i < n; i++) p[i] = _cvtss_sh(frand(), 0);
    return p;
}

static int arg(int argc, char **argv, int i)
{
    if (i >= argc) {
        fprintf(stderr, "missing size argument %d\n", i + 1);
        exit(2);
    }
    return atoi(argv[i]);
}

/* Horizontal sum of 8 floats. */
static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dot(w[0..n), x[0..n)) with F16 w and F32 x; n a multiple of 16 (ggml_vec_dot_f16 converts with F16C). */
static inline float dot_f16_f32(const f16 *w, const float *x, int n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
    }
    return hsum256(_mm256_add_ps(a0, a1));
}

/* exp(x) for 8 floats: x = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to degree 6
 * (relative error below 2e-7 on that interval), times 2^k built in the exponent bits. */
static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#define FLUSH_BYTES (8u << 20)

static void flush_caches(void)
{
    volatile char *buf = alloc(FLUSH_BYTES);
    for (size_t i = 0; i < FLUSH_BYTES; i += 64) buf[i] = (char)i;
}

/* Only this function's calls differ between the two runs that are subtracted. */
__attribute__((noinline)) void ailfm_kernel(void) { kernel(); }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CALLS FLUSH SIZES...\n", argv[0]);
        return 2;
    }
    int calls = atoi(argv[1]);
    /* Move the stack to the same address modulo 1 MiB (a cache's sets x line size) whatever the environment
     * and path strings above it, so stack accesses fall in the same cache sets on every machine. */
    volatile char *pad = alloca(((uintptr_t)__builtin_frame_address(0) - 4096) % (1u << 20) + 64);
    pad[0] = 0;
    setup(argc - 3, argv + 3);
    if (atoi(argv[2])) flush_caches();
    for (int c = 0; c < calls; c++) ailfm_kernel();
    printf("work_units %.0f\nbytes %.0f\n", work_units(), bytes_touched());
    return 0;
}

#endif
