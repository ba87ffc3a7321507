// CrossScan / CrossMerge of VMamba (channels-first), spec 5.2.
// Route k reads pixel src_k(l): 0 row-major, 1 column-major (l = w*H + h), 2 reverse of 0,
// 3 reverse of 1. Routes 1 and 3 are transposes, so each block stages a 32x32 pixel tile in
// shared memory (padded by one word against bank conflicts) and writes every route coalesced.
// Blocks are 32x8 threads; blockIdx.x enumerates (batch*channel, tile) so that no grid axis
// with a 65535 limit carries batch*channels.
#include <stdint.h>

#define SS2D_TILE 32

namespace ss2d {

struct TileIndex { int64_t bc; int64_t h0; int64_t w0; };

__device__ __forceinline__ TileIndex tile_index(int64_t H, int64_t W) {
  const int64_t tilesW = (W + SS2D_TILE - 1) / SS2D_TILE;
  const int64_t tilesH = (H + SS2D_TILE - 1) / SS2D_TILE;
  const int64_t tiles = tilesW * tilesH;
  const int64_t id = blockIdx.x;
  TileIndex ti;
  ti.bc = id / tiles;
  const int64_t tile = id - ti.bc * tiles;
  ti.h0 = (tile / tilesW) * SS2D_TILE;
  ti.w0 = (tile % tilesW) * SS2D_TILE;
  return ti;
}

}  // namespace ss2d

namespace ss2d {

// x (B, C, H, W) contiguous -> xs (B, 4, C, H*W) contiguous. grid.x = B*C*tiles, blocks of 32x8.
// A template over the element type: it only moves values (no arithmetic), so the 16-bit entry points
// (half_layers.cuh) share it and copy their values exactly. A 16-bit tile row of 33 elements is 16.5
// words, so the column reads of the second phase still land on 32 distinct banks.
template <typename T>
__device__ __forceinline__ void cross_scan_tiled(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn,
                                                 int64_t C, int64_t H, int64_t W,
                                                 T (*tile)[SS2D_TILE + 1]) {
  const TileIndex ti = tile_index(H, W);
  if (ti.bc >= Bn * C) return;
  const int64_t L = H * W;
  const int64_t b = ti.bc / C, c = ti.bc % C;
  const T* src = x + ti.bc * L;
  T* r0 = xs + ((b * 4 + 0) * C + c) * L;
  T* r1 = xs + ((b * 4 + 1) * C + c) * L;
  T* r2 = xs + ((b * 4 + 2) * C + c) * L;
  T* r3 = xs + ((b * 4 + 3) * C + c) * L;
  const int tx = threadIdx.x;
  for (int i = threadIdx.y; i < SS2D_TILE; i += blockDim.y) {
    const int64_t h = ti.h0 + i, w = ti.w0 + tx;
    if (h < H && w < W) {
      const int64_t l = h * W + w;
      const T v = src[l];
      tile[i][tx] = v;
      r0[l] = v;
      r2[L - 1 - l] = v;
    }
  }
  __syncthreads();
  for (int i = threadIdx.y; i < SS2D_TILE; i += blockDim.y) {
    const int64_t w = ti.w0 + i, h = ti.h0 + tx;  // consecutive threads: consecutive h
    if (h < H && w < W) {
      const int64_t l = w * H + h;
      const T v = tile[tx][i];
      r1[l] = v;
      r3[L - 1 - l] = v;
    }
  }
}

// Small planes (L = H*W <= SS2D_PLANES_ELEMS): a block of 256 threads takes np <= SS2D_PLANES_MAX whole planes,
// np * L <= SS2D_PLANES_ELEMS values, which lie contiguous in x: one coalesced read, routes 0 and 2 written from
// registers, then routes 1 and 3 gathered from shared memory as contiguous runs. One barrier per group of planes
// where the 32x32 tile kernel would idle most lanes on a 7x7 or 14x14 plane. In-plane and flat indices are 32-bit
// (np * L <= 4096); plane bases are 64-bit, computed once a plane. grid.x = ceil(B*C / P), P passed by the host.
#define SS2D_PLANES_ELEMS 4096
#define SS2D_PLANES_MAX 256

template <typename T>
__device__ __forceinline__ void cross_scan_planes(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn,
                                                  int64_t C, int64_t H, int64_t W, int64_t P, T* vals,
                                                  int64_t* base) {
  const int64_t planes = Bn * C, L = H * W;
  const int64_t bc0 = (int64_t)blockIdx.x * P;
  if (bc0 >= planes) return;
  const unsigned np = (unsigned)min(P, planes - bc0);
  const unsigned Lu = (unsigned)L, Hu = (unsigned)H, Wu = (unsigned)W, n = np * Lu;
  for (unsigned p = threadIdx.x; p < np; p += blockDim.x) {
    const int64_t bc = bc0 + p, b = bc / C, c = bc - b * C;
    base[p] = (b * 4 * C + c) * L;  // route 0 of plane p; route k adds k * C * L
  }
  __syncthreads();
  const int64_t CL = C * L;
  const T* src = x + bc0 * L;
  for (unsigned j = threadIdx.x; j < n; j += blockDim.x) {
    const unsigned p = j / Lu, l = j - p * Lu;
    const T v = src[j];
    vals[j] = v;
    T* r = xs + base[p];
    r[l] = v;
    r[2 * CL + (Lu - 1 - l)] = v;
  }
  __syncthreads();
  for (unsigned j = threadIdx.x; j < n; j += blockDim.x) {
    const unsigned p = j / Lu, l = j - p * Lu;  // route 1 position l is pixel (l % H, l / H)
    const unsigned h = l % Hu, w = l / Hu;
    const T v = vals[p * Lu + h * Wu + w];
    T* r = xs + base[p];
    r[CL + l] = v;
    r[3 * CL + (Lu - 1 - l)] = v;
  }
}

}  // namespace ss2d

