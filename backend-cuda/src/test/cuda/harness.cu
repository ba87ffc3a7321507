// Standalone check and timing of the ss2d CUDA kernels, for the GPU machine (no Java there).
//   nvcc -O3 -std=c++17 -arch=sm_90 -o harness harness.cu -lcuda
//   ./harness [--small] [--fatbin PATH] [--seed S]
// Correctness: every kernel against a float64 CPU reference on fresh random inputs, outputs
// poisoned with NaN first; the error is max|out-ref| / max|ref| and NaN never passes.
// Timing (not with --small): S1..S5 scan shapes with CUDA events, median of 30 after warm-up,
// against a device-to-device copy measured in the same run; then S1..S5 backward beside the forward
// (backward.cuh: also every backward kernel against a float64 adjoint, and two runs compared in bits); then the
// fused SS2D scan (fused.cuh: against the float64 unfused composition, and timed beside the kernels it replaces) and
// the depthwise conv at the VMamba-T stage maps against its memory floor.
#include <cuda.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "../../main/cuda/ss2d_kernels.cu"
#include "launch.h"

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, cudaGetErrorString(e_)); std::exit(3);} } while (0)

typedef void (*ScanKernel)(const ScanParams);
static std::map<std::string, ScanKernel> scanKernels() {
  std::map<std::string, ScanKernel> m;
#define KV(NS, R, K, V) m["ss2d_scan_fwd_n" #NS "_r" #R "_k" #K "_v" #V] = ss2d_scan_fwd_n##NS##_r##R##_k##K##_v##V;
#define KRK(NS, R, K) KV(NS, R, K, 0) KV(NS, R, K, 1)
  KRK(1, 1, 4) KRK(1, 2, 4) KRK(1, 4, 4) KRK(1, 2, 8)
  KRK(0, 1, 4) KRK(0, 2, 4) KRK(0, 4, 4) KRK(0, 1, 8) KRK(0, 2, 8) KRK(0, 4, 8)
#undef KRK
#undef KV
#define KP(S, SPL) m["ss2d_scan_fwd_pipe_l" #S "_s" #SPL "_v0"] = ss2d_scan_fwd_pipe_l##S##_s##SPL##_v0; \
                   m["ss2d_scan_fwd_pipe_l" #S "_s" #SPL "_v1"] = ss2d_scan_fwd_pipe_l##S##_s##SPL##_v1;
  KP(1, 4) KP(2, 4) KP(4, 4) KP(8, 4) KP(2, 8) KP(4, 8) KP(8, 8)
#undef KP
  return m;
}

typedef void (*StatesKernel)(const ScanParams, int64_t);
static std::map<std::string, StatesKernel> statesKernels() {
  return {{"ss2d_scan_fwd_states_s4_v0", ss2d_scan_fwd_states_s4_v0}, {"ss2d_scan_fwd_states_s4_v1", ss2d_scan_fwd_states_s4_v1},
          {"ss2d_scan_fwd_states_s8_v0", ss2d_scan_fwd_states_s8_v0}, {"ss2d_scan_fwd_states_s8_v1", ss2d_scan_fwd_states_s8_v1},
          {"ss2d_scan_fwd_n1seg_k4", ss2d_scan_fwd_n1seg_k4}};
}

typedef void (*HalfKernel)(const ScanParams, int64_t);
static std::map<std::string, HalfKernel> halfKernels();  // harness_half.cuh

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand() {  // [0,1)
  g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
  return (g_rng >> 11) * (1.0 / 9007199254740992.0);
}
static float frand(double lo, double hi) { return (float)(lo + (hi - lo) * urand()); }
static int irand(int n) { return (int)(urand() * n); }

static int g_failures = 0, g_checks = 0, g_sms = 0;

static void report(const char* what, double err, double tol, const std::string& detail) {
  ++g_checks;
  bool ok = std::isfinite(err) && err <= tol;
  if (!ok) ++g_failures;
  std::printf("%-5s %-14s err=%.3e tol=%.0e %s\n", ok ? "ok" : "FAIL", what, err, tol, detail.c_str());
}

// max|a-b| / max|b| over all elements; NaN anywhere -> NaN.
static double relerr(const std::vector<float>& got, const std::vector<double>& ref) {
  double maxd = 0, maxr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return NAN;
    maxd = std::max(maxd, std::fabs(got[i] - ref[i]));
    maxr = std::max(maxr, std::fabs(ref[i]));
  }
  return maxr > 0 ? maxd / maxr : maxd;
}

template <class T> struct Dev {
  T* p = nullptr; size_t n = 0;
  explicit Dev(size_t n_) : n(n_) { CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T))); }
  Dev(const std::vector<T>& h) : Dev(h.size()) { up(h); }
  ~Dev() { cudaFree(p); }
  void up(const std::vector<T>& h) { CK(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> down() const { std::vector<T> h(n); CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost)); return h; }
  void poison() { CK(cudaMemset(p, 0xFF, std::max<size_t>(n, 1) * sizeof(T))); }  // NaN pattern
};

