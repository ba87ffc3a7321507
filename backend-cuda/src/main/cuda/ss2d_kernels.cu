// The one translation unit that becomes ss2d_kernels.fatbin (a fatbin holds one module).
// All entry points are extern "C" so that cuModuleGetFunction finds them by their plain names.
#include "selective_scan.cuh"
#include "cross_scan.cuh"
#include "layers.cuh"
#include "model_layers.cuh"
#include "selective_scan_states.cuh"
#include "selective_scan_pipe.cuh"
#include "selective_scan_bwd.cuh"
#include "selective_scan_bwd_n1.cuh"
#include "selective_scan_bwd_v3.cuh"
#include "half_layers.cuh"
#include "selective_scan_half.cuh"
#include "fused_scan.cuh"
