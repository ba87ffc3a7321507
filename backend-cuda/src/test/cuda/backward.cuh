// The selective scan backward in the harness (included by harness.cu after its helpers): the launch rules of
// org.ss2d.cuda.ScanBackwardLauncher, a float64 adjoint (as org.ss2d.reference.ScanBackwardRef), every gradient
// checked on NaN-poisoned outputs, bits compared between two runs, and S1..S5 timed against the forward.
#pragma once

struct BwdLaunch {
  std::string kernel;
  int lanes, spl, seg, warps;
  int64_t nseg, blocks, slices;
  size_t smem;
  int64_t tile = 0;  // v3: channels a block walks (0: v1, v2)
  std::string bounds;  // v3's first kernel
};

// ScanBackwardLauncher.planV3: v3, dstate 2..16 (selective_scan_bwd_v3.cuh): a block per (batch, tile, 128-step chunk).
static BwdLaunch plan_bwd_v3(const ScanParams& p) {
  BwdLaunch l{};
  const bool variable = (p.flags & (SS2D_VARIABLE_B | SS2D_VARIABLE_C)) != 0;
  l.tile = variable ? p.dim / p.groups : std::min<int64_t>(p.dim, 32);
  const int64_t tiles = (p.dim + l.tile - 1) / l.tile;
  static const size_t optin = [] { int v = 0; CK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0)); return (size_t)v; }();
  auto smem = [&](int w) { return (size_t)(2 + 2 * w) * p.dstate * ss2d::bwd3::CH * 4; };
  l.warps = 4;
  while (l.warps > 1 && (l.warps > l.tile || (variable && smem(l.warps) > optin))) l.warps /= 2;
  l.lanes = 32; l.spl = (int)p.dstate; l.seg = ss2d::bwd3::CH;
  l.nseg = (p.seqlen + l.seg - 1) / l.seg;
  l.blocks = p.batch * tiles * l.nseg;
  l.smem = variable ? smem(l.warps) : 0;
  l.slices = 0;
  const std::string v = p.seqlen % 4 == 0 ? "1" : "0";
  l.kernel = "ss2d_scan_bwd_v3_v" + v;
  l.bounds = "ss2d_scan_bwd_v3_bounds_v" + v;
  return l;
}

// ScanBackwardLauncher.planN1: v2, dstate 1, parallel over time (selective_scan_bwd_n1.cuh). The harness's tensors are
// contiguous and cudaMalloc'd, so the 16-byte path is taken exactly when seqlen % 4 == 0.
static BwdLaunch plan_bwd_n1(const ScanParams& p, int sms) {
  BwdLaunch l{};
  const int64_t perGroup = p.dim / p.groups;
  const bool variable = (p.flags & (SS2D_VARIABLE_B | SS2D_VARIABLE_C)) != 0;
  const int r = variable && perGroup % 2 == 0 ? 2 : 1;
  const int64_t warps = p.batch * (p.dim / r);
  l.warps = 8;
  while (l.warps > 1 && (perGroup % ((int64_t)l.warps * r) != 0 || warps / l.warps < sms)) l.warps /= 2;
  l.lanes = 32; l.spl = 1; l.seg = ss2d::bwd1::CH;
  l.nseg = (p.seqlen + l.seg - 1) / l.seg;
  l.blocks = warps / l.warps;
  l.smem = (size_t)l.warps * 2 * ss2d::bwd1::CH * 4;
  l.slices = perGroup / ((int64_t)l.warps * r);
  l.kernel = "ss2d_scan_bwd_n1_r" + std::to_string(r) + "_v" + (p.seqlen % 4 == 0 ? "1" : "0");
  return l;
}

