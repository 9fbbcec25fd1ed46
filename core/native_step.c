/* The seed's training step on the CPU as two C calls a batch: the forward (with the loss and the
 * correct predictions) and the plain-SGD update.
 *
 * The arithmetic is the fused engine's (fused_step.py) to float rounding: fp32 throughout; the
 * two large products (X W1 and the W1 update X^T dZ) are torch's own BLAS (its sgemm_, passed in
 * by native.py), the W1 update folded into the product's alpha; relu's backward doubled and the
 * factor taken out of the update's alpha. What changes is who does the rest: ~30 PyTorch
 * operations a batch, each a Python call, a dispatch and an OpenMP region, become two BLAS calls
 * and three parallel regions of plain loops. The small products with the 10 classes (the logits
 * H W2^T, G^T W2 and the W2 update G H) are done here, by rows, fused with relu, relu's backward
 * and the bias sums, while the rows are in cache: through sgemm they ran at a third of its rate.
 *
 * Threads: the loops run on the OpenMP team of the calling thread (``threads`` of it; native.py
 * builds with -fopenmp only where that is torch's own runtime). Every sum over the batch is taken
 * over fixed blocks of rows (``blocks``), then the blocks' sums in order: the numbers do not
 * depend on the number of threads.
 *
 * Layouts (row-major): the batch's pixels b x d (uint8), W1 d x h,
 * b1 h, W2 stored by class K x h (the trainer's CPU layout), b2 K; X b x d, Z, H and dZ b x h;
 * the logits L and their gradient G are K x b, a row per class. The dimensions reach sgemm as
 * pointers to 64-bit integers: an LP64 BLAS reads their low 32 bits (little-endian), an ILP64
 * one all 64, and both read the right numbers.
 *
 * Built by native.py with -O3 -ffp-contract=off: no product is fused into an FMA unless written
 * as one (to_unit's correction), so the rounding is the source's.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define K 10           /* classes: Fashion-MNIST's, and what native.applies checks */
#define BLOCK_ROWS 64  /* rows per block of a batch's sums, up to MAX_BLOCKS blocks */
#define MAX_BLOCKS 16

typedef void (*sgemm_t)(const char *, const char *, const int64_t *, const int64_t *,
                        const int64_t *, const float *, const float *, const int64_t *,
                        const float *, const int64_t *, const float *, float *, const int64_t *);

