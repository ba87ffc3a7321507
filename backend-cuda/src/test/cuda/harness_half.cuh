// 16-bit scan kernels (selective_scan_half.cuh: n1seg_k8, n1seg_k4, n1row_k8; selective_scan_pipe.cuh: pipe_*_h8/h4/h1)
// against float64 on the rounded inputs, both 16-bit types, both out modes, odd lengths, padded rows and pointers
// 2, 4 and 8 bytes off 16; then S1..S5 timed in bfloat16 and float16 beside the float32 kernels' table.
// Budget: float32's (1e-4 of max |ref|) plus one rounding of a 16-bit out (conformance/TOLERANCES.md).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

static std::map<std::string, HalfKernel> halfKernels() {
  std::map<std::string, HalfKernel> m;
#define HK(NAME) m[#NAME] = NAME;
#define HK4(PFX) HK(PFX##_f16_oh) HK(PFX##_f16_of) HK(PFX##_bf16_oh) HK(PFX##_bf16_of)
  HK4(ss2d_scan_fwd_n1seg_k8) HK4(ss2d_scan_fwd_n1seg_k4) HK4(ss2d_scan_fwd_n1row_k8)
#define HP(S, SPL) HK(ss2d_scan_fwd_pipe_l##S##_s##SPL##_h8) HK(ss2d_scan_fwd_pipe_l##S##_s##SPL##_h4) HK(ss2d_scan_fwd_pipe_l##S##_s##SPL##_h1)
  HP(1, 4) HP(2, 4) HP(4, 4) HP(8, 4) HP(2, 8) HP(4, 8) HP(8, 8)
#undef HP
#undef HK4
#undef HK
  return m;
}

static uint16_t half_bits(float x, int kind) {
  if (kind == 2) { __nv_bfloat16 h = __float2bfloat16_rn(x); uint16_t b; std::memcpy(&b, &h, 2); return b; }
  __half h = __float2half_rn(x); uint16_t b; std::memcpy(&b, &h, 2); return b;
}
static float half_value(uint16_t b, int kind) {
  if (kind == 2) { uint32_t w = (uint32_t)b << 16; float f; std::memcpy(&f, &w, 4); return f; }
  __half h; std::memcpy(&h, &b, 2); return __half2float(h);
}
static double half_roundoff(int kind) { return kind == 2 ? 1.0 / 256 : 1.0 / 2048; }
static const char* half_name(int kind) { return kind == 2 ? "bf16" : "f16"; }