// ---------------------------------------------------------------- selective scan
struct ScanCase {
  int64_t Bt, Dm, L, N, G; bool varB, varC, hasD, hasZ, hasBias, softplus, last; int64_t pad; bool bigDelta;  // pad: extra row stride
  std::vector<float> u, delta, A, B, C, D, z, bias;
};

static std::string describe(const ScanCase& c) {
  char s[256];
  std::snprintf(s, sizeof s, "Bt=%lld Dm=%lld L=%lld N=%lld G=%lld B=%s C=%s D=%d z=%d bias=%d sp=%d last=%d pad=%lld",
      (long long)c.Bt, (long long)c.Dm, (long long)c.L, (long long)c.N, (long long)c.G, c.varB ? "var" : "const",
      c.varC ? "var" : "const", c.hasD, c.hasZ, c.hasBias, c.softplus, c.last, (long long)c.pad);
  return s;
}

static void fill_case(ScanCase& c) {
  const int64_t rs = c.L + c.pad;                      // row stride of u/delta/z
  c.u.assign(c.Bt * c.Dm * rs, 0.f); c.delta.assign(c.u.size(), 0.f); c.z.assign(c.u.size(), 0.f);
  for (auto& v : c.u) v = frand(-1, 1);
  for (auto& v : c.delta) v = c.bigDelta ? frand(15, 25) : c.softplus ? frand(-5, 1) : frand(0.0, 0.2);
  for (auto& v : c.z) v = frand(-2, 2);
  c.A.resize(c.Dm * c.N);
  for (int64_t d = 0; d < c.Dm; ++d) for (int64_t n = 0; n < c.N; ++n) c.A[d * c.N + n] = -(float)(n + 1) * frand(0.5, 1.5);
  const int64_t bsz = c.varB ? c.Bt * c.G * c.N * c.L : c.Dm * c.N;
  const int64_t csz = c.varC ? c.Bt * c.G * c.N * c.L : c.Dm * c.N;
  c.B.resize(bsz); c.C.resize(csz);
  for (auto& v : c.B) v = frand(-1, 1);
  for (auto& v : c.C) v = frand(-1, 1);
  c.D.resize(c.Dm); c.bias.resize(c.Dm);
  for (auto& v : c.D) v = frand(0.5, 1.5);
  for (auto& v : c.bias) v = c.softplus ? frand(-1, 0.5) : frand(0, 0.1);  // keep delta > 0 without softplus
}

// float64 sequential recurrence (spec 1.2) for rows (b, d) in [dLo, dHi) of batch b.
static void ref_scan(const ScanCase& c, int64_t b, int64_t dLo, int64_t dHi, std::vector<double>& out, std::vector<double>& last) {
  const int64_t rs = c.L + c.pad, N = c.N, L = c.L;
  std::vector<double> h(N);
  for (int64_t d = dLo; d < dHi; ++d) {
    std::fill(h.begin(), h.end(), 0.0);
    const int64_t g = d / (c.Dm / c.G);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = (b * c.Dm + d) * rs + t;
      double dt = (double)c.delta[i] + (c.hasBias ? c.bias[d] : 0.0);
      if (c.softplus) dt = dt <= 20.0 ? std::log1p(std::exp(dt)) : dt;
      const double uu = c.u[i];
      double y = 0;
      for (int64_t n = 0; n < N; ++n) {
        const double Bv = c.varB ? c.B[((b * c.G + g) * N + n) * L + t] : c.B[d * N + n];
        const double Cv = c.varC ? c.C[((b * c.G + g) * N + n) * L + t] : c.C[d * N + n];
        h[n] = std::exp(dt * c.A[d * N + n]) * h[n] + dt * uu * Bv;
        y += Cv * h[n];
      }
      if (c.hasD) y += c.D[d] * uu;
      if (c.hasZ) { const double zz = c.z[i]; y *= zz / (1.0 + std::exp(-zz)); }
      out.push_back(y);
    }
    for (int64_t n = 0; n < N; ++n) last.push_back(h[n]);
  }
}

struct ScanDev {
  Dev<float> u, delta, A, B, C, D, z, bias, out, last;
  ScanParams p{};
  ScanDev(const ScanCase& c)
      : u(c.u), delta(c.delta), A(c.A), B(c.B), C(c.C), D(c.D), z(c.z), bias(c.bias),
        out(c.Bt * c.Dm * (c.L + c.pad)), last(c.Bt * c.Dm * c.N) {
    const int64_t rs = c.L + c.pad;
    p.u = u.p; p.delta = delta.p; p.A = A.p; p.B = B.p; p.C = C.p;
    p.D = c.hasD ? D.p : nullptr; p.z = c.hasZ ? z.p : nullptr; p.delta_bias = c.hasBias ? bias.p : nullptr;
    p.out = out.p; p.last_state = c.last ? last.p : nullptr;
    p.batch = c.Bt; p.dim = c.Dm; p.seqlen = c.L; p.dstate = c.N;
    p.groups = (c.varB || c.varC) ? c.G : 1;
    p.flags = (c.varB ? SS2D_VARIABLE_B : 0) | (c.varC ? SS2D_VARIABLE_C : 0) | (c.softplus ? SS2D_SOFTPLUS : 0);
    p.u_batch_stride = p.delta_batch_stride = p.z_batch_stride = p.out_batch_stride = c.Dm * rs;
    p.u_dim_stride = p.delta_dim_stride = p.z_dim_stride = p.out_dim_stride = rs;
    p.A_dim_stride = c.N; p.A_state_stride = 1;
    if (c.varB) { p.B_batch_stride = c.G * c.N * c.L; p.B_group_stride = c.N * c.L; p.B_state_stride = c.L; }
    else { p.B_group_stride = c.N; p.B_state_stride = 1; }
    if (c.varC) { p.C_batch_stride = c.G * c.N * c.L; p.C_group_stride = c.N * c.L; p.C_state_stride = c.L; }
    else { p.C_group_stride = c.N; p.C_state_stride = 1; }
  }
};