extern "C" __global__ void __launch_bounds__(256)
ss2d_cross_scan(const float* __restrict__ x, float* __restrict__ xs,
                int64_t Bn, int64_t C, int64_t H, int64_t W) {
  __shared__ float tile[SS2D_TILE][SS2D_TILE + 1];
  ss2d::cross_scan_tiled<float>(x, xs, Bn, C, H, W, tile);
}

// The small-plane CrossScan (cross_scan_planes), float32; the host picks it with -Dss2d.cuda.crossScan=planes.
extern "C" __global__ void __launch_bounds__(256)
ss2d_cross_scan_planes(const float* __restrict__ x, float* __restrict__ xs, int64_t Bn, int64_t C, int64_t H,
                       int64_t W, int64_t P) {
  __shared__ float vals[SS2D_PLANES_ELEMS];
  __shared__ int64_t base[SS2D_PLANES_MAX];
  ss2d::cross_scan_planes<float>(x, xs, Bn, C, H, W, P, vals, base);
}

// ys (B, 4, C, H*W) contiguous -> y (B, C, H, W): y[p] = sum over routes of the element that
// route k placed at pixel p (the adjoint of ss2d_cross_scan). grid.x = B*C*tiles.
extern "C" __global__ void __launch_bounds__(256)
ss2d_cross_merge(const float* __restrict__ ys, float* __restrict__ y,
                 int64_t Bn, int64_t C, int64_t H, int64_t W) {
  __shared__ float tile[SS2D_TILE][SS2D_TILE + 1];
  const ss2d::TileIndex ti = ss2d::tile_index(H, W);
  if (ti.bc >= Bn * C) return;
  const int64_t L = H * W;
  const int64_t b = ti.bc / C, c = ti.bc % C;
  const float* r0 = ys + ((b * 4 + 0) * C + c) * L;
  const float* r1 = ys + ((b * 4 + 1) * C + c) * L;
  const float* r2 = ys + ((b * 4 + 2) * C + c) * L;
  const float* r3 = ys + ((b * 4 + 3) * C + c) * L;
  const int tx = threadIdx.x;
  for (int i = threadIdx.y; i < SS2D_TILE; i += blockDim.y) {
    const int64_t w = ti.w0 + i, h = ti.h0 + tx;
    if (h < H && w < W) {
      const int64_t l = w * H + h;
      tile[tx][i] = r1[l] + r3[L - 1 - l];
    }
  }
  __syncthreads();
  float* dst = y + ti.bc * L;
  for (int i = threadIdx.y; i < SS2D_TILE; i += blockDim.y) {
    const int64_t h = ti.h0 + i, w = ti.w0 + tx;
    if (h < H && w < W) {
      const int64_t l = h * W + w;
      dst[l] = r0[l] + r2[L - 1 - l] + tile[i][tx];
    }
  }
}