// A case on the device with 16-bit u, delta, z and variable B/C, each `off` elements past an aligned allocation
// (and out too), inputs rounded in place so that the float64 reference sees what the kernel reads.
struct HalfDev {
  Dev<uint16_t> u, delta, z, B, C, outH;
  Dev<float> A, Bc, Cc, D, bias, outF, last;
  ScanParams p{};
  int64_t n, off;
  static std::vector<uint16_t> bits(std::vector<float>& v, int kind, int64_t off) {
    std::vector<uint16_t> b(v.size() + off, 0);
    for (size_t i = 0; i < v.size(); ++i) { b[i + off] = half_bits(v[i], kind); v[i] = half_value(b[i + off], kind); }
    return b;
  }
  HalfDev(ScanCase& c, int kind, bool outHalf, int64_t off_)
      : u(bits(c.u, kind, off_)), delta(bits(c.delta, kind, off_)), z(bits(c.z, kind, off_)),
        B(c.varB ? bits(c.B, kind, off_) : std::vector<uint16_t>(1)), C(c.varC ? bits(c.C, kind, off_) : std::vector<uint16_t>(1)),
        outH(outHalf ? c.u.size() + off_ : 1), A(c.A), Bc(c.B), Cc(c.C), D(c.D), bias(c.bias),
        outF(outHalf ? 1 : c.u.size() + off_), last(c.Bt * c.Dm * c.N), n((int64_t)c.u.size()), off(off_) {
    const int64_t rs = c.L + c.pad;
    p.u = reinterpret_cast<const float*>(u.p + off); p.delta = reinterpret_cast<const float*>(delta.p + off);
    p.A = A.p;
    p.B = c.varB ? reinterpret_cast<const float*>(B.p + off) : Bc.p;
    p.C = c.varC ? reinterpret_cast<const float*>(C.p + off) : Cc.p;
    p.D = c.hasD ? D.p : nullptr; p.z = c.hasZ ? reinterpret_cast<const float*>(z.p + off) : nullptr;
    p.delta_bias = c.hasBias ? bias.p : nullptr;
    p.out = outHalf ? reinterpret_cast<float*>(outH.p + off) : outF.p + off;
    p.last_state = c.last ? last.p : nullptr;
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
  void poison() { outH.poison(); outF.poison(); last.poison(); }
  std::vector<float> out(bool outHalf, int kind) const {
    std::vector<float> o(n);
    if (outHalf) { auto h = outH.down(); for (int64_t i = 0; i < n; ++i) o[i] = half_value(h[i + off], kind); }
    else { auto f = outF.down(); for (int64_t i = 0; i < n; ++i) o[i] = f[i + off]; }
    return o;
  }
};

static ScanLaunch launch_half(const ScanParams& p, int kind, bool outHalf, int spl = 0, int64_t rs = 0, cudaStream_t st = 0) {
  static auto kernels = halfKernels();
  ScanLaunch pl = plan_half(p, kind, outHalf, g_sms, spl);
  if (pl.kernel == "none") return pl;
  if (rs > 0 && pl.kernel.find("n1seg") != std::string::npos) {  // force rows per virtual row (harness coverage)
    if ((p.dim / p.groups) % rs) { pl.kernel = "none"; return pl; }
    pl.extra = rs; pl.blocks = (p.batch * (p.dim / rs) + SS2D_SCAN_WARPS - 1) / SS2D_SCAN_WARPS;
  }
  HalfKernel k = kernels.at(pl.kernel);
  if (pl.smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)pl.smem));
  k<<<(unsigned)pl.blocks, pl.threads, pl.smem, st>>>(p, pl.extra);
  CK(cudaGetLastError());
  return pl;
}

// expect: a part of the kernel name the case must reach ("" for any).
static void check_half_case(ScanCase& c, int kind, bool outHalf, int64_t off, const char* expect, int spl = 0, int64_t rs = 0) {
  fill_case(c);
  HalfDev dv(c, kind, outHalf, off);
  dv.poison();
  ScanLaunch pl = launch_half(dv.p, kind, outHalf, spl, rs);
  char det[400];
  std::snprintf(det, sizeof det, "%s %s out=%s off=%lldB %s rs=%lld", describe(c).c_str(), half_name(kind),
                outHalf ? half_name(kind) : "f32", (long long)(2 * off), pl.kernel.c_str(), (long long)pl.extra);
  if (pl.kernel == "none" || pl.kernel.find(expect) == std::string::npos) {
    report("half.plan", NAN, 0, std::string(det) + " expected " + expect);
    return;
  }
  CK(cudaDeviceSynchronize());
  auto got = dv.out(outHalf, kind);
  auto last = dv.last.down();
  std::vector<double> ref, refLast;
  for (int64_t b = 0; b < c.Bt; ++b) ref_scan(c, b, 0, c.Dm, ref, refLast);
  const int64_t rsd = c.L + c.pad;
  std::vector<float> g2; g2.reserve(ref.size());
  for (int64_t r = 0; r < c.Bt * c.Dm; ++r) for (int64_t t = 0; t < c.L; ++t) g2.push_back(got[r * rsd + t]);
  report("half.out", relerr(g2, ref), 1e-4 + (outHalf ? half_roundoff(kind) : 0.0), det);
  if (c.last) report("half.last", relerr(last, refLast), 1e-4, det);
}

