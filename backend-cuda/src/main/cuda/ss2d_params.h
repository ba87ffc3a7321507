// Kernel parameter blocks shared by the CUDA kernels, the C++ test harness and the Java launcher.
// Every field is 8 bytes (a pointer or an int64) so that the Java side can fill a block as a
// plain array of longs: field i lives at byte offset 8*i. Keep the order in sync with
// org.ss2d.cuda.ScanParams (the Java test ScanParamsLayoutTest counts the fields).
#ifndef SS2D_PARAMS_H
#define SS2D_PARAMS_H

#include <stdint.h>

// Compile-time bound on dstate. It sizes the per-warp carried-state area in shared memory of the
// general scan kernel (WARPS_PER_BLOCK * rows * dstate floats); the Java backend rejects larger
// dstate before launch with "dstate=<n> exceeds the CUDA backend's MAX_DSTATE=256".
#define SS2D_MAX_DSTATE 256
#define SS2D_SCAN_WARPS 4            // warps per block of the scan kernels (128 threads)

enum Ss2dScanFlags {
  SS2D_VARIABLE_B = 1,               // B is (batch, groups, dstate, seqlen), else (dim, dstate)
  SS2D_VARIABLE_C = 2,
  SS2D_SOFTPLUS = 4,                 // delta = softplus(delta + bias), threshold 20
};

typedef struct ScanParams {
  const float* u;          // 0  (batch, dim, seqlen), last stride 1
  const float* delta;      // 1  same shape
  const float* A;          // 2  (dim, dstate)
  const float* B;          // 3  constant (dim, dstate) or variable (batch, groups, dstate, seqlen)
  const float* C;          // 4  same choices as B
  const float* D;          // 5  (dim) or null
  const float* z;          // 6  (batch, dim, seqlen) or null
  const float* delta_bias; // 7  (dim) or null
  float* out;              // 8  (batch, dim, seqlen)
  float* last_state;       // 9  (batch, dim, dstate) contiguous, or null
  int64_t batch;           // 10
  int64_t dim;             // 11
  int64_t seqlen;          // 12
  int64_t dstate;          // 13
  int64_t groups;          // 14 (1 when B and C are constant)
  int64_t flags;           // 15 Ss2dScanFlags
  int64_t u_batch_stride;  // 16
  int64_t u_dim_stride;    // 17
  int64_t delta_batch_stride; // 18
  int64_t delta_dim_stride;   // 19
  int64_t z_batch_stride;  // 20
  int64_t z_dim_stride;    // 21
  int64_t out_batch_stride;// 22
  int64_t out_dim_stride;  // 23
  int64_t A_dim_stride;    // 24
  int64_t A_state_stride;  // 25
  int64_t B_batch_stride;  // 26 variable: batch stride; constant: unused
  int64_t B_group_stride;  // 27 variable: group stride; constant: dim stride
  int64_t B_state_stride;  // 28
  int64_t C_batch_stride;  // 29
  int64_t C_group_stride;  // 30
  int64_t C_state_stride;  // 31
} ScanParams;

#define SS2D_SCAN_PARAM_FIELDS 32

// The backward's companion block (selective_scan_bwd.cuh), 8-byte fields as above; org.ss2d.cuda.ScanParams
// mirrors it (BWD_* indices, ScanParamsLayoutTest checks). dout, du, ddelta and dz use u's strides.
typedef struct ScanBwdParams {
  const float* dout;       // 0  (batch, dim, seqlen)
  const float* dlast;      // 1  (batch, dim, dstate) contiguous, or null
  float* du;               // 2  (batch, dim, seqlen)
  float* ddelta;           // 3  (batch, dim, seqlen)
  float* dz;               // 4  (batch, dim, seqlen), or null without z
  float* ckpt;             // 5  workspace: (batch*dim, nseg, dstate) states at segment starts
  double* rows;            // 6  workspace: (batch*dim, 3*dstate + 2) per-row sums [dA | dB | dC | dD | dbias]
  float* dB;               // 7  variable: the blocks' slices of dB (or dB itself with one slice); constant: unused
  float* dC;               // 8
  int64_t seg;             // 9  steps per segment (8, 16 or 32)
  int64_t nseg;            // 10 segments: ceil(seqlen / seg)
  int64_t b_slice_stride;  // 11 floats between two slices of dB (0 with one slice)
  int64_t c_slice_stride;  // 12
} ScanBwdParams;

#define SS2D_SCAN_BWD_PARAM_FIELDS 13

#endif
