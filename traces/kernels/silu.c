/* Gated SiLU (SwiGLU): y = g / (1 + exp(-g)) * u, vectorised (ggml_vec_swiglu_f32).
 * Sizes: N (a multiple of 8). Work unit: element of the output. */
#include "harness.h"

static int N;
static float *g, *u, *y;

static void setup(int argc, char **argv)
{
    N = arg(argc, argv, 0);
    g = new_f32(N), u = new_f32(N), y = new_f32(N);
}

static void kernel(void)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (int i = 0; i < N; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 silu = _mm256_div_ps(x, _mm256_add_ps(one, exp256(_mm256_sub_ps(zero, x))));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
}

static double work_units(void) { return N; }

static double bytes_touched(void) { return 12.0 * N; }
