/* GEMM: C[M,N] = A[M,K] . W[N,K]^T, F16 weights, F32 activations (a prefill projection).
 * Cache-blocked like a simple BLAS: K in panels of KC, weight rows in blocks of NB (an L1-sized
 * F16 panel), and a 4 x 2 register-blocked micro-kernel (4 activation rows x 2 weight rows, eight
 * independent FMA chains) that adds its partial sums to C.
 * Sizes: M N K (M a multiple of 4, N of 2, K of 8). Work unit: FLOP (2 M N K). */
#include "harness.h"

#define KC 256
#define NB 64

static int M, N, K;
static float *A, *C;
static f16 *W;

static void setup(int argc, char **argv)
{
    M = arg(argc, argv, 0), N = arg(argc, argv, 1), K = arg(argc, argv, 2);
    A = new_f32((size_t)M * K), W = new_f16((size_t)N * K), C = new_f32((size_t)M * N);
}

/* C[i..i+4, j..j+2] += A[i..i+4, k0..k1] . W[j..j+2, k0..k1]^T; eight accumulators kept in registers. */
static inline void micro_4x2(int i, int j, int k0, int k1)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const f16 *w0 = W + (size_t)j * K, *w1 = w0 + K;
    const float *a0 = A + (size_t)i * K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;
    for (int k = k0; k < k1; k += 8) {
        const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w0 + k)));
        const __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w1 + k)));
        __m256 av = _mm256_loadu_ps(a0 + k);
        c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_loadu_ps(a1 + k);
        c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_loadu_ps(a2 + k);
        c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_loadu_ps(a3 + k);
        c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
    }
    float *c = C + (size_t)i * N + j;
    c[0] += hsum256(c00), c[1] += hsum256(c01), c += N;
    c[0] += hsum256(c10), c[1] += hsum256(c11), c += N;
    c[0] += hsum256(c20), c[1] += hsum256(c21), c += N;
    c[0] += hsum256(c30), c[1] += hsum256(c31);
}

static void kernel(void)
{
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int k1 = k0 + KC < K ? k0 + KC : K;
        for (int jb = 0; jb < N; jb += NB)
            for (int i = 0; i < M; i += 4)
                for (int j = jb; j < jb + NB && j < N; j += 2) micro_4x2(i, j, k0, k1);
    }
}

static double work_units(void) { return 2.0 * M * N * K; }

static double bytes_touched(void) { return 4.0 * M * K + 2.0 * N * K + 4.0 * M * N; }
