/* LayerNorm: y = (x - mean) / sqrt(var + eps) * g + b, mean and variance as scalar double loops
 * (ggml_compute_forward_norm_f32), the affine part vectorised.
 * Sizes: ROWS COLS (COLS a multiple of 8). Work unit: element. */
#include "harness.h"

static int R, NC;
static float *x, *g, *b, *y;

static void setup(int argc, char **argv)
{
    R = arg(argc, argv, 0), NC = arg(argc, argv, 1);
    x = new_f32((size_t)R * NC), g = new_f32(NC), b = new_f32(NC), y = new_f32((size_t)R * NC);
}

static void kernel(void)
{
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * NC;
        float *yr = y + (size_t)r * NC;
        double sum = 0.0, sq = 0.0;
        for (int i = 0; i < NC; i++) sum += xr[i];
        const float mean = (float)(sum / NC);
        for (int i = 0; i < NC; i++) {
            const float d = xr[i] - mean;
            yr[i] = d;
            sq += (double)(d * d);
        }
        __m256 scale = _mm256_set1_ps((float)(1.0 / sqrt(sq / NC + 1e-5)));
        for (int i = 0; i < NC; i += 8)
            _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(yr + i), scale),
                                                     _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
}

static double work_units(void) { return (double)R * NC; }

static double bytes_touched(void) { return 8.0 * R * NC + 8.0 * NC; }