// ScanBackwardLauncher.plan (with this device's opt-in shared-memory limit); variant 2 = the default: v2 at dstate 1,
// v3 at 2..16, v1 above; variant 1 = v1 everywhere
static BwdLaunch plan_bwd(const ScanParams& p, int sms, int variant) {
  if (variant == 2 && p.dstate == 1) return plan_bwd_n1(p, sms);
  if (variant == 2 && p.dstate <= 16) return plan_bwd_v3(p);
  BwdLaunch l{};
  const int64_t perGroup = p.dim / p.groups, n = p.dstate;
  l.spl = n <= 1 ? 1 : n <= 32 ? 4 : 8;
  l.lanes = 1;
  while ((int64_t)l.lanes * l.spl < n) l.lanes *= 2;
  while (l.lanes < 32 && perGroup % (32 / l.lanes) != 0) l.lanes *= 2;
  const int rw = 32 / l.lanes;
  l.seg = 32;
  while (l.seg > 8 && 4 * ss2d::bwd::warp_floats(l.lanes, l.spl, l.seg) > 24 * 1024) l.seg /= 2;
  const size_t warpBytes = 4 * (size_t)ss2d::bwd::warp_floats(l.lanes, l.spl, l.seg);
  const int64_t warps = p.batch * (p.dim / rw);
  static const size_t optin = [] { int v = 0; CK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0)); return (size_t)v; }();
  const size_t cap = std::min<size_t>(160 * 1024, optin);
  l.warps = l.spl == 8 ? 4 : 8;
  while (l.warps > 1 && (perGroup % ((int64_t)l.warps * rw) != 0 || l.warps * warpBytes > cap || warps / l.warps < sms))
    l.warps /= 2;
  l.nseg = (p.seqlen + l.seg - 1) / l.seg;
  l.blocks = warps / l.warps;
  l.smem = l.warps * warpBytes;
  l.slices = perGroup / ((int64_t)l.warps * rw);
  l.kernel = "ss2d_scan_bwd_l" + std::to_string(l.lanes) + "_s" + std::to_string(l.spl);
  return l;
}

typedef void (*BwdKernel)(const ScanParams, const ScanBwdParams);
static std::map<std::string, BwdKernel> bwdKernels() {
  std::map<std::string, BwdKernel> m;
#define KB(S, SPL) m["ss2d_scan_bwd_l" #S "_s" #SPL] = ss2d_scan_bwd_l##S##_s##SPL;
  KB(1, 1) KB(2, 1) KB(4, 1) KB(8, 1) KB(16, 1) KB(32, 1)
  KB(1, 4) KB(2, 4) KB(4, 4) KB(8, 4) KB(16, 4) KB(32, 4)
  KB(8, 8) KB(16, 8) KB(32, 8)
#undef KB
#define KN(R, V) m["ss2d_scan_bwd_n1_r" #R "_v" #V] = ss2d_scan_bwd_n1_r##R##_v##V;
  KN(1, 0) KN(1, 1) KN(2, 0) KN(2, 1)
#undef KN
  m["ss2d_scan_bwd_v3_v0"] = ss2d_scan_bwd_v3_v0; m["ss2d_scan_bwd_v3_v1"] = ss2d_scan_bwd_v3_v1;
  m["ss2d_scan_bwd_v3_bounds_v0"] = ss2d_scan_bwd_v3_bounds_v0;
  m["ss2d_scan_bwd_v3_bounds_v1"] = ss2d_scan_bwd_v3_bounds_v1;
  return m;
}