static void half_correctness(bool small) {
  // dstate 1: 16-byte words (L % 8 == 0), 8-byte words (L % 4 == 0: 196, 1028), 16-bit loads (odd L, padded rows,
  // pointers off 16 bytes); RS rows per virtual row with row starts inside a lane's piece of 8 or 4.
  for (int64_t L : {8, 196, 200, 1028, 2048, 7, 49, 2049}) for (int kind : {1, 2}) for (int oh : {0, 1}) {
    if (small && L > 1100) continue;
    for (int64_t RS : {1, 2, 4, 8}) {
      ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 32; c.L = L; c.N = 1; c.varB = c.varC = true;
      c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true;
      if ((L + RS) % 3 == 0) { c.G = 1; c.varC = false; c.hasZ = false; }
      const char* expect = L % 8 == 0 ? "n1seg_k8" : L % 4 == 0 ? "n1seg_k4" : "n1row_k8";
      check_half_case(c, kind, oh, 0, expect, 0, RS);
      if (L % 4 != 0) break;  // n1row takes one row per warp
    }
    for (int64_t off : {1, 2, 4}) {  // 2, 4, 8 bytes off: 16-bit loads, 16-bit loads, 8-byte words
      ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 16; c.L = L; c.N = 1; c.varB = c.varC = true;
      c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true;
      check_half_case(c, kind, oh, off, off == 4 && L % 4 == 0 ? "n1seg_k4" : "n1row_k8");
    }
    ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = 8; c.L = L; c.N = 1; c.varB = true; c.varC = false; c.pad = 3;
    c.hasZ = c.softplus = c.last = true;
    check_half_case(c, kind, oh, 0, "n1row_k8");  // rows 3 elements apart: strided
  }
  // dstate > 1: every pipe width (S lanes x SPL states), padding states, tiles ending inside and at 16 steps,
  // 16-byte (_h8), 8-byte (_h4) and 16-bit (_h1) pieces, padded rows and pointers off 16 bytes.
  for (int64_t N : {2, 3, 4, 5, 8, 16, 17, 32, 64}) for (int spl : {4, 8}) {
    if (spl == 8 && N <= 8) continue;  // no S = 1 kernel at 8 states per lane
    if (spl == 4 && N > 32) continue;  // 16 lanes per channel: none
    int i = 0;
    for (int64_t L : {1, 15, 16, 17, 49, 196, 517}) for (int64_t off : {0, 1, 4}) {
      if (small && L > 200) continue;
      const int kind = 1 + (i & 1), oh = (i >> 1) & 1;
      ++i;
      ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 64; c.L = L; c.N = N; c.varB = c.varC = true;
      c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true;
      c.pad = (i % 5 == 0) ? 4 : 0;
      const bool w8 = off == 0 && L % 8 == 0 && c.pad % 8 == 0, w4 = (off == 0 || off == 4) && L % 4 == 0 && c.pad % 4 == 0;
      check_half_case(c, kind, oh, off, w8 ? "_h8" : w4 ? "_h4" : "_h1", spl);
    }
  }
  for (int cb = 0; cb < 3; ++cb) for (int kind : {1, 2}) {  // constant (float32) B and/or C
    ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = 32; c.L = 104; c.N = 16; c.varB = cb != 0; c.varC = cb != 1;
    c.hasD = c.last = c.softplus = c.hasBias = true; c.hasZ = cb == 2;
    check_half_case(c, kind, cb == 1, 0, "_h8", 4); check_half_case(c, kind, cb != 1, 0, "_h8", 8);
    ScanCase d1 = c; d1.N = 1; d1.L = 196;
    check_half_case(d1, kind, cb == 2, 0, "n1seg_k4");
  }
  {  // delta across the softplus threshold 20
    ScanCase c{}; c.Bt = 1; c.G = 1; c.Dm = 32; c.L = 256; c.N = 16; c.varB = c.varC = true;
    c.softplus = c.hasBias = c.last = c.bigDelta = true;
    check_half_case(c, 2, false, 0, "_h8");
    c.N = 1; check_half_case(c, 1, false, 0, "n1seg_k8");
  }
}