static ScanLaunch launch_scan(const ScanParams& p, int rows, int items = 0, int algo = 0, cudaStream_t s = 0) {
  static auto kernels = scanKernels();
  static auto skernels = statesKernels();
  ScanLaunch pl = plan_scan(p, rows, items, g_sms, algo);
  if (pl.kernel == "none") return pl;
  if (pl.states) {
    StatesKernel k = skernels.at(pl.kernel);
    if (pl.smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)pl.smem));
    k<<<(unsigned)pl.blocks, pl.threads, pl.smem, s>>>(p, pl.lanesPerChannel);
    CK(cudaGetLastError());
    return pl;
  }
  ScanKernel k = kernels.at(pl.kernel);
  if (pl.smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)pl.smem));
  k<<<(unsigned)pl.blocks, pl.threads, pl.smem, s>>>(p);
  CK(cudaGetLastError());
  return pl;
}

static void check_scan_case(ScanCase& c, int rows, int items = 0, int algo = 0) {
  fill_case(c);
  ScanDev dv(c);
  dv.out.poison(); dv.last.poison();
  ScanLaunch pl = launch_scan(dv.p, rows, items, algo);
  if (pl.kernel == "none") return;
  CK(cudaDeviceSynchronize());
  auto out = dv.out.down(), last = dv.last.down();
  std::vector<double> ref, refLast;
  for (int64_t b = 0; b < c.Bt; ++b) ref_scan(c, b, 0, c.Dm, ref, refLast);
  const int64_t rs = c.L + c.pad;
  std::vector<float> got; got.reserve(ref.size());
  for (int64_t r = 0; r < c.Bt * c.Dm; ++r) for (int64_t t = 0; t < c.L; ++t) got.push_back(out[r * rs + t]);
  std::string det = describe(c) + " " + pl.kernel;
  report("scan.out", relerr(got, ref), 1e-4, det);
  if (c.last) report("scan.last", relerr(last, refLast), 1e-4, det);
}