// Device buffers of one backward: dout/dlast in, every gradient out, the workspace.
struct BwdDev {
  const ScanCase& c;
  BwdLaunch pl;
  int64_t bsz, csz;
  Dev<float> dout, dlast, du, ddelta, dz, dA, dB, dC, dD, dbias, ckpt, bpart, cpart;
  Dev<double> rows;
  ScanBwdParams q{};
  BwdDev(const ScanCase& c_, const ScanParams& p, const std::vector<float>& doutH, const std::vector<float>& dlastH,
         int variant)
      : c(c_), pl(plan_bwd(p, g_sms, variant)), bsz(c.varB ? c.Bt * c.G * c.N * c.L : c.Dm * c.N),
        csz(c.varC ? c.Bt * c.G * c.N * c.L : c.Dm * c.N), dout(doutH), dlast(dlastH), du(doutH.size()),
        ddelta(doutH.size()), dz(doutH.size()), dA(c.Dm * c.N), dB(bsz), dC(csz), dD(c.Dm), dbias(c.Dm),
        ckpt((pl.tile ? 2 : 1) * c.Bt * c.Dm * pl.nseg * c.N), bpart(pl.slices > 1 && c.varB ? pl.slices * bsz : 1),
        cpart(pl.slices > 1 && c.varC ? pl.slices * csz : 1),
        rows(pl.tile ? (c.Bt * pl.nseg * c.Dm * (c.N + 2 + (c.varB ? 0 : c.N) + (c.varC ? 0 : c.N)) + 1) / 2  // v3: floats
                     : c.Bt * c.Dm * (3 * c.N + 2)) {
    q.dout = dout.p; q.dlast = c.last ? dlast.p : nullptr; q.du = du.p; q.ddelta = ddelta.p;
    q.dz = c.hasZ ? dz.p : nullptr; q.ckpt = ckpt.p; q.rows = rows.p;
    q.dB = c.varB ? (pl.slices > 1 ? bpart.p : dB.p) : nullptr;
    q.dC = c.varC ? (pl.slices > 1 ? cpart.p : dC.p) : nullptr;
    q.seg = pl.tile ? pl.tile : pl.seg; q.nseg = pl.nseg;
    q.b_slice_stride = pl.slices > 1 ? bsz : 0; q.c_slice_stride = pl.slices > 1 ? csz : 0;
  }
  void poison() { du.poison(); ddelta.poison(); dz.poison(); dA.poison(); dB.poison(); dC.poison(); dD.poison(); dbias.poison(); }
  void run(const ScanParams& p, cudaStream_t s = 0) {
    static auto kernels = bwdKernels();
    BwdKernel k = kernels.at(pl.kernel);
    if (pl.smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)pl.smem));
    const int64_t cols = c.Dm * (3 * c.N + 2);
    if (pl.tile) {  // v3: bounds, main, partial sums over (batch, chunk)
      kernels.at(pl.bounds)<<<(unsigned)((c.Bt * c.Dm + 7) / 8), 256, 0, s>>>(p, q);
      CK(cudaGetLastError());
      k<<<(unsigned)pl.blocks, pl.warps * 32, pl.smem, s>>>(p, q);
      CK(cudaGetLastError());
      ss2d_scan_bwd_parts<<<(unsigned)((cols + 255) / 256), 256, 0, s>>>(reinterpret_cast<const float*>(rows.p), dA.p,
          c.varB ? nullptr : dB.p, c.varC ? nullptr : dC.p, c.hasD ? dD.p : nullptr, c.hasBias ? dbias.p : nullptr,
          c.Bt * pl.nseg, c.Dm, c.N);
      CK(cudaGetLastError());
      return;
    }
    k<<<(unsigned)pl.blocks, pl.warps * 32, pl.smem, s>>>(p, q);
    CK(cudaGetLastError());
    ss2d_scan_bwd_rows<<<(unsigned)((cols + 255) / 256), 256, 0, s>>>(rows.p, dA.p, c.varB ? nullptr : dB.p,
        c.varC ? nullptr : dC.p, c.hasD ? dD.p : nullptr, c.hasBias ? dbias.p : nullptr, c.Bt, c.Dm, c.N);
    CK(cudaGetLastError());
    if (pl.slices > 1 && c.varB) ss2d_scan_bwd_slices<<<(unsigned)((bsz + 255) / 256), 256, 0, s>>>(bpart.p, dB.p, bsz, pl.slices);
    if (pl.slices > 1 && c.varC) ss2d_scan_bwd_slices<<<(unsigned)((csz + 255) / 256), 256, 0, s>>>(cpart.p, dC.p, csz, pl.slices);
    CK(cudaGetLastError());
  }
};

// float64 adjoint of the recurrence (ScanBackwardRef), rows contiguous (pad 0).
struct BwdRef { std::vector<double> du, ddelta, dz, dA, dB, dC, dD, dbias; };

