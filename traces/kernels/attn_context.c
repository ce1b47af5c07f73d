/* Attention context: o[t, h, e] = sum_l p[h, t, l] v[h / (H / HKV), e, l] with the V cache stored
 * transposed in F16 (llama.cpp's non-flash layout), so each output is a dot product over the context.
 * Sizes: H HKV T L D (L a multiple of 16). Work unit: FLOP (2 H T L D). */
#include "harness.h"

static int H, HKV, T, L, D;
static float *p, *o;
static f16 *vt;

static void setup(int argc, char **argv)
{
    H = arg(argc, argv, 0), HKV = arg(argc, argv, 1), T = arg(argc, argv, 2), L = arg(argc, argv, 3);
    D = arg(argc, argv, 4);
    p = new_f32((size_t)H * T * L), vt = new_f16((size_t)HKV * D * L), o = new_f32((size_t)T * H * D);
}

static void kernel(void)
{
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            const float *pr = p + ((size_t)h * T + t) * L;
            const f16 *vh = vt + (size_t)(h / (H / HKV)) * D * L;
            for (int e = 0; e < D; e++) o[((size_t)t * H + h) * D + e] = dot_f16_f32(vh + (size_t)e * L, pr, L);
        }
}

static double work_units(void) { return 2.0 * H * T * L * D; }

static double bytes_touched(void) { return 4.0 * H * T * L + 2.0 * HKV * D * L + 4.0 * T * H * D; }
