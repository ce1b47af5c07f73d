/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * w. The sum of squares is a scalar double loop, as in
 * ggml_compute_forward_rms_norm_f32; the scaling is vectorised.
 * Sizes: ROWS COLS (COLS a multiple of 8). Work unit: element. */
#include "harness.h"

static int R, NC;
static float *x, *w, *y;

static void setup(int argc, char **argv)
{
    R = arg(argc, argv, 0), NC = arg(argc, argv, 1);
    x = new_f32((size_t)R * NC), w = new_f32(NC), y = new_f32((size_t)R * NC);
}

static void kernel(void)
{
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * NC;
        float *yr = y + (size_t)r * NC;
        double sum = 0.0;
        for (int i = 0; i < NC; i++) sum += (double)(xr[i] * xr[i]);
        __m256 scale = _mm256_set1_ps((float)(1.0 / sqrt(sum / NC + 1e-5)));
        for (int i = 0; i < NC; i += 8)
            _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), scale),
                                                   _mm256_loadu_ps(w + i)));
    }
}

static double work_units(void) { return (double)R * NC; }

static double bytes_touched(void) { return 8.0 * R * NC + 4.0 * NC; }