static BwdRef ref_scan_bwd(const ScanCase& c, const std::vector<float>& dout, const std::vector<float>& dlast) {
  const int64_t N = c.N, L = c.L;
  BwdRef r;
  r.du.assign(c.Bt * c.Dm * L, 0); r.ddelta = r.du; r.dz = r.du;
  r.dA.assign(c.Dm * N, 0); r.dD.assign(c.Dm, 0); r.dbias.assign(c.Dm, 0);
  r.dB.assign(c.varB ? c.Bt * c.G * N * L : c.Dm * N, 0); r.dC.assign(c.varC ? c.Bt * c.G * N * L : c.Dm * N, 0);
  std::vector<double> h((L + 1) * N), lam(N), dt(L);
  for (int64_t b = 0; b < c.Bt; ++b) for (int64_t d = 0; d < c.Dm; ++d) {
    const int64_t g = d / (c.Dm / c.G);
    auto bi = [&](int64_t n, int64_t t) { return c.varB ? ((b * c.G + g) * N + n) * L + t : d * N + n; };
    auto ci = [&](int64_t n, int64_t t) { return c.varC ? ((b * c.G + g) * N + n) * L + t : d * N + n; };
    for (int64_t n = 0; n < N; ++n) h[n] = 0;
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = (b * c.Dm + d) * L + t;
      double x = (double)c.delta[i] + (c.hasBias ? c.bias[d] : 0.0);
      dt[t] = c.softplus ? (x <= 20.0 ? std::log1p(std::exp(x)) : x) : x;
      for (int64_t n = 0; n < N; ++n)
        h[(t + 1) * N + n] = std::exp(dt[t] * c.A[d * N + n]) * h[t * N + n] + dt[t] * c.u[i] * c.B[bi(n, t)];
    }
    for (int64_t n = 0; n < N; ++n) lam[n] = c.last ? dlast[(b * c.Dm + d) * N + n] : 0.0;
    for (int64_t t = L - 1; t >= 0; --t) {
      const int64_t i = (b * c.Dm + d) * L + t;
      const double u = c.u[i];
      double gv = dout[i];
      if (c.hasZ) {
        const double z = c.z[i], s = 1.0 / (1.0 + std::exp(-z));
        double y = c.hasD ? c.D[d] * u : 0.0;
        for (int64_t n = 0; n < N; ++n) y += c.C[ci(n, t)] * h[(t + 1) * N + n];
        r.dz[i] = gv * y * s * (1 + z * (1 - s));
        gv *= z * s;
      }
      double duA = c.hasD ? c.D[d] * gv : 0.0, dDt = 0.0;
      if (c.hasD) r.dD[d] += gv * u;
      for (int64_t n = 0; n < N; ++n) {
        const double an = c.A[d * N + n], a = std::exp(dt[t] * an), bv = c.B[bi(n, t)];
        lam[n] += c.C[ci(n, t)] * gv;
        const double ah = a * h[t * N + n];
        duA += dt[t] * lam[n] * bv;
        dDt += lam[n] * (u * bv + an * ah);
        r.dA[d * N + n] += lam[n] * dt[t] * ah;
        r.dB[bi(n, t)] += lam[n] * dt[t] * u;
        r.dC[ci(n, t)] += gv * h[(t + 1) * N + n];
        lam[n] *= a;
      }
      r.du[i] = duA;
      if (c.softplus) {
        const double x = (double)c.delta[i] + (c.hasBias ? c.bias[d] : 0.0);
        if (x <= 20.0) dDt *= 1.0 / (1.0 + std::exp(-x));
      }
      r.ddelta[i] = dDt;
      if (c.hasBias) r.dbias[d] += dDt;
    }
  }
  return r;
}

static void check_bwd_case(ScanCase& c, int variant);

// dstate 1..16: both kernels (v1, and v2 or v3, the launcher's default); above, v1 (the default there too)
static void check_bwd_case(ScanCase& c) {
  if (c.N <= 16) check_bwd_case(c, 1);
  check_bwd_case(c, 2);
}

