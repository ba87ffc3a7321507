// The fused CrossScan + dt projection + scan + CrossMerge kernel (fused_scan.cuh) in the harness (included by
// harness.cu after its helpers): its launch rule (org.ss2d.cuda.FusedScan.plan), a float64 reference that is the
// unfused composition (route order, dt = W_dt . dtlow + bias, softplus, the d_state-1 recurrence, D u, sum of the
// routes in spatial order) on several plane sizes, outputs poisoned with NaN; then, at batch 32, 96 channels, 56x56,
// its time (each K, 2 to 8 warps per block) beside the unfused kernels it replaces (cross_scan, the scan on precomputed dts, cross_merge). The GEMMs
// are not in this harness (no cuBLAS here): the unfused path's 8 x_proj/dt_proj GEMMs become one stacked x_proj GEMM.
#pragma once

typedef void (*FusedKernel)(const float*, const float*, const float*, const float*, const float*, const float*,
                            const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t);

static FusedKernel fused_kernel(int K) {
  return K == 1 ? ss2d_fused_scan_n1_k1 : K == 2 ? ss2d_fused_scan_n1_k2 : K == 4 ? ss2d_fused_scan_n1_k4
                                                                         : ss2d_fused_scan_n1_k8;
}

struct FusedCase {
  int64_t B, D, H, W, R;
  std::vector<float> u, xdbl, wdt, bias, A, Ds;
};

static void fill_fused(FusedCase& c) {
  const int64_t L = c.H * c.W, rows = c.R + 2;
  c.u.resize(c.B * c.D * L); c.xdbl.resize(c.B * 4 * rows * L);
  for (auto& v : c.u) v = frand(-1, 1);
  for (auto& v : c.xdbl) v = frand(-1, 1);
  c.wdt.resize(4 * c.D * c.R); c.bias.resize(4 * c.D); c.A.resize(4 * c.D); c.Ds.resize(4 * c.D);
  for (auto& v : c.wdt) v = frand(-0.5, 0.5);
  for (auto& v : c.bias) v = frand(-3, 0);
  for (auto& v : c.A) v = -frand(0.5, 1.5);
  for (auto& v : c.Ds) v = frand(0.5, 1.5);
}

// Route k's pixel at step t (CrossScan): 0 row-major, 1 column-major, 2 and 3 their reverses.
static int64_t route_pixel(int k, int64_t t, int64_t H, int64_t W) {
  const int64_t L = H * W, s = (k >= 2) ? L - 1 - t : t;
  return (k & 1) ? (s % H) * W + s / H : s;
}

static std::vector<double> ref_fused(const FusedCase& c) {
  const int64_t L = c.H * c.W, rows = c.R + 2;
  std::vector<double> y(c.B * c.D * L, 0.0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int k = 0; k < 4; ++k)
      for (int64_t d = 0; d < c.D; ++d) {
        const int64_t ch = k * c.D + d;
        const float* dbl = c.xdbl.data() + (b * 4 + k) * rows * L;
        double h = 0;
        for (int64_t t = 0; t < L; ++t) {
          const int64_t p = route_pixel(k, t, c.H, c.W);
          double dt = c.bias[ch];
          for (int64_t r = 0; r < c.R; ++r) dt += (double)c.wdt[ch * c.R + r] * dbl[r * L + p];
          dt = dt <= 20.0 ? std::log1p(std::exp(dt)) : dt;
          const double uu = c.u[(b * c.D + d) * L + p];
          h = std::exp(dt * c.A[ch]) * h + dt * uu * dbl[c.R * L + p];
          y[(b * c.D + d) * L + p] += dbl[(c.R + 1) * L + p] * h + (double)c.Ds[ch] * uu;
        }
      }
  return y;
}

struct FusedDev {
  Dev<float> u, xdbl, xdblT, wdt, bias, A, Ds, out;
  explicit FusedDev(const FusedCase& c)
      : u(c.u), xdbl(c.xdbl), xdblT(c.B * 2 * (c.R + 2) * c.H * c.W), wdt(c.wdt), bias(c.bias), A(c.A), Ds(c.Ds),
        out(c.B * c.D * c.H * c.W) {}
};

