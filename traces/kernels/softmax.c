/* Softmax over rows into a new tensor: max, exp(x - max), sum, scale (ggml_soft_max, vectorised exp).
 * Sizes: ROWS COLS (COLS a multiple of 8). Work unit: element. */
#include "harness.h"

static int R, NC;
static float *x, *y;

static void setup(int argc, char **argv)
{
    R = arg(argc, argv, 0), NC = arg(argc, argv, 1);
    x = new_f32((size_t)R * NC), y = new_f32((size_t)R * NC);
}

static void kernel(void)
{
    for (int r = 0; r < R; r++) {
        const float *row = x + (size_t)r * NC;
        float *out = y + (size_t)r * NC;
        __m256 m = _mm256_set1_ps(-INFINITY);
        for (int i = 0; i < NC; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(row + i));
        float mx = row[0];
        float tmp[8];
        _mm256_storeu_ps(tmp, m);
        for (int i = 0; i < 8; i++) mx = tmp[i] > mx ? tmp[i] : mx;
        __m256 vmax = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
        for (int i = 0; i < NC; i += 8) {
            __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + i), vmax));
            _mm256_storeu_ps(out + i, e);
            sum = _mm256_add_ps(sum, e);
        }
        __m256 inv = _mm256_set1_ps(1.0f / hsum256(sum));
        for (int i = 0; i < NC; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), inv));
    }
}

static double work_units(void) { return (double)R * NC; }

static double bytes_touched(void) { return 8.0 * R * NC; }