static void scan_correctness(bool small) {
  const int64_t Ls_full[] = {1, 2, 37, 64, 127, 128, 129, 300, 2047, 2048, 2049, 5000};
  const int64_t Ls_small[] = {1, 2, 37, 128, 129, 300};
  const int64_t Ns[] = {1, 2, 4, 16, 64, 256};
  const int64_t* Ls = small ? Ls_small : Ls_full;
  const int nL = small ? 6 : 12;
  for (int i = 0; i < (small ? 14 : 60); ++i) {
    ScanCase c{};
    c.Bt = 1 + irand(2); c.G = 1 << irand(3);
    c.Dm = c.G * (1 + irand(4)) * (irand(2) ? 4 : 1);
    c.L = Ls[i % nL]; c.N = Ns[irand(small ? 4 : 6)];
    if (c.N == 256 && c.L > 2049) c.L = 300;  // keep the float64 reference quick
    c.varB = irand(4) != 0; c.varC = irand(4) != 0;
    if (!c.varB && !c.varC) c.G = 1;
    if ((!c.varB || !c.varC) && c.G > 1) { c.varB = c.varC = true; }  // groups need variable B and C
    c.hasD = irand(2); c.hasZ = irand(2); c.hasBias = irand(2); c.softplus = irand(2); c.last = irand(3) != 0;
    c.pad = irand(3) == 0 ? 1 + irand(5) : 0;
    static const int rowChoices[] = {0, 1, 2, 4};
    const int algo = c.N > 1 ? 1 + irand(3) : 0;
    check_scan_case(c, rowChoices[irand(4)], irand(2) ? 4 : 8, algo);
  }
  // Every option at once, on a length that is not a multiple of anything, both paths.
  for (int64_t N : {1, 16}) for (int64_t pad : {0, 3}) {
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 8; c.L = small ? 133 : 2049; c.N = N; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; c.pad = pad;
    check_scan_case(c, 0);
  }
  // The states-across-lanes kernel on every dstate class, odd lengths, both load paths.
  for (int64_t N : {2, 3, 4, 5, 8, 16, 17, 64, 256}) for (int64_t pad : {0, 1}) {
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 64; c.L = small ? 37 : 517; c.N = N; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; c.pad = pad;
    check_scan_case(c, 0, 0, 2);
    check_scan_case(c, 0, 4, 2);
    check_scan_case(c, 0, 4, 3);
    check_scan_case(c, 0, 8, 3);
  }
  // The pipelined kernel at every lanes-per-channel width, odd lengths and lengths that end
  // inside or exactly at a 16-step tile, both load paths.
  for (int64_t L : {1, 2, 15, 16, 17, 33, 517}) for (int64_t pad : {0, 1}) for (int64_t N : {2, 4, 8, 32, 64}) {
    if (small && L > 40) continue;
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 64; c.L = L; c.N = N; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; c.pad = pad;
    check_scan_case(c, 0, 4, 3); check_scan_case(c, 0, 8, 3);
  }
  // dstate 1 on contiguous short rows, RS rows per virtual row: row starts inside and at the
  // edges of 128-step chunks, every option, constant and variable B/C.
  for (int64_t L : {4, 8, 60, 196, 200, 256, 1028}) for (int RS : {1, 2, 3, 4, 8}) for (int R : {1}) {
    if (small && L > 200) continue;
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 48; c.L = L; c.N = 1; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true;
    if ((L + RS + R) % 3 == 0) { c.G = 1; c.varB = false; c.hasZ = false; }
    if ((L + RS) % 5 == 0) { c.G = 1; c.varC = false; c.softplus = false; }
    check_scan_case(c, R, RS, 4);
  }
  {  // delta across the softplus threshold 20; more rows per virtual row than lanes
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 48; c.L = 196; c.N = 1; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = c.last = c.bigDelta = true;
    check_scan_case(c, 1, 8, 4);
    ScanCase w{}; w.Bt = 2; w.G = 1; w.Dm = 80; w.L = 8; w.N = 1; w.varB = w.varC = true;
    w.hasD = w.hasZ = w.hasBias = w.softplus = w.last = true;
    check_scan_case(w, 1, 40, 4);
  }
  for (int cb = 0; cb < 3; ++cb) {  // constant B and/or C through the pipelined kernel
    ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = 32; c.L = 101; c.N = 16; c.varB = cb != 0; c.varC = cb != 1;
    c.hasD = c.last = c.softplus = c.hasBias = true; c.hasZ = cb == 2;
    check_scan_case(c, 0, 4, 3); check_scan_case(c, 0, 8, 3);
  }
  { ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = 32; c.L = 100; c.N = 16; c.varB = false; c.varC = true;
    c.hasD = c.last = c.softplus = true; check_scan_case(c, 0, 0, 2); }
  { ScanCase c{}; c.Bt = 1; c.G = 1; c.Dm = 32; c.L = 64; c.N = 6; c.varB = true; c.varC = false;
    c.hasZ = c.last = true; check_scan_case(c, 0, 0, 2); }
  // Constant B and C with the true last state (mamba returns h/B here).
  { ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = 6; c.L = 129; c.N = 4; c.varB = c.varC = false;
    c.hasD = c.softplus = c.hasBias = c.last = true; check_scan_case(c, 0); }
  // Large delta on both sides of the softplus threshold 20.
  { ScanCase c{}; c.Bt = 1; c.G = 1; c.Dm = 4; c.L = 256; c.N = 2; c.varB = c.varC = true;
    c.softplus = true; c.hasBias = true; c.last = true; c.bigDelta = true;
    check_scan_case(c, 0); }
}

