/* ReLU: y = max(x, 0), vectorised. Sizes: N (a multiple of 8). Work unit: element. */
#include "harness.h"

static int N;
static float *x, *y;

static void setup(int argc, char **argv)
{
    N = arg(argc, argv, 0);
    x = new_f32(N), y = new_f32(N);
}

static void kernel(void)
{
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < N; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
}

static double work_units(void) { return N; }

static double bytes_touched(void) { return 8.0 * N; }
