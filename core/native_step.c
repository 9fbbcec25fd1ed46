/* The seed's training step on the CPU as two C calls a batch: the forward (with the loss and the
 * correct predictions) and the plain-SGD update folded into the backward products.
 *
 * The arithmetic is the fused engine's (fused_step.py): fp32 throughout, the products are
 * torch's own BLAS (its sgemm_, passed in by native.py), the update folded into the backward
 * products' alpha, relu's backward doubled and the factor taken out of the update's alpha. What
 * changes is who calls the kernels: ~30 PyTorch operations a batch, each a Python call, a
 * dispatch and an OpenMP region, become five sgemm calls and a few plain loops.
 *
 * Layouts (row-major): pixels b x d (uint8), W1 d x h, b1 h, W2 stored by class k x h (the
 * trainer's CPU layout), b2 k; the logits and their gradient G are k x b, a row per class.
 * The dimensions reach sgemm as pointers to 64-bit integers: an LP64 BLAS reads their low 32
 * bits (little-endian), an ILP64 one all 64, and both read the right numbers.
 *
 * Built by native.py with -O3 -ffp-contract=off: no product is fused into an FMA unless written
 * as one (to_unit's correction), so the rounding is the source's.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef void (*sgemm_t)(const char *, const char *, const int64_t *, const int64_t *,
                        const int64_t *, const float *, const float *, const int64_t *,
                        const float *, const int64_t *, const float *, float *, const int64_t *);

/* c = alpha op(a) op(b) + beta c, column-major, as BLAS defines it. */
static void gemm(sgemm_t f, char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
    f(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

/* ToTensor's q / 255, rounded as IEEE division rounds it, without a division: the product by
 * 1/255 and one fused correction (native.py checks all 256 values against torch's division
 * before it uses the library). */
void mlp_to_unit(const uint8_t *q, float *x, int64_t n) {
    const float c = 1.0f / 255.0f;
    for (int64_t i = 0; i < n; i++) {
        float f = (float)q[i];
        float r = f * c;
        float e = fmaf(-r, 255.0f, f);
        x[i] = fmaf(e, c, r);
    }
}

/* exp(x) for x <= 0 (a logit minus its column's largest), without a call, so the loop over a
 * class's examples vectorises: Cephes' expf (2^n times a degree-7 polynomial of the
 * remainder), within 2 ulp of the true value; torch's vectorised exp is SLEEF's, within 1.
 * Below -87.3 (exp < 1.2e-38, nothing beside the largest's 1) it returns exp(-87.3); a NaN
 * (a column with a NaN or an infinite logit) gives NaN, as torch's exp does. */
static inline float exp_nonpositive(float x) {
    x = x < -87.3f ? -87.3f : x;
    float n = floorf(fmaf(x, 1.44269504088896341f, 0.5f));
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    n = n > -126.0f ? n : -126.0f; /* already so, but for a NaN (p is NaN then, and so is p 2^n) */
    int32_t bits = ((int32_t)n + 127) << 23; /* n in [-126, 0]: a normal power of two */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* The forward: X from the pixels, Z = b1 + X W1, H = relu(Z), the logits L = b2 + W2 H^T
 * (k x b), then per example the loss (log-sum-exp minus its class's logit), the prediction (the
 * first of equal maxima, as argmax) and G = (softmax - onehot) / b, the mean loss's gradient.
 * The per-example loops run class by class, along rows of b: they vectorise. scratch: 2 b
 * floats, arg: b ints. out: the loss sum and the correct count. Returns 0, or 1 for a label
 * outside [0, k). */
int mlp_forward(sgemm_t f, const uint8_t *pixels, const int64_t *y, int64_t b, int64_t d,
                int64_t h, int64_t k, const float *W1, const float *b1, const float *W2,
                const float *b2, float *X, float *Z, float *H, float *L, float *G,
                float *scratch, int32_t *arg, double *out) {
    for (int64_t j = 0; j < b; j++)
        if (y[j] < 0 || y[j] >= k) return 1;
    mlp_to_unit(pixels, X, b * d);
    for (int64_t r = 0; r < b; r++)
        for (int64_t c = 0; c < h; c++) Z[r * h + c] = b1[c];
    gemm(f, 'N', 'N', h, b, d, 1.0f, W1, h, X, d, 1.0f, Z, h); /* Z^T += W1^T X^T */
    /* clamp_min(Z, 0) as torch has it: a NaN stays NaN (a diverged run's NaN weights must reach
     * the loss, not hide behind a 0), -0 stays -0. */
    for (int64_t i = 0; i < b * h; i++) H[i] = Z[i] < 0.0f ? 0.0f : Z[i];
    for (int64_t c = 0; c < k; c++)
        for (int64_t j = 0; j < b; j++) L[c * b + j] = b2[c];
    gemm(f, 'T', 'N', b, k, h, 1.0f, H, h, W2, h, 1.0f, L, b); /* L^T += H W2^T */
    float *top = scratch, *sum = scratch + b;
    for (int64_t j = 0; j < b; j++) top[j] = L[j], arg[j] = 0, sum[j] = 0.0f;
    for (int64_t c = 1; c < k; c++)
        for (int64_t j = 0; j < b; j++) {
            /* max's rule: the first of equal maxima, and a NaN is larger than everything */
            float v = L[c * b + j];
            int more = (v > top[j] || v != v) && top[j] == top[j];
            top[j] = more ? v : top[j];
            arg[j] = more ? (int32_t)c : arg[j];
        }
    for (int64_t c = 0; c < k; c++)
        for (int64_t j = 0; j < b; j++) {
            float e = exp_nonpositive(L[c * b + j] - top[j]);
            G[c * b + j] = e;
            sum[j] += e;
        }
    double loss = 0.0;
    int64_t correct = 0;
    for (int64_t j = 0; j < b; j++) {
        loss += (double)(logf(sum[j]) - (L[y[j] * b + j] - top[j]));
        correct += arg[j] == y[j];
    }
    float rows = (float)b;
    for (int64_t c = 0; c < k; c++)
        for (int64_t j = 0; j < b; j++)
            G[c * b + j] = (G[c * b + j] / sum[j] - (float)(y[j] == c)) / rows;
    out[0] = loss;
    out[1] = (double)correct;
    return 0;
}

/* The update after mlp_forward on the same buffers: dA = G^T W2 (before W2 changes), W2 -= lr G H,
 * b2 -= lr rowsums(G), dZ = dA + dA sign(Z) (twice relu's gradient, exactly) in dA's place,
 * b1 -= lr/2 colsums(dZ), W1 -= lr/2 X^T dZ. acc: h floats of scratch. */
void mlp_update(sgemm_t f, int64_t b, int64_t d, int64_t h, int64_t k, float lr, float *W1,
                float *b1, float *W2, float *b2, const float *X, const float *Z, const float *H,
                const float *G, float *dA, float *acc) {
    gemm(f, 'N', 'T', h, b, k, 1.0f, W2, h, G, b, 0.0f, dA, h); /* dA^T = W2^T G */
    gemm(f, 'N', 'N', h, k, b, -lr, H, h, G, b, 1.0f, W2, h);   /* W2^T -= lr H^T G^T */
    for (int64_t c = 0; c < k; c++) {
        float sum = 0.0f;
        for (int64_t j = 0; j < b; j++) sum += G[c * b + j];
        b2[c] -= lr * sum;
    }
    for (int64_t c = 0; c < h; c++) acc[c] = 0.0f;
    for (int64_t r = 0; r < b; r++) {
        float *g = dA + r * h;
        const float *z = Z + r * h;
        for (int64_t c = 0; c < h; c++) {
            float sign = (float)((z[c] > 0.0f) - (z[c] < 0.0f));
            float v = g[c] + g[c] * sign;
            g[c] = v;
            acc[c] += v;
        }
    }
    float half = lr / 2.0f; /* the factor 2 of relu's backward, taken out exactly */
    for (int64_t c = 0; c < h; c++) b1[c] -= half * acc[c];
    gemm(f, 'N', 'T', h, d, b, -half, dA, h, X, d, 1.0f, W1, h); /* W1^T -= lr/2 dZ^T X */
}
