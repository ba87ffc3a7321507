// bench/anchors/scan.c: the C selective scan that the CPU backend's figures are compared with.
//
// What it computes (Mamba's selective_scan_fn forward, real float32, no z):
//   dt[b,d,t] = softplus(delta[b,d,t] + delta_bias[d])
//   h[b,d,n] <- exp(dt * A[d,n]) * h[b,d,n] + dt * u[b,d,t] * B[b,g,n,t]      (h starts at 0)
//   y[b,d,t]  = sum_n C[b,g,n,t] * h[b,d,n] + D[d] * u[b,d,t]                  (g = d / (dim / groups))
// Layouts are row-major: u, delta, y (batch, dim, seqlen); A (dim, dstate); B, C (batch, groups, dstate,
// seqlen); D, delta_bias (dim).
//
// How: one OpenMP work item is a batch row and a block of 16 channels of one group; AVX-512 lanes are
// those 16 channels, so B[.., t] and C[.., t] are one broadcast per step for the whole block. Each
// 16-step tile of the 16 rows of u and delta is transposed in registers, y's tile is transposed back and written with streaming stores. The transcendentals are
// short polynomials chosen for this use:
//   exp2(x) = 2^k * p(f), k = round(x), p of degree 5 with p(0) = 1 and p'(0) = ln 2 exact, so that the
//     decay exp(dt A) of a small step is accurate to O(f^2) and its error does not build up along t;
//   softplus(x) = max(x, 0) + log1p(e), e = exp(-|x|), log1p(e) = 2 atanh(s) with s = e / (2 + e) in
//     [0, 1/3] (no 1 + e is ever rounded, so tiny e keep their digits), atanh(s) / s a degree-4
//     polynomial in s^2.
// The result is checked against a float64 scalar loop before any time is reported.
//
// Build: gcc -O3 -march=native -fopenmp -o scan bench/anchors/scan.c -lm      (AVX-512F needed)
// Run:   OMP_NUM_THREADS=T ./scan BATCH DIM GROUPS SEQLEN DSTATE REPS CHECK_BATCHES
//        (dim / groups a multiple of 16, dstate <= 256). Prints a CHECK line (relative L2 error against
//        float64 over the first CHECK_BATCHES batches, the number of non-finite outputs) and a FAST line
//        with the median of REPS timed calls after one untimed call: "... | X ns/elem | Y GB/s", ns per
//        (batch, channel, step) element and the bandwidth of the minimum bytes (inputs read once,
//        y written once). bench/scripts/scan-vs-anchor.sh runs it beside the Java scan.
//        ./scan --copy MIB REPS: a streaming copy's bandwidth (bytes read + written).
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INLINE static inline __attribute__((always_inline))
#define LOG2E 1.4426950408889634f

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ------------------------------------------------------------------ inputs (seeded, per-thread streams)
// xorshift64* and Box-Muller: the distributions of ScanBench (u ~ N(0,1), delta ~ 0.5 N(0,1), B, C, D ~
// N(0,1), A = -exp(N(0,1)), delta_bias = softplus^-1 of a log-uniform dt in [1e-3, 1e-1]).
static inline uint64_t next64(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static inline double uniform01(uint64_t *s) { return ((double)(next64(s) >> 11) + 0.5) / 9007199254740992.0; }
static inline double normal(uint64_t *s) {
    return sqrt(-2.0 * log(uniform01(s))) * cos(6.283185307179586 * uniform01(s));
}
static void fill_normal(float *x, size_t n, double scale, uint64_t seed) {
#pragma omp parallel
    {
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t lo = n * id / nt, hi = n * (id + 1) / nt;
        uint64_t s = (seed << 32) ^ (0x9E3779B97F4A7C15ull * (lo + 1));
        for (int i = 0; i < 4; i++) next64(&s);
        for (size_t i = lo; i < hi; i++) x[i] = (float)(scale * normal(&s));
    }
}

// ------------------------------------------------------------------ float64 check
static void scan_f64(const float *u, const float *delta, const float *A, const float *B, const float *C,
                     const float *Dv, const float *bias, double *y, int dim, int groups, int L, int N, int batches) {
    const int per_group = dim / groups;
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int b = 0; b < batches; b++)
        for (int d = 0; d < dim; d++) {
            double h[256] = {0};
            const int g = d / per_group;
            const float *Bg = B + ((size_t)b * groups + g) * N * L, *Cg = C + ((size_t)b * groups + g) * N * L;
            const size_t row = ((size_t)b * dim + d) * L;
            for (int t = 0; t < L; t++) {
                double x = (double)delta[row + t] + bias[d];
                double dt = x > 20.0 ? x : log1p(exp(x));
                double acc = 0.0;
                for (int n = 0; n < N; n++) {
                    h[n] = exp(dt * A[(size_t)d * N + n]) * h[n] + dt * u[row + t] * Bg[(size_t)n * L + t];
                    acc += Cg[(size_t)n * L + t] * h[n];
                }
                y[row + t] = acc + (double)Dv[d] * u[row + t];
            }
        }
}

