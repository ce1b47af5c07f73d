/* KV-cache store: ROWS rows of D F32 values converted to F16 and written at the cache's end
 * (ggml_cpy F32 -> F16 with F16C). Sizes: ROWS D (D a multiple of 8). Work unit: element. */
#include "harness.h"

static int R, D;
static float *src;
static f16 *cache;

static void setup(int argc, char **argv)
{
    R = arg(argc, argv, 0), D = arg(argc, argv, 1);
    src = new_f32((size_t)R * D), cache = new_f16((size_t)R * D);
}

static void kernel(void)
{
    for (size_t i = 0; i < (size_t)R * D; i += 8)
        _mm_storeu_si128((__m128i *)(cache + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), 0));
}

static double work_units(void) { return (double)R * D; }

static double bytes_touched(void) { return 6.0 * R * D; }