static void time_half_shapes(double copy) {
  const Shape shapes[] = {{"S1", 32, 768, 4, 3136, 1, 0.532}, {"S2", 32, 768, 4, 3136, 16, 2.648},
                          {"S3", 32, 1536, 4, 784, 1, 0.270}, {"S4", 32, 3072, 4, 196, 1, 0.150},
                          {"S5", 8, 2048, 1, 4096, 16, 1.076}};  // mamba bf16, H100, 2026-12-06
  std::vector<std::string> table;
  for (int kind : {2, 1}) for (const Shape& s : shapes) for (int oh : {1, 0}) {
    if (kind == 1 && !oh) continue;
    ScanCase c{}; c.Bt = s.Bt; c.Dm = s.Dm; c.G = s.G; c.L = s.L; c.N = s.N; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = true;
    fill_case(c);
    HalfDev dv(c, kind, oh, 0);
    dv.poison();
    ScanLaunch pl = launch_half(dv.p, kind, oh);
    CK(cudaDeviceSynchronize());
    auto out = dv.out(oh, kind);
    double worst = 0;
    for (int64_t b : {(int64_t)0, s.Bt - 1}) {
      const int64_t dLo = (b * 97) % (s.Dm - 64);
      std::vector<double> ref, rl; ref_scan(c, b, dLo, dLo + 64, ref, rl);
      std::vector<float> got(out.begin() + (b * s.Dm + dLo) * s.L, out.begin() + (b * s.Dm + dLo + 64) * s.L);
      double e = relerr(got, ref); worst = std::isfinite(e) ? std::max(worst, e) : NAN;
      if (!std::isfinite(worst)) break;
    }
    size_t nans = 0; for (float v : out) nans += !std::isfinite(v);
    char det[200]; std::snprintf(det, sizeof det, "%s %s out=%s %s nonfinite=%zu", s.name, half_name(kind), oh ? half_name(kind) : "f32",
                                 pl.kernel.c_str(), nans);
    report("half.big", nans ? NAN : worst, 1e-4 + (oh ? half_roundoff(kind) : 0.0), det);
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    std::vector<float> ts;
    for (int i = 0; i < 40; ++i) {
      CK(cudaEventRecord(e0)); launch_half(dv.p, kind, oh); CK(cudaEventRecord(e1));
      CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 10) ts.push_back(ms);
    }
    const float ms = median(ts);
    const double elems = (double)s.Bt * s.Dm * s.L;
    const double bytes = 2.0 * (2.0 * elems + 2.0 * s.Bt * s.G * s.N * s.L) + (oh ? 2.0 : 4.0) * elems + 4.0 * (s.Dm * s.N + 2.0 * s.Dm);
    const double gbps = bytes / (ms * 1e-3) / 1e9;
    char line[300];
    std::snprintf(line, sizeof line, "%-3s %-4s out %-4s %-34s rs/mode %-4lld %8.3f ms %7.0f GB/s %5.1f%% of copy  mamba bf16 %.3f ms (x%.2f)",
                  s.name, half_name(kind), oh ? half_name(kind) : "f32", pl.kernel.c_str(), (long long)pl.extra, ms, gbps,
                  100 * gbps / copy, s.mambaMs, s.mambaMs / ms);
    table.push_back(line);
    cudaEvent_t ev[] = {e0, e1}; for (auto e : ev) cudaEventDestroy(e);
  }
  std::printf("\n16-bit scans (bytes actually moved: 16-bit u, delta, B, C, out 16-bit or float32); copy %.0f GB/s\n", copy);
  for (auto& l : table) std::printf("%s\n", l.c_str());
}