/* Eight floats: GCC's and clang's vector extension, one AVX register where the CPU has them,
 * two SSE or NEON ones elsewhere. Loads and stores through memcpy: no alignment assumed. */
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t m8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
static inline v8 splat(float x) { return (v8){x, x, x, x, x, x, x, x}; }
static inline float sum8(v8 v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
/* clamp_min(z, 0) as torch has it: a NaN stays NaN (a diverged run's NaN weights must reach the
 * loss, not hide behind a 0), -0 stays -0. */
static inline v8 relu8(v8 z) { return (v8)((m8)z & ~(z < splat(0.0f))); }
static inline float relu1(float z) { return z < 0.0f ? 0.0f : z; }
/* torch.sign: -1, 0 or 1, and 0 for a NaN. */
static inline v8 sign8(v8 z) {
    return __builtin_convertvector((z < splat(0.0f)) - (z > splat(0.0f)), v8); /* -1 is true */
}
static inline float sign1(float z) { return (float)((z > 0.0f) - (z < 0.0f)); }

/* c = alpha op(a) op(b) + beta c, column-major, as BLAS defines it. */
static void gemm(sgemm_t f, char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
    f(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

/* The blocks of a batch of b rows: [*lo, *hi) of block i of blocks(b). */
static int64_t blocks(int64_t b) {
    int64_t n = (b + BLOCK_ROWS - 1) / BLOCK_ROWS;
    return n < 1 ? 1 : (n > MAX_BLOCKS ? MAX_BLOCKS : n);
}
static void block_rows(int64_t i, int64_t b, int64_t *lo, int64_t *hi) {
    int64_t per = (b + blocks(b) - 1) / blocks(b);
    *lo = i * per < b ? i * per : b;
    *hi = *lo + per < b ? *lo + per : b;
}

/* Whether this build runs its loops on OpenMP threads (built with -fopenmp). */
int mlp_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* The scratch mlp_update needs for a batch of b rows with h hidden units: the blocks' sums. */
int64_t mlp_update_scratch(int64_t b, int64_t h) { return blocks(b) * (K * h + h + K); }

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

/* X from b rows of pixels and Z = b1 + X W1: the start of mlp_forward and mlp_logits. */
static void pre_activations(sgemm_t f, int threads, const uint8_t *pixels, int64_t b, int64_t d,
                            int64_t h, const float *W1, const float *b1, float *X, float *Z) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t j = 0; j < b; j++) {
        mlp_to_unit(pixels + j * d, X + j * d, d);
        memcpy(Z + j * h, b1, h * sizeof *Z);
    }
    gemm(f, 'N', 'N', h, b, d, 1.0f, W1, h, X, d, 1.0f, Z, h); /* Z^T += W1^T X^T */
}

/* Rows [lo, hi) of the batch: H = relu(Z) and the logits L = b2 + W2 H^T, a row of Z at a
 * time while it is in cache (ten sums of h products per row, eight lanes each). */
static void relu_logits(int64_t lo, int64_t hi, int64_t b, int64_t h, const float *W2,
                        const float *b2, const float *Z, float *H, float *L) {
    int64_t h8 = h - h % 8;
    for (int64_t r = lo; r < hi; r++) {
        const float *z = Z + r * h;
        float *out = H + r * h;
        v8 s[K];
        for (int q = 0; q < K; q++) s[q] = splat(0.0f);
        for (int64_t c = 0; c < h8; c += 8) {
            v8 a = relu8(load8(z + c));
            store8(out + c, a);
            for (int q = 0; q < K; q++) s[q] += load8(W2 + q * h + c) * a;
        }
        float t[K];
        for (int q = 0; q < K; q++) t[q] = sum8(s[q]);
        for (int64_t c = h8; c < h; c++) {
            float a = relu1(z[c]);
            out[c] = a;
            for (int q = 0; q < K; q++) t[q] += W2[q * h + c] * a;
        }
        for (int q = 0; q < K; q++) L[q * b + r] = b2[q] + t[q];
    }
}

/* Columns [lo, hi) of the logits: per example the loss (log-sum-exp minus its class's logit),
 * the prediction (the first of equal maxima, as argmax) and G = (softmax - onehot) / b, the
 * mean loss's gradient. Class by class along rows of b: the loops vectorise. */
static void softmax_block(int64_t lo, int64_t hi, int64_t b, const float *L, const int64_t *y,
                          float *G, float *top, float *sum, int32_t *arg, double *loss,
                          int64_t *correct) {
    for (int64_t j = lo; j < hi; j++) top[j] = L[j], arg[j] = 0, sum[j] = 0.0f;
    for (int64_t c = 1; c < K; c++)
        for (int64_t j = lo; j < hi; j++) {
            /* max's rule: the first of equal maxima, and a NaN is larger than everything */
            float v = L[c * b + j];
            int more = (v > top[j] || v != v) && top[j] == top[j];
            top[j] = more ? v : top[j];
            arg[j] = more ? (int32_t)c : arg[j];
        }
    for (int64_t c = 0; c < K; c++)
        for (int64_t j = lo; j < hi; j++) {
            float e = exp_nonpositive(L[c * b + j] - top[j]);
            G[c * b + j] = e;
            sum[j] += e;
        }
    double total = 0.0;
    int64_t right = 0;
    for (int64_t j = lo; j < hi; j++) {
        total += (double)(logf(sum[j]) - (L[y[j] * b + j] - top[j]));
        right += arg[j] == y[j];
    }
    float rows = (float)b;
    for (int64_t c = 0; c < K; c++)
        for (int64_t j = lo; j < hi; j++)
            G[c * b + j] = (G[c * b + j] / sum[j] - (float)(y[j] == c)) / rows;
    *loss = total;
    *correct = right;
}

/* The forward of a batch of b rows: X from the pixels, Z = b1 + X W1, H = relu(Z), the logits,
 * the loss, the predictions and G. scratch: 2 b floats, arg: b ints. out: the loss sum and the
 * correct count. Returns 0; 1 for a label outside [0, k); 2 for k other than K. */
int mlp_forward(sgemm_t f, int threads, const uint8_t *pixels, const int64_t *y, int64_t b,
                int64_t d, int64_t h, int64_t k, const float *W1, const float *b1,
                const float *W2, const float *b2, float *X, float *Z, float *H, float *L,
                float *G, float *scratch, int32_t *arg, double *out) {
    if (k != K) return 2;
    for (int64_t j = 0; j < b; j++)
        if (y[j] < 0 || y[j] >= k) return 1;
    threads = threads < 1 ? 1 : threads;
    pre_activations(f, threads, pixels, b, d, h, W1, b1, X, Z);
    int64_t nb = blocks(b);
    double loss[MAX_BLOCKS];
    int64_t right[MAX_BLOCKS];
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < nb; i++) {
        int64_t lo, hi;
        block_rows(i, b, &lo, &hi);
        relu_logits(lo, hi, b, h, W2, b2, Z, H, L);
        softmax_block(lo, hi, b, L, y, G, scratch, scratch + b, arg, loss + i, right + i);
    }
    out[0] = out[1] = 0.0;
    for (int64_t i = 0; i < nb; i++) out[0] += loss[i], out[1] += (double)right[i];
    return 0;
}

/* The logits of b rows of pixels (the test set's evaluation, a chunk at a time): X, Z = b1 +
 * X W1 and H = relu(Z) as in mlp_forward, and L = b2 + W2 H^T (K x b). Returns 0, or 2 for k
 * other than K. */