// ------------------------------------------------------------------ vector kernels
// 2^x; p(f) = 1 + f (ln 2 + f (c2 + f (c3 + f (c4 + f c5)))) fitted for relative error on [-1/2, 1/2]
// (max 1.8e-7). Below 2^-149 scalef returns 0, as it should.
INLINE __m512 exp2v(__m512 x) {
    const __m512 k = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, k);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.0013300268f), f, _mm512_set1_ps(0.009669709f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.0555056f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24022281f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931472f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

// 2^x for x <= 0 to the last bits (degree 6, max relative error 1e-7 with float rounding), for softplus.
INLINE __m512 exp2v_fine(__m512 x) {
    const __m512 k = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, k);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.5353361e-4f), f, _mm512_set1_ps(0.0013398875f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.009618437f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.055503324f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24022648f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931472f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

// softplus(x) = max(x, 0) + 2 atanh(e / (2 + e)), e = exp(-|x|). 2 atanh(s) = s Q(s^2), Q fitted on
// [0, 1/9] (absolute error 4.5e-9 against Q near 2). The division is rcp14 and one Newton step.
// Mamba switches to x above 20; there log1p(e) < 2.1e-9 of x, below float resolution, so no branch.
INLINE __m512 softplusv(__m512 x) {
    const __m512 neg = _mm512_min_ps(x, _mm512_sub_ps(_mm512_setzero_ps(), x));     // -|x|
    const __m512 e = exp2v_fine(_mm512_mul_ps(neg, _mm512_set1_ps(LOG2E)));        // (0, 1]
    const __m512 den = _mm512_add_ps(e, _mm512_set1_ps(2.0f));
    const __m512 r = _mm512_rcp14_ps(den);
    const __m512 s0 = _mm512_mul_ps(e, r);
    const __m512 s = _mm512_fmadd_ps(_mm512_fnmadd_ps(s0, den, e), r, s0);
    const __m512 z = _mm512_mul_ps(s, s);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(2.0f * 0.14012232f), z, _mm512_set1_ps(2.0f * 0.1399957f));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(2.0f * 0.2001085f));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(2.0f * 0.33333206f));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(2.0f));
    return _mm512_fmadd_ps(s, q, _mm512_max_ps(x, _mm512_setzero_ps()));
}