static void launch_fused(const FusedCase& c, FusedDev& dv, int K, int warps) {
  const int64_t tiles = ((c.H + 31) / 32) * ((c.W + 31) / 32);
  ss2d_fused_transpose<<<(unsigned)(c.B * 2 * (c.R + 2) * tiles), dim3(32, 8)>>>(dv.xdbl.p, dv.xdblT.p, c.B, c.R + 2,
                                                                                  c.H, c.W);
  CK(cudaGetLastError());
  const int smem = (int)(4 * warps * ss2d::fused::warp_floats(c.H, c.W, c.R));
  FusedKernel k = fused_kernel(K);
  if (smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  k<<<(unsigned)((c.B * c.D + warps - 1) / warps), 32 * warps, smem>>>(dv.u.p, dv.xdbl.p, dv.xdblT.p, dv.wdt.p,
                                                                       dv.bias.p, dv.A.p, dv.Ds.p, dv.out.p, c.B, c.D,
                                                                       c.H, c.W, c.R);
  CK(cudaGetLastError());
}

static void fused_correctness(bool small) {
  struct S { int64_t B, D, H, W, R; };
  std::vector<S> shapes = {{1, 3, 7, 7, 6}, {2, 4, 14, 14, 6}, {1, 2, 5, 9, 3}, {2, 3, 13, 6, 4}, {1, 2, 1, 1, 1},
                           {1, 5, 3, 40, 2}, {1, 2, 28, 28, 12}};
  if (!small) { shapes.push_back({1, 3, 56, 56, 6}); shapes.push_back({2, 2, 31, 57, 8}); }
  for (const S& s : shapes) {
    FusedCase c{s.B, s.D, s.H, s.W, s.R};
    fill_fused(c);
    const std::vector<double> ref = ref_fused(c);
    FusedDev dv(c);
    for (int K : {1, 2, 4, 8})
      for (int warps : {1, 3, 8}) {
        dv.out.poison(); dv.xdblT.poison();
        launch_fused(c, dv, K, warps);
        CK(cudaDeviceSynchronize());
        char det[160];
        std::snprintf(det, sizeof det, "B=%lld D=%lld H=%lld W=%lld R=%lld k%d warps=%d", (long long)s.B,
                      (long long)s.D, (long long)s.H, (long long)s.W, (long long)s.R, K, warps);
        report("fused_scan", relerr(dv.out.down(), ref), 1e-4, det);
      }
  }
}

static float time_ms(const std::function<void()>& f) {
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  std::vector<float> ts;
  for (int i = 0; i < 40; ++i) {
    CK(cudaEventRecord(e0)); f(); CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1)); float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 10) ts.push_back(ms);
  }
  cudaEventDestroy(e0); cudaEventDestroy(e1);
  return median(ts);
}

