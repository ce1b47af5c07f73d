/* Residual add: c = a + b, vectorised (ggml_vec_add_f32). Sizes: N (a multiple of 8). Work unit: element. */
#include "harness.h"

static int N;
static float *a, *b, *c;

static void setup(int argc, char **argv)
{
    N = arg(argc, argv, 0);
    a = new_f32(N), b = new_f32(N), c = new_f32(N);
}

static void kernel(void)
{
    for (int i = 0; i < N; i += 8)
        _mm256_storeu_ps(c + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
}

static double work_units(void) { return N; }

static double bytes_touched(void) { return 12.0 * N; }
