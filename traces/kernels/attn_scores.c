/* Attention scores: s[h, t, l] = q[t, h] . k[l, h / (H / HKV)] / sqrt(D) over an F16 KV cache
 * (llama.cpp's K.Q product; grouped-query heads share a K head).
 * Sizes: H HKV T L D (D a multiple of 16). Work unit: FLOP (2 H T L D). */
#include "harness.h"

static int H, HKV, T, L, D;
static float *q, *s;
static f16 *kc;

static void setup(int argc, char **argv)
{
    H = arg(argc, argv, 0), HKV = arg(argc, argv, 1), T = arg(argc, argv, 2), L = arg(argc, argv, 3);
    D = arg(argc, argv, 4);
    q = new_f32((size_t)T * H * D), kc = new_f16((size_t)L * HKV * D), s = new_f32((size_t)H * T * L);
}

static void kernel(void)
{
    const float scale = 1.0f / sqrtf((float)D);
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            const float *qv = q + ((size_t)t * H + h) * D;
            float *row = s + ((size_t)h * T + t) * L;
            for (int l = 0; l < L; l++)
                row[l] = scale * dot_f16_f32(kc + ((size_t)l * HKV + h / (H / HKV)) * D, qv, D);
        }
}

static double work_units(void) { return 2.0 * H * T * L * D; }

static double bytes_touched(void) { return 4.0 * T * H * D + 2.0 * L * HKV * D + 4.0 * H * T * L; }
