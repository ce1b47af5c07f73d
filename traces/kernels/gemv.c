/* GEMV: y[N] = W[N,K] . x[K], F16 weights, F32 vector (a decode projection).
 * Sizes: N K (K a multiple of 16). Work unit: FLOP (2 N K). */
#include "harness.h"

static int N, K;
static float *x, *y;
static f16 *W;

static void setup(int argc, char **argv)
{
    N = arg(argc, argv, 0), K = arg(argc, argv, 1);
    x = new_f32(K), W = new_f16((size_t)N * K), y = new_f32(N);
}

static void kernel(void)
{
    for (int j = 0; j < N; j++) y[j] = dot_f16_f32(W + (size_t)j * K, x, K);
}

static double work_units(void) { return 2.0 * N * K; }

static double bytes_touched(void) { return 2.0 * N * K + 4.0 * K + 4.0 * N; }