// ---------------------------------------------------------------- SS2D layers
static void layers_correctness(bool small) {
  struct G { int64_t B, C, H, W; };
  std::vector<G> grids = {{1, 3, 5, 6}, {2, 4, 4, 4}, {1, 2, 3, 7}, {2, 3, 14, 14}, {1, 2, 33, 65}};
  if (!small) grids.push_back({2, 8, 56, 56});
  for (auto gr : grids) {
    const int64_t L = gr.H * gr.W, n = gr.B * gr.C * L;
    char det[96]; std::snprintf(det, sizeof det, "B=%lld C=%lld H=%lld W=%lld", (long long)gr.B, (long long)gr.C, (long long)gr.H, (long long)gr.W);
    std::vector<float> x(n); for (auto& v : x) v = frand(-1, 1);
    Dev<float> dx(x), dxs(4 * n), dy(n);
    auto src = [&](int k, int64_t l) -> int64_t {
      auto s1 = [&](int64_t q) { return (q % gr.H) * gr.W + q / gr.H; };
      switch (k) { case 0: return l; case 1: return s1(l); case 2: return L - 1 - l; default: return s1(L - 1 - l); }
    };
    const int64_t tiles = ((gr.H + 31) / 32) * ((gr.W + 31) / 32);
    dxs.poison();
    ss2d_cross_scan<<<(unsigned)(gr.B * gr.C * tiles), dim3(32, 8)>>>(dx.p, dxs.p, gr.B, gr.C, gr.H, gr.W);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    auto xs = dxs.down();
    std::vector<double> ref(4 * n);
    for (int64_t b = 0; b < gr.B; ++b) for (int k = 0; k < 4; ++k) for (int64_t c = 0; c < gr.C; ++c) for (int64_t l = 0; l < L; ++l)
      ref[((b * 4 + k) * gr.C + c) * L + l] = x[(b * gr.C + c) * L + src(k, l)];
    report("cross_scan", relerr(xs, ref), 0, det);
    std::vector<float> ys(4 * n); for (auto& v : ys) v = frand(-1, 1);
    dxs.up(ys); dy.poison();
    ss2d_cross_merge<<<(unsigned)(gr.B * gr.C * tiles), dim3(32, 8)>>>(dxs.p, dy.p, gr.B, gr.C, gr.H, gr.W);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    std::vector<double> refm(n, 0.0);
    for (int64_t b = 0; b < gr.B; ++b) for (int k = 0; k < 4; ++k) for (int64_t c = 0; c < gr.C; ++c) for (int64_t l = 0; l < L; ++l)
      refm[(b * gr.C + c) * L + src(k, l)] += ys[((b * 4 + k) * gr.C + c) * L + l];
    report("cross_merge", relerr(dy.down(), refm), 1e-6, det);

    for (int64_t k : {1, 3, 5}) for (int act : {0, 1}) {
      const bool hasBias = (k + act) % 2 == 1;
      std::vector<float> w(gr.C * k * k), bias(gr.C);
      for (auto& v : w) v = frand(-1, 1);
      for (auto& v : bias) v = frand(-1, 1);
      Dev<float> dw(w), db(bias);
      dy.poison();
      ss2d_dwconv2d<<<256, 256>>>(dx.p, dw.p, hasBias ? db.p : nullptr, dy.p, gr.B, gr.C, gr.H, gr.W, k, act);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n);
      const int64_t pad = (k - 1) / 2;
      for (int64_t bc = 0; bc < gr.B * gr.C; ++bc) for (int64_t h = 0; h < gr.H; ++h) for (int64_t ww = 0; ww < gr.W; ++ww) {
        const int64_t c = bc % gr.C;
        double acc = hasBias ? bias[c] : 0.0;
        for (int64_t dy_ = 0; dy_ < k; ++dy_) for (int64_t dx_ = 0; dx_ < k; ++dx_) {
          const int64_t yy = h + dy_ - pad, xx = ww + dx_ - pad;
          if (yy >= 0 && yy < gr.H && xx >= 0 && xx < gr.W) acc += (double)w[c * k * k + dy_ * k + dx_] * x[bc * L + yy * gr.W + xx];
        }
        r[bc * L + h * gr.W + ww] = act ? acc / (1 + std::exp(-acc)) : acc;
      }
      char d2[160]; std::snprintf(d2, sizeof d2, "%s k=%lld act=%d bias=%d", det, (long long)k, act, hasBias);
      report("dwconv2d", relerr(dy.down(), r), 1e-5, d2);
      for (int64_t R : {(int64_t)1, (int64_t)3, gr.H}) {  // bands of 1, 3 and all rows; 7 blocks walk the grid
        if (R > gr.H || (R + k - 1) * gr.W > SS2D_DW_SMEM) continue;
        dy.poison();
        ss2d_dwconv2d_rows<<<7, 256>>>(dx.p, dw.p, hasBias ? db.p : nullptr, dy.p, gr.B, gr.C, gr.H, gr.W, k, R, act);
        CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
        char d3[200]; std::snprintf(d3, sizeof d3, "%s rows=%lld", d2, (long long)R);
        report("dwconv_rows", relerr(dy.down(), r), 1e-5, d3);
      }
    }
    {
      std::vector<float> gam(gr.C), bet(gr.C);
      for (auto& v : gam) v = frand(0.5, 1.5);
      for (auto& v : bet) v = frand(-0.5, 0.5);
      std::vector<float> xo = x; for (auto& v : xo) v += 3.0f;  // offset: tests the centred variance
      Dev<float> dg(gam), dbt(bet), dxo(xo);
      dy.poison();
      ss2d_layernorm_cf<<<256, 256>>>(dxo.p, dg.p, dbt.p, dy.p, gr.B, gr.C, L, 1e-5f);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n);
      for (int64_t b = 0; b < gr.B; ++b) for (int64_t l = 0; l < L; ++l) {
        double m = 0, v = 0;
        for (int64_t c = 0; c < gr.C; ++c) m += xo[(b * gr.C + c) * L + l];
        m /= gr.C;
        for (int64_t c = 0; c < gr.C; ++c) { double d = xo[(b * gr.C + c) * L + l] - m; v += d * d; }
        v /= gr.C;
        for (int64_t c = 0; c < gr.C; ++c) r[(b * gr.C + c) * L + l] = (xo[(b * gr.C + c) * L + l] - m) / std::sqrt(v + 1e-5) * gam[c] + bet[c];
      }
      report("layernorm_cf", relerr(dy.down(), r), 1e-4, det);  // C=2 with close values is ill-conditioned in fp32
    }
    for (int act : {1, 2}) {
      std::vector<float> bias(gr.C); for (auto& v : bias) v = frand(-1, 1);
      Dev<float> db(bias);
      dy.poison();
      ss2d_bias_act_cf<<<256, 256>>>(dx.p, db.p, dy.p, gr.B, gr.C, L, act);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n);
      for (int64_t i = 0; i < n; ++i) {
        double v = (double)x[i] + bias[(i / L) % gr.C];
        r[i] = act == 1 ? v / (1 + std::exp(-v)) : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      }
      report(act == 1 ? "bias_silu" : "bias_gelu", relerr(dy.down(), r), 2e-6, det);
    }
    {
      std::vector<float> y2(n); for (auto& v : y2) v = frand(-1, 1);
      Dev<float> dy2(y2);
      dy.poison();
      ss2d_add<<<256, 256>>>(dx.p, dy2.p, dy.p, n);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n); for (int64_t i = 0; i < n; ++i) r[i] = (double)x[i] + y2[i];
      report("add", relerr(dy.down(), r), 1e-7, det);
    }
  }
}