static void check_bwd_case(ScanCase& c, int variant) {
  c.pad = 0;
  fill_case(c);
  std::vector<float> dout(c.Bt * c.Dm * c.L), dlast(c.Bt * c.Dm * c.N);
  for (auto& v : dout) v = frand(-1, 1);
  for (auto& v : dlast) v = frand(-1, 1);
  ScanDev dv(c);
  dv.p.out = nullptr; dv.p.last_state = nullptr;
  BwdDev bd(c, dv.p, dout, dlast, variant);
  bd.poison();
  bd.run(dv.p);
  CK(cudaDeviceSynchronize());
  BwdRef ref = ref_scan_bwd(c, dout, dlast);
  const std::string det = describe(c) + " v" + std::to_string(variant) + " " + bd.pl.kernel + " tile" + std::to_string(bd.pl.tile) + " seg" + std::to_string(bd.pl.seg) + " w"
      + std::to_string(bd.pl.warps) + " slices" + std::to_string(bd.pl.slices);
  const double tol = 2e-4;
  std::vector<std::vector<float>> first = {bd.du.down(), bd.ddelta.down(), bd.dA.down(), bd.dB.down(), bd.dC.down()};
  report("scan_bwd.du", relerr(first[0], ref.du), tol, det);
  report("scan_bwd.ddelta", relerr(first[1], ref.ddelta), tol, det);
  report("scan_bwd.dA", relerr(first[2], ref.dA), tol, det);
  report("scan_bwd.dB", relerr(first[3], ref.dB), tol, det);
  report("scan_bwd.dC", relerr(first[4], ref.dC), tol, det);
  if (c.hasZ) { first.push_back(bd.dz.down()); report("scan_bwd.dz", relerr(first.back(), ref.dz), tol, det); }
  if (c.hasD) { first.push_back(bd.dD.down()); report("scan_bwd.dD", relerr(first.back(), ref.dD), tol, det); }
  if (c.hasBias) { first.push_back(bd.dbias.down()); report("scan_bwd.dbias", relerr(first.back(), ref.dbias), tol, det); }
  // a second run on poisoned outputs: the same bits
  bd.poison();
  bd.run(dv.p);
  CK(cudaDeviceSynchronize());
  std::vector<std::vector<float>> again = {bd.du.down(), bd.ddelta.down(), bd.dA.down(), bd.dB.down(), bd.dC.down()};
  if (c.hasZ) again.push_back(bd.dz.down());
  if (c.hasD) again.push_back(bd.dD.down());
  if (c.hasBias) again.push_back(bd.dbias.down());
  bool same = true;
  for (size_t i = 0; i < first.size(); ++i) same = same && std::memcmp(first[i].data(), again[i].data(), first[i].size() * 4) == 0;
  report("scan_bwd.bits", same ? 0.0 : NAN, 0.0, det);
}

static void bwd_correctness(bool small) {
  // every B/C layout with every option, around the segment lengths
  for (int vb = 0; vb < 2; ++vb) for (int vc = 0; vc < 2; ++vc) for (int64_t L : {1, 7, 33, small ? 70 : 517}) {
    for (int64_t N : {1, 3, 16}) {
      ScanCase c{}; c.Bt = 2; c.G = vb && vc ? 2 : 1; c.Dm = 8; c.L = L; c.N = N; c.varB = vb; c.varC = vc;
      c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = (L + N) % 2 == 1;
      c.hasBias = true;
      check_bwd_case(c);
    }
  }
  // every kernel (dstate classes), channel counts that force more lanes per channel
  for (int64_t N : {2, 4, 8, 9, 17, 33, 64, 65, 129, 256}) for (int64_t Dm : {8, 6}) {
    if (small && N > 64 && Dm == 6) continue;
    ScanCase c{}; c.Bt = 2; c.G = 1; c.Dm = Dm; c.L = small ? 21 : 100; c.N = N; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true;
    check_bwd_case(c);
  }
  // several blocks per group: slices of dB/dC summed afterwards
  { ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 1024; c.L = small ? 17 : 130; c.N = 16; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; check_bwd_case(c); }
  { ScanCase c{}; c.Bt = 4; c.G = 4; c.Dm = 768; c.L = small ? 20 : 196; c.N = 1; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = true; check_bwd_case(c); }
  // v2 at dstate 1 in the sanitizer's run too: 3 chunks of 128 (pass 1's chunk-start states), 8 warps a block of 2
  // channels each (the block's dB/dC sum through shared memory), 128 slices a group; the 16-byte and the scalar path
  for (int64_t L : {260, 259}) {
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 4096; c.L = L; c.N = 1; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; check_bwd_case(c);
  }
  // v3 in the sanitizer's run too: 3 chunks of 128 (the bounds kernel's states and carries), 4 warps a block walking a
  // group's 8 channels (dB/dC through shared memory), the 16-byte and the scalar path; constant B/C in tiles of 32
  for (int64_t L : {260, 259}) {
    ScanCase c{}; c.Bt = 2; c.G = 2; c.Dm = 16; c.L = L; c.N = 16; c.varB = c.varC = true;
    c.hasD = c.hasZ = c.hasBias = c.softplus = c.last = true; check_bwd_case(c);
    ScanCase k{}; k.Bt = 2; k.G = 1; k.Dm = 70; k.L = L; k.N = 5; k.varB = k.varC = false;
    k.hasD = k.hasZ = k.hasBias = k.softplus = k.last = true; check_bwd_case(k);
  }
  if (!small) {  // long rows at dstate 16 and 1
    ScanCase c{}; c.Bt = 1; c.G = 1; c.Dm = 16; c.L = 4099; c.N = 16; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = c.last = true; check_bwd_case(c);
    ScanCase d{}; d.Bt = 1; d.G = 1; d.Dm = 32; d.L = 5000; d.N = 1; d.varB = d.varC = true;
    d.hasD = d.hasZ = d.hasBias = d.softplus = true; check_bwd_case(d);
  }
}