// Batch 32, 96 channels, 56x56, dt_rank 6: the fused kernel (each K, 1..4 warps per block) and the transpose, beside
// cross_scan + the scan (auto plan, routes as groups, dts precomputed) + cross_merge of the unfused path.
static void time_fused(double copy) {
  FusedCase c{32, 96, 56, 56, 6};
  fill_fused(c);
  FusedDev dv(c);
  const int64_t L = c.H * c.W, rows = c.R + 2, n = c.B * c.D * L;
  std::printf("\nfused scan, B=32 D=96 56x56 R=6 (x_dbl's GEMM not timed here)\n");
  const int64_t tiles = ((c.H + 31) / 32) * ((c.W + 31) / 32);
  const float tT = time_ms([&] {
    ss2d_fused_transpose<<<(unsigned)(c.B * 2 * rows * tiles), dim3(32, 8)>>>(dv.xdbl.p, dv.xdblT.p, c.B, rows, c.H, c.W);
  });
  std::printf("  transpose (routes 1, 3 of x_dbl)      %8.3f ms\n", tT);
  for (int K : {1, 2, 4, 8})
    for (int warps : {2, 4, 8}) {
      const int smem = (int)(4 * warps * ss2d::fused::warp_floats(c.H, c.W, c.R));
      if (smem > 227 * 1024) continue;
      FusedKernel k = fused_kernel(K);
      if (smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      const float ms = time_ms([&] {
        k<<<(unsigned)((c.B * c.D + warps - 1) / warps), 32 * warps, smem>>>(dv.u.p, dv.xdbl.p, dv.xdblT.p, dv.wdt.p,
                                                                             dv.bias.p, dv.A.p, dv.Ds.p, dv.out.p, c.B,
                                                                             c.D, c.H, c.W, c.R);
      });
      const double bytes = 4.0 * (2.0 * n + c.B * 4 * rows * L);  // x and y once, x_dbl once
      std::printf("  ss2d_fused_scan_n1_k%d warps=%d         %8.3f ms  floor %.3f ms\n", K, warps, ms,
                  bytes / (copy * 1e9) * 1e3);
    }
  // the unfused kernels on the same sizes
  Dev<float> xs(4 * n), dts(4 * n), ys(4 * n), y(n);
  std::vector<float> dtsH(4 * n); for (auto& v : dtsH) v = frand(-3, 0);
  dts.up(dtsH);
  const float tScan = time_ms([&] {
    ss2d_cross_scan<<<(unsigned)(c.B * c.D * tiles), dim3(32, 8)>>>(dv.u.p, xs.p, c.B, c.D, c.H, c.W);
  });
  ScanParams p{};
  p.u = xs.p; p.delta = dts.p; p.A = dv.A.p; p.B = dv.xdbl.p + c.R * L; p.C = dv.xdbl.p + (c.R + 1) * L;
  p.D = dv.Ds.p; p.delta_bias = dv.bias.p; p.out = ys.p;
  p.batch = c.B; p.dim = 4 * c.D; p.seqlen = L; p.dstate = 1; p.groups = 4;
  p.flags = SS2D_VARIABLE_B | SS2D_VARIABLE_C | SS2D_SOFTPLUS;
  p.u_batch_stride = p.delta_batch_stride = p.out_batch_stride = 4 * c.D * L;
  p.u_dim_stride = p.delta_dim_stride = p.out_dim_stride = L;
  p.A_dim_stride = 1; p.A_state_stride = 1;
  p.B_batch_stride = p.C_batch_stride = 4 * rows * L; p.B_group_stride = p.C_group_stride = rows * L;
  p.B_state_stride = p.C_state_stride = L;
  std::string scanKernel;
  const float tSel = time_ms([&] { scanKernel = launch_scan(p, 0).kernel; });
  const float tMerge = time_ms([&] {
    ss2d_cross_merge<<<(unsigned)(c.B * c.D * tiles), dim3(32, 8)>>>(ys.p, y.p, c.B, c.D, c.H, c.W);
  });
  std::printf("  unfused: cross_scan %.3f + scan (%s) %.3f + cross_merge %.3f = %.3f ms (+ 4 dt_proj GEMMs)\n",
              tScan, scanKernel.c_str(), tSel, tMerge, tScan + tSel + tMerge);
}

// The block's depthwise conv + SiLU (ss2d_dwconv2d_rows, as Layers.dwconv launches it) at VMamba-T's four stage maps,
// batch 128, against its memory floor (x read once, out written once, at the copy rate of this run): where the conv
// step stands against the issue's "within 2x of its floor".
static void time_conv_stages(double copy) {
  struct St { int64_t C, H; };
  const St stages[] = {{96, 56}, {192, 28}, {384, 14}, {768, 7}};
  std::printf("\ndwconv2d_rows + SiLU, k 3, batch 128 (VMamba-T stage maps)\n");
  for (const St& s : stages) {
    const int64_t Bn = 128, n = Bn * s.C * s.H * s.H;
    Dev<float> x(n), y(n), w(s.C * 9), b(s.C);
    CK(cudaMemset(x.p, 0, n * 4)); CK(cudaMemset(w.p, 0, s.C * 36)); CK(cudaMemset(b.p, 0, s.C * 4));
    const int64_t band = std::min<int64_t>(s.H, SS2D_DW_SMEM / s.H - 2);  // Layers.dwconvBand, k = 3
    const int64_t blocks = std::min<int64_t>(Bn * s.C * ((s.H + band - 1) / band), (int64_t)g_sms * 64);
    const float ms = time_ms([&] {
      ss2d_dwconv2d_rows<<<(unsigned)blocks, 256>>>(x.p, w.p, b.p, y.p, Bn, s.C, s.H, s.H, 3, band, 1);
    });
    const double floor = 8.0 * n / (copy * 1e9) * 1e3;
    std::printf("  C=%-4lld %2lldx%-2lld %8.3f ms  floor %.3f ms  (x%.1f)\n", (long long)s.C, (long long)s.H,
                (long long)s.H, ms, floor, ms / floor);
  }
}