// ---------------------------------------------------------------- a whole model's layers (model_layers.cuh)
static void model_layers_correctness(bool small) {
  struct G { int64_t B, C, H, W; };
  std::vector<G> grids = {{2, 3, 7, 9}, {1, 5, 16, 16}, {2, 4, 33, 20}, {3, 9, 1, 1}};
  if (!small) grids.push_back({4, 16, 56, 56});
  for (auto gr : grids) {
    const int64_t L = gr.H * gr.W, n = gr.B * gr.C * L;
    char det[96]; std::snprintf(det, sizeof det, "B=%lld C=%lld H=%lld W=%lld", (long long)gr.B, (long long)gr.C, (long long)gr.H, (long long)gr.W);
    std::vector<float> x(n); for (auto& v : x) v = frand(-1, 1);
    Dev<float> dx(x);
    const int64_t ksp[][3] = {{3, 2, 1}, {4, 4, 0}, {2, 2, 0}, {3, 1, 1}};
    for (auto& q : ksp) {
      const int64_t k = q[0], s = q[1], pad = q[2];
      const int64_t OH = gr.H + 2 * pad < k ? 0 : (gr.H + 2 * pad - k) / s + 1, OW = gr.W + 2 * pad < k ? 0 : (gr.W + 2 * pad - k) / s + 1;
      if (OH < 1 || OW < 1) continue;
      const int64_t rows = gr.C * k * k, Lo = OH * OW;
      Dev<float> dc(gr.B * rows * Lo);
      dc.poison();
      ss2d_im2col<<<256, 256>>>(dx.p, dc.p, gr.B, gr.C, gr.H, gr.W, k, s, pad, OH, OW);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(gr.B * rows * Lo);
      for (int64_t b = 0; b < gr.B; ++b) for (int64_t c = 0; c < gr.C; ++c) for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) for (int64_t oy = 0; oy < OH; ++oy) for (int64_t ox = 0; ox < OW; ++ox) {
          const int64_t iy = oy * s + ky - pad, ix = ox * s + kx - pad;
          r[((b * rows + (c * k + ky) * k + kx) * OH + oy) * OW + ox] =
              iy >= 0 && iy < gr.H && ix >= 0 && ix < gr.W ? x[((b * gr.C + c) * gr.H + iy) * gr.W + ix] : 0.0;
        }
      char d2[160]; std::snprintf(d2, sizeof d2, "%s k=%lld s=%lld pad=%lld", det, (long long)k, (long long)s, (long long)pad);
      report("im2col", relerr(dc.down(), r), 0, d2);
    }
    {
      const int64_t OH = (gr.H + 1) / 2, OW = (gr.W + 1) / 2, Lo = OH * OW;
      Dev<float> dm(gr.B * 4 * gr.C * Lo);
      dm.poison();
      ss2d_patch_merge<<<256, 256>>>(dx.p, dm.p, gr.B, gr.C, gr.H, gr.W, OH, OW);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(gr.B * 4 * gr.C * Lo);
      const int dyq[] = {0, 1, 0, 1}, dxq[] = {0, 0, 1, 1};
      for (int64_t b = 0; b < gr.B; ++b) for (int q = 0; q < 4; ++q) for (int64_t c = 0; c < gr.C; ++c)
        for (int64_t oy = 0; oy < OH; ++oy) for (int64_t ox = 0; ox < OW; ++ox) {
          const int64_t iy = 2 * oy + dyq[q], ix = 2 * ox + dxq[q];
          r[((b * 4 * gr.C + q * gr.C + c) * OH + oy) * OW + ox] = iy < gr.H && ix < gr.W ? x[((b * gr.C + c) * gr.H + iy) * gr.W + ix] : 0.0;
        }
      report("patch_merge", relerr(dm.down(), r), 0, det);
    }
    for (int variant = 0; variant < 3; ++variant) {  // 0: plain, 1: pre-bias + affine + GELU, 2: affine, in place, 2 blocks
      std::vector<float> pre(gr.C), gam(gr.C), bet(gr.C);
      for (auto& v : pre) v = frand(-1, 1);
      for (auto& v : gam) v = frand(0.5, 1.5);
      for (auto& v : bet) v = frand(-0.5, 0.5);
      std::vector<float> xo = x; for (auto& v : xo) v += 3.0f;  // offset: tests the centred variance
      Dev<float> dp(pre), dg(gam), dbt(bet), dxo(xo), dy(n);
      dy.poison();
      const int act = variant == 1 ? 2 : 0;
      const int64_t tiles = gr.B * ((L + 31) / 32);
      const unsigned blocks = variant == 2 ? 2 : (unsigned)std::min<int64_t>(tiles, 4096);
      float* out = variant == 2 ? dxo.p : dy.p;
      ss2d_layernorm_cf_ex<<<blocks, dim3(32, 8)>>>(dxo.p, variant == 1 ? dp.p : nullptr, variant ? dg.p : nullptr,
                                                   variant ? dbt.p : nullptr, out, gr.B, gr.C, L, 1e-5f, act);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n);
      for (int64_t b = 0; b < gr.B; ++b) for (int64_t l = 0; l < L; ++l) {
        auto in = [&](int64_t c) { return (double)xo[(b * gr.C + c) * L + l] + (variant == 1 ? pre[c] : 0.0); };
        double m = 0, v = 0;
        for (int64_t c = 0; c < gr.C; ++c) m += in(c);
        m /= gr.C;
        for (int64_t c = 0; c < gr.C; ++c) { double d = in(c) - m; v += d * d; }
        v /= gr.C;
        for (int64_t c = 0; c < gr.C; ++c) {
          double y = (in(c) - m) / std::sqrt(v + 1e-5);
          if (variant) y = y * gam[c] + bet[c];
          if (act == 2) y = 0.5 * y * (1 + std::erf(y / std::sqrt(2.0)));
          r[(b * gr.C + c) * L + l] = y;
        }
      }
      char d2[160]; std::snprintf(d2, sizeof d2, "%s variant=%d blocks=%u", det, variant, blocks);
      report("layernorm_ex", relerr(variant == 2 ? dxo.down() : dy.down(), r), 1e-4, d2);  // C=3 with close values: ill-conditioned
    }
    {
      std::vector<float> z(n); for (auto& v : z) v = frand(-4, 4);
      Dev<float> dz(z), dy(x);
      ss2d_mul_silu<<<256, 256>>>(dy.p, dz.p, n);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(n); for (int64_t i = 0; i < n; ++i) r[i] = (double)x[i] * (z[i] / (1 + std::exp(-(double)z[i])));
      report("mul_silu", relerr(dy.down(), r), 1e-6, det);
    }
    {
      Dev<float> dp(gr.B * gr.C);
      dp.poison();
      ss2d_avg_pool<<<256, 256>>>(dx.p, dp.p, gr.B * gr.C, L);
      CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
      std::vector<double> r(gr.B * gr.C, 0.0);
      for (int64_t i = 0; i < gr.B * gr.C; ++i) { for (int64_t l = 0; l < L; ++l) r[i] += x[i * L + l]; r[i] /= L; }
      report("avg_pool", relerr(dp.down(), r), 1e-6, det);
    }
  }
}

