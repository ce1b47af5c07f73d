/* GELU, tanh form: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tanh(z) = 1 - 2 / (exp(2z) + 1).
 * Sizes: N (a multiple of 8). Work unit: element. */
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
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
    const __m256 c = _mm256_set1_ps(0.7978845608f), a = _mm256_set1_ps(0.044715f);
    for (int i = 0; i < N; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
        __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp256(_mm256_mul_ps(two, z)), one)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
    }
}

static double work_units(void) { return N; }

static double bytes_touched(void) { return 8.0 * N; }
