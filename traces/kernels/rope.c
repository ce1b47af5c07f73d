/* Rotary embedding of T tokens x HEADS heads of size D: per token the cos/sin of its D/2 angles
 * (theta_i = pos * 10000^(-2i/D), computed once per token as ggml's rope cache does), then every
 * pair (x[2i], x[2i+1]) of every head is rotated into a new tensor (scalar, as ggml's rope is).
 * Sizes: T HEADS D. Work unit: element (T HEADS D). */
#include "harness.h"

static int T, HEADS, D;
static float *x, *y, *cache;

static void setup(int argc, char **argv)
{
    T = arg(argc, argv, 0), HEADS = arg(argc, argv, 1), D = arg(argc, argv, 2);
    x = new_f32((size_t)T * HEADS * D), y = new_f32((size_t)T * HEADS * D), cache = new_f32(D);
}

static void kernel(void)
{
    const float theta_scale = powf(10000.0f, -2.0f / D);
    for (int t = 0; t < T; t++) {
        float theta = (float)(t + 7);
        for (int i = 0; i < D; i += 2) {
            cache[i] = cosf(theta), cache[i + 1] = sinf(theta);
            theta *= theta_scale;
        }
        for (int h = 0; h < HEADS; h++) {
            const float *v = x + ((size_t)t * HEADS + h) * D;
            float *o = y + ((size_t)t * HEADS + h) * D;
            for (int i = 0; i < D; i += 2) {
                const float c = cache[i], s = cache[i + 1], x0 = v[i], x1 = v[i + 1];
                o[i] = x0 * c - x1 * s;
                o[i + 1] = x0 * s + x1 * c;
            }
        }
    }
}

static double work_units(void) { return (double)T * HEADS * D; }

static double bytes_touched(void) { return 8.0 * T * HEADS * D; }