// ---------------------------------------------------------------- fatbin through the driver API
static void fatbin_check(const char* path) {
  FILE* f = std::fopen(path, "rb");
  if (!f) { std::printf("FAIL  fatbin         cannot open %s\n", path); ++g_failures; return; }
  std::vector<char> img; char buf[65536]; size_t k;
  while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) img.insert(img.end(), buf, buf + k);
  std::fclose(f);
  CUmodule mod; CUresult r = cuModuleLoadData(&mod, img.data());
  if (r != CUDA_SUCCESS) { const char* n; cuGetErrorName(r, &n); std::printf("FAIL  fatbin         cuModuleLoadData: %s\n", n); ++g_failures; return; }
  int found = 0;
  const char* names[] = {"ss2d_cross_scan", "ss2d_cross_merge", "ss2d_dwconv2d", "ss2d_layernorm_cf", "ss2d_bias_act_cf", "ss2d_add", "ss2d_noop",
                         "ss2d_im2col", "ss2d_patch_merge", "ss2d_layernorm_cf_ex", "ss2d_mul_silu", "ss2d_avg_pool",
                         "ss2d_dwconv2d_rows", "ss2d_fused_transpose", "ss2d_fused_scan_n1_k1", "ss2d_fused_scan_n1_k2",
                         "ss2d_fused_scan_n1_k4", "ss2d_fused_scan_n1_k8"};
  std::vector<std::string> all(names, names + sizeof names / sizeof names[0]);
  for (auto& kv : scanKernels()) all.push_back(kv.first);
  for (auto& kv : statesKernels()) all.push_back(kv.first);
  for (auto& kv : halfKernels()) all.push_back(kv.first);
  for (auto& nm : all) { CUfunction fn; if (cuModuleGetFunction(&fn, mod, nm.c_str()) == CUDA_SUCCESS) ++found; else std::printf("FAIL  fatbin missing %s\n", nm.c_str()); }
  ++g_checks; if (found != (int)all.size()) ++g_failures;
  std::printf("%-5s fatbin         %d/%zu kernels found in %s (%zu bytes)\n", found == (int)all.size() ? "ok" : "FAIL", found, all.size(), path, img.size());
  cuModuleUnload(mod);
}

// ---------------------------------------------------------------- timing
static float median(std::vector<float> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }

static double copy_gbps() {
  const size_t bytes = 1ull << 30;
  Dev<char> a(bytes), b(bytes);
  CK(cudaMemset(a.p, 1, bytes));
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  std::vector<float> ts;
  for (int i = 0; i < 25; ++i) {
    CK(cudaEventRecord(e0)); CK(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice)); CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 5) ts.push_back(ms);
  }
  return 2.0 * bytes / (median(ts) * 1e-3) / 1e9;
}

