/* Embedding lookup: T token rows gathered from an F16 table of VOCAB x HIDDEN and converted to F32
 * (ggml_get_rows). Sizes: T HIDDEN VOCAB (HIDDEN a multiple of 8). Work unit: element (T HIDDEN). */
#include "harness.h"

static int T, HID, VOCAB;
static f16 *table;
static float *out;
static int *ids;

static void setup(int argc, char **argv)
{
    T = arg(argc, argv, 0), HID = arg(argc, argv, 1), VOCAB = arg(argc, argv, 2);
    table = new_f16((size_t)VOCAB * HID), out = new_f32((size_t)T * HID);
    ids = alloc(sizeof(int) * T);
    for (int t = 0; t < T; t++) ids[t] = (int)((frand() + 0.5f) * VOCAB) % VOCAB;
}

static void kernel(void)
{
    for (int t = 0; t < T; t++) {
        const f16 *row = table + (size_t)ids[t] * HID;
        float *o = out + (size_t)t * HID;
        for (int i = 0; i < HID; i += 8)
            _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + i))));
    }
}

static double work_units(void) { return (double)T * HID; }

static double bytes_touched(void) { return 6.0 * T * HID; }