// In-place transpose of a 16x16 tile held as 16 row vectors, by the usual three-level network:
// interleave pairs of rows (unpack), then pairs of pairs (shuffle within 128-bit lanes), then the 128-bit
// lanes (two rounds of shuffle_f32x4). 64 one-cycle shuffles; a network of 64 two-source permutes
// (vpermt2ps) was 1.4x slower on the whole scan here (AMD Zen 5).
INLINE void transpose16x16(__m512 v[16]) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        v[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // v[4q + j] now holds, in 128-bit lane l, column 4l + j of rows 4q..4q+3
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(v[j], v[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        t[4 + j] = _mm512_shuffle_f32x4(v[j], v[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
        t[8 + j] = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        t[12 + j] = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        v[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], _MM_SHUFFLE(2, 0, 2, 0));
        v[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], _MM_SHUFFLE(3, 1, 3, 1));
        v[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        v[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    }
}

// ------------------------------------------------------------------ one block: 16 channels, all steps
// A2: this block's A as (N, 16) with log2(e) folded in. NC > 0: dstate known at compile time.
INLINE void block(const float *u, const float *delta, const float *A2, const float *Bg, const float *Cg,
                  const float *Dv, const float *bias, float *y, int L, int Nrt, const int NC) {
    const int N = NC > 0 ? NC : Nrt;
    const __m512 vbias = _mm512_loadu_ps(bias), vD = _mm512_loadu_ps(Dv);
    const int stream = (L % 16 == 0) && ((uintptr_t)y % 64 == 0);
    __m512 h[NC > 0 ? NC : 256];
    for (int n = 0; n < N; n++) h[n] = _mm512_setzero_ps();
    // per tile, for dstate > 1: dt, dt*u and D*u by step, and the staged B, C (rows L apart would share
    // L1 sets when L is a power of two; the step loop reads each of them 16 times)
    __m512 dts[16], dus[16];
    float bs[NC > 1 ? NC * 16 : (NC == 1 ? 16 : 256 * 16)] __attribute__((aligned(64)));
    float cs[NC > 1 ? NC * 16 : (NC == 1 ? 16 : 256 * 16)] __attribute__((aligned(64)));
    for (int t0 = 0; t0 < L; t0 += 16) {
        const int len = L - t0 < 16 ? L - t0 : 16;
        const __mmask16 m = (__mmask16)((1u << len) - 1u);
        __m512 vu[16], vx[16];
#pragma GCC unroll 16
        for (int c = 0; c < 16; c++) {
            vu[c] = _mm512_maskz_loadu_ps(m, u + (size_t)c * L + t0);
            vx[c] = _mm512_maskz_loadu_ps(m, delta + (size_t)c * L + t0);
            // the rows of the tile after next: 34 streams are more than the hardware prefetcher follows
            _mm_prefetch((const char *)(u + (size_t)c * L + t0 + 48), _MM_HINT_T0);
            _mm_prefetch((const char *)(delta + (size_t)c * L + t0 + 48), _MM_HINT_T0);
        }
        transpose16x16(vu);
        transpose16x16(vx);  // vx[t]: delta of the 16 channels at step t0 + t
        if (NC == 1) {
            const __m512 a2 = _mm512_loadu_ps(A2);
            __m512 hh = h[0];
#pragma GCC unroll 16
            for (int t = 0; t < 16; t++) {
                const __m512 dt = softplusv(_mm512_add_ps(vx[t], vbias));
                const __m512 a = exp2v(_mm512_mul_ps(dt, a2));
                const __m512 du = _mm512_mul_ps(dt, vu[t]);
                hh = _mm512_fmadd_ps(a, hh, _mm512_mul_ps(du, _mm512_set1_ps(Bg[t0 + t < L ? t0 + t : L - 1])));
                vx[t] = _mm512_fmadd_ps(hh, _mm512_set1_ps(Cg[t0 + t < L ? t0 + t : L - 1]), _mm512_mul_ps(vD, vu[t]));
            }
            // steps past L (last tile) had u = 0 and delta = 0: h moved, but nothing reads it any more
            h[0] = hh;
        } else {
            for (int t = 0; t < 16; t++) {
                dts[t] = softplusv(_mm512_add_ps(vx[t], vbias));
                dus[t] = _mm512_mul_ps(dts[t], vu[t]);
                vx[t] = _mm512_mul_ps(vD, vu[t]);
            }
            for (int n = 0; n < N; n++) {
                _mm512_store_ps(bs + n * 16, _mm512_maskz_loadu_ps(m, Bg + (size_t)n * L + t0));
                _mm512_store_ps(cs + n * 16, _mm512_maskz_loadu_ps(m, Cg + (size_t)n * L + t0));
            }
            for (int t = 0; t < len; t++) {
                const __m512 dt = dts[t], du = dus[t];
                __m512 acc0 = vx[t], acc1 = _mm512_setzero_ps();
                for (int n = 0; n < N; n += 2) {  // two accumulators: half the add chain's length
                    const __m512 a0 = exp2v(_mm512_mul_ps(dt, _mm512_load_ps(A2 + (size_t)n * 16)));
                    h[n] = _mm512_fmadd_ps(a0, h[n], _mm512_mul_ps(du, _mm512_set1_ps(bs[n * 16 + t])));
                    acc0 = _mm512_fmadd_ps(h[n], _mm512_set1_ps(cs[n * 16 + t]), acc0);
                    if (n + 1 < N) {
                        const __m512 a1 = exp2v(_mm512_mul_ps(dt, _mm512_load_ps(A2 + (size_t)(n + 1) * 16)));
                        h[n + 1] = _mm512_fmadd_ps(a1, h[n + 1], _mm512_mul_ps(du, _mm512_set1_ps(bs[(n + 1) * 16 + t])));
                        acc1 = _mm512_fmadd_ps(h[n + 1], _mm512_set1_ps(cs[(n + 1) * 16 + t]), acc1);
                    }
                }
                vx[t] = _mm512_add_ps(acc0, acc1);
            }
        }
        transpose16x16(vx);
        if (stream && len == 16)
            for (int c = 0; c < 16; c++) _mm512_stream_ps(y + (size_t)c * L + t0, vx[c]);
        else
            for (int c = 0; c < 16; c++) _mm512_mask_storeu_ps(y + (size_t)c * L + t0, m, vx[c]);
    }
    if (stream) _mm_sfence();
}

static void scan(const float *u, const float *delta, const float *A, const float *B, const float *C,
                 const float *Dv, const float *bias, float *y, int batch, int dim, int groups, int L, int N) {
    const int blocks = dim / 16, per_group = dim / groups;
    float *A2 = aligned_alloc(64, (size_t)dim * N * sizeof(float));
    for (int k = 0; k < blocks; k++)
        for (int n = 0; n < N; n++)
            for (int l = 0; l < 16; l++) A2[((size_t)k * N + n) * 16 + l] = A[(size_t)(k * 16 + l) * N + n] * LOG2E;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < batch; b++)
        for (int k = 0; k < blocks; k++) {
            const int g = k * 16 / per_group;
            const size_t row = ((size_t)b * dim + (size_t)k * 16) * L;
            const float *Bg = B + ((size_t)b * groups + g) * N * L, *Cg = C + ((size_t)b * groups + g) * N * L;
            const float *a2 = A2 + (size_t)k * N * 16;
            if (N == 1)
                block(u + row, delta + row, a2, Bg, Cg, Dv + k * 16, bias + k * 16, y + row, L, N, 1);
            else if (N == 16)
                block(u + row, delta + row, a2, Bg, Cg, Dv + k * 16, bias + k * 16, y + row, L, N, 16);
            else
                block(u + row, delta + row, a2, Bg, Cg, Dv + k * 16, bias + k * 16, y + row, L, N, 0);
        }
    free(A2);
}

// ------------------------------------------------------------------ copy bandwidth
static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void copy_bandwidth(size_t mib, int reps) {
    const size_t n = mib << 18;  // floats
    float *src = aligned_alloc(64, n * 4), *dst = aligned_alloc(64, n * 4);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) src[i] = dst[i] = (float)(i & 1023);
    double t[256];
    for (int r = 0; r <= reps; r++) {
        double t0 = seconds();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i += 16) _mm512_stream_ps(dst + i, _mm512_load_ps(src + i));
        _mm_sfence();
        if (r > 0) t[r - 1] = seconds() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), by_value);
    printf("COPY threads=%d %zu MiB: %.2f GB/s (bytes read + written, streaming stores, median of %d)\n",
           omp_get_max_threads(), mib, 8.0 * (double)n / t[reps / 2] / 1e9, reps);
    free(src);
    free(dst);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--copy") == 0) {
        int reps = argc > 3 ? atoi(argv[3]) : 5;
        copy_bandwidth(argc > 2 ? (size_t)atol(argv[2]) : 1024, reps < 1 ? 1 : (reps > 256 ? 256 : reps));
        return 0;
    }
    if (argc != 8) {
        fprintf(stderr, "usage: %s BATCH DIM GROUPS SEQLEN DSTATE REPS CHECK_BATCHES | --copy MIB REPS\n", argv[0]);
        return 2;
    }
    const int batch = atoi(argv[1]), dim = atoi(argv[2]), groups = atoi(argv[3]), L = atoi(argv[4]), N = atoi(argv[5]);
    int reps = atoi(argv[6]), check = atoi(argv[7]);
    if (batch < 1 || dim < 1 || groups < 1 || L < 1 || N < 1 || dim % groups || (dim / groups) % 16 || N > 256) {
        fprintf(stderr, "need positive sizes, dim %% groups == 0, (dim / groups) %% 16 == 0 and dstate <= 256\n");
        return 2;
    }
    reps = reps < 1 ? 1 : (reps > 256 ? 256 : reps);
    check = check < 0 ? 0 : (check > batch ? batch : check);
    const size_t E = (size_t)batch * dim * L, EBC = (size_t)batch * groups * N * L;
    float *u = aligned_alloc(64, E * 4), *delta = aligned_alloc(64, E * 4), *y = aligned_alloc(64, E * 4);
    float *B = aligned_alloc(64, EBC * 4), *C = aligned_alloc(64, EBC * 4);
    float *A = malloc((size_t)dim * N * 4), *Dv = malloc((size_t)dim * 4), *bias = malloc((size_t)dim * 4);
    if (!u || !delta || !y || !B || !C || !A || !Dv || !bias) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    fill_normal(u, E, 1.0, 11);
    fill_normal(delta, E, 0.5, 12);
    fill_normal(B, EBC, 1.0, 13);
    fill_normal(C, EBC, 1.0, 14);
    uint64_t s = 0x5eed5eed5eedull;
    for (size_t i = 0; i < (size_t)dim * N; i++) A[i] = (float)-exp(normal(&s));
    for (int d = 0; d < dim; d++) {
        Dv[d] = (float)normal(&s);
        double dt = exp(log(1e-3) + uniform01(&s) * (log(1e-1) - log(1e-3)));
        bias[d] = (float)(dt + log(-expm1(-dt)));  // softplus(bias) = dt
    }

    for (size_t i = 0; i < E; i++) y[i] = NAN;  // poison: an element left unwritten shows as non-finite
    scan(u, delta, A, B, C, Dv, bias, y, batch, dim, groups, L, N);
    size_t bad = 0;
    for (size_t i = 0; i < E; i++) bad += !isfinite(y[i]);
    if (check > 0) {
        const size_t Ec = (size_t)check * dim * L;
        double *ref = malloc(Ec * sizeof(double));
        scan_f64(u, delta, A, B, C, Dv, bias, ref, dim, groups, L, N, check);
        double num = 0, den = 0, worst = 0;
        for (size_t i = 0; i < Ec; i++) {
            double e = (double)y[i] - ref[i];
            num += e * e;
            den += ref[i] * ref[i];
            worst = fabs(e) > worst ? fabs(e) : worst;
        }
        printf("CHECK %d batch(es) against float64: rel_err %.2e, max abs err %.2e | nonfinite %zu\n", check,
               sqrt(num / den), worst, bad);
        free(ref);
    } else {
        printf("CHECK skipped | nonfinite %zu\n", bad);
    }
    double t[256];
    scan(u, delta, A, B, C, Dv, bias, y, batch, dim, groups, L, N);  // untimed
    for (int r = 0; r < reps; r++) {
        double t0 = seconds();
        scan(u, delta, A, B, C, Dv, bias, y, batch, dim, groups, L, N);
        t[r] = seconds() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), by_value);
    const double med = t[reps / 2];
    const double bytes = 4.0 * (3.0 * (double)E + 2.0 * (double)EBC + (double)dim * N + 2.0 * dim);
    printf("FAST threads=%d batch=%d dim=%d groups=%d seqlen=%d dstate=%d: median %.3f ms (min %.3f, max %.3f, "
           "%d reps) | %.4f ns/elem | %.2f GB/s\n",
           omp_get_max_threads(), batch, dim, groups, L, N, med * 1e3, t[0] * 1e3, t[reps - 1] * 1e3, reps,
           med * 1e9 / (double)E, bytes / med / 1e9);
    return bad ? 1 : 0;
}