struct Shape { const char* name; int64_t Bt, Dm, G, L, N; double mambaMs; };

static void time_shapes(double copy) {
  const Shape shapes[] = {{"S1", 32, 768, 4, 3136, 1, 0.592}, {"S2", 32, 768, 4, 3136, 16, 2.807},
                          {"S3", 32, 1536, 4, 784, 1, 0.303}, {"S4", 32, 3072, 4, 196, 1, 0.167},
                          {"S5", 8, 2048, 1, 4096, 16, 2.216}};
  std::vector<std::string> table;
  for (const Shape& s : shapes) {
    ScanCase c{}; c.Bt = s.Bt; c.Dm = s.Dm; c.G = s.G; c.L = s.L; c.N = s.N; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = true;
    fill_case(c);
    ScanDev dv(c);
    // Correctness on 64 sampled channels of two batches (the full float64 reference is slow).
    // (rows, items, algo); algo 2 = states across lanes
    const std::vector<std::array<int, 3>> combos = s.N == 1
        ? std::vector<std::array<int, 3>>{{0, 0, 0}, {2, 4, 1}, {1, 1, 4}, {1, 4, 4}, {1, 8, 4}, {1, 16, 4}}
        : std::vector<std::array<int, 3>>{{0, 0, 0}, {0, 8, 2}, {0, 4, 3}, {0, 8, 3}};
    for (auto [rows, items, algo0] : combos) {
      const int algo = algo0;
      dv.out.poison();
      ScanLaunch pl = launch_scan(dv.p, rows, items, algo);
      CK(cudaDeviceSynchronize());
      auto out = dv.out.down();
      double worst = 0;
      for (int64_t b : {(int64_t)0, s.Bt - 1}) {
        const int64_t dLo = (b * 97) % (s.Dm - 64);
        std::vector<double> ref, rl; ref_scan(c, b, dLo, dLo + 64, ref, rl);
        std::vector<float> got(out.begin() + (b * s.Dm + dLo) * s.L, out.begin() + (b * s.Dm + dLo + 64) * s.L);
        double e = relerr(got, ref); worst = std::isfinite(e) ? std::max(worst, e) : NAN;
        if (!std::isfinite(worst)) break;
      }
      // every element written (poison gone) across the whole output
      size_t nans = 0; for (float v : out) nans += !std::isfinite(v);
      char det[160]; std::snprintf(det, sizeof det, "%s %s nonfinite=%zu", s.name, pl.kernel.c_str(), nans);
      report("scan.big", nans ? NAN : worst, 1e-4, det);
      cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
      std::vector<float> ts;
      for (int i = 0; i < 40; ++i) {
        CK(cudaEventRecord(e0)); launch_scan(dv.p, rows, items, algo); CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 10) ts.push_back(ms);
      }
      const float ms = median(ts);
      const double bytes = 4.0 * (3.0 * s.Bt * s.Dm * s.L + 2.0 * s.Bt * s.G * s.N * s.L + 3.0 * s.Dm * s.N + 2.0 * s.Dm);
      const double gbps = bytes / (ms * 1e-3) / 1e9;
      char line[256];
      const std::string kname = pl.kernel + (pl.kernel.find("seg") != std::string::npos ? " rs" + std::to_string(pl.lanesPerChannel) : "");
      std::snprintf(line, sizeof line, "%-3s %-31s %s %8.3f ms %7.0f GB/s %5.1f%% of copy  floor %.3f ms  mamba %.3f ms (x%.2f)",
                    s.name, kname.c_str(), rows == 0 && algo == 0 ? "auto" : "    ", ms, gbps, 100 * gbps / copy, bytes / (copy * 1e9) * 1e3, s.mambaMs, s.mambaMs / ms);
      table.push_back(line);
      cudaEventDestroy(e0); cudaEventDestroy(e1);
    }
  }
  std::printf("\ncopy (device-to-device, 1 GiB, read+write): %.0f GB/s\n", copy);
  for (auto& l : table) std::printf("%s\n", l.c_str());
}

#include "backward.cuh"
#include "fused.cuh"
#include "harness_half.cuh"

int main(int argc, char** argv) {
  bool small = false; const char* fatbin = nullptr; uint64_t seed = 12345;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--small")) small = true;
    else if (!std::strcmp(argv[i], "--fatbin") && i + 1 < argc) fatbin = argv[++i];
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
  }
  g_rng ^= seed * 0x2545F4914F6CDD1Dull;
  cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0)); g_sms = prop.multiProcessorCount;
  std::printf("device %s, %d SMs, seed %llu\n", prop.name, g_sms, (unsigned long long)seed);
  if (fatbin) { CK(cudaFree(0)); fatbin_check(fatbin); }
  scan_correctness(small);
  half_correctness(small);
  bwd_correctness(small);
  layers_correctness(small);
  model_layers_correctness(small);
  fused_correctness(small);
  const double copy = small ? 0 : copy_gbps();
  if (!small) time_shapes(copy);
  if (!small) time_half_shapes(copy);
  if (!small) time_bwd();
  if (!small) { time_fused(copy); time_conv_stages(copy); }
  std::printf("\n%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
