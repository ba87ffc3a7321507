// The layers a whole VMamba model adds around its blocks (channels-first, fp32): im2col for the
// strided convolutions of the stem and the downsampling (the GEMM itself is cuBLAS), PatchMerging2D's
// 2x2 gather, a LayerNorm over channels with the preceding bias and a following activation folded in,
// the z gate of v0 blocks, and the global average pool. Memory-bound and small next to the blocks, so
// the plain coalesced versions; 64-bit indices; grid-stride loops so a capped grid runs any size.
#include <stdint.h>

// im2col for torch's conv2d: x (B, C, H, W) -> cols (B, C*k*k, OH*OW), row ci*k*k + ky*k + kx (the
// flattening of a (Cout, C, k, k) weight), zero outside the input. A block takes one line (b, row)
// of OH*OW outputs (grid-stride over lines): the line's plane and tap are worked out once, and each
// output costs one 32-bit division (OH*OW < 2^31: one image's output pixels). Per-element 64-bit
// divisions would make this instruction-bound, as they did the plain depthwise convolution.
extern "C" __global__ void __launch_bounds__(256)
ss2d_im2col(const float* __restrict__ x, float* __restrict__ cols, int64_t Bn, int64_t C, int64_t H,
            int64_t W, int64_t k, int64_t s, int64_t pad, int64_t OH, int64_t OW) {
  const int64_t kk = k * k, lines = Bn * C * kk;
  const int Li = (int)(OH * OW), OWi = (int)OW;
  for (int64_t line = blockIdx.x; line < lines; line += gridDim.x) {
    const int64_t b = line / (C * kk), row = line % (C * kk);
    const int64_t ci = row / kk, kyx = row % kk;
    const int64_t ky = kyx / k - pad, kx = kyx % k - pad;
    const float* plane = x + (b * C + ci) * H * W;
    float* dst = cols + line * Li;
    for (int l = threadIdx.x; l < Li; l += blockDim.x) {
      const int oy = l / OWi, ox = l - oy * OWi;
      const int64_t iy = (int64_t)oy * s + ky, ix = (int64_t)ox * s + kx;
      dst[l] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? __ldg(plane + iy * W + ix) : 0.f;
    }
  }
}

// PatchMerging2D's gather: x (B, C, H, W) -> out (B, 4C, OH, OW) with OH = ceil(H/2), OW = ceil(W/2);
// channel block q holds the input at row 2y + (0,1,0,1)[q], column 2x + (0,0,1,1)[q], zero past an
// odd edge (VMamba pads odd sizes at the end). A block per output line (b, q*C + c), as im2col.
extern "C" __global__ void __launch_bounds__(256)
ss2d_patch_merge(const float* __restrict__ x, float* __restrict__ out, int64_t Bn, int64_t C, int64_t H,
                 int64_t W, int64_t OH, int64_t OW) {
  const int64_t lines = Bn * 4 * C;
  const int Li = (int)(OH * OW), OWi = (int)OW;
  for (int64_t line = blockIdx.x; line < lines; line += gridDim.x) {
    const int64_t b = line / (4 * C), qc = line % (4 * C);
    const int64_t q = qc / C, c = qc % C;
    const float* plane = x + (b * C + c) * H * W;
    float* dst = out + line * Li;
    for (int l = threadIdx.x; l < Li; l += blockDim.x) {
      const int oy = l / OWi, ox = l - oy * OWi;
      const int64_t iy = 2 * (int64_t)oy + (q & 1), ix = 2 * (int64_t)ox + (q >> 1);
      dst[l] = (iy < H && ix < W) ? __ldg(plane + iy * W + ix) : 0.f;
    }
  }
}

// out = act(LayerNorm_C(x + preBias)) over the channels of each pixel: x, out (B, C, L); preBias,
// gamma, beta (C) or null; in place allowed. A block takes 32 consecutive pixels of one image
// (threadIdx.x, coalesced 128-byte rows) and splits the channels over 8 warps (threadIdx.y); the
// per-pixel sums meet in shared memory. Two passes (mean, then centred variance: no cancellation)
// and the write; fp32 throughout, as the block kernels. grid = B * ceil(L / 32), block (32, 8).
#define SS2D_LN_PIX 32
#define SS2D_LN_SLICES 8
extern "C" __global__ void __launch_bounds__(SS2D_LN_PIX * SS2D_LN_SLICES)
ss2d_layernorm_cf_ex(const float* x, const float* __restrict__ preBias, const float* __restrict__ gamma,
                     const float* __restrict__ beta, float* out, int64_t Bn, int64_t C, int64_t L, float eps,
                     int64_t actKind) {
  __shared__ float part[SS2D_LN_SLICES][SS2D_LN_PIX];
  __shared__ float stat[2][SS2D_LN_PIX];
  const int64_t tiles = (L + SS2D_LN_PIX - 1) / SS2D_LN_PIX;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < Bn * tiles; t += gridDim.x) {
    const int64_t b = t / tiles, l = (t % tiles) * SS2D_LN_PIX + tx;
    const bool live = l < L;
    const float* px = x + b * C * L + l;
    float sum = 0.f;
    if (live) {
      for (int64_t c = ty; c < C; c += SS2D_LN_SLICES) sum += px[c * L] + (preBias ? __ldg(preBias + c) : 0.f);
    }
    part[ty][tx] = sum;
    __syncthreads();
    if (ty == 0) {
      float s = 0.f;
      for (int j = 0; j < SS2D_LN_SLICES; ++j) s += part[j][tx];
      stat[0][tx] = s / (float)C;
    }
    __syncthreads();
    const float mean = stat[0][tx];
    float var = 0.f;
    if (live) {
      for (int64_t c = ty; c < C; c += SS2D_LN_SLICES) {
        const float d = px[c * L] + (preBias ? __ldg(preBias + c) : 0.f) - mean;
        var = fmaf(d, d, var);
      }
    }
    part[ty][tx] = var;
    __syncthreads();
    if (ty == 0) {
      float s = 0.f;
      for (int j = 0; j < SS2D_LN_SLICES; ++j) s += part[j][tx];
      stat[1][tx] = rsqrtf(s / (float)C + eps);
    }
    __syncthreads();
    const float rstd = stat[1][tx];
    if (live) {
      float* po = out + b * C * L + l;
      for (int64_t c = ty; c < C; c += SS2D_LN_SLICES) {
        float v = (px[c * L] + (preBias ? __ldg(preBias + c) : 0.f) - mean) * rstd;
        if (gamma) v = v * __ldg(gamma + c);
        if (beta) v = v + __ldg(beta + c);
        po[c * L] = ss2d::act(v, (int)actKind);
      }
    }
    __syncthreads();  // part/stat are reused by the next tile
  }
}

