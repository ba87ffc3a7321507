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

}  // namespace ss2d

extern "C" __global__ void __launch_bounds__(256)
ss2d_cross_scan(const float* __restrict__ x, float* __restrict__ xs,
                int64_t Bn, int64_t C, int64_t H, int64_t W) {
  __shared__ float tile[SS2D_TILE][SS2D_TILE + 1];
  ss2d::cross_scan_tiled<float>(x, xs, Bn, C, H, W, tile);
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