// S1..S5 backward (grouped variable B/C, D, delta_bias, softplus, as mamba's anchor) and the forward, same run.
static void time_bwd() {
  struct S { const char* name; int64_t Bt, Dm, G, L, N; };
  const S shapes[] = {{"S1", 32, 768, 4, 3136, 1}, {"S2", 32, 768, 4, 3136, 16}, {"S3", 32, 1536, 4, 784, 1},
                      {"S4", 32, 3072, 4, 196, 1}, {"S5", 8, 2048, 1, 4096, 16}};
  std::printf("\nscan backward (mamba's backward: scripts/anchors/mamba_scan_times.py --backward, same GPU):\n");
  for (const S& s : shapes) {
    ScanCase c{}; c.Bt = s.Bt; c.Dm = s.Dm; c.G = s.G; c.L = s.L; c.N = s.N; c.varB = c.varC = true;
    c.hasD = c.hasBias = c.softplus = true;
    fill_case(c);
    std::vector<float> dout(c.Bt * c.Dm * c.L);
    for (auto& v : dout) v = frand(-1, 1);
    ScanDev dv(c);
    for (int variant : {1, 2}) {
    BwdDev bd(c, dv.p, dout, std::vector<float>(1), variant);
    bd.poison();
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    auto timeIt = [&](auto&& f) {
      std::vector<float> ts;
      for (int i = 0; i < 30; ++i) {
        CK(cudaEventRecord(e0)); f(); CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 5) ts.push_back(ms);
      }
      return median(ts);
    };
    const float bwd = timeIt([&] { bd.run(dv.p); });
    size_t nans = 0;
    for (float v : bd.du.down()) nans += !std::isfinite(v);
    for (float v : bd.dB.down()) nans += !std::isfinite(v);
    const float fwd = timeIt([&] { launch_scan(dv.p, 0); });
    std::printf("%-3s v%d %-22s seg %3d w %d slices %3lld  backward %8.3f ms  forward %7.3f ms  (x%.2f)  nonfinite %zu"
                "  workspace %.1f MB\n", s.name, variant, bd.pl.kernel.c_str(), bd.pl.seg, bd.pl.warps,
                (long long)bd.pl.slices, bwd, fwd, bwd / fwd, nans,
                ((double)bd.ckpt.n * 4 + (double)bd.rows.n * 8 + (double)(bd.bpart.n + bd.cpart.n) * 4) / 1e6);
    report("scan_bwd.big_finite", nans ? NAN : 0.0, 0.0, std::string(s.name) + " v" + std::to_string(variant) + " " + bd.pl.kernel);
    cudaEventDestroy(e0); cudaEventDestroy(e1);
    }
  }
}