// y *= SiLU(z), element-wise (the z gate of v0 SS2D blocks, after out_norm).
extern "C" __global__ void __launch_bounds__(256)
ss2d_mul_silu(float* y, const float* __restrict__ z, int64_t n) {
  for (int64_t i = ss2d::gtid(); i < n; i += ss2d::gstride()) {
    const float v = z[i];
    y[i] = y[i] * (v / (1.f + expf(-v)));
  }
}

// Global average pool: out[r] = mean of x[r*L .. r*L + L) for r < rows (rows = B*C). One warp per
// row, lanes strided over the pixels, shuffle sum.
extern "C" __global__ void __launch_bounds__(256)
ss2d_avg_pool(const float* __restrict__ x, float* __restrict__ out, int64_t rows, int64_t L) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = ss2d::gtid() >> 5, warps = ss2d::gstride() >> 5;
  for (int64_t r = warp; r < rows; r += warps) {
    const float* p = x + r * L;
    float s = 0.f;
    for (int64_t l = lane; l < L; l += 32) s += __ldg(p + l);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) out[r] = s / (float)L;
  }
}

// Depthwise k x k convolution (zero padding (k-1)/2, stride 1, optional bias) + activation, as
// ss2d_dwconv2d, staged through shared memory: a block takes one plane (b, c) and a band of R
// output rows, loads the R + k - 1 input rows it needs (zeros above and below the plane) and the
// plane's k*k weights once, then each output reads its taps from shared memory with 32-bit
// indices. The per-element 64-bit divisions and global loads of the plain kernel made it
// instruction-bound (0.23 ms at VMamba-T stage 1, batch 32, against a 0.026 ms memory floor).
// The host picks R with (R + k - 1) * W <= SS2D_DW_SMEM and k <= SS2D_DW_MAXK (else the plain
// kernel). Grid-stride over (plane, band).
#define SS2D_DW_SMEM 8192
#define SS2D_DW_MAXK 9
extern "C" __global__ void __launch_bounds__(256)
ss2d_dwconv2d_rows(const float* __restrict__ x, const float* __restrict__ w,
                   const float* __restrict__ bias, float* __restrict__ out,
                   int64_t Bn, int64_t C, int64_t H, int64_t W, int64_t k, int64_t R, int64_t actKind) {
  __shared__ float rows[SS2D_DW_SMEM];
  __shared__ float wk[SS2D_DW_MAXK * SS2D_DW_MAXK];
  const int64_t bands = (H + R - 1) / R;
  const int pad = (int)(k - 1) / 2, ki = (int)k, Wi = (int)W, Hi = (int)H;
  for (int64_t t = blockIdx.x; t < Bn * C * bands; t += gridDim.x) {
    const int64_t bc = t / bands;
    const int y0 = (int)(t % bands) * (int)R;
    const int rOut = min((int)R, Hi - y0), rIn = rOut + ki - 1;
    const int64_t c = bc % C;
    const float* plane = x + bc * H * W;
    for (int i = threadIdx.x; i < rIn * Wi; i += blockDim.x) {
      const int y = y0 - pad + i / Wi;
      rows[i] = (y >= 0 && y < Hi) ? __ldg(plane + (int64_t)y * Wi + i % Wi) : 0.f;
    }
    for (int i = threadIdx.x; i < ki * ki; i += blockDim.x) wk[i] = __ldg(w + c * k * k + i);
    __syncthreads();
    const float b0 = bias ? __ldg(bias + c) : 0.f;
    float* po = out + bc * H * W + (int64_t)y0 * Wi;
    for (int i = threadIdx.x; i < rOut * Wi; i += blockDim.x) {
      const int oy = i / Wi, ox = i % Wi;
      float acc = b0;
      for (int dy = 0; dy < ki; ++dy) {
        const float* row = rows + (oy + dy) * Wi;
        for (int dx = 0; dx < ki; ++dx) {
          const int xx = ox + dx - pad;
          if (xx >= 0 && xx < Wi) acc = fmaf(wk[dy * ki + dx], row[xx], acc);
        }
      }
      po[i] = ss2d::act(acc, (int)actKind);
    }
    __syncthreads();  // rows/wk are refilled for the next band
  }
}