int mlp_logits(sgemm_t f, int threads, const uint8_t *pixels, int64_t b, int64_t d, int64_t h,
               int64_t k, const float *W1, const float *b1, const float *W2, const float *b2,
               float *X, float *Z, float *H, float *L) {
    if (k != K) return 2;
    threads = threads < 1 ? 1 : threads;
    pre_activations(f, threads, pixels, b, d, h, W1, b1, X, Z);
    int64_t nb = blocks(b);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < nb; i++) {
        int64_t lo, hi;
        block_rows(i, b, &lo, &hi);
        relu_logits(lo, hi, b, h, W2, b2, Z, H, L);
    }
    return 0;
}

/* Block [lo, hi)'s share of the update: dZ = dA + dA sign(Z) (twice relu's gradient, exactly)
 * with dA = G^T W2, into dZ; its column sums (for b1), G H (for W2) and G's row sums (for b2),
 * into part (K h + h + K floats). Eight hidden units at a time over the block's rows, with W2's
 * or the sums' eight columns for all K classes held in registers. */
static void update_block(int64_t lo, int64_t hi, int64_t b, int64_t h, const float *W2,
                         const float *Z, const float *H, const float *G, float *dZ, float *part) {
    float *pw = part, *pb = part + K * h, *pk = part + K * h + h;
    int64_t h8 = h - h % 8;
    for (int64_t c = 0; c < h8; c += 8) {
        v8 w[K], acc = splat(0.0f);
        for (int q = 0; q < K; q++) w[q] = load8(W2 + q * h + c);
        for (int64_t r = lo; r < hi; r++) {
            v8 a = splat(G[r]) * w[0];
            for (int q = 1; q < K; q++) a += splat(G[q * b + r]) * w[q];
            v8 v = a + a * sign8(load8(Z + r * h + c));
            store8(dZ + r * h + c, v);
            acc += v;
        }
        store8(pb + c, acc);
        v8 s[K];
        for (int q = 0; q < K; q++) s[q] = splat(0.0f);
        for (int64_t r = lo; r < hi; r++) {
            v8 a = load8(H + r * h + c);
            for (int q = 0; q < K; q++) s[q] += splat(G[q * b + r]) * a;
        }
        for (int q = 0; q < K; q++) store8(pw + q * h + c, s[q]);
    }
    for (int64_t c = h8; c < h; c++) {
        float acc = 0.0f, s[K] = {0.0f};
        for (int64_t r = lo; r < hi; r++) {
            float a = G[r] * W2[c];
            for (int q = 1; q < K; q++) a += G[q * b + r] * W2[q * h + c];
            float v = a + a * sign1(Z[r * h + c]);
            dZ[r * h + c] = v;
            acc += v;
            for (int q = 0; q < K; q++) s[q] += G[q * b + r] * H[r * h + c];
        }
        pb[c] = acc;
        for (int q = 0; q < K; q++) pw[q * h + c] = s[q];
    }
    for (int q = 0; q < K; q++) {
        float s = 0.0f;
        for (int64_t r = lo; r < hi; r++) s += G[q * b + r];
        pk[q] = s;
    }
}

/* The update after mlp_forward on the same buffers: dZ (in dA) from G^T W2 before W2 changes,
 * W2 -= lr G H, b2 -= lr rowsums(G), b1 -= lr/2 colsums(dZ), W1 -= lr/2 X^T dZ. part:
 * mlp_update_scratch(b, h) floats. */
void mlp_update(sgemm_t f, int threads, int64_t b, int64_t d, int64_t h, float lr, float *W1,
                float *b1, float *W2, float *b2, const float *X, const float *Z, const float *H,
                const float *G, float *dA, float *part) {
    int64_t nb = blocks(b), stride = K * h + h + K;
    float half = lr / 2.0f; /* the factor 2 of relu's backward, taken out exactly */
    threads = threads < 1 ? 1 : threads;
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nb; i++) {
            int64_t lo, hi;
            block_rows(i, b, &lo, &hi);
            update_block(lo, hi, b, h, W2, Z, H, G, dA, part + i * stride);
        }
        /* the blocks' sums, in order; then the parameters (W2 K x h, b1 h, b2 K: part's order) */
#pragma omp for schedule(static)
        for (int64_t e = 0; e < stride; e++) {
            float s = part[e];
            for (int64_t i = 1; i < nb; i++) s += part[i * stride + e];
            if (e < K * h)
                W2[e] -= lr * s;
            else if (e < K * h + h)
                b1[e - K * h] -= half * s;
            else
                b2[e - K * h - h] -= lr * s;
        }
    }
    gemm(f, 'N', 'T', h, d, b, -half, dA, h, X, d, 1.0f, W1, h); /* W1^T -= lr/2 dZ^T X */
}
